from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.selectors import workspace_find
from common.exceptions import ApplicationError, NotFound, error_text
from leads.exports import resolve_columns, write_csv
from leads.selectors import lead_list_find_by_name


class Command(BaseCommand):
    help = "Export a lead list to a CSV file (same columns and escaping as the API export)."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="Workspace id or name")
        parser.add_argument("--list", required=True, dest="list_name", help="List name")
        parser.add_argument("--output", required=True, help="CSV file to write")
        parser.add_argument(
            "--columns", action="append", default=[], help="Columns (repeat or comma-separate)"
        )

    def handle(self, *args, workspace: str, list_name: str, output: str, columns, **options):
        try:
            target = workspace_find(ref=workspace)
        except NotFound as exc:
            raise CommandError(exc.message) from exc
        lead_list = lead_list_find_by_name(workspace=target, name=list_name)
        if lead_list is None:
            raise CommandError(f"No list named {list_name!r} in workspace {target.name!r}.")
        try:
            chosen = resolve_columns(columns, lead_list=lead_list)
        except ApplicationError as exc:
            raise CommandError(error_text(exc)) from exc
        path = Path(output)
        count = write_csv(lead_list=lead_list, columns=chosen, path=path)
        self.stdout.write(f"Wrote {count} leads to {path} ({path.stat().st_size} bytes).")
