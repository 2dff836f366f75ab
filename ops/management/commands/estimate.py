from datetime import UTC, datetime

from django.core.management.base import BaseCommand

from common.exceptions import ApplicationError
from ops.management.commands._common import (
    add_list_arguments,
    command_error,
    list_estimate,
    resolve,
)


class Command(BaseCommand):
    help = (
        "Price enriching a list (free; reserves nothing) and print the quote that `enrich` "
        "redeems. Same service as POST /credits/estimate with tool enrich_list."
    )

    def add_arguments(self, parser):
        add_list_arguments(parser)

    def handle(self, *args, workspace: str, list_ref: str, scope: str, output: str, **options):
        target, lead_list, enrichment_type = resolve(
            workspace=workspace, list_ref=list_ref, scope=scope
        )
        try:
            estimate = list_estimate(
                workspace=target,
                lead_list=lead_list,
                enrichment_type=enrichment_type,
                output=output,
            )
        except ApplicationError as exc:
            raise command_error(exc) from exc
        quote = estimate.quote
        expires = datetime.fromtimestamp(quote.expires_at.timestamp(), tz=UTC)
        out = self.stdout.write
        out(f"List {lead_list.name!r} ({lead_list.pk}), {enrichment_type}")
        out(f"  leads              {quote.row_count}")
        out(f"  already enriched   {quote.already_enriched}")
        out(f"  to enrich          {estimate.to_enrich}")
        out(f"  estimated cost     {quote.estimated_cost} credits (at most; misses are refunded)")
        out(f"  available          {estimate.available_credits} credits")
        out(f"  sufficient         {'yes' if estimate.sufficient else 'NO'}")
        out(f"  quote              {quote.quote_id} (until {expires:%H:%M:%S} UTC)")
