from django.core.management.base import BaseCommand, CommandError

from common.exceptions import ApplicationError
from enrichment.models import Workflow, WorkflowStatus
from enrichment.results import Started
from enrichment.services.start import bulk_enrichment_start
from ops.cli import summary_table, watch_workflow
from ops.management.commands._common import (
    add_list_arguments,
    command_error,
    list_estimate,
    resolve,
)


class Command(BaseCommand):
    help = (
        "Enrich a list: quote, then start a bulk run through the same services as "
        "POST /credits/estimate and POST /enrichment/bulk. With --wait, show a progress bar "
        "until it ends, then a summary."
    )

    def add_arguments(self, parser):
        add_list_arguments(parser)
        parser.add_argument(
            "--max-credits", type=int, default=None, help="Spend at most this many credits"
        )
        parser.add_argument("--wait", action="store_true", help="Show progress until it ends")
        parser.add_argument("--interval", type=float, default=0.5, help="Seconds between polls")

    def handle(
        self,
        *args,
        workspace: str,
        list_ref: str,
        scope: str,
        output: str,
        max_credits: int | None,
        wait: bool,
        interval: float,
        **options,
    ):
        if max_credits is not None and max_credits < 1:
            raise CommandError("--max-credits must be at least 1.")
        target, lead_list, enrichment_type = resolve(
            workspace=workspace, list_ref=list_ref, scope=scope
        )
        try:
            quote = list_estimate(
                workspace=target,
                lead_list=lead_list,
                enrichment_type=enrichment_type,
                output=output,
            ).quote
            started = bulk_enrichment_start(
                workspace=target,
                list_id=lead_list.pk,
                enrichment_type=enrichment_type,
                output=output,
                quote_id=quote.quote_id,
                max_credits=max_credits,
            )
        except ApplicationError as exc:
            raise command_error(exc) from exc
        assert isinstance(started, Started)  # without `preview`, a run is started or reused
        workflow: Workflow = started.workflow
        self.stdout.write(
            f"Started {workflow.pk}: {started.plan.to_enrich} leads of {lead_list.name!r}, "
            f"{workflow.credits_reserved} credits reserved (quote {quote.estimated_cost})."
        )
        if not wait:
            self.stdout.write(f"Follow it with: manage.py watch {workflow.pk}")
            return
        status = watch_workflow(workflow.pk, out=self.stdout, interval=interval)
        self.stdout.write(summary_table(workflow))
        if status["status"] == WorkflowStatus.FAILED:
            raise CommandError(f"{workflow.pk} failed: {status['error'] or 'see the summary'}")
