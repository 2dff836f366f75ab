from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.selectors import workspace_find
from common.exceptions import ApplicationError, NotFound, error_text
from leads.imports import leads_import_file
from leads.services import lead_list_create


class Command(BaseCommand):
    help = (
        "Import a CSV, JSON array or NDJSON file of leads into a list (created if missing) "
        "and print a summary. Same pipeline as POST /lead-lists/{id}/import."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="File to import (CSV, JSON array or NDJSON)")
        parser.add_argument("--workspace", required=True, help="Workspace id or name")
        parser.add_argument("--list", required=True, dest="list_name", help="List name")
        parser.add_argument(
            "--map",
            dest="mappings",
            action="append",
            default=[],
            metavar="FIELD=HEADER",
            help="Explicit column mapping, e.g. --map email='Work Email' (repeatable)",
        )

    def handle(self, *args, path: str, workspace: str, list_name: str, mappings: list, **options):
        file = Path(path)
        if not file.is_file():
            raise CommandError(f"No such file: {path}")
        mapping = {}
        for item in mappings:
            field, sep, header = item.partition("=")
            if not sep:
                raise CommandError(f"--map takes FIELD=HEADER, got {item!r}")
            mapping[field.strip()] = header
        try:
            target = workspace_find(ref=workspace)
        except NotFound as exc:
            raise CommandError(exc.message) from exc
        lead_list, _ = lead_list_create(workspace=target, name=list_name)
        try:
            with file.open("rb") as stream:
                result = leads_import_file(
                    workspace=target, lead_list=lead_list, stream=stream, column_mapping=mapping
                )
        except ApplicationError as exc:
            raise CommandError(error_text(exc)) from exc
        out = self.stdout.write
        out(f"List {lead_list.name!r} ({lead_list.pk})")
        out(f"  rows read          {result.rows_parsed}")
        out(f"  new leads          {result.rows_imported}")
        out(f"  matched existing   {result.rows_updated}")
        out(f"  repeats merged     {result.rows_merged}")
        out(f"  added to the list  {result.rows_added_to_list}")
        out(f"  skipped            {result.rows_skipped}")
        for reason, count in result.skip_reasons.most_common():
            out(f"    {reason:<22} {count}")
        for error in result.errors[:5]:
            out(f"    row {error.row}: {error.reason} ({error.detail})")
