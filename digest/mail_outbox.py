"""An email backend for machines without a mail server: every message becomes a
`.eml` file in OUTBOX_DIR, and its HTML part a `.html` file that opens in a browser."""

from __future__ import annotations

import re
import threading
from datetime import datetime, timezone
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage

_counter_lock = threading.Lock()
_counter = 0


def _next_number() -> int:
    global _counter
    with _counter_lock:
        _counter += 1
        return _counter


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9@._-]+", "_", text)[:80]


def _html_part(message: EmailMessage) -> str | None:
    for content, mimetype in getattr(message, "alternatives", []) or []:
        if mimetype == "text/html":
            return content
    return None


class OutboxBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        folder = Path(settings.OUTBOX_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
            recipient = _safe(message.to[0]) if message.to else "no-recipient"
            stem = folder / f"{stamp}-{recipient}-{_next_number()}"
            # Write under a temporary name, then rename: a reader never sees half a file.
            # Appended, not with_suffix(): the stem ends in ".org-<n>", which is no suffix.
            self._write(stem.with_name(stem.name + ".eml"), message.message().as_bytes())
            html = _html_part(message)
            if html is not None:
                self._write(stem.with_name(stem.name + ".html"), html.encode("utf-8"))
            sent += 1
        return sent

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
