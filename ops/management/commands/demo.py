"""`manage.py demo` (`make demo`): the whole product in one command.

Migrates the database, starts a real web server and a real Celery worker as child processes,
creates a workspace, key and credits, then drives the public REST API exactly as a user's script
would: import the sample list, estimate, start a bulk enrichment, watch it with a progress bar,
print a summary and export the result. Children are stopped on exit, Ctrl-C included (a second
Ctrl-C while they stop kills them instead of waiting).

On embedded defaults (DATABASE_URL / REDIS_URL empty or unset, as in a copied .env.example) that
is SQLite and Celery's filesystem broker under var/; with them set, PostgreSQL and Redis. The
providers are always the demo's own sandboxes, whatever the environment names for the stack.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

import requests
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from accounts.models import ApiKey, Workspace
from accounts.scopes import ALL_SCOPES
from accounts.services import api_key_create, api_key_revoke, workspace_create
from common.exceptions import details_text
from credits.models import Tool
from credits.prices import EnrichmentType
from credits.selectors import balance_get
from credits.services import credits_grant
from enrichment.models import Workflow
from ops.cli import render_progress, summary_table

ROOT = Path(settings.BASE_DIR)
# What stops the demo: Ctrl-C, and a SIGTERM (e.g. from a process supervisor).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
SAMPLE = ROOT / "sample_data" / "leads.csv"
DEMO_WORKSPACE = "Demo"
DEMO_CREDITS = 50_000
# Three sandbox providers in a row, each finding part of the people at its own speed, so the
# waterfall visibly falls through; deterministic and offline. Every waterfall and the verifier
# are set, so a `.env` written for the stack (real providers, keys or none) never steers it.
DEMO_PROVIDERS = {
    "SLUICE_WATERFALL_EMAIL": "sandbox_a,sandbox_b,sandbox_c",
    "SLUICE_WATERFALL_PHONE": "sandbox_a",
    "SLUICE_WATERFALL_COMPANY": "sandbox_a",
    "SLUICE_VERIFIER": "sandbox",
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


def demo_environment(environment: Mapping[str, str], *, settings_module: str) -> dict[str, str]:
    """The environment of the demo's worker and web server: this process's, with the demo's
    providers and request limits on top."""
    return {**environment, **DEMO_PROVIDERS, "DJANGO_SETTINGS_MODULE": settings_module}


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
        self.stopping = self.hurry = False
        self.logs = Path(settings.VAR_DIR) / "demo"
        self.logs.mkdir(parents=True, exist_ok=True)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in STOP_SIGNALS}
        exit_code = 0
        try:
            self._run(scope=scope, path=Path(file), timeout=timeout)
        except KeyboardInterrupt:
            self.stdout.write("\nInterrupted; stopping the worker and the server.")
            exit_code = 130
        finally:
            self.stopping = True
            self._stop_children()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if exit_code:
            sys.exit(exit_code)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        """The first Ctrl-C (or SIGTERM) stops the demo; one arriving while the children stop
        only hurries them (killed instead of waited for) rather than breaking the shutdown."""
        if self.stopping:
            self.hurry = True
            return
        self.stopping = True
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        sys.exit(128 + signum)

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
        env = demo_environment(os.environ, settings_module=settings.SETTINGS_MODULE)
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
        """SIGTERM to each child's process group, up to 20 s for them to finish (cut short by
        a second Ctrl-C), then SIGKILL to what is left."""
        for child in self.children:
            _signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while (
            any(child.poll() is None for child in self.children)
            and not self.hurry
            and time.monotonic() < deadline
        ):
            time.sleep(0.1)
        for child in self.children:
            _signal_group(child, signal.SIGKILL)
            child.wait()
        self.children = []

    # --- API ----------------------------------------------------------------------------------

    def _post(self, path: str, **kwargs) -> dict:
        response = self.session.post(f"{self.base}/{path}", timeout=120, **kwargs)
        if response.status_code >= 400:
            raise CommandError(f"POST /{path} → {api_error_text(response)}")
        return response.json()

    def _get(self, path: str, **kwargs) -> dict:
        response = self.session.get(f"{self.base}/{path}", timeout=30, **kwargs)
        if response.status_code >= 400:
            raise CommandError(f"GET /{path} → {api_error_text(response)}")
        return response.json()

    def _watch(self, workflow_id: str, *, timeout: float) -> dict:
        started = time.monotonic()
        interactive = self.stdout.isatty()
        last_line = ""
        while True:
            status = self._get(f"enrichment/status/{workflow_id}")
            elapsed = time.monotonic() - started
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
                return status
            if elapsed > timeout:
                raise CommandError(f"{workflow_id} still {status['status']} after {timeout:.0f} s")
            time.sleep(0.5)

    def _summary(self, status: dict) -> None:
        """The same summary as `enrich --wait` and `watch` (ops.cli.summary_table)."""
        self._say("")
        self._say(summary_table(Workflow.objects.get(pk=status["workflow_id"])))

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


def _signal_group(child: subprocess.Popen, sig: int) -> None:
    """Signals the child's whole process group: a worker's pool processes too, even when the
    worker itself has already ended."""
    with contextlib.suppress(ProcessLookupError):  # the whole group has ended
        os.killpg(child.pid, sig)


def api_error_text(response: requests.Response) -> str:
    """`402 insufficient_credits: This operation needs … (required: 31636, balance: 9315)`
    from the error envelope, or the start of the body when it is not one."""
    try:
        error = response.json()["error"]
        text = f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return f"{response.status_code}: {response.text[:500]}"
    if error.get("details"):
        text += f" ({details_text(error['details'])})"
    return f"{response.status_code} {text}"
