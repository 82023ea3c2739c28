"""When a subscriber's next digest comes, in words. Below both the services and the
emails, so either can say it without importing the other."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from digest.digests import due_period
from digest.models import Digest

from .models import Subscriber


def format_moment(moment: dt.datetime) -> str:
    """ "Tuesday 3 June 2025 at 07:00 (Europe/Berlin)"."""
    return f"{moment:%A} {moment.day} {moment:%B %Y at %H:%M} ({moment.tzinfo})"


def first_or_next(subscriber: Subscriber) -> str:
    """ "first" for a new reader, "next" for someone subscribing again who has had digests."""
    return "next" if subscriber.digests.filter(status=Digest.Status.SENT).exists() else "first"


def next_digest_text(subscriber: Subscriber, now: dt.datetime | None = None) -> str:
    """When the next digest comes, in words and in the subscriber's time zone. Someone
    whose delivery time has already passed today without a digest for today (just
    confirmed, or just moved their time earlier) is due now: the next beat tick sends it."""
    now = now or timezone.now()
    due = due_period(subscriber, now) if subscriber.pk else None
    if due is not None and not Digest.objects.filter(subscriber=subscriber, period=due[0]).exists():
        return "today, within a few minutes"
    return "on " + format_moment(subscriber.next_delivery_after(now))
