"""The "view in browser" page of a sent digest, at its signed link."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import time_machine
from django.core import signing
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from digest import digests
from digest.digest_email import read_view_token, view_digest_url, view_token
from digest.models import Digest, Paper
from subscriptions.tokens import make_token

from .sending_helpers import NOON_UTC, outbox_messages, paper, sample_catalog, subscriber

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


def test_an_old_digests_page_offers_no_feedback_links(client, sent_digest, settings):
    # The view link is the reader's archive and does not expire; "more / less like
    # this" links made from it would outlive the 180 days their own links last.
    path = path_of(view_digest_url(sent_digest))
    assert "More like this" in client.get(path).content.decode()
    later = timezone.now() + timezone.timedelta(days=settings.FEEDBACK_LINK_MAX_AGE_DAYS + 1)
    with time_machine.travel(later, tick=False):
        page = client.get(path).content.decode()
    assert "Low-bit quantization of large language model weights" in page
    assert "More like this" not in page and "/feedback/" not in page


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


def _capped_digest(outbox, extra: int) -> Digest:
    with time_machine.travel(timezone.now(), tick=False):
        catalog = sample_catalog()
        for n in range(extra):
            paper(f"Quantized attention, variant {n}", "We quantize attention to low-bit integers.", upvotes=n)
        subscriber("quant@example.org", topics=[catalog.quantization], max_papers=2)
        [digest_id] = digests.plan_digests(NOON_UTC).pending_ids
        digests.send_digest(digest_id)
        return Digest.objects.select_related("subscriber").get(pk=digest_id)


def test_the_web_page_lists_every_match_of_the_day_with_the_sent_ones_marked(client, outbox):
    digest = _capped_digest(outbox, extra=5)
    sent = list(digest.items.order_by("rank").values_list("paper__title", flat=True))
    assert len(sent) == 2 and digest.match_count == 6

    # The email's "Top 2 of 6" leads to them.
    [message] = outbox_messages(outbox)
    html = message.get_body(("html",)).get_content()
    link = re.search(r'<a href="([^"]+/digests/[^"]+)#all-matches"[^>]*>See all 6 on the web</a>', html).group(1)
    assert f"All 6 matches, in your browser: {link}" in message.get_body(("plain",)).get_content()

    page = client.get(path_of(link)).content.decode()
    section = page[page.index('id="all-matches"'):]
    assert "All 6 matches" in section
    listed = re.findall(
        r"<li[^>]*><a [^>]*>([^<]+)</a>( <span class=\"tag\"[^>]*>[^<]+</span>)?( <span[^>]*>in your email</span>)?",
        section,
    )
    assert [title for title, _, _ in listed][:2] == sent
    assert [bool(mark) for _, _, mark in listed] == [True, True, False, False, False, False]
    # Every paper carries the tag that brought it, as in the email's at-a-glance list:
    # those past the cut too (a reader should not have to open each to see why).
    assert all(tag for _, tag, mark in listed if mark)
    assert [re.sub(r"<[^>]+>", "", tag).strip() for _, tag, mark in listed if not mark] == ["Quantization"] * 4
    assert len({title for title, _, _ in listed}) == 6
    # A paper past the cut can be voted on here as one in the email can, for this reader.
    unsent = Paper.objects.get(pk=digest.more_paper_ids[0])
    more_link = re.search(rf'href="([^"]+/{unsent.pk}/\?v=more)"[^>]*>More like this</a>', section).group(1)
    voted = client.get(path_of(more_link))
    assert voted.status_code == 200 and unsent.title in voted.content.decode()


def test_a_digest_made_before_tags_were_kept_lists_its_matches_untagged(client, outbox):
    digest = _capped_digest(outbox, extra=3)
    Digest.objects.filter(pk=digest.pk).update(more_paper_tags=[])
    unsent = Paper.objects.get(pk=digest.more_paper_ids[0])

    page = client.get(path_of(view_digest_url(digest))).content.decode()
    section = page[page.index('id="all-matches"'):]

    row = re.search(rf"<li[^>]*><a [^>]*>{re.escape(unsent.title)}</a>(.*?)</li>", section, re.S).group(1)
    assert 'class="tag"' not in row and "More like this" in row


def test_a_paper_hidden_after_sending_leaves_the_list_of_all_matches(client, outbox):
    digest = _capped_digest(outbox, extra=3)
    unsent = Paper.objects.get(pk=digest.more_paper_ids[0])
    unsent.is_hidden = True
    unsent.save()

    page = client.get(path_of(view_digest_url(digest))).content.decode()

    assert unsent.title not in page
    assert "All 3 matches" in page


def test_the_list_of_all_matches_costs_the_same_queries_however_long(client, outbox):
    with time_machine.travel(timezone.now(), tick=False):
        catalog = sample_catalog()
        # More of them on one day and "quantize" would no longer tell papers apart.
        for n in range(5):
            paper(f"Quantized attention, variant {n}", "We quantize attention to low-bit integers.", upvotes=n)
        subscriber("few@example.org", topics=[catalog.quantization], max_papers=5)
        subscriber("many@example.org", topics=[catalog.quantization], max_papers=1)
        for digest_id in digests.plan_digests(NOON_UTC).pending_ids:
            digests.send_digest(digest_id)
    few, many = (Digest.objects.get(subscriber__email=f"{who}@example.org") for who in ("few", "many"))
    assert (len(few.more_paper_ids), len(many.more_paper_ids)) == (1, 5)

    queries = []
    for digest in (few, many):
        with CaptureQueriesContext(connection) as captured:
            page = client.get(path_of(view_digest_url(digest))).content.decode()
        assert "All 6 matches" in page
        queries.append(len(captured.captured_queries))
    assert queries[0] == queries[1]


def test_papers_that_mention_a_keyword_only_in_passing_are_listed_below_the_matches(client, outbox):
    with time_machine.travel(timezone.now(), tick=False):
        catalog = sample_catalog()
        passing = paper(
            "Legged robots that climb stairs",
            "We train a quadruped to climb stairs in simulation and transfer the policy to hardware. " * 6
            + "Unlike quantization, which saves memory, our controller keeps full precision. "
            + "The robot climbs stairs of many heights and recovers from slips. " * 6,
        )
        subscriber("words@example.org", keywords=["quantization"])
        [digest_id] = digests.plan_digests(NOON_UTC).pending_ids
        digests.send_digest(digest_id)
    digest = Digest.objects.select_related("subscriber").get(pk=digest_id)
    assert list(digest.items.values_list("paper_id", flat=True)) == [catalog.quant_paper.pk]
    assert digest.in_passing == [[passing.pk, "quantization"]]

    # Not in the email, which is for matches; the email says where it is.
    [message] = outbox_messages(outbox)
    html, text = message.get_body(("html",)).get_content(), message.get_body(("plain",)).get_content()
    assert passing.title not in html and passing.title not in text
    link = re.search(r'<a href="([^"]+)#in-passing"[^>]*>papers that mention your keywords only in passing</a>', html)
    assert link is not None
    link = link.group(1)
    # The link's token names this digest (it carries the second it was signed in, so it
    # is not compared as text with one signed now).
    assert read_view_token(link.rstrip("/").rsplit("/", 1)[-1]).pk == digest.pk
    # Each link on a line of its own: a URL run on into the next line's words is a broken
    # link in a text mail client.
    lines = text.splitlines()
    assert f"View in your browser: {link}" in lines
    assert f"Papers that mention your keywords only in passing: {link}#in-passing" in lines

    page = client.get(path_of(link)).content.decode()
    section = page[page.index('id="in-passing"'):]
    assert "Mentioned in passing" in section
    assert re.search(rf"<a [^>]*>{passing.title}</a> <span[^>]*>“quantization”</span>", section)
    assert page.index(catalog.quant_paper.title) < page.index('id="in-passing"')

    # The keyword is the reader's own text: shown escaped.
    Digest.objects.filter(pk=digest.pk).update(in_passing=[[passing.pk, "<img src=x onerror=alert(1)>"]])
    page = client.get(path_of(view_digest_url(digest))).content.decode()
    assert "“&lt;img src=x onerror=alert(1)&gt;”" in page and "<img src=x" not in page

    # A paper hidden since is left out, as among the matches.
    Paper.objects.filter(pk=passing.pk).update(is_hidden=True)
    assert 'id="in-passing"' not in client.get(path_of(view_digest_url(digest))).content.decode()


def test_a_digest_with_a_broken_in_passing_list_still_goes_out_without_the_line(outbox):
    with time_machine.travel(timezone.now(), tick=False):
        sample_catalog()
        subscriber("words@example.org", keywords=["quantization"])
        [digest_id] = digests.plan_digests(NOON_UTC).pending_ids
        # Stored by hand, say: not a list of pairs.
        Digest.objects.filter(pk=digest_id).update(in_passing=5)
        digests.send_digest(digest_id)
    assert Digest.objects.get(pk=digest_id).status == Digest.Status.SENT
    [message] = outbox_messages(outbox)
    assert "in passing" not in message.get_body(("html",)).get_content()
    assert "in passing" not in message.get_body(("plain",)).get_content()
