from django.core.management.base import BaseCommand, CommandError

from accounts.models import Workspace
from accounts.services import workspace_create


class Command(BaseCommand):
    help = "Create a workspace (tenant) and print its id."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--tier", default="self_hosted")
        parser.add_argument(
            "--get-or-create", action="store_true", help="Reuse a workspace with this name."
        )

    def handle(self, *args, name: str, tier: str, get_or_create: bool, **options):
        existing = Workspace.objects.filter(name=name).first()
        if existing and not get_or_create:
            raise CommandError(f"A workspace named {name!r} exists already ({existing.id}).")
        workspace = existing or workspace_create(name=name, tier=tier)
        self.stdout.write(str(workspace.id))
