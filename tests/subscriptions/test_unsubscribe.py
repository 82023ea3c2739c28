"""Unsubscribing: the footer link's page with one button, and the RFC 8058 one-click
endpoint that mail clients POST to."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from subscriptions.models import Counter, Subscriber
from subscriptions.tokens import make_token, subscriber_links

from .helpers import text_of

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def ada(make_subscriber) -> Subscriber:
    return make_subscriber("ada@example.org")


def status_of(subscriber: Subscriber) -> str:
    subscriber.refresh_from_db()
    return subscriber.status


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def post_one_click(url: str, body: bytes = b"List-Unsubscribe=One-Click"):
    """What a mail provider does: a bare POST, no cookies, no redirects followed."""
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    opener = urllib.request.build_opener(NoRedirects)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def test_opening_the_unsubscribe_link_shows_one_button_and_changes_nothing(client, ada):
    response = client.get(f"/unsubscribe/{make_token(ada, 'unsubscribe')}/")
    assert response.status_code == 200
    page = text_of(response)
    assert "Stop all emails to ada@example.org?" in page
    assert response.content.decode().count('type="submit"') == 1
    assert status_of(ada) == Subscriber.Status.ACTIVE


def test_the_button_unsubscribes_and_the_page_then_says_so(ada):
    client = Client(enforce_csrf_checks=True)
    path = f"/unsubscribe/{make_token(ada, 'unsubscribe')}/"
    page = client.get(path)
    csrf = page.cookies["csrftoken"].value

    response = client.post(path, {"csrfmiddlewaretoken": csrf}, follow=True)

    assert status_of(ada) == Subscriber.Status.UNSUBSCRIBED
    assert "You're unsubscribed" in text_of(response)
    assert "ada@example.org gets no more digests from us." in text_of(response)
    assert ada not in Subscriber.objects.receiving_digests(ada.updated_at.date())


def test_the_button_form_is_protected_against_cross_site_posts(ada):
    client = Client(enforce_csrf_checks=True)
    response = client.post(f"/unsubscribe/{make_token(ada, 'unsubscribe')}/")
    assert response.status_code == 403
    assert status_of(ada) == Subscriber.Status.ACTIVE


def test_one_click_unsubscribes_a_bare_post_with_200_and_no_redirect_or_cookie(live_server, ada, settings):
    settings.SITE_URL = live_server.url
    url = subscriber_links(ada)["one_click"]

    status, headers, body = post_one_click(url)

    assert status == 200
    assert "Location" not in headers
    assert "Set-Cookie" not in headers
    assert "You are unsubscribed" in body
    assert status_of(ada) == Subscriber.Status.UNSUBSCRIBED


def test_one_click_twice_is_fine_and_counts_once(live_server, ada, settings):
    settings.SITE_URL = live_server.url
    url = subscriber_links(ada)["one_click"]
    assert post_one_click(url)[0] == 200
    assert post_one_click(url)[0] == 200
    assert status_of(ada) == Subscriber.Status.UNSUBSCRIBED
    assert Counter.objects.get(name="unsubscribes").value == 1


def test_one_click_without_the_rfc_8058_body_changes_nothing(live_server, ada, settings):
    settings.SITE_URL = live_server.url
    status, _, body = post_one_click(subscriber_links(ada)["one_click"], body=b"")
    assert status == 400
    assert "List-Unsubscribe=One-Click" in body
    assert status_of(ada) == Subscriber.Status.ACTIVE


def test_one_click_with_a_forged_token_is_refused(live_server, ada):
    status, _, _ = post_one_click(f"{live_server.url}/unsubscribe/not-a-token/one-click/")
    assert status == 400
    assert status_of(ada) == Subscriber.Status.ACTIVE


def test_opening_the_one_click_url_in_a_browser_shows_the_button_page(client, ada):
    response = client.get(f"/unsubscribe/{make_token(ada, 'unsubscribe')}/one-click/")
    assert response.status_code == 200
    assert "Stop all emails to ada@example.org?" in text_of(response)
    assert status_of(ada) == Subscriber.Status.ACTIVE


def test_the_footer_links_match_the_registered_urls(ada, settings):
    # Frozen clock: both tokens must be signed in the same second to compare equal.
    with time_machine.travel(timezone.now(), tick=False):
        links = subscriber_links(ada)
        token = make_token(ada, "unsubscribe")
    assert links["unsubscribe"] == f"{settings.SITE_URL}/unsubscribe/{token}/"
    assert links["one_click"] == f"{settings.SITE_URL}/unsubscribe/{token}/one-click/"
    assert links["manage"].startswith(f"{settings.SITE_URL}/manage/")
