"""What an operator sees and does about delivery: `send_digests` sending inline through a
mail server that refuses for a while or for good, `--retry-failed`, the counts before
and after a run, and the digest admin's delivery columns and filters."""

from __future__ import annotations

import datetime as dt
import io
import subprocess

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from digest import digests
from digest.models import Digest

from .sending_helpers import BASE_DIR, PYTHON, free_port, sample_catalog, subprocess_env, subscriber

pytestmark = pytest.mark.django_db


@pytest.fixture
def fast_retries(settings):
    settings.DIGEST_RETRY_SECONDS = 1
    settings.DIGEST_RETRY_MAX_SECONDS = 1
    settings.DIGEST_MAX_ATTEMPTS = 3


@pytest.fixture
def readers():
    catalog = sample_catalog(timezone.localdate())
    return [subscriber(f"reader{n}@example.org", topics=[catalog.quantization]) for n in range(3)]


def send_digests(*args: str) -> list[str]:
    out = io.StringIO()
    call_command("send_digests", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue().splitlines()


def test_inline_sending_retries_a_temporary_refusal_and_sends_everything(smtp_server, fast_retries, readers):
    smtp_server.accept_first, smtp_server.refuse = 1, 2  # the second and third get a 451 once

    lines = send_digests("--inline", "--now")

    assert lines[-1] == "3 due, 3 sent, 0 empty, 0 quiet-day, 0 failed"
    assert sorted(m["To"] for m in smtp_server.messages) == [r.email for r in readers]
    assert sorted(Digest.objects.values_list("attempts", flat=True)) == [1, 2, 2]


def test_inline_sending_with_the_mail_server_down_ends_failed_and_exits_with_an_error(settings, fast_retries, readers):
    settings.EMAIL_BACKEND = "digest.mail_smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2

    with pytest.raises(CommandError, match=r"^3 digest\(s\) failed .*send_digests --retry-failed"):
        send_digests("--inline", "--now")

    rows = Digest.objects.all()
    assert {(d.status, d.failure, d.attempts) for d in rows} == {(Digest.Status.FAILED, Digest.Failure.GAVE_UP, 3)}


def test_retry_failed_gives_a_fresh_round_of_attempts_and_keeps_counting_them(settings, fast_retries, readers):
    settings.EMAIL_BACKEND = "digest.mail_smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    with pytest.raises(CommandError):
        send_digests("--inline", "--now")

    with pytest.raises(CommandError, match=r"^3 digest\(s\) failed"):
        send_digests("--inline", "--retry-failed")

    rows = Digest.objects.all()
    assert {(d.status, d.attempts) for d in rows} == {(Digest.Status.FAILED, 6)}
    assert all(d.last_error.startswith("Gave up after 3 attempts") for d in rows)


def test_retry_failed_sends_the_failed_digests_again_once(smtp_server, fast_retries, readers):
    smtp_server.refuse, smtp_server.refuse_reply = 100, "554 5.7.1 Our server was misconfigured"
    with pytest.raises(CommandError):
        send_digests("--inline", "--now")
    assert smtp_server.messages == []
    smtp_server.refuse = 0  # fixed

    lines = send_digests("--inline", "--retry-failed")
    again = send_digests("--inline", "--retry-failed")

    assert "3 failed digest(s) queued again" in lines
    assert lines[-2] == "after: 0 pending, 0 in flight, 0 stuck past their lease, 0 uncertain, 0 failed"
    assert lines[-1] == "0 due, 3 sent, 0 empty, 0 quiet-day, 0 failed"
    assert "0 failed digest(s) queued again" in again
    assert len(smtp_server.messages) == 3
    assert set(Digest.objects.values_list("status", flat=True)) == {Digest.Status.SENT}


def test_retry_failed_for_one_period_leaves_the_others_failed(smtp_server, fast_retries, readers):
    today = timezone.localdate()
    digests.plan_digests(timezone.now(), force=True)
    first, second, third = Digest.objects.order_by("pk")
    Digest.objects.update(status=Digest.Status.FAILED)
    Digest.objects.filter(pk=first.pk).update(period=today - dt.timedelta(days=1))

    lines = send_digests("--inline", "--retry-failed", "--date", today.isoformat())

    assert "2 failed digest(s) queued again" in lines
    assert sorted(m["To"] for m in smtp_server.messages) == sorted([second.subscriber.email, third.subscriber.email])
    assert Digest.objects.get(pk=first.pk).status == Digest.Status.FAILED


def test_the_first_run_reports_the_stuck_digest_before_sending_it(outbox, readers):
    digests.plan_digests(timezone.now(), force=True)
    stuck = Digest.objects.order_by("pk").first()
    long_ago = timezone.now() - digests.claim_lease() - dt.timedelta(minutes=1)
    Digest.objects.filter(pk=stuck.pk).update(status=Digest.Status.SENDING, claimed_at=long_ago)

    lines = send_digests("--inline")

    assert lines[0] == "before: 2 pending, 0 in flight, 1 stuck past their lease, 0 uncertain, 0 failed"
    assert lines[-2] == "after: 0 pending, 0 in flight, 0 stuck past their lease, 1 uncertain, 0 failed"
    assert lines[-1] == "0 due, 3 sent, 0 empty, 0 quiet-day, 0 failed, 3 left unsent by an earlier run"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--date", "2025-11-27"], "CommandError: --date goes with --retry-failed."),
        (
            ["--retry-failed", "--date", "2025-13-01"],
            "CommandError: argument --date: not a date (YYYY-MM-DD): '2025-13-01'",
        ),
        (
            ["--retry-failed", "--now"],
            "CommandError: --retry-failed cannot be combined with --now, --email or --dry-run.",
        ),
    ],
)
def test_bad_retry_options_fail_with_one_clear_line(tmp_path, args, error):
    done = subprocess.run(
        [PYTHON, "manage.py", "send_digests", "--inline", *args],
        cwd=BASE_DIR, env=subprocess_env(tmp_path), capture_output=True, text=True, timeout=60,
    )

    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [error]


# --- The digest admin ------------------------------------------------------------------


def test_the_digest_admin_shows_attempts_claim_time_last_error_and_the_uncertain_flag(admin_client, readers):
    digests.plan_digests(timezone.now(), force=True)
    digest = Digest.objects.order_by("pk").first()
    Digest.objects.filter(pk=digest.pk).update(
        status=Digest.Status.PENDING, attempts=2, uncertain=True, claimed_at=timezone.now(),
        last_error="Uncertain, resending once: DeliveryUncertain: connection lost",
    )

    page = admin_client.get(reverse("admin:digest_digest_changelist")).content.decode()

    for column in ("Attempts", "Uncertain", "Claimed at", "Last error"):
        assert column in page
    assert "Uncertain, resending once: DeliveryUncertain: connection lost" in page


def test_the_digest_admin_filters_stuck_claims_uncertain_and_bounced_digests(admin_client, readers):
    digests.plan_digests(timezone.now(), force=True)
    stuck, bounced, uncertain = Digest.objects.order_by("pk")
    long_ago = timezone.now() - digests.claim_lease() - dt.timedelta(minutes=1)
    Digest.objects.filter(pk=stuck.pk).update(status=Digest.Status.SENDING, claimed_at=long_ago)
    Digest.objects.filter(pk=bounced.pk).update(status=Digest.Status.FAILED, failure=Digest.Failure.BOUNCED)
    Digest.objects.filter(pk=uncertain.pk).update(uncertain=True)
    url = reverse("admin:digest_digest_changelist")

    def listed(**params) -> list[int]:
        response = admin_client.get(url, params)
        assert response.status_code == 200
        return [d.pk for d in response.context["cl"].result_list]

    assert listed(delivery="stuck") == [stuck.pk]
    assert listed(delivery="in_flight") == []
    assert listed(uncertain__exact="1") == [uncertain.pk]
    assert listed(failure__exact="bounced") == [bounced.pk]
