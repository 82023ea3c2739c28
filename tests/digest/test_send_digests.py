"""Who is due, what their digest holds, and that nothing is ever sent twice."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from digest import digests
from digest.models import Digest, DigestItem
from subscriptions.models import Subscriber

from .sending_helpers import (
    BASE_DIR, LISTING_DAY, NOON_UTC, PYTHON, at_utc, outbox_messages, paper, sample_catalog, subprocess_env,
    subscriber,
)

pytestmark = pytest.mark.django_db
NEXT_DAY = LISTING_DAY + dt.timedelta(days=1)


def due_emails(now: dt.datetime, **options) -> dict[str, dt.date]:
    return {t.subscriber.email: t.period for t in digests.due_targets(now, **options)}


def run(now: dt.datetime, **options) -> digests.PlanResult:
    """One tick, sent inline: what the beat task and `send_digests --inline` do."""
    result = digests.plan_digests(now, **options)
    for digest_id in result.pending_ids:
        digests.send_digest(digest_id, now=now)
    return result


def titles_sent_to(outbox, email: str) -> list[str]:
    found = []
    for message in outbox_messages(outbox):
        if message["To"] == email:
            found.append(message.get_body(("plain",)).get_content())
    return found


# --- Who is due ----------------------------------------------------------------------


def test_a_reader_is_due_once_their_local_delivery_time_has_passed_in_their_own_time_zone():
    subscriber("tokyo@example.org", timezone="Asia/Tokyo")
    subscriber("la@example.org", timezone="America/Los_Angeles")

    # 12:00 UTC is 21:00 in Tokyo (past 07:00) and 04:00 in Los Angeles (not yet).
    assert due_emails(NOON_UTC) == {"tokyo@example.org": LISTING_DAY}
    # 15:30 UTC is 07:30 in Los Angeles, and already 00:30 the next day in Tokyo.
    assert due_emails(at_utc(LISTING_DAY, 15, 30)) == {"la@example.org": LISTING_DAY}
    # --now skips the clock, and each reader's period is still their own local date.
    assert due_emails(at_utc(LISTING_DAY, 15, 30), force=True) == {
        "la@example.org": LISTING_DAY, "tokyo@example.org": NEXT_DAY,
    }


def test_a_weekly_reader_is_due_only_on_their_weekday():
    thursday = LISTING_DAY.weekday()
    subscriber("weekly@example.org", frequency=Subscriber.Frequency.WEEKLY, weekday=thursday)

    assert due_emails(NOON_UTC) == {"weekly@example.org": LISTING_DAY}
    assert due_emails(at_utc(NEXT_DAY, 12)) == {}
    # Forced on Friday, the period is still that week's Thursday.
    assert due_emails(at_utc(NEXT_DAY, 12), force=True) == {"weekly@example.org": LISTING_DAY}


def test_paused_unconfirmed_and_unsubscribed_readers_are_not_due():
    subscriber("active@example.org")
    subscriber("paused@example.org", status=Subscriber.Status.PAUSED, paused_until=LISTING_DAY + dt.timedelta(days=3))
    subscriber("pending@example.org", status=Subscriber.Status.PENDING)
    subscriber("gone@example.org", status=Subscriber.Status.UNSUBSCRIBED)

    assert set(due_emails(NOON_UTC, force=True)) == {"active@example.org"}
    # Digests resume on the paused_until date.
    assert set(due_emails(at_utc(LISTING_DAY + dt.timedelta(days=3), 12))) == {"active@example.org", "paused@example.org"}


# --- What is in it -------------------------------------------------------------------


def test_a_capped_digest_says_how_many_papers_matched_in_all(outbox):
    catalog = sample_catalog()
    extra = [
        paper(f"Quantized attention, variant {n}", "We quantize attention to low-bit integers.", listed_on=LISTING_DAY)
        for n in range(3)
    ]
    subscriber("quant@example.org", topics=[catalog.quantization], max_papers=2)

    run(NOON_UTC)

    digest = Digest.objects.get(subscriber__email="quant@example.org")
    assert digest.items.count() == 2 and digest.match_count == 1 + len(extra)
    [text] = titles_sent_to(outbox, "quant@example.org")
    assert "Top 2 of 4 matches" in text


def test_each_reader_gets_the_papers_of_their_interests(outbox):
    catalog = sample_catalog()
    subscriber("quant@example.org", topics=[catalog.quantization])
    subscriber("mri@example.org", topics=[catalog.medical])

    result = run(NOON_UTC)

    assert result.due == 2 and len(result.pending_ids) == 2
    [quant_email] = titles_sent_to(outbox, "quant@example.org")
    [mri_email] = titles_sent_to(outbox, "mri@example.org")
    assert catalog.quant_paper.title in quant_email and catalog.mri_paper.title not in quant_email
    assert catalog.mri_paper.title in mri_email and catalog.quant_paper.title not in mri_email
    digest = Digest.objects.get(subscriber__email="quant@example.org")
    assert digest.status == Digest.Status.SENT and digest.period == LISTING_DAY
    assert digest.subject == "Low-bit quantization of large language model… · Quantization"
    assert digest.message_id.startswith("<") and digest.sent_at is not None
    item = digest.items.get(paper=catalog.quant_paper)
    assert item.rank >= 1 and item.matched and item.topic == catalog.quantization


def test_running_the_same_tick_twice_sends_one_digest_per_period(outbox):
    catalog = sample_catalog()
    subscriber("quant@example.org", topics=[catalog.quantization])

    first = run(NOON_UTC)
    second = run(at_utc(LISTING_DAY, 18), force=True)

    assert len(first.pending_ids) == 1 and second.due == 0 and second.pending_ids == []
    assert Digest.objects.count() == 1
    assert len(outbox_messages(outbox)) == 1


def test_a_claimed_digest_is_sent_by_one_caller_only(outbox):
    catalog = sample_catalog()
    subscriber("quant@example.org", topics=[catalog.quantization])
    [digest_id] = digests.plan_digests(NOON_UTC).pending_ids

    assert digests.send_digest(digest_id) == digests.SendOutcome.SENT
    assert digests.send_digest(digest_id) == digests.SendOutcome.SKIPPED
    assert len(outbox_messages(outbox)) == 1
    assert Digest.objects.get(pk=digest_id).attempts == 1


def test_a_claim_left_by_a_dead_worker_is_taken_over_once_its_lease_is_over_as_uncertain(outbox):
    catalog = sample_catalog()
    subscriber("quant@example.org", topics=[catalog.quantization])
    [digest_id] = digests.plan_digests(NOON_UTC).pending_ids
    assert digests.claim_digest(digest_id, NOON_UTC)  # ... and the worker dies
    lease = digests.claim_lease()

    soon = NOON_UTC + lease - dt.timedelta(seconds=1)
    assert digests.send_digest(digest_id, now=soon) == digests.SendOutcome.SKIPPED
    later = NOON_UTC + lease + dt.timedelta(seconds=1)
    assert digests.send_digest(digest_id, now=later) == digests.SendOutcome.SENT
    assert len(outbox_messages(outbox)) == 1
    # The dead worker may have handed the message over already: the resend is flagged.
    digest = Digest.objects.get(pk=digest_id)
    assert digest.uncertain and digest.status == Digest.Status.SENT


def test_a_resend_that_outlives_its_lease_too_is_left_uncertain_and_not_sent_a_third_time(outbox):
    catalog = sample_catalog()
    subscriber("quant@example.org", topics=[catalog.quantization])
    [digest_id] = digests.plan_digests(NOON_UTC).pending_ids
    lease = digests.claim_lease() + dt.timedelta(seconds=1)
    assert digests.claim_digest(digest_id, NOON_UTC)
    assert digests.claim_digest(digest_id, NOON_UTC + lease)  # taken over once, uncertain

    assert digests.send_digest(digest_id, now=NOON_UTC + 2 * lease) == digests.SendOutcome.SKIPPED
    assert Digest.objects.get(pk=digest_id).status == Digest.Status.UNCERTAIN
    assert outbox_messages(outbox) == []


@pytest.mark.parametrize(("timeout", "lease"), [(30, 120), (10, 40)])
def test_a_claim_lease_is_sized_from_the_mail_timeout(settings, timeout, lease):
    settings.EMAIL_TIMEOUT = timeout

    assert digests.claim_lease() == dt.timedelta(seconds=lease)


def test_no_email_and_no_digest_on_a_day_without_a_listing(outbox):
    catalog = sample_catalog()
    subscriber("quant@example.org", topics=[catalog.quantization], send_when_empty=True)
    run(NOON_UTC)

    friday = run(at_utc(NEXT_DAY, 12))

    assert friday.due == 1 and friday.no_listing == 1 and friday.pending_ids == []
    assert list(Digest.objects.values_list("period", flat=True)) == [LISTING_DAY]
    assert len(outbox_messages(outbox)) == 1


def test_a_quiet_day_email_goes_only_to_readers_who_asked_for_one(outbox):
    sample_catalog()
    subscriber("wants-quiet@example.org", keywords=["protein folding"], send_when_empty=True)
    subscriber("no-quiet@example.org", keywords=["protein folding"])

    result = run(NOON_UTC)

    assert result.empty == 1
    [message] = outbox_messages(outbox)
    assert message["To"] == "wants-quiet@example.org"
    assert message["Subject"] == "No new papers matched today · Nov 27"
    statuses = dict(Digest.objects.values_list("subscriber__email", "status"))
    assert statuses == {"wants-quiet@example.org": Digest.Status.SENT, "no-quiet@example.org": Digest.Status.EMPTY}


def test_a_paper_is_never_sent_to_the_same_reader_twice(outbox):
    catalog = sample_catalog()
    reader = subscriber("quant@example.org", topics=[catalog.quantization])
    run(NOON_UTC)
    newer = paper("Quantized attention kernels with low-bit quantization", "Quantization of attention.", listed_on=NEXT_DAY)

    run(at_utc(NEXT_DAY, 12))

    friday = Digest.objects.get(subscriber=reader, period=NEXT_DAY)
    assert list(friday.items.values_list("paper", flat=True)) == [newer.pk]
    assert DigestItem.objects.filter(digest__subscriber=reader, paper=catalog.quant_paper).count() == 1


def test_a_paper_listed_after_the_days_digest_comes_in_the_next_one(outbox):
    # In Tokyo the 07:00 digest goes out before that day's listing is complete in UTC.
    catalog = sample_catalog()
    reader = subscriber("tokyo@example.org", timezone="Asia/Tokyo", topics=[catalog.quantization])
    run(NOON_UTC)
    late = paper("Quantization-aware training, listed late", "More quantization.", listed_on=LISTING_DAY)

    run(at_utc(NEXT_DAY, 12))

    friday = Digest.objects.get(subscriber=reader, period=NEXT_DAY)
    assert list(friday.items.values_list("paper", flat=True)) == [late.pk]


def test_plain_text_readers_get_a_text_only_email(outbox):
    catalog = sample_catalog()
    subscriber("plain@example.org", topics=[catalog.quantization], email_format=Subscriber.Format.TEXT)

    run(NOON_UTC)

    [message] = outbox_messages(outbox)
    assert message.get_content_type() == "text/plain"
    assert catalog.quant_paper.title in message.get_content()
    assert list(outbox.glob("*.html")) == []


def planning_queries(readers: int) -> int:
    catalog = sample_catalog()
    Subscriber.objects.all().delete()
    for n in range(readers):
        subscriber(f"reader{n}@example.org", topics=[catalog.quantization, catalog.medical], keywords=["graph"])
    with CaptureQueriesContext(connection) as queries:
        digests.plan_digests(NOON_UTC)
    Digest.objects.all().delete()
    return len(queries)


def test_planning_takes_the_same_number_of_queries_for_two_readers_or_twelve():
    assert planning_queries(2) == planning_queries(12)


# --- The command ---------------------------------------------------------------------


@pytest.fixture
def today_catalog():
    """The command uses the real clock: list the papers today (readers are in UTC)."""
    return sample_catalog(timezone.localdate())


def test_send_digests_dry_run_renders_but_sends_and_stores_nothing(outbox, today_catalog):
    subscriber("quant@example.org", topics=[today_catalog.quantization])
    subscriber("nothing@example.org", keywords=["protein folding"])
    out = io.StringIO()

    call_command("send_digests", "--dry-run", "--now", stdout=out, stderr=io.StringIO())

    lines = out.getvalue().splitlines()
    assert lines[0].startswith("would send to quant@example.org: Low-bit quantization of large language model… · Quantization")
    assert lines[-1] == "2 due, 1 would send, 1 empty, 0 quiet-day, 0 failed"
    assert Digest.objects.count() == 0 and DigestItem.objects.count() == 0
    assert not outbox.exists() or list(outbox.iterdir()) == []


def test_send_digests_inline_sends_the_due_digests_and_sums_up(outbox, today_catalog):
    subscriber("quant@example.org", topics=[today_catalog.quantization])
    subscriber("mri@example.org", topics=[today_catalog.medical], send_when_empty=True)
    subscriber("nothing@example.org", keywords=["protein folding"], send_when_empty=True)
    out = io.StringIO()

    call_command("send_digests", "--inline", "--now", stdout=out, stderr=io.StringIO())

    assert out.getvalue().splitlines()[-1] == "3 due, 2 sent, 0 empty, 1 quiet-day, 0 failed"
    assert len(outbox_messages(outbox)) == 3


def test_send_digests_inline_gives_up_waiting_for_a_dead_mail_server_after_its_timeout(settings, today_catalog):
    """Nothing listens on the port: the retry schedule would hold the command for about
    an hour; --timeout bounds it, the digests stay pending, and it says why."""
    from .sending_helpers import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    subscriber("quant@example.org", topics=[today_catalog.quantization])
    started = time.monotonic()
    with pytest.raises(CommandError, match=r"1 digest\(s\) still wait for a retry after 2s \(last error: .*refused"):
        call_command("send_digests", "--inline", "--now", "--timeout", "2", stdout=io.StringIO(), stderr=io.StringIO())
    assert time.monotonic() - started < 30
    assert list(Digest.objects.values_list("status", flat=True)) == [Digest.Status.PENDING]


def test_send_digests_for_one_address_sends_only_to_it_and_explains_a_second_run(outbox, today_catalog):
    subscriber("quant@example.org", topics=[today_catalog.quantization])
    subscriber("mri@example.org", topics=[today_catalog.medical])

    call_command("send_digests", "--inline", "--now", "--email", "QUANT@example.org", stdout=io.StringIO(), stderr=io.StringIO())
    out = io.StringIO()
    call_command("send_digests", "--inline", "--now", "--email", "quant@example.org", stdout=out, stderr=io.StringIO())

    assert [m["To"] for m in outbox_messages(outbox)] == ["quant@example.org"]
    assert "already has a digest for" in out.getvalue()


def test_send_digests_for_an_unknown_address_fails_with_one_clear_line(tmp_path):
    with pytest.raises(CommandError, match="No subscriber with the address 'nobody@example.org'"):
        call_command("send_digests", "--inline", "--email", "nobody@example.org")

    done = subprocess.run(
        [PYTHON, "manage.py", "send_digests", "--inline", "--email", "nobody@example.org"],
        cwd=BASE_DIR, env=subprocess_env(tmp_path), capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == ["CommandError: No subscriber with the address 'nobody@example.org'."]


# --- Digests planned but never sent ----------------------------------------------------


def test_a_digest_left_unsent_when_the_broker_was_down_goes_out_with_the_next_run(outbox, today_catalog, monkeypatch):
    from kombu.exceptions import OperationalError

    from digest.management.commands import send_digests

    subscriber("quant@example.org", topics=[today_catalog.quantization])

    def broker_down(ids):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    with monkeypatch.context() as patched:
        patched.setattr(send_digests, "enqueue_digest_sends", broker_down)
        with pytest.raises(CommandError, match=r"^cannot reach the Celery broker \(Error 111 .*refused\)\. The digests"):
            call_command("send_digests", "--now", stdout=io.StringIO(), stderr=io.StringIO())
    assert list(Digest.objects.values_list("status", flat=True)) == [Digest.Status.PENDING]

    out = io.StringIO()
    call_command("send_digests", "--inline", "--now", stdout=out, stderr=io.StringIO())
    call_command("send_digests", "--inline", "--now", stdout=io.StringIO(), stderr=io.StringIO())

    assert out.getvalue().splitlines()[-1] == "0 due, 1 sent, 0 empty, 0 quiet-day, 0 failed, 1 left unsent by an earlier run"
    assert [m["To"] for m in outbox_messages(outbox)] == ["quant@example.org"]


def test_the_sweeper_queues_a_pending_digest_again_only_once_its_queue_message_looks_lost(outbox, today_catalog):
    subscriber("quant@example.org", topics=[today_catalog.quantization])
    start = timezone.now()
    [digest_id] = digests.plan_digests(start, force=True).pending_ids

    # Fresh: most likely in the queue, waiting for a worker. The tick leaves it alone too.
    assert digests.sweep_stranded(start) == []
    assert digests.plan_digests(start, force=True).pending_ids == []

    late = start + digests.stranded_after() + dt.timedelta(seconds=1)
    # Late, but batches still wait in the queue: it is most likely among them.
    assert digests.sweep_stranded(late, pending=False) == []
    assert digests.sweep_stranded(late) == [digest_id]
    # Just queued again: the next sweep gives the queue time to get to it.
    assert digests.sweep_stranded(late + dt.timedelta(seconds=1)) == []

    # A claim past its lease is stranded too.
    assert digests.claim_digest(digest_id, late)
    assert digests.sweep_stranded(late + dt.timedelta(seconds=1)) == []
    assert digests.sweep_stranded(late + digests.claim_lease() + dt.timedelta(seconds=1)) == [digest_id]

    # A digest for a period long past is old news: it is left alone.
    Digest.objects.update(period=timezone.localdate() - dt.timedelta(days=digests.RESUME_PERIODS_DAYS + 1))
    assert digests.sweep_stranded(late + dt.timedelta(hours=1)) == []


def test_a_retry_waiting_for_its_time_is_not_swept_before_it_is_overdue(outbox, today_catalog, settings):
    subscriber("quant@example.org", topics=[today_catalog.quantization])
    start = timezone.now()
    [digest_id] = digests.plan_digests(start, force=True).pending_ids
    retry_at = start + dt.timedelta(minutes=10)
    Digest.objects.filter(pk=digest_id).update(next_attempt_at=retry_at)

    assert digests.sweep_stranded(retry_at) == []
    assert digests.sweep_stranded(retry_at + digests.stranded_after() + dt.timedelta(seconds=1)) == [digest_id]


def test_one_reader_with_broken_preferences_does_not_stop_everyone_elses_digest(outbox, caplog):
    catalog = sample_catalog()
    subscriber("quant@example.org", topics=[catalog.quantization])
    broken = subscriber("broken@example.org", topics=[catalog.quantization])
    # Written past the forms, e.g. from a shell: numbers where phrases belong.
    Subscriber.objects.filter(pk=broken.pk).update(keywords=[1, 2])

    result = run(NOON_UTC)

    assert titles_sent_to(outbox, "quant@example.org")
    assert titles_sent_to(outbox, "broken@example.org") == []
    assert not Digest.objects.filter(subscriber=broken).exists()  # tried again next tick
    assert result.due == 2
    assert f"subscriber {broken.pk} skipped" in caplog.text


# --- Looking again only when a reader can be due (next_check_at) ---------------------


def test_a_reader_not_yet_due_is_looked_at_again_just_before_their_delivery_time(outbox):
    catalog = sample_catalog()
    reader = subscriber("la@example.org", timezone="America/Los_Angeles", topics=[catalog.quantization])

    run(at_utc(LISTING_DAY, 12))  # 04:00 in Los Angeles: not yet
    reader.refresh_from_db()
    # 07:00 in Los Angeles is 15:00 UTC; the stored bound is an hour earlier.
    assert reader.next_check_at == at_utc(LISTING_DAY, 14)
    assert run(at_utc(LISTING_DAY, 13, 30)).due == 0

    run(at_utc(LISTING_DAY, 15, 5))
    assert len(titles_sent_to(outbox, "la@example.org")) == 1


def test_a_reader_who_has_their_digest_is_left_alone_until_their_next_local_day(outbox):
    catalog = sample_catalog()
    reader = subscriber("tokyo@example.org", timezone="Asia/Tokyo", topics=[catalog.quantization])

    run(NOON_UTC)  # 21:00 in Tokyo: sent
    run(at_utc(LISTING_DAY, 12, 5))  # the next tick finds the digest and remembers
    reader.refresh_from_db()
    # Midnight in Tokyo is 15:00 UTC; an hour earlier for daylight-saving safety.
    assert reader.next_check_at == at_utc(LISTING_DAY, 14)
    assert len(titles_sent_to(outbox, "tokyo@example.org")) == 1


def test_a_changed_schedule_is_seen_at_the_next_tick(outbox):
    catalog = sample_catalog()
    reader = subscriber("la@example.org", timezone="America/Los_Angeles", topics=[catalog.quantization])
    run(at_utc(LISTING_DAY, 12))  # 04:00 in Los Angeles; looked at again from 06:00
    reader.refresh_from_db()
    assert reader.next_check_at is not None

    reader.delivery_time = dt.time(4, 30)
    reader.save()
    run(at_utc(LISTING_DAY, 12, 45))  # 04:45 in Los Angeles

    assert len(titles_sent_to(outbox, "la@example.org")) == 1


def test_a_reader_saved_while_a_tick_ran_keeps_being_looked_at(outbox):
    reader = subscriber("la@example.org", timezone="America/Los_Angeles")
    tick_started = timezone.now() - dt.timedelta(seconds=1)  # the save below comes after it

    digests.save_next_checks({reader: at_utc(LISTING_DAY, 14)}, unchanged_since=tick_started)

    reader.refresh_from_db()
    assert reader.next_check_at is None


def test_with_nothing_listed_a_due_reader_is_looked_at_again_half_an_hour_later(outbox):
    reader = subscriber("tokyo@example.org", timezone="Asia/Tokyo")

    result = run(NOON_UTC)  # no paper in the catalog at all

    reader.refresh_from_db()
    assert result.due == 1 and result.no_listing == 1
    assert reader.next_check_at == NOON_UTC + dt.timedelta(minutes=30)


def test_a_dry_run_and_a_forced_run_remember_nothing(outbox):
    catalog = sample_catalog()
    reader = subscriber("la@example.org", timezone="America/Los_Angeles", topics=[catalog.quantization])

    digests.due_targets(at_utc(LISTING_DAY, 12))
    digests.plan_digests(at_utc(LISTING_DAY, 12), force=True)

    reader.refresh_from_db()
    assert reader.next_check_at is None
