"""The periodic task that forgets signups nobody confirmed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from subscriptions.models import Counter, Subscriber
from subscriptions.tasks import purge_unconfirmed

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def signed_up_days_ago(subscriber: Subscriber, days: float) -> None:
    Subscriber.objects.filter(pk=subscriber.pk).update(signed_up_at=timezone.now() - dt.timedelta(days=days))


def test_pending_signups_older_than_the_link_expiry_are_deleted(make_subscriber):
    stale = make_subscriber("stale@example.org", status=Subscriber.Status.PENDING)
    fresh = make_subscriber("fresh@example.org", status=Subscriber.Status.PENDING)
    old_but_confirmed = make_subscriber("loyal@example.org", status=Subscriber.Status.ACTIVE)
    old_unsubscribed = make_subscriber("gone@example.org", status=Subscriber.Status.UNSUBSCRIBED)
    signed_up_days_ago(stale, 7.1)
    signed_up_days_ago(fresh, 6.9)
    signed_up_days_ago(old_but_confirmed, 400)
    signed_up_days_ago(old_unsubscribed, 400)

    assert purge_unconfirmed.delay().get() == 1

    remaining = set(Subscriber.objects.values_list("email", flat=True))
    assert remaining == {"fresh@example.org", "loyal@example.org", "gone@example.org"}
    assert Counter.objects.get(name="unconfirmed_purged").value == 1


def test_purging_when_there_is_nothing_to_purge_does_nothing(make_subscriber):
    make_subscriber("fresh@example.org", status=Subscriber.Status.PENDING)
    assert purge_unconfirmed.delay().get() == 0
    assert Subscriber.objects.count() == 1


def test_the_beat_schedule_runs_the_purge(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "subscriptions.tasks.purge_unconfirmed" in tasks
    assert "subscriptions.tasks.resume_ended_pauses" in tasks


def test_expired_sessions_holding_a_signup_address_are_cleared():
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session

    from subscriptions.tasks import clear_expired_sessions

    expired, current = SessionStore(), SessionStore()
    for store in (expired, current):
        store["signup_email"] = "ada@example.org"
        store.create()
    Session.objects.filter(session_key=expired.session_key).update(expire_date=timezone.now() - dt.timedelta(days=1))

    clear_expired_sessions.delay()

    assert list(Session.objects.values_list("session_key", flat=True)) == [current.session_key]
