"""An enriched lead is rewritten in place (a HOT update: a new version in the same page, no
index entry) instead of a new version plus an entry in each of the table's seven indexes: no
index holds `email` any more, and the table's pages keep room for the new versions
(docs/benchmarks.md, "Lead writes"). A lead found by email (privacy erasure, the suppression
list) is read from its workspace's leads, as one found by phone already was.

Cost on a big table (PostgreSQL): dropping `lead_email` is immediate once its ACCESS EXCLUSIVE
lock is granted (it waits for the statements running on the table). The fillfactor applies to
pages written from then on (imports): the leads already there stay packed, and their
enrichment non-HOT, until the table is rewritten: `VACUUM FULL leads_lead` (ACCESS EXCLUSIVE:
reads and writes wait; ~9 s a million leads on a busy 2-core machine, 3.0 s for 330,000) or
`pg_repack` without the long lock (docs/operations.md, "Upgrading"). Reverting rebuilds
`lead_email` under a SHARE lock (writes wait): ~1.5 s a million leads (0.5 s for 330,000).
"""

from django.db import migrations

# Measured (docs/benchmarks.md, "Lead writes"): an imported lead is ~350 bytes and its enriched
# version ~100 more. A chunk writes its leads in slices, each in one transaction, so a page needs
# room for the new versions of every lead of it the slice found before any old one can be
# pruned. At 50 % 92-99 % of the bulk runs' lead writes were HOT, at 70 % 59-73 %; the heap of
# leads not yet enriched is twice as large at 50 % (1.4 x at 70 %), and about as large as at
# 100 % once most are (their new versions fill the room instead of new pages).
LEAD_FILLFACTOR = 50


def _fillfactor(value: int | None):
    """Sets the lead table's fillfactor; None: back to PostgreSQL's default (100)."""

    def apply(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return  # SQLite has no fillfactor; the embedded mode's tables are small
        table = schema_editor.quote_name(apps.get_model("leads", "Lead")._meta.db_table)
        if value is None:
            schema_editor.execute(f"ALTER TABLE {table} RESET (fillfactor)")
        else:
            schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = {int(value)})")

    return apply


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0005_lean_lead_indexes"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="lead", name="lead_email"),
        migrations.RunPython(_fillfactor(LEAD_FILLFACTOR), _fillfactor(None)),
    ]
