"""Fixtures shared by the digest tests (most are defined in sending_helpers.py)."""

import pytest

from digest.celery import app

from .sending_helpers import outbox, smtp_server  # noqa: F401


@pytest.fixture
def celery_eager():
    """The tasks the tick queues (send batches, planning chunks) run here, at once."""
    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = saved
