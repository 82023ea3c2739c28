"""Fixtures shared by the digest tests (defined in sending_helpers.py)."""

from .sending_helpers import outbox, smtp_server  # noqa: F401
