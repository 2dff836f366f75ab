import uuid

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Workspace
from accounts.scopes import parse_scopes
from accounts.services import api_key_create
from common.exceptions import ApplicationError


def find_workspace(identifier: str) -> Workspace:
    """By id or by name; shared by the commands that take `--workspace`."""
    workspace = Workspace.objects.filter(name=identifier).first()
    if workspace is None:
        try:
            workspace = Workspace.objects.filter(pk=uuid.UUID(identifier)).first()
        except ValueError:
            workspace = None
    if workspace is None:
        raise CommandError(f"No workspace with id or name {identifier!r}.")
    return workspace


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
                workspace=find_workspace(workspace), scopes=scope_list, name=name
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(raw_key)
