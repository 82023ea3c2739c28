"""Digests through a real SMTP server (aiosmtpd on 127.0.0.1): what arrives, and what a
refusal does to the ledger."""

from __future__ import annotations

import datetime as dt
import re
import smtplib
import socket

import pytest
from django.utils import timezone

from digest import digests, emails
from digest.models import Digest
from subscriptions.models import Subscriber

from .sending_helpers import NOON_UTC, free_port, sample_catalog, subscriber

pytestmark = pytest.mark.django_db


@pytest.fixture
def site(settings):
    settings.SITE_URL = "https://papers.example.net"
    settings.DEFAULT_FROM_EMAIL = "digest@papers.example.net"
    settings.EMAIL_FROM_NAME = "Daily Papers Digest"


def plan_one(email: str = "quant@example.org", **fields) -> int:
    catalog = sample_catalog()
    subscriber(email, topics=[catalog.quantization], **fields)
    [digest_id] = digests.plan_digests(NOON_UTC).pending_ids
    return digest_id


def test_a_digest_arrives_with_its_headers_and_a_text_and_an_html_part(smtp_server, site):
    digest_id = plan_one()

    assert digests.send_digest(digest_id) == digests.SendOutcome.SENT

    [envelope], [message] = smtp_server.envelopes, smtp_server.messages
    assert envelope.mail_from == "digest@papers.example.net"
    assert envelope.rcpt_tos == ["quant@example.org"]
    # (A long encoded subject is folded right after "Subject:"; unfolded it is the same.)
    assert message["Subject"].strip() == "Low-bit quantization of large language model… · Quantization"
    assert message["From"].addresses[0].display_name == "Daily Papers Digest"
    assert re.fullmatch(r"<[^@\s]+@papers\.example\.net>", message["Message-ID"])
    assert message["List-Id"] == "Daily Papers Digest <digest.papers.example.net>"
    assert re.fullmatch(r"<https://papers\.example\.net/unsubscribe/[^/]+/one-click/>", message["List-Unsubscribe"].strip())
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part.get_content() for part in message.iter_parts()}
    assert set(parts) == {"text/plain", "text/html"}
    assert "Low-bit quantization of large language model weights" in parts["text/plain"]
    assert "Low-bit quantization of large language model weights" in parts["text/html"]
    assert re.search(r'href="https://papers\.example\.net/digests/[^"/]+/"', parts["text/html"])
    digest = Digest.objects.get(pk=digest_id)
    assert digest.message_id == message["Message-ID"] and digest.subject == message["Subject"].strip()


def test_a_plain_text_reader_receives_a_single_text_part(smtp_server, site):
    digests.send_digest(plan_one(email_format=Subscriber.Format.TEXT))

    [message] = smtp_server.messages
    assert message.get_content_type() == "text/plain"
    assert "Low-bit quantization of large language model weights" in message.get_content()
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_try_again_later_puts_the_digest_back_for_a_retry_with_the_same_message_id(smtp_server, site, settings):
    digest_id = plan_one()
    planned_id = Digest.objects.get(pk=digest_id).message_id
    smtp_server.refuse = 1
    settings.DIGEST_RETRY_SECONDS = 60
    before = timezone.now()

    assert digests.send_digest(digest_id) == digests.SendOutcome.RETRY
    digest = Digest.objects.get(pk=digest_id)
    assert digest.status == Digest.Status.PENDING and "451" in digest.last_error
    # Backoff with jitter: somewhere in the upper half of the first step.
    assert before + dt.timedelta(seconds=30) <= digest.next_attempt_at <= timezone.now() + dt.timedelta(seconds=60)

    assert digests.send_digest(digest_id) == digests.SendOutcome.SENT
    digest.refresh_from_db()
    assert digest.status == Digest.Status.SENT and digest.attempts == 2 and digest.last_error == ""
    [message] = smtp_server.messages
    assert re.fullmatch(r"<[^@\s]+@papers\.example\.net>", planned_id)
    assert message["Message-ID"] == planned_id == digest.message_id


def test_a_permanent_refusal_is_recorded_at_once_as_bounced_and_not_retried(smtp_server, site):
    digest_id = plan_one()
    smtp_server.refuse, smtp_server.refuse_reply = 1, "550 5.1.1 No such mailbox"

    assert digests.send_digest(digest_id) == digests.SendOutcome.FAILED

    digest = Digest.objects.get(pk=digest_id)
    assert digest.status == Digest.Status.FAILED and digest.failure == Digest.Failure.BOUNCED
    assert digest.last_error.startswith("Bounced: SMTPDataError: (550")
    assert digests.send_digest(digest_id) == digests.SendOutcome.SKIPPED
    assert smtp_server.messages == []


def test_an_unreachable_mail_server_is_retried_until_the_last_attempt_then_given_up(settings, site):
    digest_id = plan_one()
    settings.EMAIL_BACKEND = "digest.mail_smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    settings.DIGEST_MAX_ATTEMPTS = 3

    assert digests.send_digest(digest_id) == digests.SendOutcome.RETRY
    assert digests.send_digest(digest_id) == digests.SendOutcome.RETRY
    assert Digest.objects.get(pk=digest_id).status == Digest.Status.PENDING

    assert digests.send_digest(digest_id) == digests.SendOutcome.FAILED
    digest = Digest.objects.get(pk=digest_id)
    assert digest.failure == Digest.Failure.GAVE_UP and digest.attempts == 3
    assert digest.last_error.startswith("Gave up after 3 attempts: ConnectionRefusedError")


def test_one_refused_message_does_not_hold_back_the_rest_of_its_batch(smtp_server, site):
    catalog = sample_catalog()
    for name in ("a", "b", "c"):
        subscriber(f"{name}@example.org", topics=[catalog.quantization])
    ids = sorted(digests.plan_digests(NOON_UTC).pending_ids)
    smtp_server.accept_first, smtp_server.refuse = 1, 1  # the second message gets a 451

    result = digests.send_batch(ids)

    assert sorted(m["To"] for m in smtp_server.messages) == ["a@example.org", "c@example.org"]
    assert list(result.retries) == [ids[1]]
    assert Digest.objects.get(pk=ids[1]).status == Digest.Status.PENDING


def test_a_batch_whose_time_budget_is_spent_starts_no_more_messages_and_hands_back_the_rest(smtp_server, site):
    catalog = sample_catalog()
    for name in ("a", "b", "c"):
        subscriber(f"{name}@example.org", topics=[catalog.quantization])
    ids = sorted(digests.plan_digests(NOON_UTC).pending_ids)

    result = digests.send_batch(ids, budget=0)

    assert [m["To"] for m in smtp_server.messages] == ["a@example.org"]
    assert result.remaining == ids[1:]
    assert set(Digest.objects.filter(pk__in=ids[1:]).values_list("status", "attempts")) == {(Digest.Status.PENDING, 0)}


def test_a_connection_lost_after_the_data_is_uncertain_and_resent_once_with_the_same_message_id(smtp_server, site):
    digest_id = plan_one()
    smtp_server.drop_after_data = 1

    assert digests.send_digest(digest_id) == digests.SendOutcome.RETRY
    digest = Digest.objects.get(pk=digest_id)
    assert digest.status == Digest.Status.PENDING and digest.uncertain
    assert digest.last_error.startswith("Uncertain, resending once")

    assert digests.send_digest(digest_id) == digests.SendOutcome.SENT
    first, second = smtp_server.messages
    assert first["Message-ID"] == second["Message-ID"] == Digest.objects.get(pk=digest_id).message_id


def test_a_second_uncertain_outcome_is_final_never_a_loop(smtp_server, site):
    digest_id = plan_one()
    smtp_server.drop_after_data = 2

    assert digests.send_digest(digest_id) == digests.SendOutcome.RETRY
    assert digests.send_digest(digest_id) == digests.SendOutcome.UNCERTAIN
    assert digests.send_digest(digest_id) == digests.SendOutcome.SKIPPED

    digest = Digest.objects.get(pk=digest_id)
    assert digest.status == Digest.Status.UNCERTAIN and digest.attempts == 2
    assert len(smtp_server.messages) == 2


def test_a_final_reply_slower_than_the_timeout_is_uncertain_not_a_plain_retry(smtp_server, site, settings):
    digest_id = plan_one()
    settings.EMAIL_TIMEOUT = 1
    smtp_server.reply_delay = 2.5

    assert digests.send_digest(digest_id) == digests.SendOutcome.RETRY
    assert Digest.objects.get(pk=digest_id).uncertain


def test_a_connection_lost_before_the_data_is_a_plain_retry(smtp_server, site):
    digest_id = plan_one()
    smtp_server.drop_at_rcpt = 1

    assert digests.send_digest(digest_id) == digests.SendOutcome.RETRY
    digest = Digest.objects.get(pk=digest_id)
    assert not digest.uncertain and "SMTPServerDisconnected" in digest.last_error
    assert smtp_server.messages == []


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (smtplib.SMTPServerDisconnected("gone"), True),
        (smtplib.SMTPConnectError(554, b"no"), True),
        (smtplib.SMTPDataError(421, b"busy"), True),
        (smtplib.SMTPSenderRefused(451, b"later", "a@b"), True),
        (smtplib.SMTPDataError(554, b"spam"), False),
        (smtplib.SMTPRecipientsRefused({"a@b": (450, b"greylisted")}), True),
        (smtplib.SMTPRecipientsRefused({"a@b": (550, b"unknown")}), False),
        (ConnectionResetError(), True),
        (socket.timeout("timed out"), True),
        (ValueError("a bug"), False),
    ],
)
def test_only_temporary_smtp_and_network_errors_count_as_transient(error, transient):
    assert emails.is_transient(error) is transient
