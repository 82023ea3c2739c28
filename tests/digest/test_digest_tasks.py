"""The Celery side of sending: real worker processes on the embedded filesystem broker and
on Redis, and the batch task's retries against a real SMTP server."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.utils import timezone

from digest import tasks
from digest.celery import app as celery_app
from digest.models import Digest
from subscriptions.models import Subscriber

from .sending_helpers import (
    BASE_DIR, NOON_UTC, PYTHON, outbox_messages, sample_catalog, subprocess_env, subscriber,
)

CELERY = PYTHON.parent / "celery"
BROKERS = [
    pytest.param(None, id="filesystem-broker"),
    pytest.param(
        "redis",
        id="redis-broker",
        marks=pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis: set REDIS_URL=redis://..."),
    ),
]


@contextmanager
def celery_worker(env: dict[str, str], log_path: Path):
    """A real worker process; always stopped, and its log shown when it won't start."""
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            [CELERY, "-A", "digest", "worker", "--pool=solo", "--loglevel=INFO",
             "--without-gossip", "--without-mingle", "--without-heartbeat",
             "--hostname", f"test-{uuid.uuid4().hex[:8]}@%h"],
            cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while "ready." not in log_path.read_text():
                if worker.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the worker did not start:\n{log_path.read_text()}")
                time.sleep(0.2)
            yield worker
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()


def readers_due_now() -> list[Subscriber]:
    """Three readers due whatever the hour: their delivery time is midnight UTC."""
    catalog = sample_catalog(timezone.localdate())
    midnight = dt.time(0, 0)
    return [
        subscriber("quant@example.org", topics=[catalog.quantization], delivery_time=midnight),
        subscriber("mri@example.org", topics=[catalog.medical], delivery_time=midnight),
        subscriber("plain@example.org", topics=[catalog.quantization], delivery_time=midnight,
                   email_format=Subscriber.Format.TEXT),
    ]


def wait_until_sent(count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while Digest.objects.filter(status=Digest.Status.SENT).count() < count:
        assert time.monotonic() < deadline, list(Digest.objects.values_list("status", "last_error"))
        time.sleep(0.3)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("broker", BROKERS)
def test_send_digests_hands_the_ids_to_a_real_worker_and_waits_for_it(tmp_path, broker):
    readers_due_now()
    env = subprocess_env(tmp_path, redis_url=os.environ.get("REDIS_URL") if broker else None)

    with celery_worker(env, tmp_path / "worker.log"):
        done = subprocess.run(
            [PYTHON, "manage.py", "send_digests", "--timeout", "90"],
            cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120,
        )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "3 due, 3 sent, 0 empty, 0 quiet-day, 0 failed"
    assert "sending" in done.stderr  # the progress bar
    messages = outbox_messages(tmp_path / "outbox")
    assert sorted(m["To"] for m in messages) == ["mri@example.org", "plain@example.org", "quant@example.org"]
    assert set(Digest.objects.values_list("status", flat=True)) == {Digest.Status.SENT}
    # It was the worker that sent them, not the command.
    assert "digest.tasks.send_digest_batch" in (tmp_path / "worker.log").read_text()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("broker", BROKERS)
def test_the_beat_tick_running_in_a_worker_plans_and_sends_the_due_digests(tmp_path, broker):
    readers_due_now()
    env = subprocess_env(tmp_path, redis_url=os.environ.get("REDIS_URL") if broker else None)

    with celery_worker(env, tmp_path / "worker.log"):
        subprocess.run(
            [CELERY, "-A", "digest", "call", "digest.tasks.send_due_digests"],
            cwd=BASE_DIR, env=env, check=True, capture_output=True, timeout=60,
        )
        wait_until_sent(3)
        # A second tick finds everyone served: one digest per period.
        subprocess.run(
            [CELERY, "-A", "digest", "call", "digest.tasks.send_due_digests"],
            cwd=BASE_DIR, env=env, check=True, capture_output=True, timeout=60,
        )
        time.sleep(2)

    assert Digest.objects.count() == 3
    assert len(outbox_messages(tmp_path / "outbox")) == 3


# --- The batch task in this process (Task.apply runs it and its retries eagerly) ------


def plan_three() -> list[int]:
    from digest import digests

    catalog = sample_catalog()
    for name in ("a", "b", "c"):
        subscriber(f"{name}@example.org", topics=[catalog.quantization])
    return sorted(digests.plan_digests(NOON_UTC).pending_ids)


@pytest.fixture
def eager_celery():
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = False


@pytest.mark.django_db
def test_a_batch_retries_only_the_digests_not_yet_sent_after_a_temporary_refusal(smtp_server, eager_celery):
    ids = plan_three()
    smtp_server.accept_first, smtp_server.refuse = 1, 1  # the second message gets a 451

    tasks.send_digest_batch.apply(args=[ids])

    digests_by_id = Digest.objects.in_bulk(ids)
    assert {d.status for d in digests_by_id.values()} == {Digest.Status.SENT}
    assert [digests_by_id[i].attempts for i in ids] == [1, 2, 1]
    assert len(smtp_server.messages) == 3


@pytest.mark.django_db
def test_after_the_last_retry_each_digest_records_its_failure(smtp_server, eager_celery, settings):
    ids = plan_three()
    smtp_server.refuse = 100
    settings.DIGEST_MAX_ATTEMPTS = 4

    tasks.send_digest_batch.apply(args=[ids])

    rows = Digest.objects.filter(pk__in=ids)
    assert {d.status for d in rows} == {Digest.Status.FAILED}
    assert {d.failure for d in rows} == {Digest.Failure.GAVE_UP}
    assert all("451" in d.last_error for d in rows)
    assert {d.attempts for d in rows} == {4}
    assert smtp_server.messages == []


def test_no_retry_waits_longer_than_half_the_brokers_visibility_timeout(settings):
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    from digest import digests

    delays = [digests.retry_delay(attempts) for attempts in range(1, 30) for _ in range(20)]

    assert max(delays) <= settings.DIGEST_RETRY_MAX_SECONDS <= visibility / 2
    assert min(delays) >= settings.DIGEST_RETRY_SECONDS / 2


def test_settings_refuse_a_retry_cap_beyond_the_visibility_timeout(tmp_path):
    env = subprocess_env(tmp_path, redis_url="redis://127.0.0.1:1/0")
    env["DIGEST_RETRY_MAX_SECONDS"] = "3000"

    done = subprocess.run([PYTHON, "manage.py", "check"], cwd=BASE_DIR, env=env, capture_output=True, text=True,
                          timeout=60)

    assert done.returncode != 0
    assert "DIGEST_RETRY_MAX_SECONDS (3000) must be at most half the broker's visibility timeout" in done.stderr


@pytest.mark.django_db
def test_the_beat_tick_enqueues_the_due_ids_in_batches_once_committed(
    outbox, eager_celery, monkeypatch, django_capture_on_commit_callbacks
):
    catalog = sample_catalog(timezone.localdate())
    for n in range(5):
        subscriber(f"reader{n}@example.org", topics=[catalog.quantization], delivery_time=dt.time(0, 0))
    monkeypatch.setattr(tasks, "SEND_BATCH_SIZE", 2)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        batches = tasks.send_due_digests()
    assert batches == 3 and len(callbacks) == 3
    assert outbox_messages(outbox) == []  # nothing leaves before the rows are committed

    for callback in callbacks:
        callback()
    assert len(outbox_messages(outbox)) == 5
    assert set(Digest.objects.values_list("status", flat=True)) == {Digest.Status.SENT}


@pytest.mark.django_db
def test_a_batch_near_its_time_limit_hands_the_rest_to_a_new_task_and_everything_goes_out(
    smtp_server, eager_celery, settings
):
    ids = plan_three()
    settings.CELERY_TASK_SOFT_TIME_LIMIT = 1  # no time left after the first message

    tasks.send_digest_batch.apply(args=[ids])

    assert len(smtp_server.messages) == 3
    assert set(Digest.objects.filter(pk__in=ids).values_list("status", "attempts")) == {(Digest.Status.SENT, 1)}
