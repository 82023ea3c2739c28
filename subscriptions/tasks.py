"""Celery tasks of the subscriptions app: thin, ids in, the work in mail and housekeeping."""

from __future__ import annotations

import logging

from celery import shared_task
from django.core.management import call_command

from digest.emails import is_transient

from . import housekeeping, mail

logger = logging.getLogger(__name__)

# Seconds to wait before each retry of a mail that failed for a passing reason. Each
# stays well below the Redis broker's visibility timeout (settings.CELERY_BROKER_
# TRANSPORT_OPTIONS): a task waiting longer than that is handed to a second worker.
RETRY_BACKOFF = (30, 120, 600, 1200, 1800)


@shared_task(bind=True, acks_late=True, max_retries=len(RETRY_BACKOFF))
def send_subscription_email(self, kind: str, subscriber_id: int, reason: str = "", to: str = "") -> None:
    try:
        mail.send_notification(kind, subscriber_id, reason, key=self.request.id, to=to)
    except mail.ClaimedElsewhere as busy:
        # The same task, delivered twice, is being sent by another worker: look again
        # once its claim would be stale, to send only if that worker died.
        raise self.retry(countdown=mail.STALE_CLAIM_AFTER.total_seconds(), exc=busy) from busy
    except Exception as error:
        if is_transient(error) and self.request.retries < self.max_retries:
            raise self.retry(exc=error, countdown=RETRY_BACKOFF[self.request.retries]) from error
        raise


@shared_task
def purge_unconfirmed() -> int:
    return housekeeping.purge_unconfirmed()


@shared_task
def forget_sent_emails() -> int:
    return housekeeping.forget_sent_emails()


@shared_task
def resume_ended_pauses() -> int:
    return housekeeping.resume_ended_pauses()


@shared_task
def clear_expired_sessions() -> None:
    # Sessions keep the address typed at signup for the "check your inbox" page; an
    # expired one must not keep personal data around.
    call_command("clearsessions")
