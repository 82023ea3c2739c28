from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("digest", "0015_topic_groups"),
    ]

    operations = [
        migrations.AddField(
            model_name="digest",
            name="more_paper_ids",
            field=models.JSONField(blank=True, default=list, editable=False),
        ),
    ]
