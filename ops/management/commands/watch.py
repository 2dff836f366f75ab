from django.core.management.base import BaseCommand, CommandError

from enrichment.models import Workflow
from ops.cli import summary_table, watch_workflow


class Command(BaseCommand):
    help = "Show an enrichment workflow's progress until it ends, then its summary."

    def add_arguments(self, parser):
        parser.add_argument("workflow_id")
        parser.add_argument("--interval", type=float, default=0.5, help="Seconds between polls")
        parser.add_argument(
            "--timeout", type=float, default=None, help="Give up watching after this many seconds"
        )

    def handle(self, *args, workflow_id: str, interval: float, timeout: float | None, **options):
        workflow = Workflow.objects.filter(pk=workflow_id).first()
        if workflow is None:
            raise CommandError(f"No workflow {workflow_id}.")
        try:
            watch_workflow(workflow.pk, out=self.stdout, interval=interval, timeout=timeout)
        except TimeoutError as exc:
            raise CommandError(f"{exc}; it keeps running (watch it again later).") from exc
        except KeyboardInterrupt:
            self.stdout.write("")
            raise CommandError(f"Stopped watching; {workflow.pk} keeps running.") from None
        self.stdout.write(summary_table(workflow))
