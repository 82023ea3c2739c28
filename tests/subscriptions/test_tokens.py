"""Signed links: bound to one purpose and one subscriber, tamper-proof, revocable, and
expiring where they should (never for unsubscribing)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import pytest
import time_machine
from django.core import signing
from django.utils import timezone

from subscriptions.models import Subscriber
from subscriptions.tokens import BadToken, make_token, read_token, subscriber_links

from .helpers import text_of

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def ada(make_subscriber) -> Subscriber:
    return make_subscriber("ada@example.org")


@pytest.fixture
def grace(make_subscriber) -> Subscriber:
    return make_subscriber("grace@example.org")


def test_a_token_reads_back_as_its_subscriber(ada):
    assert read_token(make_token(ada, "manage"), "manage") == ada


@pytest.mark.parametrize(
    ("made_for", "used_as"),
    [("confirm", "unsubscribe"), ("confirm", "manage"), ("manage", "unsubscribe"), ("unsubscribe", "manage"), ("view_digest", "manage")],
)
def test_a_token_made_for_one_purpose_is_refused_for_another(ada, made_for, used_as):
    with pytest.raises(BadToken):
        read_token(make_token(ada, made_for), used_as)


def test_a_confirm_link_cannot_unsubscribe_anyone(client, ada):
    response = client.post(f"/unsubscribe/{make_token(ada, 'confirm')}/")
    assert response.status_code == 400
    ada.refresh_from_db()
    assert ada.status == Subscriber.Status.ACTIVE


def test_a_manage_link_cannot_be_used_as_a_one_click_unsubscribe(client, ada):
    response = client.post(
        f"/unsubscribe/{make_token(ada, 'manage')}/one-click/", {"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 400
    ada.refresh_from_db()
    assert ada.status == Subscriber.Status.ACTIVE


def test_a_tampered_token_is_refused(client, ada):
    token = make_token(ada, "unsubscribe")
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    assert client.post(f"/unsubscribe/{flipped}/").status_code == 400
    ada.refresh_from_db()
    assert ada.status == Subscriber.Status.ACTIVE


def test_one_subscribers_token_never_acts_on_another(client, ada, grace):
    client.post(f"/unsubscribe/{make_token(ada, 'unsubscribe')}/")
    ada.refresh_from_db()
    grace.refresh_from_db()
    assert ada.status == Subscriber.Status.UNSUBSCRIBED
    assert grace.status == Subscriber.Status.ACTIVE


def test_a_token_re_signed_with_another_subscribers_id_is_refused(ada, grace):
    # Even someone who could sign payloads cannot reuse Ada's fingerprint for Grace.
    _, fingerprint = signing.loads(make_token(ada, "manage"), salt="subscriptions.token.manage")
    forged = signing.dumps([grace.pk, fingerprint], salt="subscriptions.token.manage")
    with pytest.raises(BadToken):
        read_token(forged, "manage")


def test_rotating_the_token_secret_revokes_every_earlier_link(client, ada):
    links = subscriber_links(ada)
    ada.rotate_token_secret()
    ada.save()
    for url in links.values():
        assert client.get(urlsplit(url).path).status_code == 400, url
    assert client.post(f"/unsubscribe/{make_token(ada, 'unsubscribe')}/").status_code == 302


def test_a_manage_link_expires_after_sixty_days(client, ada):
    with time_machine.travel(timezone.now() - dt.timedelta(days=61)):
        old = make_token(ada, "manage")
    response = client.get(f"/manage/{old}/")
    assert response.status_code == 400
    assert "This manage link has expired or was replaced" in text_of(response)
    assert "Email me a link" in text_of(response)


def test_an_unsubscribe_link_never_expires(client, ada):
    with time_machine.travel(timezone.now() - dt.timedelta(days=3 * 365)):
        old = make_token(ada, "unsubscribe")
    assert client.get(f"/unsubscribe/{old}/").status_code == 200
    client.post(f"/unsubscribe/{old}/")
    ada.refresh_from_db()
    assert ada.status == Subscriber.Status.UNSUBSCRIBED


def test_links_of_a_deleted_subscriber_stop_working(client, ada):
    manage = make_token(ada, "manage")
    unsubscribe = make_token(ada, "unsubscribe")
    client.post(f"/manage/{manage}/delete/")
    assert client.get(f"/manage/{manage}/").status_code == 400
    assert client.post(f"/unsubscribe/{unsubscribe}/one-click/", {"List-Unsubscribe": "One-Click"}).status_code == 400
