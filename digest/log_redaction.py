"""Signed links are bearer credentials: a log line must never carry one. A logging
filter for Django's own log lines ("Bad Request: /unsubscribe/<token>/"), a gunicorn
logger class for its access log and a Sentry `before_send` hook for error reports
replace the token in a path by `<token>`."""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn.glogging import Logger as GunicornLogger

# The path segment after each prefix whose next segment is a signed token; the fixed
# pages under /manage/ are left readable.
TOKEN_IN_PATH = re.compile(
    r"(/(?:confirm|confirm-new-address|manage|unsubscribe|digests|feedback)/)(?!link-sent/|deleted/)[^/\s?#\"']+"
    r"|(/feed/)[^/\s?#\"'.]+(?=\.atom)"  # the private feed: /feed/<token>.atom
)


def redact(text: str) -> str:
    return TOKEN_IN_PATH.sub(lambda found: (found.group(1) or found.group(2)) + "<token>", text)


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class RedactingGunicornLogger(GunicornLogger):
    """gunicorn's logger, with tokens taken out of the request line, path and referer of
    every access-log line (`--logger-class digest.log_redaction.RedactingGunicornLogger`)."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "f"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms


def scrub(value: Any) -> Any:
    """`value` with every string in it redacted, however deeply nested."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    return value


def sentry_before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    """An error report carries the request's URL, its Referer, log breadcrumbs and local
    variables: any of them may hold a token."""
    return scrub(event)
