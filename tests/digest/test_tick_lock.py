"""One digest tick at a time, stale ticks dropped, every task time-limited, and each
kind of work on its own queue."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection
from django.utils import timezone

from digest import locks
from digest.celery import app
from digest.models import Digest
from digest.tasks import send_due_digests
from tests.conftest import requires_postgres, requires_redis

from .sending_helpers import sample_catalog, subscriber

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def reader_due_now(outbox):
    catalog = sample_catalog(timezone.localdate())
    return subscriber("quant@example.org", topics=[catalog.quantization], delivery_time=dt.time(0, 0))


@pytest.fixture(params=[pytest.param("redis", marks=requires_redis), pytest.param("postgres", marks=requires_postgres)])
def lock_backend(request, settings):
    if request.param == "postgres":
        settings.REDIS_URL = ""  # without Redis: PostgreSQL's advisory lock
    return request.param


def held_elsewhere(name: str):
    """The lock held by another process's session (a thread with its own connection)
    until the returned release() is called."""
    acquired, release = threading.Event(), threading.Event()
    outcome: list[bool] = []

    def hold() -> None:
        try:
            with locks.only_one(name, ttl=60) as held:
                outcome.append(held)
                acquired.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    acquired.wait(30)
    assert outcome == [True]

    def done() -> None:
        release.set()
        thread.join()

    return done


def test_a_tick_that_finds_another_running_leaves_the_work_to_it(reader_due_now, lock_backend, celery_eager):
    release = held_elsewhere("digest-tick")
    try:
        assert send_due_digests.apply().get() == 0
        assert Digest.objects.count() == 0
    finally:
        release()

    assert send_due_digests.apply().get() == 1
    assert Digest.objects.count() == 1


def test_the_tick_lock_is_free_again_after_a_tick(reader_due_now, lock_backend, celery_eager):
    send_due_digests.apply().get()
    with locks.only_one("digest-tick", ttl=60) as held:
        assert held


def test_a_queued_tick_expires_when_the_next_one_is_due(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["send-due-digests"]
    assert entry["options"]["expires"] == entry["schedule"] == settings.DIGEST_TICK_SECONDS


def test_every_task_of_the_project_has_soft_and_hard_time_limits_below_the_visibility_timeout(settings):
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    ours = [task for name, task in app.tasks.items() if name.startswith(("digest.", "subscriptions."))]
    assert ours
    for task in ours:
        soft = task.soft_time_limit or app.conf.task_soft_time_limit
        hard = task.time_limit or app.conf.task_time_limit
        assert soft and hard and soft < hard < visibility / 2, task.name


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("digest.tasks.send_digest_batch", "mail"),
        ("subscriptions.tasks.send_subscription_email", "mail"),
        ("digest.tasks.send_due_digests", "planning"),
        ("digest.tasks.plan_digest_chunk", "planning"),
        ("digest.tasks.import_daily_feeds", "imports"),
        ("subscriptions.tasks.purge_unconfirmed", "celery"),
    ],
)
def test_each_kind_of_work_goes_to_its_own_queue(task, queue):
    assert app.amqp.router.route({}, task)["queue"].name == queue
