"""Django's SMTP backend, with two things a digest sender needs to know for sure.

1. Whether a lost connection lost the message. Before the message data has gone out, a
   dropped connection or a timeout means the server has nothing: retrying is safe. After
   the data (and its final dot) went out and before the server's final reply, the server
   may well have accepted it: that outcome is `DeliveryUncertain`, and the caller must
   not simply resend it as if nothing had happened.
2. An upper bound on one message: every socket operation of one message's SMTP
   conversation shares a deadline of `MESSAGE_TIMEOUTS` times EMAIL_TIMEOUT, so a claim
   lease sized from EMAIL_TIMEOUT (`digest.digests.claim_lease`) is never outlived by the
   send it covers.
"""

from __future__ import annotations

import smtplib
import socket
import time

from django.core.mail.backends.smtp import EmailBackend as DjangoEmailBackend

# Socket operations of one message (MAIL, RCPT, DATA, the data and its reply, and a
# reconnect's banner, EHLO, STARTTLS and AUTH) all fit in this many EMAIL_TIMEOUTs.
MESSAGE_TIMEOUTS = 3


class DeliveryUncertain(smtplib.SMTPServerDisconnected):
    """The message data was sent, then the connection was lost (or timed out) before the
    server's final reply: it may have been delivered."""


class _BoundedSMTPMixin:
    """Tracks whether the message data went out, and bounds every socket operation by the
    message's deadline."""

    deadline: float | None = None
    _in_data = False
    _data_sent = False

    def _bound(self) -> None:
        if self.deadline is None or self.sock is None:
            return
        left = self.deadline - time.monotonic()
        if left <= 0:
            self.close()
            raise smtplib.SMTPServerDisconnected("the message took longer than its time limit")
        self.sock.settimeout(min(left, self.timeout) if self.timeout else left)

    def send(self, s) -> None:
        self._bound()
        super().send(s)
        if self._in_data and not isinstance(s, str) and s.endswith(b"\r\n.\r\n"):
            # The whole message, final dot included, is in the kernel's hands now.
            self._data_sent = True

    def getreply(self):
        self._bound()
        return super().getreply()

    def data(self, msg):
        self._in_data, self._data_sent = True, False
        try:
            return super().data(msg)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            if self._data_sent:
                raise DeliveryUncertain(f"connection lost before the final reply to the message data: {exc}") from exc
            raise
        finally:
            self._in_data = False


class _SMTP(_BoundedSMTPMixin, smtplib.SMTP):
    pass


class _SMTP_SSL(_BoundedSMTPMixin, smtplib.SMTP_SSL):
    pass


class EmailBackend(DjangoEmailBackend):
    @property
    def connection_class(self):
        return _SMTP_SSL if self.use_ssl else _SMTP

    def _send(self, email_message) -> bool:
        if self.connection is not None and self.timeout:
            self.connection.deadline = time.monotonic() + MESSAGE_TIMEOUTS * self.timeout
        try:
            return super()._send(email_message)
        finally:
            if self.connection is not None:
                self.connection.deadline = None


def message_budget_seconds(timeout: float | None) -> float:
    """The longest one message can take to send, connecting included."""
    return (MESSAGE_TIMEOUTS + 1) * (timeout or socket.getdefaulttimeout() or 60)
