"""Items are rewritten in place (HOT updates) by their claim, lease renewals and release: no
index holds a column those writes change, and the table's pages keep room for the new versions
(docs/benchmarks.md, "Item writes"). The result still adds index entries (pkey, lead, the
run's unique lead), but no longer six."""

from django.db import migrations, models

# Measured (docs/benchmarks.md, "Item writes"): a queued item is ~120 bytes, claimed ~165, with
# its result ~450-650 (the attempts). At 15 % a page holds ~10 queued items and keeps room for
# their claimed versions and then, once the queued ones are pruned, for their results: the claim
# and renewals are HOT, and the result (never HOT: it leaves item_open) lands in the same page
# instead of a new one; the table ends smaller than at 45 %, where most results moved out.
ITEM_FILLFACTOR = 15


def _fillfactor(value: int):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return  # SQLite has no fillfactor; the embedded mode's tables are small
        table = apps.get_model("enrichment", "WorkflowItem")._meta.db_table
        schema_editor.execute(
            f"ALTER TABLE {schema_editor.quote_name(table)} SET (fillfactor = {int(value)})"
        )

    return apply


class Migration(migrations.Migration):

    dependencies = [
        ('enrichment', '0008_refresh_stale_output'),
        ('leads', '0005_lean_lead_indexes'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='workflowitem',
            index=models.Index(condition=models.Q(('finished_at__isnull', True)), fields=['workflow', 'chunk_no'], name='item_open'),
        ),
        migrations.AddIndex(
            model_name='workflowitem',
            index=models.Index(fields=['lead'], name='item_lead'),
        ),
        migrations.RemoveIndex(
            model_name='workflowitem',
            name='item_chunk_status',
        ),
        migrations.RemoveIndex(
            model_name='workflowitem',
            name='item_workflow_status',
        ),
        migrations.RemoveIndex(
            model_name='workflowitem',
            name='item_lead_status',
        ),
        migrations.RemoveIndex(
            model_name='workflowitem',
            name='item_running_claimed',
        ),
        migrations.RunPython(_fillfactor(ITEM_FILLFACTOR), _fillfactor(100)),
    ]
