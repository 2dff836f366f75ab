import uuid

from django.core.management.base import BaseCommand, CommandError

from accounts.selectors import workspace_find
from common.exceptions import ApplicationError, error_text
from credits.services import balance_get, credits_grant


class Command(BaseCommand):
    help = "Grant credits to a workspace and print its new balance."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="Workspace id or name")
        parser.add_argument("--amount", required=True, type=int)
        parser.add_argument("--reason", required=True)
        parser.add_argument(
            "--reference",
            default="",
            help="Idempotency reference (e.g. an invoice number); a repeat grants nothing. "
            "Default: a fresh one, so every run grants.",
        )

    def handle(self, *args, workspace: str, amount: int, reason: str, reference: str, **options):
        try:
            target = workspace_find(ref=workspace)
            entry = credits_grant(
                workspace=target,
                amount=amount,
                reason=reason,
                reference=reference or f"cli:{uuid.uuid4()}",
            )
        except ApplicationError as exc:
            raise CommandError(error_text(exc)) from exc
        balance = balance_get(workspace=target)
        self.stdout.write(
            f"Granted {entry.amount} credits to {target.name} (entry {entry.reference}). "
            f"Balance {balance.balance}, held {balance.held}, available {balance.available}."
        )
