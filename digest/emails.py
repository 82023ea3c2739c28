"""Every email the service sends is built here: one name per email, three templates
(`templates/emails/<name>.subject.txt`, `<name>.txt`, `<name>.html`), one function that
builds the message with the headers mail providers expect, and one that sends it.

Building and sending are separate so a digest can be rendered (preview, dry run,
view in browser) without being sent.
"""

from __future__ import annotations

import re
import smtplib
import socket
from collections.abc import Callable
from email.utils import formataddr, make_msgid
from functools import cache
from typing import Any

import css_inline
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template import engines
from jinja2 import Environment

from .jinja2 import text_environment
from .mime import DirectMimeEmail


def sender_domain() -> str:
    return settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost"


def _html_environment() -> Environment:
    return engines["jinja2"].env


@cache
def _inliner() -> css_inline.CSSInliner:
    # Built once: links in <style> blocks are inlined; remote stylesheets are never fetched.
    return css_inline.CSSInliner(load_remote_stylesheets=False, keep_style_tags=True)


def one_line(text: str) -> str:
    """Subjects and header values are one line: a newline in data can never start a
    new header."""
    return " ".join(text.split())


def render_html(name: str, context: dict[str, Any]) -> str:
    """The HTML part of the email `name`: its template rendered, then the styles of its
    <style> block inlined into every element (what email clients need)."""
    page = _html_environment().get_template(f"emails/{name}.html").render(context)
    return _inliner().inline(page)


def render_email(
    name: str, context: dict[str, Any], *, html: bool = True, html_renderer: Callable[[dict], str] | None = None
) -> tuple[str, str, str]:
    """(subject, text, html) for the email `name`, rendered with `context`; without
    `html`, the HTML part (most of the cost: render and CSS inlining) is left empty.
    `html_renderer` is a faster way to the same HTML (the digest has one)."""
    text_env = text_environment()
    subject = one_line(text_env.get_template(f"emails/{name}.subject.txt").render(context))
    text = text_env.get_template(f"emails/{name}.txt").render(context)
    if not html:
        return subject, text, ""
    return subject, text, html_renderer(context) if html_renderer else render_html(name, context)


def build_email(
    name: str,
    to: str,
    context: dict[str, Any],
    *,
    unsubscribe_url: str | None = None,
    text_only: bool = False,
    message_id: str | None = None,
    html_renderer: Callable[[dict], str] | None = None,
) -> EmailMultiAlternatives:
    """A multipart message (text + HTML, or text only) ready to send.

    `unsubscribe_url` is the subscriber's one-click URL (RFC 8058); when given, the
    List-Unsubscribe headers are set so mail clients show their own unsubscribe button.
    """
    subject, text, html = render_email(name, context, html=not text_only, html_renderer=html_renderer)
    headers = {
        "Message-ID": message_id or make_msgid(domain=sender_domain()),
        "List-Id": one_line(f"{settings.EMAIL_FROM_NAME} <digest.{sender_domain()}>"),
        "Auto-Submitted": "auto-generated",
    }
    if unsubscribe_url:
        headers["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message = DirectMimeEmail(
        subject=subject,
        body=text,
        from_email=formataddr((one_line(settings.EMAIL_FROM_NAME), settings.DEFAULT_FROM_EMAIL)),
        to=[to],
        headers=headers,
    )
    if not text_only:
        message.attach_alternative(html, "text/html")
    return message


def send_email(message: EmailMultiAlternatives, connection=None) -> None:
    """Send one message; SMTP errors propagate so the caller can retry or record them."""
    message.connection = connection or get_connection()
    message.send(fail_silently=False)


def is_transient(exc: BaseException) -> bool:
    """Worth retrying later: the mail server was unreachable or said "try again" (4xx)."""
    if isinstance(exc, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError)):
        return True
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(400 <= code < 500 for code in codes)
    return isinstance(exc, (ConnectionError, TimeoutError, socket.timeout, socket.gaierror))


def is_address_refusal(exc: BaseException) -> bool:
    """The receiving server refused this address for good: a 5xx to RCPT (for every
    recipient) or to DATA. Not when its enhanced status code is X.7.x (security or
    policy: "relay denied", DMARC, "looks like spam"): that is about our sending or the
    message, and hits every address at once (RFC 3463). A 5xx to MAIL FROM is about our
    sender, not them."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = list(exc.recipients.values())
        return bool(replies) and all(code >= 500 and not _is_policy(text) for code, text in replies)
    return isinstance(exc, smtplib.SMTPDataError) and exc.smtp_code >= 500 and not _is_policy(exc.smtp_error)


def _is_policy(reply: bytes | str) -> bool:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return bool(_POLICY_STATUS.match(text.strip()))


_POLICY_STATUS = re.compile(r"5\.7\.\d{1,3}\b")
