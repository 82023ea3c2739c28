# Papers filed under the curated topics they match (digest.filing).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('digest', '0011_sharper_topic_phrases_3'),
    ]

    operations = [
        migrations.AddField(
            model_name='paper',
            name='topics',
            field=models.ManyToManyField(blank=True, editable=False, related_name='papers', to='digest.topic'),
        ),
    ]
