"""Message bytes written directly, without the email package building a tree of MIME
objects, re-encoding and re-folding it for every message (a quarter of a digest's cost).

`DirectMimeEmail` is an ordinary `EmailMultiAlternatives`: subject, body, alternatives
and headers stay its fields, so backends that read them (django-anymail's ESP backends)
work unchanged. Only `message()`, which the SMTP, outbox and locmem backends call, gives
an object whose `as_bytes()` is the message written in one pass: bodies in UTF-8, 8bit
as Django sends them (or quoted-printable: EMAIL_BODY_ENCODING; always for a line over
998 bytes), a non-ASCII subject as RFC 2047 encoded words, header values refused when
they hold a line break. Anything unusual (attachments,
Cc, a non-ASCII address or header other than the subject, a line too long) is left to
Django's own `message()`.
"""

from __future__ import annotations

import base64
import binascii
import email
import re
import secrets
from email.utils import formatdate
from functools import lru_cache

from django.conf import settings
from django.core.mail import BadHeaderError, EmailMultiAlternatives
from django.core.mail.message import forbid_multi_line_headers

# RFC 5322's hard limit on a line, and its advice for headers.
_LINE_LIMIT = 998
_HEADER_ADVICE = 78
# UTF-8 bytes per encoded word: "=?utf-8?b?" + 56 base64 characters + "?=" is 68, which
# fits after "Subject: " within 78 characters.
_WORD_BYTES = 42
_SIMPLE_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")
# Headers Django's message() sets from the fields, not from `extra_headers`.
_FROM_FIELDS = frozenset({"from", "to", "cc", "reply-to"})


class DirectMimeEmail(EmailMultiAlternatives):
    def message(self):
        raw = self._direct_bytes()
        if raw is None:
            return super().message()
        return DirectMessage(raw)

    def _direct_bytes(self) -> bytes | None:
        """The message, lines ending in "\\n", or None when Django should build it."""
        if self.attachments or self.cc or self.reply_to or (self.encoding or "utf-8").lower() not in ("utf-8", "utf8"):
            return None
        html = None
        if self.alternatives:
            if len(self.alternatives) != 1 or self.alternatives[0][1] != "text/html":
                return None
            html = self.alternatives[0][0]
        if self.content_subtype != "plain":
            return None
        header_names = {name.lower() for name in self.extra_headers}
        headers = [
            ("Subject", _unstructured(self.subject)),
            ("From", _from_header(self.extra_headers.get("From", self.from_email))),
        ]
        if self.to:
            headers.append(("To", ", ".join(_address(str(a)) for a in self.to)))
        if "date" not in header_names:
            headers.append(("Date", formatdate(localtime=settings.EMAIL_USE_LOCALTIME)))
        if "message-id" not in header_names:
            return None  # ours always name one; Django makes one otherwise
        for name, value in self.extra_headers.items():
            if name.lower() in _FROM_FIELDS:
                continue
            value = str(value)
            _refuse_line_breaks(name, value)
            if not value.isascii():
                return None
            headers.append((name, value))
        if any(len(name) + len(value) + 2 > _LINE_LIMIT or not value.isascii() for name, value in headers):
            return None
        if html is None:
            encoding, body = _body(self.body)
            top = [("Content-Type", 'text/plain; charset="utf-8"'), ("MIME-Version", "1.0"),
                   ("Content-Transfer-Encoding", encoding)]
            return _header_block(top + headers) + b"\n" + body
        (text_encoding, text), (html_encoding, html_body) = _body(self.body), _body(html)
        boundary = "=_" + secrets.token_hex(16)
        if boundary.encode("ascii") in text or boundary.encode("ascii") in html_body:
            return None  # 128 random bits: never, but then Django picks one
        top = [("Content-Type", f'multipart/alternative; boundary="{boundary}"'), ("MIME-Version", "1.0")]
        delimiter = f"\n--{boundary}\n".encode("ascii")
        part = 'Content-Type: text/{}; charset="utf-8"\nContent-Transfer-Encoding: {}\n\n'
        return b"".join([
            _header_block(top + headers),
            delimiter[1:],
            part.format("plain", text_encoding).encode("ascii"), text,
            delimiter,
            part.format("html", html_encoding).encode("ascii"), html_body,
            f"\n--{boundary}--\n".encode("ascii"),
        ])


class DirectMessage:
    """What `DirectMimeEmail.message()` gives: the written bytes, and for anything else
    (reading a header, walking the parts) the message parsed back from them."""

    def __init__(self, raw: bytes) -> None:
        self._raw = raw
        self._parsed: email.message.Message | None = None

    def as_bytes(self, unixfrom: bool = False, linesep: str = "\n") -> bytes:
        return self._raw if linesep == "\n" else self._raw.replace(b"\n", linesep.encode("ascii"))

    def as_string(self, unixfrom: bool = False, linesep: str = "\n") -> str:
        return self.as_bytes(linesep=linesep).decode("ascii")

    def __bytes__(self) -> bytes:
        return self.as_bytes()

    def __str__(self) -> str:
        return self.as_string()

    def _message(self) -> email.message.Message:
        if self._parsed is None:
            self._parsed = email.message_from_bytes(self._raw)
        return self._parsed

    def __getitem__(self, name: str):
        return self._message()[name]

    def __contains__(self, name: str) -> bool:
        return name in self._message()

    def __getattr__(self, name: str):
        return getattr(self._message(), name)


def _refuse_line_breaks(name: str, value: str) -> None:
    if "\n" in value or "\r" in value:
        raise BadHeaderError(f"Header values can't contain newlines (got {value!r} for header {name!r})")


def _unstructured(value: str) -> str:
    value = str(value)
    _refuse_line_breaks("Subject", value)
    if value.isascii() and len(value) + 9 <= _HEADER_ADVICE:
        return value
    return encoded_words(value)


def encoded_words(value: str) -> str:
    """`value` as RFC 2047 encoded words (UTF-8, base64), one a line, each cut at a
    character boundary so every word decodes on its own."""
    raw = value.encode("utf-8")
    words = []
    start = 0
    while start < len(raw):
        end = min(start + _WORD_BYTES, len(raw))
        while end < len(raw) and raw[end] & 0xC0 == 0x80:  # inside a character
            end -= 1
        words.append("=?utf-8?b?" + base64.b64encode(raw[start:end]).decode("ascii") + "?=")
        start = end
    return "\n ".join(words)


def _address(value: str) -> str:
    _refuse_line_breaks("To", value)
    if _SIMPLE_ADDRESS.fullmatch(value):
        return value
    return _sanitised("To", value)


@lru_cache(maxsize=16)
def _from_header(value: str) -> str:
    _refuse_line_breaks("From", value)
    return _sanitised("From", value)


def _sanitised(name: str, value: str) -> str:
    # Django's own rules for an address header (IDNA domains, encoded display names).
    return str(forbid_multi_line_headers(name, value, "utf-8")[1])


def _header_block(headers: list[tuple[str, str]]) -> bytes:
    return "".join(f"{name}: {value}\n" for name, value in headers).encode("ascii")


def _body(text: str) -> tuple[str, bytes]:
    """(Content-Transfer-Encoding, the encoded body) of a UTF-8 text part, lines ending
    in "\\n" (a CR of its own, which no line break of ours is, is sent quoted-printable)."""
    data = text.encode("utf-8")
    if settings.EMAIL_BODY_ENCODING == "8bit" and b"\r" not in data and _LONG_LINE.match(data) is None:
        return "8bit", data
    return "quoted-printable", binascii.b2a_qp(data, quotetabs=False, istext=True, header=False)


# A line over RFC 5322's 998 characters: short lines are taken whole and never retried
# (a possessive repeat), so the search reads the body once.
_LONG_LINE = re.compile(rb"(?:[^\n]{0,998}\n)*+[^\n]{999}")
