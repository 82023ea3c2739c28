"""Every subscription email carries what the law and mail providers ask for."""

from __future__ import annotations

import pytest
import time_machine
from django.utils import timezone

from subscriptions.mail import build_notification
from subscriptions.models import Subscriber
from subscriptions.tokens import subscriber_links

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

KINDS = ["confirm", "welcome", "manage_link", "email_change"]


@pytest.fixture(autouse=True)
def clock_stands_still():
    """Signed links carry the second they were made: the links these tests make must come
    out the same as the email's, even when building the email crosses a second."""
    with time_machine.travel(timezone.now(), tick=False):
        yield


@pytest.fixture
def ada(make_subscriber) -> Subscriber:
    return make_subscriber("ada@example.org", pending_email="ada.new@example.org", keywords=["LoRA"])


@pytest.mark.parametrize("kind", KINDS)
def test_every_subscription_email_has_the_compliance_footer_in_both_parts(ada, settings, kind):
    message = build_notification(kind, ada)
    text = message.body
    html = message.alternatives[0][0]
    links = subscriber_links(ada)
    for part in (text, html):
        assert settings.POSTAL_ADDRESS in part
        assert settings.PRIVACY_POLICY_URL in part
        # Emails to an address nobody has confirmed carry no link to the subscription
        # (tests/subscriptions/test_link_scope.py); the others carry both.
        if kind not in ("confirm", "email_change"):
            assert links["manage"] in part
            assert links["unsubscribe"] in part


@pytest.mark.parametrize(("kind", "has_header"), [("confirm", False), ("welcome", True), ("manage_link", True), ("email_change", False)])
def test_list_unsubscribe_headers_are_set_only_for_people_who_are_subscribed(ada, kind, has_header):
    message = build_notification(kind, ada).message()
    if has_header:
        assert message["List-Unsubscribe"] == f"<{subscriber_links(ada)['one_click']}>"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    else:
        assert message["List-Unsubscribe"] is None


def test_the_address_change_email_goes_to_the_new_address(ada):
    assert build_notification("email_change", ada).to == ["ada.new@example.org"]


def test_a_plain_text_subscriber_gets_no_html_part(ada):
    ada.email_format = Subscriber.Format.TEXT
    message = build_notification("welcome", ada)
    assert message.alternatives == []
    assert "LoRA" in message.body
