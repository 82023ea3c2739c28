from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save


def _create_cache_table(sender, **kwargs) -> None:
    # Without Redis the rate-limit cache lives in a database table; make sure it exists
    # wherever migrations have run, so a fresh checkout needs no extra step.
    from django.core.management import call_command

    call_command("createcachetable", verbosity=0)


def _catalog_changed(sender, **kwargs) -> None:
    # A curator's edit (a hidden paper, a renamed topic) shows on the public pages at
    # once, not when their cached copies expire. Bulk writes call catalog_changed() too.
    from .page_cache import catalog_changed

    catalog_changed()


class DigestConfig(AppConfig):
    name = "digest"
    verbose_name = "Papers and digests"

    def ready(self) -> None:
        from django.core import checks

        from .decision import check_shipped_decision
        from .models import Paper, Topic

        checks.register(check_shipped_decision)

        post_migrate.connect(_create_cache_table, sender=self)
        for model in (Paper, Topic):
            post_save.connect(_catalog_changed, sender=model, dispatch_uid=f"catalog-changed-save-{model.__name__}")
            post_delete.connect(_catalog_changed, sender=model, dispatch_uid=f"catalog-changed-delete-{model.__name__}")
        m2m_changed.connect(_catalog_changed, sender=Paper.topics.through, dispatch_uid="catalog-changed-topics")
