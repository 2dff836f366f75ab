"""Items are rewritten in place (HOT updates) by their claim, lease renewals and release: no
index holds a column those writes change, and the table's pages keep room for the new versions
(docs/benchmarks.md, "Item writes")."""

from django.db import migrations, models

# Measured (docs/benchmarks.md): at 45 % a chunk's claim finds room in its items' pages for
# every claimed version; a result, several times larger (its attempts), mostly does not anyway.
ITEM_FILLFACTOR = 45


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
