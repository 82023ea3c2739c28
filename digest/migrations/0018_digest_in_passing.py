from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("digest", "0017_fewer_ledger_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="digest",
            name="in_passing",
            field=models.JSONField(blank=True, default=list, editable=False),
        ),
    ]
