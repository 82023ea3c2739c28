# Papers filed under the curated topics they match (digest.filing).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('digest', '0013_curators_see_the_dashboard'),
    ]

    operations = [
        migrations.AddField(
            model_name='paper',
            name='topics',
            field=models.ManyToManyField(blank=True, editable=False, related_name='papers', to='digest.topic'),
        ),
    ]
