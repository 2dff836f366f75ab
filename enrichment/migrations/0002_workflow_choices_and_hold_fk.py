import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """Choices for enrichment_type and refund_status (no data change), and the hold as a foreign
    key: the column keeps its name (hold_id) and gains the constraint."""

    dependencies = [
        ("credits", "0002_ledger_append_only_trigger"),
        ("enrichment", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="workflow",
            name="enrichment_type",
            field=models.CharField(
                choices=[("partial", "Partial"), ("phone_only", "Phone Only"), ("full", "Full")],
                max_length=12,
            ),
        ),
        migrations.AlterField(
            model_name="workflow",
            name="refund_status",
            field=models.CharField(
                choices=[
                    ("not_applicable", "Not Applicable"),
                    ("pending_review", "Pending Review"),
                    ("approved", "Approved"),
                    ("rejected", "Rejected"),
                ],
                default="not_applicable",
                max_length=16,
            ),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(model_name="workflow", name="hold_id"),
                migrations.AddField(
                    model_name="workflow",
                    name="hold",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="credits.hold",
                    ),
                ),
            ],
            database_operations=[
                migrations.AlterField(
                    model_name="workflow",
                    name="hold_id",
                    field=models.ForeignKey(
                        blank=True,
                        db_column="hold_id",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="credits.hold",
                    ),
                ),
            ],
        ),
    ]
