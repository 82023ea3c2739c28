"""A link grants what its purpose allows and nothing more: a long-lived unsubscribe or
view-in-browser link never becomes a manage link, emails to an address nobody has
verified carry no link to the subscription, and a used confirmation link does not open
the manage page again."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.utils import timezone

from subscriptions.mail import build_notification
from subscriptions.models import Subscriber
from subscriptions.tokens import make_token

from .helpers import signup_data, text_of

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("clock_held"),  # counts requests up to a rate limit
]

MANAGE_LINK = re.compile(r"/manage/[^/\"'\s]+:[^/\"'\s]+/")


@pytest.fixture
def ada(make_subscriber) -> Subscriber:
    return make_subscriber("ada@example.org", keywords=["LoRA"])


def old_token(subscriber: Subscriber, purpose: str, days: int = 2000) -> str:
    with time_machine.travel(timezone.now() - dt.timedelta(days=days)):
        return make_token(subscriber, purpose)


@pytest.mark.parametrize("suffix", ["", "one-click/"])
def test_an_old_unsubscribe_link_still_works_but_its_page_holds_no_manage_link(client, ada, suffix):
    response = client.get(f"/unsubscribe/{old_token(ada, 'unsubscribe')}/{suffix}")

    assert response.status_code == 200
    assert "Stop all emails to ada@example.org?" in text_of(response)
    assert not MANAGE_LINK.search(response.content.decode())


def test_the_page_after_unsubscribing_holds_no_manage_link(client, ada):
    token = old_token(ada, "unsubscribe")
    response = client.post(f"/unsubscribe/{token}/", follow=True)

    assert "You're unsubscribed" in text_of(response)
    assert not MANAGE_LINK.search(response.content.decode())


def test_the_unsubscribe_page_mails_the_manage_link_to_the_subscribers_own_address(client, ada, mailbox):
    token = old_token(ada, "unsubscribe")
    page = client.get(f"/unsubscribe/{token}/").content.decode()
    offer = re.search(r'href="(/unsubscribe/[^"]+/manage-link/)"', page).group(1)

    # Opening it sends nothing (mail scanners follow links); the button does.
    assert "Email me my manage link" in text_of(client.get(offer))
    assert mailbox.all() == []
    response = client.post(offer, follow=True)

    assert "on its way" in text_of(response)
    assert not MANAGE_LINK.search(response.content.decode())
    mail = mailbox.only("ada@example.org")
    assert client.get(mail.path_of("/manage/")).status_code == 200


def test_the_manage_link_offer_is_rate_limited_like_every_form_that_sends_mail(client, ada, settings, mailbox):
    settings.SIGNUP_RATE_PER_ADDRESS = "2/h"
    offer = f"/unsubscribe/{make_token(ada, 'unsubscribe')}/manage-link/"
    assert [client.post(offer).status_code for _ in range(3)] == [302, 302, 429]
    assert len(mailbox.all()) == 2


def test_the_manage_link_offer_needs_a_valid_unsubscribe_link(client, ada, mailbox):
    assert client.post(f"/unsubscribe/{make_token(ada, 'manage')}/manage-link/").status_code == 400
    assert mailbox.all() == []


def test_the_view_in_browser_page_holds_no_manage_or_unsubscribe_link(client, ada):
    from digest.models import Digest

    digest = Digest.objects.create(subscriber=ada, period=dt.date(2026, 11, 27), status=Digest.Status.SENT)
    from digest.digest_email import view_token

    with time_machine.travel(timezone.now() - dt.timedelta(days=2000)):
        token = view_token(digest)
    response = client.get(f"/digests/{token}/")

    assert response.status_code == 200
    page = response.content.decode()
    assert not MANAGE_LINK.search(page)
    assert "/unsubscribe/" not in page
    assert "/manage/" in page  # the "email me my link" page


@pytest.mark.parametrize("kind", ["confirm", "email_change"])
def test_emails_to_an_unverified_address_carry_no_link_to_the_subscription(make_subscriber, kind):
    status = Subscriber.Status.PENDING if kind == "confirm" else Subscriber.Status.ACTIVE
    ada = make_subscriber("ada@example.org", status=status, pending_email="ada.typo@example.org")

    message = build_notification(kind, ada)

    for part in (message.body, message.alternatives[0][0]):
        assert "/manage/" not in part
        assert "/unsubscribe/" not in part
        assert "ignore" in part.lower()
    assert message.message()["List-Unsubscribe"] is None


def test_the_signup_confirmation_email_holds_only_the_confirm_link(client, mailbox):
    client.post("/subscribe/", signup_data())
    links = mailbox.only().links()
    site_links = [link for link in links if "/confirm/" in link or "/manage/" in link or "/unsubscribe/" in link]
    assert len(site_links) >= 1
    assert all("/confirm/" in link for link in site_links)


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_confirmation_link_used_again_says_already_confirmed_and_offers_the_lost_link_email(client, mailbox, method):
    client.post("/subscribe/", signup_data())
    confirm_path = mailbox.only().path_of("/confirm/")
    client.post(confirm_path)
    assert Subscriber.objects.get().status == Subscriber.Status.ACTIVE

    response = getattr(client, method)(confirm_path)

    assert response.status_code == 200
    page = text_of(response)
    assert "already confirmed" in page
    assert "Email me a link" in page
    assert not MANAGE_LINK.search(response.content.decode())
