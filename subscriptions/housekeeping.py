"""The scheduled clean-ups of the subscriptions app (beat runs them through tasks)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from .models import Counter, SentEmail, Subscriber


def purge_unconfirmed(now: dt.datetime | None = None) -> int:
    """Delete signups nobody confirmed before their link expired. Returns how many."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.CONFIRMATION_MAX_AGE_DAYS)
    _, per_model = Subscriber.objects.filter(status=Subscriber.Status.PENDING, signed_up_at__lt=cutoff).delete()
    # The total also counts rows deleted with them (their topic choices); report people.
    purged = per_model.get(Subscriber._meta.label, 0)
    if purged:
        Counter.increment("unconfirmed_purged", purged)
    return purged


def resume_ended_pauses(now: dt.datetime | None = None) -> int:
    """Pauses whose resume date has come on the subscriber's own calendar end. Returns
    how many. Run hourly: a pause ends within the hour after local midnight."""
    now = now or timezone.now()
    # The latest local date anywhere is at most a day past the UTC date (UTC+14).
    candidates = Subscriber.objects.filter(
        status=Subscriber.Status.PAUSED,
        paused_until__isnull=False,
        paused_until__lte=now.astimezone(dt.UTC).date() + dt.timedelta(days=1),
    ).only("pk", "timezone", "paused_until")
    ended = [s.pk for s in candidates if s.paused_until and s.paused_until <= now.astimezone(s.zone).date()]
    return Subscriber.objects.filter(pk__in=ended, status=Subscriber.Status.PAUSED).update(
        status=Subscriber.Status.ACTIVE, paused_until=None, updated_at=timezone.now()
    )


# Long enough to outlast every redelivery of a task (retries end within the hour).
SENT_EMAIL_MEMORY = dt.timedelta(days=2)


def forget_sent_emails(now: dt.datetime | None = None) -> int:
    """Delete the send markers of subscription emails once no task can come back for
    them. Returns how many."""
    now = now or timezone.now()
    deleted, _ = SentEmail.objects.filter(created_at__lt=now - SENT_EMAIL_MEMORY).delete()
    return deleted
