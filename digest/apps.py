from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _create_cache_table(sender, **kwargs) -> None:
    # Without Redis the rate-limit cache lives in a database table; make sure it exists
    # wherever migrations have run, so a fresh checkout needs no extra step.
    from django.core.management import call_command

    call_command("createcachetable", verbosity=0)


class DigestConfig(AppConfig):
    name = "digest"
    verbose_name = "Papers and digests"

    def ready(self) -> None:
        post_migrate.connect(_create_cache_table, sender=self)
