"""Shared fixtures. Tests that need PostgreSQL or Redis skip with a reason without
DATABASE_URL / REDIS_URL; `.ci/run` sets both and fails the run if anything skipped."""

from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # A test run must never write into the developer's outbox or broker folders.
    pass


@pytest.fixture
def clock_held():
    """The clock stands still for the test (time_machine, tick=False). For tests that
    count requests up to a rate limit: django-ratelimit's windows are fixed slices of
    the hour, each key's starting at its own second, and a test that ran across one's
    end saw its count start again (a fresh clone's run failed so, at 13:13:12)."""
    import time_machine
    from django.utils import timezone

    with time_machine.travel(timezone.now(), tick=False):
        yield


@pytest.fixture
def outbox_dir(settings, tmp_path):
    """Point the outbox backend at a temporary folder and hand it to the test."""
    folder = tmp_path / "outbox"
    settings.OUTBOX_DIR = folder
    return folder


def queries_beyond_the_cache(captured) -> list[str]:
    """The captured statements that read or write data, less those of the cache: on the
    embedded defaults the cache is a database table (Redis otherwise), so a cache read or
    bump is SQL there, wrapped in savepoints of its own."""
    from django.conf import settings

    table = settings.CACHES["default"].get("LOCATION", "")
    uses_table = "DatabaseCache" in settings.CACHES["default"]["BACKEND"]
    return [
        q["sql"]
        for q in captured.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT"))
        and not (uses_table and table in q["sql"])
    ]


requires_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="needs PostgreSQL: set DATABASE_URL=postgres://...",
)
requires_redis = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="needs Redis: set REDIS_URL=redis://..."
)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # CI runs every test for real: a skip there is a failure, not a pass.
    if os.environ.get("FAIL_ON_SKIP") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped:
        reporter.write_line(f"FAIL_ON_SKIP: {skipped} test(s) skipped; CI requires every test to run.", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def fresh_public_pages(settings):
    """Cached public pages live in Redis, which outlives each test's database: start
    every test with none, as a rolled-back catalog would otherwise find the last test's."""
    if "redis" in settings.CACHES["default"]["BACKEND"].lower():
        from digest.page_cache import catalog_changed

        catalog_changed()
