"""Delivery under faults, from the outside: real Celery workers and beat on a private
Redis and on PostgreSQL (through a proxy the test can cut), sending a few hundred digests
to an SMTP server that misbehaves on request. Whatever breaks, once it is over:

- every subscriber gets their digest;
- a subscriber gets two copies only of a digest recorded as uncertain, both with the
  digest's Message-ID;
- the ledger says sent exactly for what the server received;
- it all settles within a bound.

Each scenario prints delivered / missing / duplicates / recovery time. The same tests
measure the issue's table at scale: `DELIVERY_FAULT_SUBSCRIBERS=2000 pytest -s -m faults`,
with production's timeouts and retry schedule too: `DELIVERY_FAULT_PRODUCTION_TIMINGS=1`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass

import pytest
from aiosmtpd.controller import Controller
from django.db import connection

from digest.models import Digest

from .fault_harness import (
    CuttableProxy,
    FaultySMTPHandler,
    Process,
    RedisServer,
    SMTPServer,
    due_readers,
    ledger,
    production_timings,
    stack_env,
    subscribers_count,
    wait_for,
    wait_until_settled,
)
from .sending_helpers import BASE_DIR, PYTHON, free_port, subprocess_env

pytestmark = [
    pytest.mark.faults,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgres"),
                       reason="needs PostgreSQL: set DATABASE_URL=postgres://..."),
    pytest.mark.skipif(not shutil.which("redis-server"), reason="needs the redis-server binary"),
]

READERS = subscribers_count()
# Generous: a run settles in a small fraction of this on an idle machine. It scales with
# the number of readers for the measurement runs.
# The issue measured a 20 s outage; CI cuts for 5 s.
DATABASE_CUT_SECONDS = float(os.environ.get("DELIVERY_FAULT_DB_CUT_SECONDS", "5"))
SETTLE_SECONDS = 120 + READERS * 0.15 + (3600 if production_timings() else 0)


@dataclass
class Stack:
    handler: FaultySMTPHandler
    redis: RedisServer
    proxy: CuttableProxy
    workers: list[Process]
    beat: Process

    def start(self) -> None:
        for process in (*self.workers, self.beat):
            process.start(wait=False)
        wait_for(lambda: all(p.ready in p.current_log.read_text() for p in (*self.workers, self.beat)),
                 timeout=90, what="workers and beat to start")

    def restart_workers(self, *workers: Process) -> None:
        for worker in workers:
            worker.start()


@pytest.fixture
def stack(tmp_path):
    handler = FaultySMTPHandler()
    db = connection.settings_dict
    with (
        SMTPServer(handler) as smtp,
        RedisServer(tmp_path / "redis") as redis,
        CuttableProxy((db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))) as proxy,
    ):
        env = stack_env(subprocess_env(tmp_path), redis=redis, smtp=smtp, db_port=proxy.port)
        workers = [Process("worker", env, tmp_path / f"worker{n}.log", "ready.") for n in range(2)]
        beat = Process("beat", env, tmp_path / "beat.log", "beat: Starting")
        try:
            yield Stack(handler, redis, proxy, workers, beat)
        finally:
            for process in (beat, *workers):
                process.stop()
            # Workers may still hold connections to the test database; it is flushed next.
            proxy.cut()


def check(name: str, stack: Stack, readers, *, recovery: float, bounced: frozenset[str] = frozenset(),
          since: str = "the fault ended") -> None:
    handler = stack.handler
    result = ledger(handler, readers, bounced=bounced)
    uncertain = Digest.objects.filter(uncertain=True).count()
    print(
        f"\n[{name}] {READERS} readers: delivered {result.delivered}/{result.readers}, missing {len(result.missing)}, "
        f"duplicates {len(result.duplicates)} (uncertain digests {uncertain}), all settled {recovery:.1f}s after "
        f"{since}; ledger {dict(result.statuses)}; server refused {handler.refused}, dropped {handler.dropped}"
    )
    assert result.problems == []
    assert result.missing == []


def test_a_worker_killed_mid_batch_loses_nothing_and_resends_only_its_uncertain_digest(stack):
    readers = due_readers(READERS)
    stack.start()

    wait_for(lambda: len(stack.handler.received) >= READERS // 3, timeout=120, what="a third sent")
    stack.workers[0].kill()
    stack.restart_workers(stack.workers[0])
    recovery = wait_until_settled(READERS, timeout=SETTLE_SECONDS)

    check("worker SIGKILL mid-batch", stack, readers, recovery=recovery)


def test_a_worker_killed_while_the_server_holds_its_final_reply_resends_with_the_same_message_id(stack):
    readers = due_readers(READERS)
    stack.start()

    wait_for(lambda: len(stack.handler.received) >= READERS // 3, timeout=120, what="a third sent")
    stack.handler.stall = 2.0
    wait_for(stack.handler.stalled.is_set, timeout=30, what="a final reply held back")
    for worker in stack.workers:
        worker.kill()
    stack.restart_workers(*stack.workers)
    recovery = wait_until_settled(READERS, timeout=SETTLE_SECONDS)

    check("kill while the 250 is held back", stack, readers, recovery=recovery)
    # The message the server held had arrived: its digest was taken back as uncertain.
    assert Digest.objects.filter(uncertain=True).exists()


def test_redis_killed_and_restarted_empty_loses_no_digest(stack):
    readers = due_readers(READERS)
    stack.start()

    wait_for(lambda: len(stack.handler.received) >= READERS // 3, timeout=120, what="a third sent")
    stack.redis.kill()
    time.sleep(3)
    stack.redis.start()
    recovery = wait_until_settled(READERS, timeout=SETTLE_SECONDS)

    check("Redis killed, restarted empty", stack, readers, recovery=recovery)


def test_database_connections_cut_for_seconds_lose_no_digest_and_fail_none(stack):
    readers = due_readers(READERS)
    stack.start()

    wait_for(lambda: len(stack.handler.received) >= READERS // 3, timeout=120, what="a third sent")
    stack.proxy.cut()
    time.sleep(DATABASE_CUT_SECONDS)
    stack.proxy.restore()
    recovery = wait_until_settled(READERS, timeout=SETTLE_SECONDS)

    check(f"database cut {DATABASE_CUT_SECONDS:g} s", stack, readers, recovery=recovery)
    assert not Digest.objects.filter(status=Digest.Status.FAILED).exists()


def test_a_fifth_of_messages_answered_451_are_each_retried_on_their_own(stack):
    readers = due_readers(READERS)
    stack.handler.refuse_rate = 0.2
    stack.start()

    recovery = wait_until_settled(READERS, timeout=SETTLE_SECONDS)

    check("20% answered 451", stack, readers, recovery=recovery, since="the start")
    assert stack.handler.refused > 0
    assert set(Digest.objects.values_list("status", flat=True)) == {Digest.Status.SENT}
    assert not Digest.objects.filter(uncertain=True).exists()  # a 451 is no doubt


def test_one_address_refused_for_good_is_recorded_as_bounced_and_the_rest_go_out(stack):
    readers = due_readers(READERS)
    gone = readers[7].email
    stack.handler.bounce = {gone}
    stack.start()

    recovery = wait_until_settled(READERS, timeout=SETTLE_SECONDS)

    check("550 for one address", stack, readers, recovery=recovery, since="the start", bounced=frozenset({gone}))
    bounced = Digest.objects.get(subscriber__email=gone)
    assert (bounced.status, bounced.attempts) == (Digest.Status.FAILED, 1)
    assert bounced.last_error.startswith("Bounced: SMTPRecipientsRefused")


def test_connections_dropped_after_the_data_are_resent_once_with_the_same_message_id(stack):
    readers = due_readers(READERS)
    stack.handler.drop_rate = 0.05
    stack.start()

    recovery = wait_until_settled(READERS, timeout=SETTLE_SECONDS)

    check("drop after DATA, 5%", stack, readers, recovery=recovery, since="the start")
    assert stack.handler.dropped_ids
    dropped = Digest.objects.filter(message_id__in=stack.handler.dropped_ids)
    assert dropped.count() == len(set(stack.handler.dropped_ids))
    assert all(digest.uncertain for digest in dropped)


def test_an_inline_run_waits_out_a_mail_server_outage_and_then_sends_everything(tmp_path):
    readers = due_readers(READERS)
    handler = FaultySMTPHandler()
    port = free_port()
    env = subprocess_env(tmp_path)
    env.update(EMAIL_BACKEND="digest.mail_smtp.EmailBackend", EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(port),
               EMAIL_TIMEOUT="3", DIGEST_RETRY_SECONDS="2", DIGEST_RETRY_MAX_SECONDS="4", DIGEST_MAX_ATTEMPTS="12")
    run = subprocess.Popen([PYTHON, "manage.py", "send_digests", "--inline", "--now"], cwd=BASE_DIR, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: Digest.objects.filter(attempts__gt=0).count() >= READERS, timeout=120,
                 what="every digest tried once against the closed port")
        server = Controller(handler, hostname="127.0.0.1", port=port)
        server.start()
        back = time.monotonic()
        try:
            out, err = run.communicate(timeout=SETTLE_SECONDS)
        finally:
            server.stop()
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    recovery = time.monotonic() - back

    result = ledger(handler, readers)
    print(f"\n[SMTP down, --inline] {READERS} readers: delivered {result.delivered}/{result.readers}, missing "
          f"{len(result.missing)}, duplicates {len(result.duplicates)}, exit status {run.returncode}, done "
          f"{recovery:.1f}s after the server came back")
    assert run.returncode == 0, err[-2000:]
    assert out.splitlines()[-1] == f"{READERS} due, {READERS} sent, 0 empty, 0 quiet-day, 0 failed"
    assert result.problems == [] and result.missing == []


def test_an_inline_run_against_a_dead_mail_server_exits_with_an_error_and_retry_failed_sends_later(tmp_path):
    readers = due_readers(READERS)
    handler = FaultySMTPHandler()
    port = free_port()
    env = subprocess_env(tmp_path)
    env.update(EMAIL_BACKEND="digest.mail_smtp.EmailBackend", EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(port),
               EMAIL_TIMEOUT="3", DIGEST_RETRY_SECONDS="1", DIGEST_RETRY_MAX_SECONDS="1", DIGEST_MAX_ATTEMPTS="2")
    command = [PYTHON, "manage.py", "send_digests", "--inline"]

    down = subprocess.run([*command, "--now"], cwd=BASE_DIR, env=env, capture_output=True, text=True,
                          timeout=SETTLE_SECONDS)
    with SMTPServer(handler, port=port):
        again = subprocess.run([*command, "--retry-failed"], cwd=BASE_DIR, env=env, capture_output=True, text=True,
                               timeout=SETTLE_SECONDS)
        twice = subprocess.run([*command, "--retry-failed"], cwd=BASE_DIR, env=env, capture_output=True, text=True,
                               timeout=SETTLE_SECONDS)

    assert down.returncode == 1
    assert down.stderr.strip().splitlines()[-1].startswith(f"CommandError: {READERS} digest(s) failed")
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"{READERS} failed digest(s) queued again" in again.stdout
    assert "0 failed digest(s) queued again" in twice.stdout
    result = ledger(handler, readers)
    assert result.problems == [] and result.missing == [] and result.duplicates == {}
