"""Less for PostgreSQL to do per imported row (docs/benchmarks.md, "The import's fifth pass"):

- `lead_domain` dropped: no query reads it (a search by domain also matches the company's
  domain, the suppression list's domain entries also match emails at it: both read the
  workspace's leads with or without it).
- A membership's unique key leads with the lead, and replaces the index on `lead_id` alone
  (a lead's memberships: its deletion, erasure); `membership_page` still leads with the list.

Cost on a big database (PostgreSQL), all in the migration's one transaction, so no moment
without the unique key: the new membership key is built under the ACCESS EXCLUSIVE lock its
predecessor's drop takes (1.4 s a million memberships on a busy 2-core machine). Reverting
rebuilds what it dropped the same way.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0006_lead_writes_in_place"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="lead", name="lead_domain"),
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
