from django.core.management.base import BaseCommand, CommandError

from accounts.scopes import parse_scopes
from accounts.selectors import workspace_find
from accounts.services import api_key_create
from common.exceptions import ApplicationError


class Command(BaseCommand):
    help = "Create an API key and print it. The key is shown this once and never stored."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="Workspace id or name")
        parser.add_argument(
            "--scopes", default="all", help="Comma-separated scopes, or 'all' (default)"
        )
        parser.add_argument("--name", default="")

    def handle(self, *args, workspace: str, scopes: str, name: str, **options):
        try:
            scope_list = parse_scopes(scopes)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        try:
            _, raw_key = api_key_create(
                workspace=workspace_find(ref=workspace), scopes=scope_list, name=name
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(raw_key)
