"""`manage.py demo_agents` (`make demo-agents`): a smart agent over the sample list, end to end.

Like `demo` (same embedded defaults, web server and worker as children, workspace, key and
credits), then through the public API: import the sample list, estimate `run_smart_agent`,
run `title_normalizer` into a new column, poll the run, and print a few leads' titles next to
what the agent made of them (read back through the list's JSON export).
"""

import time
from pathlib import Path

import requests
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from credits.models import Tool
from credits.prices import AgentType
from ops.management.commands import demo

COLUMN = "Normalized title"
SHOWN_ROWS = 12


class Command(demo.Command):
    help = "Run the title_normalizer smart agent over the sample list through the REST API."

    def add_arguments(self, parser):
        parser.add_argument("--file", default=str(demo.SAMPLE), help="CSV to import")
        parser.add_argument("--timeout", type=float, default=600)

    def handle(self, *args, file: str, timeout: float, **options):
        super().handle(*args, scope="", file=file, timeout=timeout, **options)

    def _run(self, *, scope: str, path: Path, timeout: float) -> None:
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        self._start(path)
        list_id = self.list_id
        quote = self._post(
            "credits/estimate",
            json={
                "tool": Tool.RUN_SMART_AGENT, "list_id": list_id,
                "agent_type": AgentType.TITLE_NORMALIZER, "row_count": 10_000,
                "extra": {"column_name": COLUMN},
            },
        )  # fmt: skip
        self._say(
            f"Quote {quote['quote_id'][:24]}…: title_normalizer over {quote['row_count']} leads, "
            f"up to {quote['estimated_cost']} credits of {quote['available_credits']} available"
        )
        started = self._post(
            "smart-agents/run",
            json={
                "list_id": list_id, "agent_type": AgentType.TITLE_NORMALIZER,
                "column_name": COLUMN, "lead_scope": "subset", "max_rows": quote["row_count"],
                "quote_id": quote["quote_id"],
            },
        )  # fmt: skip
        run_id = started["smart_agent_task_id"]
        deadline = time.monotonic() + timeout
        while True:
            status = self._get(f"smart-agents/{run_id}")
            if status["status"] in ("completed", "failed"):
                break
            if time.monotonic() > deadline:
                raise CommandError(f"{run_id} still {status['status']} after {timeout:.0f} s")
            time.sleep(0.5)
        self._say(
            f"Run {run_id} {status['status']}: {status['succeeded']} titles normalized, "
            f"{status['failed']} without a title; {status['credits_charged']} credits charged, "
            f"{status['credits_refunded']} released"
        )
        self._rows(list_id)

    def _start(self, path: Path) -> None:
        """The demo's setup: migrate, workspace and key, server and worker, the list imported."""
        database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        self._say(f"Sluice smart-agent demo on {database} (var/: {settings.VAR_DIR})")
        call_command("migrate", verbosity=0, interactive=False)
        raw_key = self._workspace_and_key()
        port = demo._free_port()
        self.base = f"http://127.0.0.1:{port}/api/v2"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {raw_key}"
        self._start_children(port)
        lead_list = self._post(
            "lead-lists", json={"name": f"Agents demo {time.strftime('%Y-%m-%d %H:%M:%S')}"}
        )
        self.list_id = lead_list["list_id"]
        with path.open("rb") as handle:
            imported = self._post(
                f"lead-lists/{self.list_id}/import",
                files={"file": (path.name, handle, "text/csv")},
            )
        self._say(f"Imported {imported['rows_imported']} leads from {path.name}")

    def _rows(self, list_id: str) -> None:
        page = self._get(
            "export/json",
            params={"list_id": list_id, "limit": SHOWN_ROWS, "columns": f"title,{COLUMN}"},
        )
        self._say("")
        self._say(f"{'title':<34} {'canonical':<28} {'seniority':<10} department")
        for row in page["leads"]:
            value = row.get(COLUMN) or {}
            self._say(
                f"{(row['title'] or '—')[:33]:<34} {value.get('title', '—')[:27]:<28} "
                f"{value.get('seniority', '—'):<10} {value.get('department', '—')}"
            )
