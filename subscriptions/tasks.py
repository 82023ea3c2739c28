"""Celery tasks of the subscriptions app: thin, ids in, the work in mail and housekeeping."""

from __future__ import annotations

import logging

from celery import shared_task
from django.core.management import call_command

from digest.emails import is_transient, send_email

from . import housekeeping
from .mail import build_notification
from .models import Subscriber

logger = logging.getLogger(__name__)

# Seconds to wait before each retry of a mail that failed for a passing reason.
RETRY_BACKOFF = (30, 120, 600, 1800, 3600)


@shared_task(bind=True, acks_late=True, max_retries=len(RETRY_BACKOFF))
def send_subscription_email(self, kind: str, subscriber_id: int, reason: str = "") -> None:
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is None:
        # Deleted (or purged) since the email was queued: nobody to write to.
        return
    message = build_notification(kind, subscriber, reason)
    try:
        send_email(message)
    except Exception as error:
        if is_transient(error) and self.request.retries < self.max_retries:
            raise self.retry(exc=error, countdown=RETRY_BACKOFF[self.request.retries]) from error
        raise


@shared_task
def purge_unconfirmed() -> int:
    return housekeeping.purge_unconfirmed()


@shared_task
def resume_ended_pauses() -> int:
    return housekeeping.resume_ended_pauses()


@shared_task
def clear_expired_sessions() -> None:
    # Sessions keep the address typed at signup for the "check your inbox" page; an
    # expired one must not keep personal data around.
    call_command("clearsessions")
