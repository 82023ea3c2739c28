"""Digests through a real SMTP server (aiosmtpd on 127.0.0.1): what arrives, and what a
refusal does to the ledger."""

from __future__ import annotations

import re
import smtplib
import socket

import pytest

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


def test_a_try_again_later_puts_the_digest_back_for_a_retry_that_then_sends_it(smtp_server, site):
    digest_id = plan_one()
    smtp_server.refuse = 1

    with pytest.raises(smtplib.SMTPDataError):
        digests.send_digest(digest_id, retry_transient=True)
    digest = Digest.objects.get(pk=digest_id)
    assert digest.status == Digest.Status.PENDING and "451" in digest.last_error

    assert digests.send_digest(digest_id, retry_transient=True) == digests.SendOutcome.SENT
    digest.refresh_from_db()
    assert digest.status == Digest.Status.SENT and digest.attempts == 2 and digest.last_error == ""
    assert len(smtp_server.messages) == 1


def test_a_permanent_refusal_is_recorded_as_failed_and_not_retried(smtp_server, site):
    digest_id = plan_one()
    smtp_server.refuse, smtp_server.refuse_reply = 1, "550 5.1.1 No such mailbox"

    assert digests.send_digest(digest_id, retry_transient=True) == digests.SendOutcome.FAILED

    digest = Digest.objects.get(pk=digest_id)
    assert digest.status == Digest.Status.FAILED and "550" in digest.last_error
    assert digests.send_digest(digest_id, retry_transient=True) == digests.SendOutcome.SKIPPED
    assert smtp_server.messages == []


def test_an_unreachable_mail_server_is_a_transient_failure(settings, site):
    digest_id = plan_one()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2

    with pytest.raises(ConnectionRefusedError):
        digests.send_digest(digest_id, retry_transient=True)
    assert Digest.objects.get(pk=digest_id).status == Digest.Status.PENDING

    # Without retries (an inline send), the failure is recorded on the digest.
    assert digests.send_digest(digest_id) == digests.SendOutcome.FAILED
    assert "ConnectionRefusedError" in Digest.objects.get(pk=digest_id).last_error


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
