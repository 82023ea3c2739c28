"""Celery tasks of the digest app. Each is a thin wrapper: plain values in, a call to a
plain function that does the work."""

from __future__ import annotations

import logging
from datetime import date, datetime

from amqp.exceptions import ChannelError
from celery import shared_task
from django.conf import settings
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from digest import digests, filing, importers, locks, runs, vectors

logger = logging.getLogger(__name__)


# A feed that times out or answers 5xx is usually back within minutes: retry after about
# 1, 2, 4, 8 and 16 minutes (with jitter), well before the next scheduled run.
@shared_task(
    autoretry_for=(importers.TransientFetchError,),
    retry_backoff=60,
    retry_backoff_max=30 * 60,
    retry_jitter=True,
    max_retries=5,
)
def import_daily_feeds(day: str | None = None) -> None:
    """Import settings.DAILY_FEED_URLS for `day` (YYYY-MM-DD, default today), then mend
    papers an interrupted import left without a vector, and readers' keywords a lost
    `embed_keywords` task left without one."""
    importers.import_daily_feeds(date.fromisoformat(day) if day else None)
    filing.mend_unembedded()
    vectors.embed_recent_readers_keywords()


# --- Keeping papers' vectors and topics up to date ------------------------------------
# On the imports queue: these load the embedding model, which the send workers never do.


@shared_task
def refresh_papers(paper_ids: list[int]) -> None:
    """Vectors and topic filing for papers a big admin import brought (too many to do
    while the curator's page waits)."""
    embedded, reason = filing.refresh_papers(paper_ids)
    logger.info("refreshed %d papers: %d embedded%s", len(paper_ids), embedded, f" ({reason})" if reason else "")


@shared_task
def embed_keywords(keywords: list[str]) -> None:
    """Vectors for keywords a new signup typed. Not in the signup request: embedding
    takes a noticeable part of a second, and a signup for an address already subscribed
    does not embed, so the time the page took would tell which addresses are."""
    result = vectors.embed_keywords(keywords)
    logger.info("embedded %d keywords%s", result.embedded, f" ({result.skipped_reason})" if result.skipped_reason else "")


@shared_task
def refile_catalog() -> None:
    """File every paper under the topics again after a curator changed the topics."""
    filed = filing.file_catalog()
    logger.info(
        "refiled %d papers from %d listing days: %d topic memberships", filed.papers, filed.days, filed.memberships
    )


# --- Sending digests -------------------------------------------------------------------

# Digest ids per send task: big enough that one SMTP connection carries many messages,
# small enough that a batch takes seconds and a retry repeats little.
SEND_BATCH_SIZE = 50
# A database outage in the middle of a batch: try the rest again after 5, 10, 20, 40
# and then every 60 seconds, for about half an hour; the sweeper takes over after that.
DATABASE_RETRY_SECONDS = 5
DATABASE_RETRY_MAX_SECONDS = 60
DATABASE_RETRIES = 30


@shared_task
def send_due_digests() -> int:
    """The beat tick: plan the digests of everyone due now, hand their ids to send tasks.
    One tick at a time: a tick that finds another running leaves the work to it.

    The readers who may be due are read as ids, PLAN_CHUNK at a time. The tick plans the
    first chunk itself (most ticks have no other) and hands each further chunk to a
    `plan_digest_chunk` task, so that in a big run every worker plans, then sends.
    Returns the tasks it queued: send batches for its own chunk, planning chunks."""
    with locks.only_one("digest-tick", ttl=settings.CELERY_TASK_TIME_LIMIT) as ours:
        if not ours:
            return 0
        started_at = timezone.now()
        run_id = runs.start_tick(started_at)
        chunks = digests.hand_out_chunks(started_at)
        own = next(chunks, [])
        handed_out = 0
        for ids in chunks:
            plan_digest_chunk.delay(started_at.isoformat(), ids, run_id)
            handed_out += 1
        return plan_chunk(started_at, own, run_id) + handed_out


@shared_task
def plan_digest_chunk(started_at: str, subscriber_ids: list[int], run_id: int | None = None) -> int:
    """Plan the digests of a chunk of readers the tick handed out and queue their sends.
    Run twice (a redelivered message, or a tick handing it out again after its lease),
    it plans nobody twice: a reader's digest for a period is one row."""
    return plan_chunk(datetime.fromisoformat(started_at), subscriber_ids, run_id)


def plan_chunk(started_at: datetime, subscriber_ids: list[int], run_id: int | None) -> int:
    """Plan these readers as of the tick at `started_at`; returns the send batches queued."""
    if not subscriber_ids:
        return 0
    batches = 0

    def enqueue(digest_ids: list[int]) -> None:
        nonlocal batches
        batches += enqueue_digest_sends(digest_ids)

    result = digests.plan_digests(
        started_at, subscriber_ids=subscriber_ids, on_planned=enqueue, catalogs=digests.run_catalogs(started_at)
    )
    runs.count_in_tick(run_id, started_at, due=result.due, planned=result.planned, empty=result.empty,
                       no_listing=result.no_listing)
    return batches


@shared_task
def sweep_digests() -> int:
    """Beat, every minute or two: queue again the digests whose queue message was lost
    (broker restarted, worker killed) or whose claim ran past its lease."""
    # While send batches wait in the queue, late pending digests are most likely among
    # them (a big run draining): queueing them again would only pile up copies.
    backlog = send_queue_length()
    ids = digests.sweep_stranded(timezone.now(), pending=not backlog)
    return enqueue_digest_sends(ids)


def send_queue_length() -> int | None:
    """Messages waiting in the queue send batches go to; None when the broker cannot say."""
    app = send_digest_batch.app
    try:
        queue = app.amqp.router.route({}, send_digest_batch.name, (), {})["queue"].name
        with app.connection_for_read() as conn:
            return conn.default_channel.queue_declare(queue=queue, passive=True).message_count
    except ChannelError:
        return 0  # never declared, or the broker restarted empty
    except Exception as exc:
        logger.warning("could not read the send queue's length: %s", exc)
        return None


def enqueue_digest_sends(digest_ids: list[int]) -> int:
    """Queue ids in batches once the rows they name are committed; returns the batch count."""
    batches = [list(chunk) for chunk in digests.chunked(digest_ids, SEND_BATCH_SIZE)]
    for batch in batches:
        send_digest_batch.delay_on_commit(batch)
    return len(batches)


@shared_task(bind=True, acks_late=True, max_retries=DATABASE_RETRIES)
def send_digest_batch(self, digest_ids: list[int]) -> None:
    """Send a batch of planned digests. Each digest that failed for now is retried on
    its own schedule; a database outage retries the unsent rest of the batch."""
    try:
        result = digests.send_batch(digest_ids, budget=send_batch_budget())
    except digests.BatchInterrupted as stop:
        schedule_digest_retries(stop.result.retries)
        delay = min(DATABASE_RETRY_SECONDS * 2 ** self.request.retries, DATABASE_RETRY_MAX_SECONDS)
        raise self.retry(args=[stop.remaining], countdown=delay, exc=stop.cause) from stop.cause
    schedule_digest_retries(result.retries)
    if result.remaining:
        send_digest_batch.delay(result.remaining)


def send_batch_budget() -> float | None:
    """How long a batch may go on starting messages: its soft time limit, less two
    claim leases (the message in progress, and recording its outcome)."""
    limit = settings.CELERY_TASK_SOFT_TIME_LIMIT
    return None if not limit else max(limit - 2 * digests.claim_lease().total_seconds(), 0)


def schedule_digest_retries(retries: dict[int, datetime]) -> None:
    """One task per digest at its own time. Each countdown is at most
    DIGEST_RETRY_MAX_SECONDS, which settings keep well below the broker's visibility
    timeout, so a waiting retry is never handed out twice."""
    now = timezone.now()
    for digest_id, at in retries.items():
        try:
            send_digest_batch.apply_async(([digest_id],), countdown=max((at - now).total_seconds(), 0))
        except KombuOperationalError:
            # The row says when it is due: the sweeper queues it once the broker is back.
            logger.warning("could not queue the retry of digest %s: broker unreachable", digest_id)
