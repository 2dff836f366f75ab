"""The result cache's key becomes a `uuid` (the first 128 bits of the same SHA-256, so every
stored entry stays findable: `providers.engine.cache_key`), and its expiry index a BRIN index
(docs/benchmarks.md, "The result cache"). Entries are kept.

Cost on a big table (PostgreSQL): the key's new type rewrites the table and rebuilds its
primary key and unique index, under an ACCESS EXCLUSIVE lock: workers' cache reads and writes
wait for it (measured on a busy 2-core machine: 5.6 s for a million entries, so about a
minute for ten million). The old expiry index is dropped first, so it is not rebuilt; the
BRIN index is one pass over the table (0.7 s for a million). Run it while no bulk run is
writing, or expect them to wait.

Reverting turns the keys back into text, 32 hex digits instead of 64: the previous code's keys
would no longer match them, so its lookups miss until the entries expire (answers are asked
again, nothing wrong is served).
"""

from django.db import migrations, models

import providers.models


def _key_to_uuid(apps, schema_editor):
    table = schema_editor.quote_name(apps.get_model("providers", "ResultCacheEntry")._meta.db_table)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE {table} ALTER COLUMN identity_key TYPE uuid "
            "USING left(identity_key, 32)::uuid"
        )
    else:  # SQLite stores a UUIDField as 32 hex digits, in a column of any declared type
        schema_editor.execute(f"UPDATE {table} SET identity_key = substr(identity_key, 1, 32)")


def _key_to_text(apps, schema_editor):
    table = schema_editor.quote_name(apps.get_model("providers", "ResultCacheEntry")._meta.db_table)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE {table} ALTER COLUMN identity_key TYPE varchar(64) "
            "USING replace(identity_key::text, '-', '')"
        )


class Migration(migrations.Migration):

    dependencies = [
        ("providers", "0004_providercall_calls"),
    ]

    operations = [
        # Before the rewrite below, so the old index is not rebuilt only to be dropped.
        migrations.AlterField(
            model_name="resultcacheentry",
            name="expires_at",
            field=models.DateTimeField(),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="resultcacheentry",
                    name="identity_key",
                    field=models.UUIDField(),
                ),
            ],
            database_operations=[migrations.RunPython(_key_to_uuid, _key_to_text)],
        ),
        migrations.AddIndex(
            model_name="resultcacheentry",
            index=providers.models.BlockRangeIndex(
                fields=["expires_at"], name="result_cache_expiry"
            ),
        ),
    ]
