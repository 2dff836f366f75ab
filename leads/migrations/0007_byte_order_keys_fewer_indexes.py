"""Less for PostgreSQL to do per imported row (docs/benchmarks.md, "The import's fifth pass"):

- `identity_key` and `linkedin_url` in byte order (`COLLATE "C"`, `leads.models.ByteOrderKeyField`):
  their indexes compare them with `memcmp` instead of the C library's `strcoll`. The same
  equality and, for UTF-8, the same order as `C.UTF-8`; nothing orders by them or searches
  them case-insensitively but the admin (ASCII case folding now). SQLite: unchanged.
- `lead_domain` dropped: no query reads it (a search by domain also matches the company's
  domain, the suppression list's domain entries also match emails at it: both read the
  workspace's leads with or without it).
- A membership's unique key leads with the lead, and replaces the index on `lead_id` alone
  (a lead's memberships: its deletion, erasure); `membership_page` still leads with the list.

Cost on a big database (PostgreSQL), all in the migration's one transaction, so no moment without
the unique key: the collation change rewrites no row but rebuilds the identity and LinkedIn
indexes under an ACCESS EXCLUSIVE lock on the lead table (reads and writes wait; measured:
5.6 s a million leads on a busy 2-core machine), and the new membership key is built under the
lock its predecessor's drop takes (1.4 s a million memberships). Reverting rebuilds what it
dropped the same way.
"""

import django.db.models.deletion
from django.db import migrations, models

import leads.models


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0006_lead_writes_in_place"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="lead", name="lead_domain"),
        migrations.AlterField(
            model_name="lead",
            name="identity_key",
            field=leads.models.ByteOrderKeyField(max_length=400),
        ),
        migrations.AlterField(
            model_name="lead",
            name="linkedin_url",
            field=leads.models.ByteOrderKeyField(blank=True, max_length=300, null=True),
        ),
        migrations.RemoveConstraint(model_name="listmembership", name="membership_unique"),
        migrations.AddConstraint(
            model_name="listmembership",
            constraint=models.UniqueConstraint(
                fields=("lead", "lead_list"), name="membership_unique"
            ),
        ),
        # After the key that now leads with the lead exists.
        migrations.AlterField(
            model_name="listmembership",
            name="lead",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="memberships",
                to="leads.lead",
            ),
        ),
    ]
