"""The message bytes written without the email package: valid MIME that any mail
reader parses back to the same parts and headers (bodies 8bit as Django sends them, or
7-bit quoted-printable), header-injection safe, and delivered as they are over SMTP."""

from __future__ import annotations

import pytest
from django.core.mail import BadHeaderError

from digest import digests
from digest.digest_email import Entry, digest_message
from digest.mime import DirectMimeEmail
from subscriptions.models import Subscriber

from .sending_helpers import LISTING_DAY, NOON_UTC, paper, parse_eml, sample_catalog, subscriber, topic

pytestmark = pytest.mark.django_db


def entries_about(title: str) -> list[Entry]:
    quant = topic("Quantization", "quantization")
    papers = [paper(title, "Abstract with = signs, trailing spaces   \nand ünïcödé. " * 10, arxiv_id="2501.00001")]
    papers += [paper(f"Other paper {n}", "Something else. " * 20) for n in range(3)]
    return [Entry(p, n + 1, 1.0, quant.slug, quant.name, ["keyword 'x' in title"], False) for n, p in enumerate(papers)]


def content(part) -> str:
    # On the wire every line ends in CRLF; a mail reader shows plain line breaks.
    return part.get_content().replace("\r\n", "\n")


def parsed(message, *, seven_bit: bool = False) -> object:
    raw = message.message().as_bytes(linesep="\r\n")
    assert raw.isascii() or not seven_bit, "quoted-printable bodies are 7-bit: any relay carries them"
    lines = raw.split(b"\r\n")
    assert all(len(line) <= 998 for line in lines)
    assert b"\n" not in raw.replace(b"\r\n", b"")  # every line ends in CRLF
    return parse_eml(raw)


@pytest.mark.parametrize("encoding", ["8bit", "quoted-printable"])
def test_the_parts_and_headers_read_back_as_they_were_built(encoding, settings):
    settings.EMAIL_BODY_ENCODING = encoding
    reader = subscriber("reader@example.org", keywords=["x"])
    message = digest_message(reader, LISTING_DAY, entries_about("Ångström-scale quantization ≥ 4 bits"),
                             message_id="<abc.123@example.org>")
    html = message.alternatives[0][0]

    mail = parsed(message, seven_bit=encoding == "quoted-printable")

    assert mail.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in mail.iter_parts()] == ["text/plain", "text/html"]
    assert [part["Content-Transfer-Encoding"] for part in mail.iter_parts()] == [encoding, encoding]
    assert content(mail.get_body(("plain",))) == message.body
    assert content(mail.get_body(("html",))) == html
    assert str(mail["Subject"]) == message.subject and "Ångström" in message.subject
    assert mail["To"] == "reader@example.org"
    assert mail["Message-ID"] == "<abc.123@example.org>"
    assert mail["List-Id"] and mail["Auto-Submitted"] == "auto-generated" and mail["Date"]
    assert mail["List-Unsubscribe"] == message.extra_headers["List-Unsubscribe"]
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["MIME-Version"] == "1.0"


def test_a_text_only_message_is_one_part_and_a_long_ascii_subject_survives():
    reader = subscriber("plain@example.org", email_format=Subscriber.Format.TEXT)
    message = digest_message(reader, LISTING_DAY, entries_about("A plain ASCII title " * 6))

    mail = parsed(message)

    assert mail.get_content_type() == "text/plain"
    assert content(mail) == message.body
    assert str(mail["Subject"]) == message.subject


def test_a_line_too_long_for_smtp_goes_quoted_printable():
    long_line = "word " * 300
    message = DirectMimeEmail(subject="Hi", body=f"Short line\n{long_line}\nend", to=["a@example.org"],
                              headers={"Message-ID": "<a@b>"})
    message.attach_alternative(f"<p>{long_line}</p>", "text/html")

    mail = parsed(message)

    assert [part["Content-Transfer-Encoding"] for part in mail.iter_parts()] == ["quoted-printable"] * 2
    assert content(mail.get_body(("plain",))) == message.body


def test_a_line_break_in_any_header_value_is_refused():
    for fields in [{"subject": "Hi\nBcc: victim@example.com"}, {"to": ["a@example.org\nBcc: victim@example.com"]},
                   {"headers": {"Message-ID": "<a@b>", "List-Id": "x\r\nBcc: victim@example.com"}}]:
        message = DirectMimeEmail(**{"subject": "Hi", "body": "Body", "to": ["a@example.org"],
                                     "headers": {"Message-ID": "<a@b>"}, **fields})
        with pytest.raises(BadHeaderError):
            message.message()


def test_an_unusual_message_is_left_to_djangos_own_builder():
    message = DirectMimeEmail(subject="Hi", body="Body", to=["Zoë <zoe@exämple.org>"], cc=["c@example.org"])
    message.attach("notes.txt", "some notes", "text/plain")

    mail = parse_eml(message.message().as_bytes())

    assert mail.get_content_type() == "multipart/mixed"
    assert "zoe@" in str(mail["To"]) and mail["Cc"] == "c@example.org"


def test_the_bytes_arrive_over_smtp_as_built(smtp_server):
    catalog = sample_catalog()
    subscriber("reader@example.org", topics=[catalog.quantization])
    ids = digests.plan_digests(NOON_UTC).pending_ids

    digests.send_batch(ids)

    [mail] = smtp_server.messages
    assert [part.get_content_type() for part in mail.iter_parts()] == ["text/plain", "text/html"]
    assert catalog.quant_paper.title in mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert catalog.quant_paper.title in html and "More like this</a>" in html
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
