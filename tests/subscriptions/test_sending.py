"""Sending through a real SMTP server (aiosmtpd on localhost): a server that says "try
later" gets the email again, one that refuses it for good does not."""

from __future__ import annotations

import datetime as dt
import socket

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.utils import timezone

from digest.celery import app as celery_app
from subscriptions.models import SentEmail, Subscriber
from subscriptions.tasks import send_subscription_email

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """Answers RCPT with each of `answers` in turn, then accepts."""

    def __init__(self, answers: list[str]):
        self.answers = list(answers)
        self.attempts = 0
        self.delivered: list[bytes] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.attempts += 1
        if self.answers:
            return self.answers.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.delivered.append(envelope.content)
        return "250 Message accepted"


@pytest.fixture(autouse=True)
def failures_stay_in_the_task_result():
    """As in a worker, a failed attempt is recorded on the task, not raised at the caller
    (eagerly run retries go through the same setting)."""
    saved = celery_app.conf.task_eager_propagates
    celery_app.conf.task_eager_propagates = False
    yield
    celery_app.conf.task_eager_propagates = saved


@pytest.fixture
def smtp(settings):
    servers = []

    def start(answers: list[str]) -> Server:
        handler = Server(answers)
        controller = Controller(handler, hostname="127.0.0.1", port=free_port())
        controller.start()
        servers.append(controller)
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = controller.port
        return handler

    yield start
    for controller in servers:
        controller.stop()


def test_a_try_later_answer_is_retried_until_the_email_is_delivered(smtp, make_subscriber):
    server = smtp(["451 4.3.0 Try again later", "421 4.4.2 Busy"])
    subscriber = make_subscriber("ada@example.org", status=Subscriber.Status.PENDING)

    send_subscription_email.apply(args=("confirm", subscriber.pk))

    assert server.attempts == 3
    assert len(server.delivered) == 1
    assert b"Confirm your subscription" in server.delivered[0]


def test_a_permanent_refusal_is_not_retried(smtp, make_subscriber):
    server = smtp(["550 5.1.1 No such user"])
    subscriber = make_subscriber("nobody@example.org", status=Subscriber.Status.PENDING)

    result = send_subscription_email.apply(args=("confirm", subscriber.pk))

    assert result.failed()
    assert server.attempts == 1
    assert server.delivered == []


def test_nothing_is_sent_for_a_subscriber_deleted_in_the_meantime(smtp):
    server = smtp([])
    send_subscription_email.apply(args=("confirm", 987654))
    assert server.attempts == 0


def test_the_same_task_delivered_twice_sends_one_email(smtp, make_subscriber):
    # What Redis does when a task outlives the visibility timeout, or a worker is lost
    # after sending: the same task (same id) runs again.
    server = smtp([])
    subscriber = make_subscriber("ada@example.org", status=Subscriber.Status.PENDING)

    send_subscription_email.apply(args=("confirm", subscriber.pk), task_id="task-1")
    send_subscription_email.apply(args=("confirm", subscriber.pk), task_id="task-1")

    assert len(server.delivered) == 1


def test_two_different_requests_for_the_same_email_both_send(smtp, make_subscriber):
    server = smtp([])
    subscriber = make_subscriber("ada@example.org", status=Subscriber.Status.PENDING)

    send_subscription_email.apply(args=("confirm", subscriber.pk), task_id="task-1")
    send_subscription_email.apply(args=("confirm", subscriber.pk), task_id="task-2")

    assert len(server.delivered) == 2


def test_a_claim_left_by_a_worker_that_died_mid_send_is_taken_over_later(smtp, make_subscriber):
    server = smtp([])
    subscriber = make_subscriber("ada@example.org", status=Subscriber.Status.PENDING)
    with time_machine.travel(timezone.now() - dt.timedelta(minutes=11)):
        SentEmail.objects.create(task_id="task-1", subscriber=subscriber, kind="confirm", claimed_at=timezone.now())

    send_subscription_email.apply(args=("confirm", subscriber.pk), task_id="task-1")

    assert len(server.delivered) == 1


def test_a_fresh_claim_by_another_worker_is_not_sent_over(smtp, make_subscriber):
    server = smtp([])
    subscriber = make_subscriber("ada@example.org", status=Subscriber.Status.PENDING)
    SentEmail.objects.create(task_id="task-1", subscriber=subscriber, kind="confirm", claimed_at=timezone.now())
    # Run as a worker would: the retry is scheduled, not run at once.
    from subscriptions import mail

    with pytest.raises(mail.ClaimedElsewhere):
        mail.send_notification("confirm", subscriber.pk, key="task-1")
    assert server.delivered == []


def test_every_retry_waits_well_below_the_brokers_visibility_timeout(settings):
    from subscriptions import mail
    from subscriptions.tasks import RETRY_BACKOFF

    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    for countdown in (*RETRY_BACKOFF, mail.STALE_CLAIM_AFTER.total_seconds()):
        assert countdown <= visibility / 2


def test_send_markers_are_forgotten_after_two_days(make_subscriber):
    from subscriptions.housekeeping import forget_sent_emails

    subscriber = make_subscriber("ada@example.org")
    with time_machine.travel(timezone.now() - dt.timedelta(days=3)):
        SentEmail.objects.create(task_id="old", subscriber=subscriber, kind="welcome")
    SentEmail.objects.create(task_id="new", subscriber=subscriber, kind="welcome")

    assert forget_sent_emails() == 1
    assert list(SentEmail.objects.values_list("task_id", flat=True)) == ["new"]
