"""Celery tasks of the digest app. Each is a thin wrapper: plain values in, a call to a
plain function that does the work."""

from __future__ import annotations

from datetime import date

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from digest import digests, importers, locks


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
    """Import settings.DAILY_FEED_URLS for `day` (YYYY-MM-DD, default today)."""
    importers.import_daily_feeds(date.fromisoformat(day) if day else None)


# --- Sending digests -------------------------------------------------------------------

# Digest ids per send task: big enough that one SMTP connection carries many messages,
# small enough that a batch takes seconds and a retry repeats little.
SEND_BATCH_SIZE = 50
# A mail server that is down or says "try again later" (4xx) usually recovers within the
# hour: retry the unsent rest of a batch after 1, 4, 16 and 64 minutes, then record the
# digest as failed.
SEND_RETRY_DELAYS = (60, 4 * 60, 16 * 60, 64 * 60)


@shared_task
def send_due_digests() -> int:
    """The beat tick: plan the digests of everyone due now, hand their ids to send tasks.
    One tick at a time: a tick that finds another running leaves the work to it."""
    with locks.only_one("digest-tick", ttl=settings.CELERY_TASK_TIME_LIMIT) as ours:
        if not ours:
            return 0
        result = digests.plan_digests(timezone.now())
        return enqueue_digest_sends(result.pending_ids)


def enqueue_digest_sends(digest_ids: list[int]) -> int:
    """Queue ids in batches once the rows they name are committed; returns the batch count."""
    batches = [list(chunk) for chunk in digests.chunked(digest_ids, SEND_BATCH_SIZE)]
    for batch in batches:
        send_digest_batch.delay_on_commit(batch)
    return len(batches)


@shared_task(bind=True, acks_late=True, max_retries=len(SEND_RETRY_DELAYS))
def send_digest_batch(self, digest_ids: list[int]) -> None:
    """Send a batch of planned digests; on a transient SMTP error, retry the unsent rest."""
    try:
        digests.send_batch(digest_ids, final_attempt=self.request.retries >= self.max_retries)
    except digests.BatchInterrupted as stop:
        delay = SEND_RETRY_DELAYS[self.request.retries]
        raise self.retry(args=[stop.remaining], countdown=delay, exc=stop.cause) from stop.cause
