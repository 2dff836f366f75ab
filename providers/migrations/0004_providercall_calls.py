from django.db import migrations, models


class Migration(migrations.Migration):
    """A call record row may stand for several identical records (`calls`): existing rows are
    one record each."""

    dependencies = [
        ("providers", "0003_waterfall_config_analytics"),
    ]

    operations = [
        migrations.AddField(
            model_name="providercall",
            name="calls",
            field=models.PositiveIntegerField(db_default=1, default=1),
        ),
    ]
