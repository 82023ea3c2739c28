"""The personal feed's address on the manage page, and a new one that revokes the old."""

from __future__ import annotations

import pytest
from django.utils import timezone

from subscriptions.models import Subscriber
from subscriptions.tokens import make_token

from .helpers import text_of

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def ada(make_subscriber) -> Subscriber:
    return make_subscriber("ada@example.org", confirmed_at=timezone.now())


def manage_path(subscriber: Subscriber) -> str:
    return f"/manage/{make_token(subscriber, 'manage')}/"


def test_the_manage_page_shows_the_private_feed_address(client, ada, settings):
    html = client.get(manage_path(ada)).content.decode()
    feed_url = f"{settings.SITE_URL}/feed/{ada.feed_token}.atom"
    assert f'value="{feed_url}"' in html
    assert "Your digests as a feed" in text_of(html)


def test_a_new_feed_link_stops_the_old_one_at_once(client, ada):
    old = f"/feed/{ada.feed_token}.atom"
    assert client.get(old).status_code == 200

    response = client.post(manage_path(ada) + "feed/new/", follow=True)
    ada.refresh_from_db()
    new = f"/feed/{ada.feed_token}.atom"

    assert new != old
    assert "Your feed has a new address." in text_of(response)
    assert new in response.content.decode()
    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 200


def test_a_new_feed_link_needs_a_post_with_a_csrf_token(ada):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    old_token = ada.feed_token
    assert strict.get(manage_path(ada) + "feed/new/").status_code == 405
    assert strict.post(manage_path(ada) + "feed/new/").status_code == 403
    ada.refresh_from_db()
    assert ada.feed_token == old_token


def test_a_bad_manage_link_cannot_change_the_feed(client, ada):
    old_token = ada.feed_token
    response = client.post("/manage/not-a-token/feed/new/")
    assert response.status_code == 400
    ada.refresh_from_db()
    assert ada.feed_token == old_token


def test_a_pending_subscription_is_told_the_feed_comes_with_confirmation(client, make_subscriber):
    pending = make_subscriber("pending@example.org", status=Subscriber.Status.PENDING)
    page = text_of(client.get(manage_path(pending)))
    assert "Once you confirm your address" in page
    assert pending.feed_token not in page
