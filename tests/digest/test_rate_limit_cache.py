"""The rate limits count in a cache whose increments are atomic, and django-ratelimit's
own check of that cache runs and passes."""

from __future__ import annotations

import threading

import pytest
from django.apps import apps
from django.core import checks
from django.core.management import call_command
from django.db import connection

from digest.cache import AtomicDatabaseCache

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_django_ratelimits_cache_check_runs_and_finds_nothing_wrong():
    assert apps.is_installed("django_ratelimit")
    found = checks.run_checks(tags=[checks.Tags.caches])
    messages = [m for m in found if m.id.startswith("django_ratelimit") and not m.is_silenced()]
    assert messages == []


@pytest.mark.parametrize("backend", ["django.core.cache.backends.db.DatabaseCache", "digest.cache.AtomicDatabaseCache"])
def test_the_check_would_name_a_cache_without_atomic_increments(settings, backend):
    settings.CACHES = {"default": {"BACKEND": backend, "LOCATION": "dpd_cache"}}
    ids = {m.id for m in checks.run_checks(tags=[checks.Tags.caches]) if not m.is_silenced()}
    assert ("django_ratelimit.E003" in ids) == (backend.endswith(".db.DatabaseCache"))


def test_concurrent_increments_of_the_embedded_cache_lose_no_count():
    call_command("createcachetable", "dpd_test_cache", verbosity=0)
    cache = AtomicDatabaseCache("dpd_test_cache", {})
    cache.add("signups", 0, 3600)
    workers, per_worker = 8, 25
    errors: list[BaseException] = []

    def hammer() -> None:
        try:
            for _ in range(per_worker):
                cache.incr("signups")
        except BaseException as error:  # reported below, a thread cannot fail the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=hammer) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert cache.get("signups") == workers * per_worker
