"""`manage.py demo` (`make demo`): the whole product in one command.

Migrates the database, starts a real web server and a real Celery worker as child processes,
creates a workspace, key and credits, then drives the public REST API exactly as a user's script
would: import the sample list, estimate, start a bulk enrichment, watch it with a progress bar,
print a summary and export the result. Children are stopped on exit, Ctrl-C included.

On embedded defaults (no DATABASE_URL / REDIS_URL) that is SQLite and Celery's filesystem broker
under var/; with them set, PostgreSQL and Redis.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from accounts.models import ApiKey, Workspace
from accounts.scopes import ALL_SCOPES
from accounts.services import api_key_create, api_key_revoke, workspace_create
from credits.models import Tool
from credits.prices import EnrichmentType
from credits.selectors import balance_get
from credits.services import credits_grant
from ops.cli import render_progress
from providers.selectors import provider_call_stats

ROOT = Path(settings.BASE_DIR)
SAMPLE = ROOT / "sample_data" / "leads.csv"
DEMO_WORKSPACE = "Demo"
DEMO_CREDITS = 50_000
# Three sandbox providers in a row, each finding part of the people at its own speed, so the
# waterfall visibly falls through; deterministic and offline.
DEMO_PROVIDERS = {
    "SLUICE_WATERFALL_EMAIL": "sandbox_a,sandbox_b,sandbox_c",
    "SLUICE_WATERFALL_PHONE": "sandbox_a",
    "SLUICE_SANDBOX_A_EMAIL_HIT_RATE": "0.45",
    "SLUICE_SANDBOX_A_LATENCY_MS": "40",
    "SLUICE_SANDBOX_B_EMAIL_HIT_RATE": "0.35",
    "SLUICE_SANDBOX_B_LATENCY_MS": "80",
    "SLUICE_SANDBOX_C_EMAIL_HIT_RATE": "0.3",
    "SLUICE_SANDBOX_C_LATENCY_MS": "120",
    # The demo polls its own server twice a second.
    "SLUICE_RATE_LIMIT_PER_KEY": "6000/min",
    "SLUICE_RATE_LIMIT_PER_WORKSPACE": "6000/min",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Command(BaseCommand):
    help = "Run a demo bulk enrichment of the sample list through the REST API."

    def add_arguments(self, parser):
        parser.add_argument(
            "--scope", default=EnrichmentType.PARTIAL, choices=EnrichmentType.values
        )
        parser.add_argument("--file", default=str(SAMPLE), help="CSV to import")
        parser.add_argument("--timeout", type=float, default=600)

    def handle(self, *args, scope: str, file: str, timeout: float, **options):
        self.children: list[subprocess.Popen] = []
        self.logs = Path(settings.VAR_DIR) / "demo"
        self.logs.mkdir(parents=True, exist_ok=True)
        previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        try:
            self._run(scope=scope, path=Path(file), timeout=timeout)
        except KeyboardInterrupt:
            self.stdout.write("\nInterrupted; stopping the worker and the server.")
        finally:
            self._stop_children()
            signal.signal(signal.SIGTERM, previous)

    # --- orchestration ------------------------------------------------------------------------

    def _run(self, *, scope: str, path: Path, timeout: float) -> None:
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        broker = settings.CELERY_BROKER_URL.split("://", 1)[0]
        self._say(f"Sluice demo on {database} with the {broker} broker (var/: {settings.VAR_DIR})")
        call_command("migrate", verbosity=0, interactive=False)
        raw_key = self._workspace_and_key()
        port = _free_port()
        self.base = f"http://127.0.0.1:{port}/api/v2"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {raw_key}"
        self._start_children(port)

        lead_list = self._post(
            "lead-lists", json={"name": f"Demo {time.strftime('%Y-%m-%d %H:%M:%S')}"}
        )
        list_id = lead_list["list_id"]
        with path.open("rb") as handle:
            imported = self._post(
                f"lead-lists/{list_id}/import", files={"file": (path.name, handle, "text/csv")}
            )
        skipped = ", ".join(f"{k} {v}" for k, v in (imported.get("skip_reasons") or {}).items())
        self._say(
            f"Imported {imported['rows_parsed']} rows from {path.name}: "
            f"{imported['rows_imported']} new leads, {imported['rows_skipped']} skipped"
            + (f" ({skipped})" if skipped else "")
        )
        quote = self._post(
            "credits/estimate", json={"tool": Tool.ENRICH_LIST, "list_id": list_id, "scope": scope}
        )
        self._say(
            f"Quote {quote['quote_id'][:24]}…: {quote['to_enrich']} leads to enrich "
            f"({quote['already_enriched']} already hold an email), up to "
            f"{quote['estimated_cost']} credits of {quote['available_credits']} available"
        )
        started = self._post(
            "enrichment/bulk",
            json={"list_id": list_id, "scope": scope, "quote_id": quote["quote_id"]},
        )
        status = self._watch(started["workflow_id"], timeout=timeout)
        self._summary(status)
        self._export(list_id)

    def _workspace_and_key(self) -> str:
        workspace = Workspace.objects.filter(name=DEMO_WORKSPACE).first() or workspace_create(
            name=DEMO_WORKSPACE
        )
        # Each run makes a fresh key; the previous runs' keys are revoked (10 active at most).
        for old in ApiKey.objects.filter(workspace=workspace, is_active=True, name="demo"):
            api_key_revoke(api_key=old)
        _, raw_key = api_key_create(workspace=workspace, scopes=list(ALL_SCOPES), name="demo")
        available = balance_get(workspace=workspace).available
        if available < DEMO_CREDITS:
            credits_grant(
                workspace=workspace,
                amount=DEMO_CREDITS - available,
                reason="demo top-up",
                reference=f"demo-topup-{time.time_ns()}",
            )
        return raw_key

    def _start_children(self, port: int) -> None:
        env = {**os.environ, **DEMO_PROVIDERS, "DJANGO_SETTINGS_MODULE": settings.SETTINGS_MODULE}
        worker_pool = (
            ["--pool", "threads", "--concurrency", "4"]
            if settings.EMBEDDED_MODE
            else ["--concurrency", "2"]
        )
        self._spawn(
            "worker",
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=WARNING",
             "--hostname", f"demo-{os.getpid()}@%h", *worker_pool],
            env,
        )  # fmt: skip
        self._spawn(
            "web",
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            env,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if self.session.get(f"{self.base}/whoami", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline or any(c.poll() is not None for c in self.children):
                raise CommandError(f"The demo server did not start; see {self.logs}/*.log")
            time.sleep(0.2)
        self._say(
            f"Web server on 127.0.0.1:{port} and a Celery worker are up (logs in {self.logs})"
        )

    def _spawn(self, name: str, args: list[str], env: dict) -> None:
        log = (self.logs / f"{name}.log").open("w")
        self.children.append(
            subprocess.Popen(
                args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )  # fmt: skip

    def _stop_children(self) -> None:
        for child in self.children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child in self.children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        self.children = []

    # --- API ----------------------------------------------------------------------------------

    def _post(self, path: str, **kwargs) -> dict:
        response = self.session.post(f"{self.base}/{path}", timeout=120, **kwargs)
        if response.status_code >= 400:
            raise CommandError(f"POST /{path} → {response.status_code}: {response.text[:500]}")
        return response.json()

    def _get(self, path: str, **kwargs) -> dict:
        response = self.session.get(f"{self.base}/{path}", timeout=30, **kwargs)
        if response.status_code >= 400:
            raise CommandError(f"GET /{path} → {response.status_code}: {response.text[:500]}")
        return response.json()

    def _watch(self, workflow_id: str, *, timeout: float) -> dict:
        started = time.monotonic()
        interactive = self.stdout.isatty()
        last_line = ""
        while True:
            status = self._get(f"enrichment/status/{workflow_id}")
            elapsed = max(time.monotonic() - started, 1e-6)
            line = render_progress(status)
            if interactive:
                self.stdout.write("\r" + line.ljust(len(last_line)), ending="")
                self.stdout.flush()
            elif line != last_line:
                self.stdout.write(line)
            last_line = line
            if status["status"] in ("completed", "failed", "cancelled"):
                if interactive:
                    self.stdout.write("")
                status["elapsed_s"] = elapsed
                return status
            if elapsed > timeout:
                raise CommandError(f"{workflow_id} still {status['status']} after {timeout:.0f} s")
            time.sleep(0.5)

    def _summary(self, status: dict) -> None:
        total, summary = status["total"], status["summary"]
        found_pct = 100 * summary["found"] / total if total else 0
        rows = [
            ("workflow", status["workflow_id"]),
            ("status", status["status"]),
            ("leads enriched", f"{total} in {status['elapsed_s']:.1f} s "
                               f"({total / status['elapsed_s']:.0f} leads/s)"),
            ("found", f"{summary['found']} ({found_pct:.1f} %): {summary['found_emails']} emails, "
                      f"{summary['found_phones']} phones"),
            ("not found / errors", f"{summary['not_found']} / {summary['errors']}"),
            ("credits reserved", status["credits_reserved"]),
            ("credits charged", status["credits_charged"]),
            ("credits refunded", status["credits_refunded"]),
        ]  # fmt: skip
        self._say("")
        self._say("Summary")
        for label, value in rows:
            self._say(f"  {label:<20} {value}")
        stats = provider_call_stats(tag=status["workflow_id"])
        if stats:
            self._say("")
            self._say(f"  {'provider':<17} {'calls':>7} {'cached':>7} {'found':>7} {'hit %':>6} "
                      f"{'p50 ms':>7} {'p95 ms':>7}")  # fmt: skip
            for row in stats:
                # The verifier's "found" are verdicts given, not emails found.
                label = row["provider"] + (
                    " (verify)" if row["provider"] == settings.SLUICE_VERIFIER else ""
                )
                self._say(
                    f"  {label:<17} {row['calls']:>7} {row['cache_hits']:>7} "
                    f"{row['found']:>7} {_pct(row['hit_rate']):>6} {_ms(row['p50_ms']):>7} "
                    f"{_ms(row['p95_ms']):>7}"
                )

    def _export(self, list_id: str) -> None:
        export = self._post("export/csv/signed-url", json={"list_id": list_id})
        response = self.session.get(export["download_url"], timeout=120)
        response.raise_for_status()
        target = Path(settings.EXPORT_DIR) / f"demo-{list_id}.csv"
        target.write_bytes(response.content)
        self._say("")
        self._say(f"Exported {export['row_count']} leads to {target}")

    def _say(self, text: str) -> None:
        self.stdout.write(text)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"
