"""With a django-anymail backend, the mail provider's tracking webhook stops mail to an
address it reports as bounced for good, complained of or unsubscribed: the same as a
5xx from our own SMTP server. Real Postmark webhook payloads (as in anymail's docs and
tests), posted with and without the webhook's basic auth."""

from __future__ import annotations

import base64
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.urls import clear_url_caches

import digest.urls
from subscriptions.models import Counter, Subscriber, Suppression

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parents[2]

URL = "/esp/postmark/tracking/"
SECRET = "postmark-hook:Zm9yIHRoZSB0ZXN0cyBvbmx5"

BOUNCE = {
    "RecordType": "Bounce",
    "ID": 901542550,
    "Type": "HardBounce",
    "TypeCode": 1,
    "ServerID": 23,
    "Name": "Hard bounce",
    "MessageID": "2706ee8a-737c-4285-b032-ccd317af53ed",
    "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
    "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
    "Email": "Ada@Example.org",
    "From": "digest@example.com",
    "BouncedAt": "2026-11-27T16:28:50.3963933-04:00",
    "DumpAvailable": True,
    "Inactive": True,
    "CanActivate": True,
    "Subject": "Your papers for Thursday",
}
SOFT_BOUNCE = {
    **BOUNCE,
    "ID": 901542551,
    "Type": "SoftBounce",
    "TypeCode": 4096,
    "Name": "Soft bounce/Undeliverable",
    "Description": "Unable to temporarily deliver this email.",
    "Details": "smtp;452 4.2.2 Mailbox full",
    "Inactive": False,
}
SPAM_COMPLAINT = {
    "RecordType": "SpamComplaint",
    "ID": 901542552,
    "Type": "SpamComplaint",
    "TypeCode": 512,
    "Name": "Spam complaint",
    "Tag": "digest",
    "MessageID": "2706ee8a-737c-4285-b032-ccd317af53ed",
    "ServerID": 1234,
    "Description": "",
    "Details": "Test spam complaint details",
    "Email": "ada@example.org",
    "From": "digest@example.com",
    "BouncedAt": "2026-11-27T16:28:50.3963933-04:00",
    "DumpAvailable": True,
    "Inactive": True,
    "CanActivate": False,
    "Subject": "Your papers for Thursday",
}
UNSUBSCRIBE = {
    "RecordType": "SubscriptionChange",
    "MessageID": "a4909a96-73d7-4c49-b148-a54522d3f7ac",
    "ServerID": 23,
    "MessageStream": "outbound",
    "ChangedAt": "2026-11-27T17:17:32Z",
    "Recipient": "ada@example.org",
    "Origin": "Recipient",
    "SuppressSending": True,
    "SuppressionReason": "ManualSuppression",
    "Tag": "digest",
    "Metadata": {},
}


def reload_urls() -> None:
    importlib.reload(digest.urls)
    clear_url_caches()


@pytest.fixture
def postmark(settings):
    """EMAIL_BACKEND names anymail's Postmark backend, as the environment would set it."""
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ESP_WEBHOOKS = True
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "server-token", "WEBHOOK_SECRET": SECRET}
    reload_urls()
    yield
    settings.ESP_WEBHOOKS = False
    reload_urls()


@pytest.fixture
def ada(make_subscriber) -> Subscriber:
    return make_subscriber("ada@example.org")


def post(payload: dict, auth: str | None = SECRET):
    headers = {}
    if auth is not None:
        headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(auth.encode()).decode()
    client = Client(enforce_csrf_checks=True)  # the provider has no CSRF token
    return client.post(URL, data=json.dumps(payload), content_type="application/json", **headers)


def test_a_hard_bounce_stops_mail_to_the_address(postmark, ada):
    response = post(BOUNCE)

    assert response.status_code == 200
    suppression = Suppression.objects.get()
    assert (suppression.subscriber, suppression.email, suppression.reason, suppression.source) == (
        ada,
        "ada@example.org",
        Suppression.Reason.BOUNCE,
        "anymail:postmark",
    )
    assert "unknown user" in suppression.detail and "550 5.1.1" in suppression.detail
    ada.refresh_from_db()
    assert ada.suppressed == Suppression.Reason.BOUNCE
    assert not Subscriber.objects.receiving_digests(ada.updated_at.date()).exists()


def test_a_spam_complaint_stops_mail_to_the_address(postmark, ada):
    assert post(SPAM_COMPLAINT).status_code == 200

    assert Suppression.objects.get().reason == Suppression.Reason.COMPLAINT
    ada.refresh_from_db()
    assert ada.suppressed == Suppression.Reason.COMPLAINT and ada.status == Subscriber.Status.ACTIVE


def test_an_unsubscribe_at_the_provider_unsubscribes_them_and_stops_mail(postmark, ada):
    assert post(UNSUBSCRIBE).status_code == 200

    ada.refresh_from_db()
    assert ada.status == Subscriber.Status.UNSUBSCRIBED and ada.unsubscribed_at is not None
    assert ada.suppressed == Suppression.Reason.UNSUBSCRIBE
    assert Counter.objects.get(name="unsubscribes").value == 1


def test_a_soft_bounce_and_a_delivery_change_nothing(postmark, ada):
    delivered = {
        "RecordType": "Delivery",
        "ServerID": 23,
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Recipient": "ada@example.org",
        "Tag": "digest",
        "Metadata": {},
        "DeliveredAt": "2026-11-27T13:28:10.2735393-04:00",
        "Details": "Test delivery webhook details",
    }
    assert post(SOFT_BOUNCE).status_code == 200
    assert post(delivered).status_code == 200

    assert not Suppression.objects.exists()
    ada.refresh_from_db()
    assert ada.suppressed == ""


def test_the_same_bounce_delivered_twice_is_one_suppression(postmark, ada):
    post(BOUNCE)
    post(BOUNCE)

    assert Suppression.objects.count() == 1


def test_a_report_about_an_address_nobody_subscribes_with_is_kept_for_that_address(postmark):
    assert post({**BOUNCE, "Email": "stranger@example.net"}).status_code == 200

    suppression = Suppression.objects.get()
    assert suppression.subscriber is None and suppression.email == "stranger@example.net"


@pytest.mark.parametrize("auth", [None, "postmark-hook:wrong", "someone:else"])
def test_without_the_right_basic_auth_the_webhook_is_refused_and_changes_nothing(postmark, ada, auth):
    response = post(BOUNCE, auth=auth)

    assert response.status_code == 400  # anymail's answer: a SuspiciousOperation
    assert not Suppression.objects.exists()
    ada.refresh_from_db()
    assert ada.suppressed == ""


def test_the_webhook_is_not_routed_without_an_anymail_backend(ada):
    reload_urls()

    response = post(BOUNCE)

    assert response.status_code == 404
    assert not Suppression.objects.exists()


def start_django(tmp_path, **env: str) -> subprocess.CompletedProcess:
    probe = (
        "import django; django.setup(); from django.urls import resolve; "
        "print(resolve('/esp/postmark/tracking/').url_name)"
    )
    keep = {name: os.environ[name] for name in ("PATH", "DATABASE_URL") if name in os.environ}
    return subprocess.run(
        [sys.executable, "-c", probe],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        env=keep | {"DJANGO_SETTINGS_MODULE": "digest.settings", "VAR_DIR": str(tmp_path), "DEBUG": "true"} | env,
    )


def test_the_webhook_and_its_secret_come_from_the_environment(tmp_path):
    configured = start_django(
        tmp_path,
        EMAIL_BACKEND="anymail.backends.postmark.EmailBackend",
        ANYMAIL_POSTMARK_SERVER_TOKEN="server-token",
        ANYMAIL_WEBHOOK_SECRET=SECRET,
    )
    without_secret = start_django(tmp_path, EMAIL_BACKEND="anymail.backends.postmark.EmailBackend")

    assert configured.returncode == 0, configured.stderr
    assert configured.stdout.strip() == "postmark_tracking_webhook"
    assert without_secret.returncode != 0
    assert "ANYMAIL_WEBHOOK_SECRET is required with an anymail EMAIL_BACKEND" in without_secret.stderr
