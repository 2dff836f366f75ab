"""The run's charges kept as a counter, bumped with the items' writes, so that the settlement
reads one row instead of summing the run's items under the workflow's lock (docs/benchmarks.md,
"The settlement's counter").

Runs in flight get the sum of what their items were charged so far; ended runs, what they
were charged. Stop the workers before migrating (as for any upgrade): a worker of the earlier
release would write charges without bumping the counter."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce

_ENDED = ("completed", "failed", "cancelled")


def _count_what_was_charged(apps, schema_editor):
    Workflow = apps.get_model("enrichment", "Workflow")
    WorkflowItem = apps.get_model("enrichment", "WorkflowItem")
    Workflow.objects.filter(status__in=_ENDED).update(items_charged=models.F("credits_charged"))
    charged = (
        WorkflowItem.objects.filter(workflow=OuterRef("pk"))
        .values("workflow")
        .annotate(total=Sum("credits_charged"))
        .values("total")
    )
    Workflow.objects.exclude(status__in=_ENDED).update(
        items_charged=Coalesce(Subquery(charged), 0)
    )


class Migration(migrations.Migration):

    dependencies = [
        ('enrichment', '0010_open_chunks_outside_items'),
    ]

    operations = [
        migrations.AddField(
            model_name='workflow',
            name='items_charged',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(_count_what_was_charged, migrations.RunPython.noop),
    ]
