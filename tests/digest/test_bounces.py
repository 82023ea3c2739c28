"""A mail server's permanent refusal of an address stops all mail to it: the digest
fails as bounced, the address is suppressed, and no later digest or retry goes there
until someone clears it. A temporary refusal is retried as before. Through a real SMTP
server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone

from digest import digests
from digest.models import Digest
from subscriptions.models import Subscriber, Suppression
from subscriptions.suppression import clear_suppression

from .sending_helpers import paper, sample_catalog, subscriber

pytestmark = pytest.mark.django_db


@pytest.fixture
def fast_retries(settings):
    settings.DIGEST_RETRY_SECONDS = 1
    settings.DIGEST_RETRY_MAX_SECONDS = 1
    settings.DIGEST_MAX_ATTEMPTS = 3


@pytest.fixture
def readers():
    catalog = sample_catalog(timezone.localdate())
    return [subscriber(f"{name}@example.org", topics=[catalog.quantization]) for name in ("ada", "gone", "grace")]


def send_everything_due(now: dt.datetime | None = None) -> None:
    planned = digests.plan_digests(now or timezone.now(), force=True)
    digests.send_until_settled(planned.pending_ids, sleep=lambda seconds: None)


def test_a_550_at_rcpt_fails_the_digest_as_bounced_and_suppresses_the_address(smtp_server, readers):
    smtp_server.refuse_rcpt["gone@example.org"] = "550 5.1.1 <gone@example.org>: Recipient address rejected"

    send_everything_due()

    gone = Subscriber.objects.get(email="gone@example.org")
    digest = Digest.objects.get(subscriber=gone)
    assert (digest.status, digest.failure, digest.attempts) == (Digest.Status.FAILED, Digest.Failure.BOUNCED, 1)
    assert sorted(m["To"] for m in smtp_server.messages) == ["ada@example.org", "grace@example.org"]
    suppression = Suppression.objects.get()
    assert (suppression.subscriber, suppression.email, suppression.reason, suppression.source) == (
        gone,
        "gone@example.org",
        Suppression.Reason.BOUNCE,
        "smtp",
    )
    assert "550" in suppression.detail and "Recipient address rejected" in suppression.detail
    assert gone.suppressed == Suppression.Reason.BOUNCE
    assert gone not in Subscriber.objects.receiving_digests(timezone.localdate())
    assert set(Subscriber.objects.receiving_digests(timezone.localdate())) == {readers[0], readers[2]}


def test_a_554_at_data_suppresses_the_address_too(smtp_server, readers):
    smtp_server.accept_first, smtp_server.refuse = 1, 1
    smtp_server.refuse_reply = "554 5.2.1 Mailbox disabled, not accepting messages"

    send_everything_due()

    refused = Digest.objects.get(status=Digest.Status.FAILED)
    assert refused.failure == Digest.Failure.BOUNCED
    assert len(smtp_server.messages) == 2
    suppression = Suppression.objects.get()
    assert suppression.subscriber == refused.subscriber and suppression.reason == Suppression.Reason.BOUNCE
    assert "554" in suppression.detail and "Mailbox disabled" in suppression.detail
    assert Subscriber.objects.get(pk=refused.subscriber_id).suppressed == Suppression.Reason.BOUNCE


def test_a_bounced_address_gets_no_next_digest_and_no_retry(smtp_server, readers):
    smtp_server.refuse_rcpt["gone@example.org"] = "550 5.1.1 No such mailbox"
    send_everything_due()
    smtp_server.refuse_rcpt.clear()  # even if the server would take it now
    bounced = Digest.objects.get(failure=Digest.Failure.BOUNCED)

    # The operator's "retry failed": the digest is claimed, and not sent.
    digests.send_until_settled(digests.requeue_failed([bounced.pk]), sleep=lambda seconds: None)
    # Tomorrow's tick: no digest is planned for the address at all.
    tomorrow = timezone.now() + dt.timedelta(days=1)
    targets = digests.due_targets(tomorrow, force=True)

    bounced.refresh_from_db()
    assert (bounced.status, bounced.failure) == (Digest.Status.FAILED, Digest.Failure.NOT_RECEIVING)
    assert "gone@example.org" not in [m["To"] for m in smtp_server.messages]
    assert sorted(t.subscriber.email for t in targets) == ["ada@example.org", "grace@example.org"]


def test_a_temporary_451_at_rcpt_is_retried_and_suppresses_nothing(smtp_server, fast_retries, readers):
    smtp_server.refuse_rcpt["gone@example.org"] = "451 4.3.0 Try again later"
    planned = digests.plan_digests(timezone.now(), force=True)
    first = digests.send_batch(planned.pending_ids)
    smtp_server.refuse_rcpt.clear()

    digests.send_until_settled(list(first.retries), sleep=lambda seconds: None)

    assert len(first.retries) == 1
    assert sorted(m["To"] for m in smtp_server.messages) == ["ada@example.org", "gone@example.org", "grace@example.org"]
    assert not Suppression.objects.exists()
    assert not Subscriber.objects.exclude(suppressed="").exists()


def test_a_policy_refusal_fails_the_digest_but_does_not_blame_the_address(smtp_server, readers):
    # 5.7.x: "relay denied", DMARC, "looks like spam": about our sending, and it would
    # hit every address at once.
    smtp_server.refuse, smtp_server.refuse_reply = 100, "554 5.7.1 Our server was misconfigured"

    send_everything_due()

    # Not "bounced": that label says the reader's mailbox is gone, and sends the curator
    # after the wrong problem.
    assert set(Digest.objects.values_list("failure", flat=True)) == {Digest.Failure.REFUSED}
    assert all(e.startswith("Refused (policy): ") for e in Digest.objects.values_list("last_error", flat=True))
    assert not Suppression.objects.exists()
    assert Subscriber.objects.receiving_digests(timezone.localdate()).count() == 3


def test_a_cleared_address_gets_digests_again(smtp_server, readers):
    smtp_server.refuse_rcpt["gone@example.org"] = "550 5.1.1 No such mailbox"
    send_everything_due()
    smtp_server.refuse_rcpt.clear()
    curator = User.objects.create_user("cura", is_staff=True)

    assert clear_suppression(Suppression.objects.get(), by=curator, reason="Their mailbox was restored.")
    tomorrow = timezone.now() + dt.timedelta(days=1)
    paper(
        "Quantization of vision transformers to low-bit weights",
        "Post-training quantization, quantized.",
        listed_on=tomorrow.date(),
    )
    send_everything_due(tomorrow)

    gone = Subscriber.objects.get(email="gone@example.org")
    cleared = Suppression.objects.get()
    assert (cleared.cleared_by, cleared.cleared_reason) == (curator, "Their mailbox was restored.")
    assert cleared.cleared_at is not None and gone.suppressed == ""
    assert gone.next_check_at is None or gone.next_check_at <= timezone.now() + dt.timedelta(days=1)
    assert [m["To"] for m in smtp_server.messages].count("gone@example.org") == 1


def test_send_digests_for_one_address_says_its_mail_is_stopped(smtp_server, readers):
    smtp_server.refuse_rcpt["gone@example.org"] = "550 5.1.1 No such mailbox"
    send_everything_due()
    out = io.StringIO()

    call_command("send_digests", "--inline", "--now", "--email", "gone@example.org", stdout=out, stderr=io.StringIO())

    assert (
        "gone@example.org gets no mail: bounced (refused for good) (clear it under Suppressions in the admin)."
        in out.getvalue().splitlines()
    )
