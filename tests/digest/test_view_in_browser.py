"""The "view in browser" page of a sent digest, at its signed link."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import time_machine
from django.core import signing
from django.utils import timezone

from digest import digests
from digest.digest_email import view_digest_url, view_token
from digest.models import Digest
from subscriptions.tokens import make_token

from .sending_helpers import NOON_UTC, outbox_messages, sample_catalog, subscriber

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent_digest(outbox) -> Iterator[Digest]:
    # Signed links carry the second they were made: with the clock standing still, the
    # link in the email and the one a test makes come out the same.
    with time_machine.travel(timezone.now(), tick=False):
        catalog = sample_catalog()
        subscriber("quant@example.org", topics=[catalog.quantization])
        [digest_id] = digests.plan_digests(NOON_UTC).pending_ids
        digests.send_digest(digest_id)
        yield Digest.objects.select_related("subscriber").get(pk=digest_id)


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def test_the_link_in_the_email_shows_the_digest_in_the_browser(client, sent_digest, outbox):
    [message] = outbox_messages(outbox)
    html = message.get_body(("html",)).get_content()
    link = re.search(r'<a href="([^"]+)"[^>]*>View in browser</a>', html).group(1)
    assert link == view_digest_url(sent_digest)

    response = client.get(path_of(link))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Low-bit quantization of large language model weights" in page
    assert "<title>Low-bit quantization of large language model… · Quantization</title>" in page
    assert "View in browser" not in page  # already there
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert response["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize(
    "make_bad_token",
    [
        lambda digest: "not-a-token",
        lambda digest: view_token(digest)[:-3] + "abc",
        lambda digest: signing.dumps([digest.pk + 1000, "0" * 16], salt="view_digest"),
        lambda digest: signing.dumps("<script>", salt="view_digest"),
        lambda digest: make_token(digest.subscriber, "manage"),
    ],
    ids=["garbage", "tampered", "unknown digest", "odd payload", "a manage token"],
)
def test_a_bad_link_gets_a_friendly_not_found_page(client, sent_digest, make_bad_token):
    response = client.get(f"/digests/{make_bad_token(sent_digest)}/")

    assert response.status_code == 404
    page = response.content.decode()
    assert "We can't find that digest" in page
    assert "Low-bit quantization" not in page


def test_renewing_the_subscribers_links_revokes_the_old_view_link(client, sent_digest):
    old = path_of(view_digest_url(sent_digest))
    sent_digest.subscriber.rotate_token_secret()
    sent_digest.subscriber.save()

    assert client.get(old).status_code == 404
    assert client.get(path_of(view_digest_url(sent_digest))).status_code == 200


def test_the_page_does_not_accept_posts(client, sent_digest):
    assert client.post(path_of(view_digest_url(sent_digest))).status_code == 405


def test_the_admin_lists_sent_digests_with_their_papers_and_a_view_link(admin_client, sent_digest):
    listing = admin_client.get("/admin/digest/digest/").content.decode()
    assert "quant@example.org" in listing and "view in browser" in listing
    assert f'href="{path_of(view_digest_url(sent_digest))}"' in listing

    detail = admin_client.get(f"/admin/digest/digest/{sent_digest.pk}/change/").content.decode()
    assert "Low-bit quantization of large language model weights" in detail
    assert "topic Quantization" in detail  # the why-line stored with the paper
    assert admin_client.get("/admin/digest/digest/?status__exact=sent").status_code == 200
