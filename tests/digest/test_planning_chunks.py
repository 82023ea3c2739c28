"""The tick fans planning out: it plans the first chunk of due readers itself and hands
each further chunk to a planning task, so every worker plans and then sends. Whatever
runs twice or at once (two workers, a redelivered task, a tick handing a chunk out
again), every due reader gets exactly one digest."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import threading
import time

import pytest
from django.db import connection
from django.utils import timezone

from digest import digests, tasks
from digest.models import Digest, TickRun
from subscriptions.models import Subscriber

from .sending_helpers import BASE_DIR, NOON_UTC, outbox_messages, sample_catalog, subprocess_env, subscriber
from .test_digest_tasks import BROKERS, CELERY, celery_worker, wait_until_sent


def due_readers(count: int, day: dt.date | None = None) -> list[Subscriber]:
    catalog = sample_catalog(day) if day else sample_catalog()
    return [
        subscriber(f"reader{n}@example.org", topics=[catalog.quantization], delivery_time=dt.time(0, 0))
        for n in range(count)
    ]


def queue_tick(env: dict[str, str]) -> None:
    """Queue the beat's tick through the broker, as beat does."""
    subprocess.run(
        [CELERY, "-A", "digest", "call", "digest.tasks.send_due_digests"],
        cwd=BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("broker", BROKERS)
def test_two_workers_plan_the_chunks_of_a_tick_and_every_due_reader_gets_one_digest(tmp_path, broker):
    readers = due_readers(7, timezone.localdate())
    env = subprocess_env(tmp_path, redis_url=os.environ.get("REDIS_URL") if broker else None)
    env["DIGEST_PLAN_CHUNK"] = "2"  # the tick plans 2 readers, three tasks plan the other 5

    with celery_worker(env, tmp_path / "worker1.log"), celery_worker(env, tmp_path / "worker2.log"):
        queue_tick(env)
        wait_until_sent(7)
        # The next tick finds everyone served: one digest per reader and period.
        queue_tick(env)
        time.sleep(2)

    assert sorted(Digest.objects.values_list("subscriber__email", flat=True)) == sorted(r.email for r in readers)
    assert sorted(m["To"] for m in outbox_messages(tmp_path / "outbox")) == sorted(r.email for r in readers)
    logs = (tmp_path / "worker1.log").read_text() + (tmp_path / "worker2.log").read_text()
    assert len(re.findall(r"plan_digest_chunk\[[^\]]+\] succeeded", logs)) == 3
    first_run = TickRun.objects.order_by("started_at").first()
    assert (first_run.due, first_run.planned) == (7, 7)


@pytest.mark.django_db
def test_a_chunk_planned_again_plans_nobody_twice(outbox):
    readers = due_readers(3)
    ids = [r.pk for r in readers]

    first = tasks.plan_chunk(NOON_UTC, ids, None)
    again = tasks.plan_chunk(NOON_UTC, ids, None)  # a redelivered task, or a tick handing it out again

    assert (first, again) == (1, 0)  # one send batch, then nothing to send
    assert Digest.objects.count() == 3


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_planning_the_same_chunk_at_once_store_one_digest_per_reader():
    readers = due_readers(6)
    ids = [r.pk for r in readers]
    start = threading.Barrier(2)
    planned: list[int] = []

    def plan() -> None:
        try:
            start.wait(10)
            planned.append(digests.plan_digests(NOON_UTC, subscriber_ids=ids).planned)
        finally:
            connection.close()

    workers = [threading.Thread(target=plan) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)

    assert sum(planned) == 6  # between them, each reader once
    assert sorted(Digest.objects.values_list("subscriber_id", flat=True)) == sorted(ids)


@pytest.mark.django_db
def test_a_handed_out_chunk_is_not_handed_out_again_until_its_lease_has_passed(monkeypatch):
    readers = due_readers(5)
    monkeypatch.setattr(digests, "PLAN_CHUNK", 2)

    chunks = list(digests.hand_out_chunks(NOON_UTC))
    assert chunks == [[r.pk for r in readers[:2]], [r.pk for r in readers[2:4]], [readers[4].pk]]

    # A tick in between (its task still queued, or lost) hands none of them out again ...
    assert list(digests.hand_out_chunks(NOON_UTC + dt.timedelta(minutes=5))) == []
    # ... and once the lease has passed, the ones not planned yet are handed out again.
    later = NOON_UTC + digests.planning_lease()
    assert [pk for chunk in digests.hand_out_chunks(later) for pk in chunk] == [r.pk for r in readers]


@pytest.mark.django_db
def test_the_tick_counts_every_chunk_in_its_run_record(outbox, monkeypatch, celery_eager):
    due_readers(5, timezone.localdate())
    monkeypatch.setattr(digests, "PLAN_CHUNK", 2)

    assert tasks.send_due_digests() == 1 + 2  # a send batch for its own chunk, two chunk tasks

    run = TickRun.objects.get()
    assert (run.due, run.planned, run.empty, run.no_listing) == (5, 5, 0, 0)
    assert run.finished_at >= run.started_at
    assert Digest.objects.count() == 5
