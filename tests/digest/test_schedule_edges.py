"""Schedule edge cases the digest tick must get right: a two-hour daylight-saving jump,
a schedule saved while a tick runs, pauses ending on the reader's own date, and a
"nothing listed yet" recheck late in the reader's day."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from digest import digests
from subscriptions.housekeeping import resume_ended_pauses
from subscriptions.models import Subscriber

from .sending_helpers import at_utc, outbox_messages, sample_catalog, subscriber

pytestmark = pytest.mark.django_db


def run(now: dt.datetime) -> digests.PlanResult:
    result = digests.plan_digests(now)
    for digest_id in result.pending_ids:
        digests.send_digest(digest_id, now=now)
    return result


def sent_to(outbox, email: str) -> int:
    return sum(1 for message in outbox_messages(outbox) if message["To"] == email)


def test_trolls_two_hour_spring_jump_does_not_delay_the_digest(outbox):
    # On 29 March 2026 Antarctica/Troll jumps from 01:00 (+00) to 03:00 (+02): a reader
    # who wants 02:30 is due at 01:00 UTC, when their clock shows 03:00.
    day = dt.date(2026, 3, 29)
    catalog = sample_catalog(day)
    subscriber(
        "troll@example.org", timezone="Antarctica/Troll", delivery_time=dt.time(2, 30), topics=[catalog.quantization]
    )

    run(at_utc(day, 0, 0))  # 00:00 local: not yet
    assert sent_to(outbox, "troll@example.org") == 0
    run(at_utc(day, 1, 5))  # 03:05 local: due

    assert sent_to(outbox, "troll@example.org") == 1


def test_trolls_autumn_fall_back_sends_once_at_the_first_02_30(outbox):
    # On 25 October 2026 Troll goes from 01:00 UTC (03:00 +02) back to 01:00 (+00):
    # 02:30 local happens at 00:30 UTC and again at 02:30 UTC.
    day = dt.date(2026, 10, 25)
    catalog = sample_catalog(day)
    subscriber(
        "troll@example.org", timezone="Antarctica/Troll", delivery_time=dt.time(2, 30), topics=[catalog.quantization]
    )

    run(at_utc(day, 0, 0))
    run(at_utc(day, 0, 35))
    run(at_utc(day, 2, 35))

    assert sent_to(outbox, "troll@example.org") == 1


def test_a_schedule_saved_while_a_tick_runs_is_not_overwritten_by_that_tick(outbox):
    day = dt.date(2025, 11, 27)
    catalog = sample_catalog(day)
    with time_machine.travel(at_utc(day, 11, 0)):
        reader = subscriber("la@example.org", timezone="America/Los_Angeles", topics=[catalog.quantization])
    # The tick reads the reader as they were (07:00 in Los Angeles, 15:00 UTC)...
    what_the_tick_read = Subscriber.objects.get(pk=reader.pk)
    tick_started = at_utc(day, 12, 0)
    # ...while a preferences save that began just before the tick commits after the read.
    with time_machine.travel(tick_started - dt.timedelta(milliseconds=5), tick=False):
        reader.delivery_time = dt.time(4, 30)
        reader.save()

    digests.save_next_checks({what_the_tick_read: at_utc(day, 14)}, unchanged_since=tick_started)
    run(at_utc(day, 12, 35))  # 04:35 in Los Angeles: due by the new schedule

    assert sent_to(outbox, "la@example.org") == 1


def test_a_pause_ends_on_the_readers_own_date_west_of_utc():
    la = subscriber(
        "la@example.org",
        timezone="America/Los_Angeles",
        status=Subscriber.Status.PAUSED,
        paused_until=dt.date(2026, 12, 1),
    )

    # 1 December 02:00 UTC is still 30 November, 18:00 in Los Angeles.
    assert resume_ended_pauses(now=at_utc(dt.date(2026, 12, 1), 2)) == 0
    la.refresh_from_db()
    assert la.status == Subscriber.Status.PAUSED
    assert digests.due_targets(at_utc(dt.date(2026, 12, 1), 2)) == []

    assert resume_ended_pauses(now=at_utc(dt.date(2026, 12, 1), 8, 5)) == 1  # 00:05 there
    la.refresh_from_db()
    assert la.status == Subscriber.Status.ACTIVE


def test_a_pause_ends_on_the_readers_own_date_east_of_utc():
    tokyo = subscriber(
        "tokyo@example.org", timezone="Asia/Tokyo", status=Subscriber.Status.PAUSED, paused_until=dt.date(2026, 12, 1)
    )

    # 30 November 15:30 UTC is already 1 December, 00:30 in Tokyo.
    assert resume_ended_pauses(now=at_utc(dt.date(2026, 11, 30), 15, 30)) == 1
    tokyo.refresh_from_db()
    assert tokyo.status == Subscriber.Status.ACTIVE


def test_a_late_evening_recheck_stays_within_the_readers_day(outbox, settings):
    # Due at 23:40 with nothing listed yet; the day's listing arrives at 23:50. The
    # recheck must still come on that day, or the listing waits for tomorrow's digest.
    settings.DIGEST_TICK_SECONDS = 300
    day = dt.date(2025, 11, 27)
    reader = subscriber("late@example.org", timezone="UTC", delivery_time=dt.time(23, 40))
    result = run(at_utc(day, 23, 40))
    assert result.no_listing == 1

    catalog = sample_catalog(day)
    reader.topics.set([catalog.quantization])
    run(at_utc(day, 23, 55))

    assert sent_to(outbox, "late@example.org") == 1
