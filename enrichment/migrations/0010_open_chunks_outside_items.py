"""The result is a HOT update too: `item_open` (a partial index of open items, which every
result left) makes way for `item_chunk`, the same columns without the predicate, and the
sweeper remembers the chunks it found closed (ClosedChunk) instead of finding open chunks in an
index of open items (docs/benchmarks.md, "Open chunks outside the item rows").

Runs in flight need no data: a chunk without a ClosedChunk row is looked at, so the first
sweeps read the finished chunks of running runs once and close them."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('enrichment', '0009_item_writes_in_place'),
    ]

    operations = [
        migrations.CreateModel(
            name='ClosedChunk',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('chunk_no', models.PositiveIntegerField()),
                ('workflow', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='enrichment.workflow')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('workflow', 'chunk_no'), name='closed_chunk_unique')],
            },
        ),
        # The new index first: chunks claimed meanwhile always have one to find their items.
        migrations.AddIndex(
            model_name='workflowitem',
            index=models.Index(fields=['workflow', 'chunk_no'], name='item_chunk'),
        ),
        migrations.RemoveIndex(
            model_name='workflowitem',
            name='item_open',
        ),
    ]
