from django.core.management.base import BaseCommand, CommandError

from accounts.selectors import workspace_find
from common.exceptions import ApplicationError, error_text
from privacy.models import ErasureReceipt
from privacy.services import SUBJECT_KINDS, person_erase


class Command(BaseCommand):
    help = (
        "Erase a person (by email, LinkedIn URL, phone or lead id) and suppress them: from every "
        "workspace and on the operator-wide list, or from one workspace with --workspace. "
        "Prints the receipt."
    )

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        for kind in SUBJECT_KINDS:
            group.add_argument(f"--{kind.replace('_', '-')}", dest=kind)
        parser.add_argument("--workspace", help="Workspace id or name (default: every workspace)")

    def handle(self, *args, workspace: str | None = None, **options):
        kind = next(k for k in SUBJECT_KINDS if options.get(k))
        try:
            target = workspace_find(ref=workspace) if workspace else None
            receipt, created = person_erase(
                workspace=target,
                kind=kind,
                value=options[kind],
                origin=ErasureReceipt.Origin.COMMAND,
            )
        except ApplicationError as exc:
            raise CommandError(error_text(exc)) from exc
        state = "erased" if created else "already erased (earlier receipt)"
        counts = ", ".join(f"{name} {count}" for name, count in sorted(receipt.removed.items()))
        self.stdout.write(
            f"Receipt {receipt.pk}: {state} at {receipt.created_at:%Y-%m-%d %H:%M:%S}"
        )
        self.stdout.write(f"Removed: {counts}")
