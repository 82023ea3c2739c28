import secrets

from django.db import migrations, models

import subscriptions.models


def give_every_subscriber_a_feed_token(apps, schema_editor):
    Subscriber = apps.get_model("subscriptions", "Subscriber")
    for subscriber in Subscriber.objects.filter(feed_token__isnull=True).only("id").iterator():
        Subscriber.objects.filter(pk=subscriber.pk).update(feed_token=secrets.token_urlsafe(32))


class Migration(migrations.Migration):
    dependencies = [("subscriptions", "0008_curators_clear_suppressions")]

    operations = [
        # Nullable first, one random token per row, then unique and required.
        migrations.AddField(
            model_name="subscriber",
            name="feed_token",
            field=models.CharField(max_length=64, null=True, editable=False),
        ),
        migrations.RunPython(give_every_subscriber_a_feed_token, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="subscriber",
            name="feed_token",
            field=models.CharField(
                max_length=64, unique=True, default=subscriptions.models.new_feed_token, editable=False
            ),
        ),
    ]
