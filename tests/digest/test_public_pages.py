"""The public web home of the catalog: a page per paper and per listing day, the home
page showing the latest day, the Atom feeds, and the cache that serves them to every
anonymous visitor alike."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser

import feedparser
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from digest.digest_email import view_digest_url
from digest.filing import file_papers_under_topics
from digest.models import Digest, DigestItem, Paper, Topic
from subscriptions.models import Subscriber
from tests.conftest import queries_beyond_the_cache

from .sending_helpers import LISTING_DAY, paper, subscriber, topic

pytestmark = pytest.mark.django_db

DAY = LISTING_DAY
DAY_BEFORE = DAY - dt.timedelta(days=3)  # a weekend between listing days
DAY_AFTER = DAY + dt.timedelta(days=1)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs) -> None:
        self.skip += tag in ("script", "style", "title")

    def handle_endtag(self, tag) -> None:
        self.skip -= tag in ("script", "style", "title")

    def handle_data(self, data) -> None:
        if not self.skip:
            self.parts.append(data)


def text_of(response) -> str:
    parser = _Text()
    parser.feed(response.content.decode())
    return " ".join(" ".join(parser.parts).split())


@pytest.fixture
def llms():
    return topic("Large language models", "language model", "LLM")


@pytest.fixture
def robots():
    return topic("Robotics", "robot")


@pytest.fixture
def catalog(llms, robots, time_machine):
    time_machine.move_to(dt.datetime.combine(DAY_AFTER, dt.time(12), tzinfo=dt.UTC))
    # Only these two topics file papers: the default ones would find their own readings.
    Topic.objects.exclude(pk__in=[llms.pk, robots.pk]).update(is_active=False)
    scaling = paper(
        "Scaling $\\mathcal{O}(n^2)$ attention in large language models",
        'We study LLM scaling. Schr\\"odinger bridges and $\\mathbb{R}^d$ embeddings. ' + "More words. " * 40,
        arxiv_id="2410.00001",
        upvotes=40,
        authors=["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra"],
        code_url="https://github.com/example/scaling",
        project_url="https://scaling.example.org/",
    )
    folding = paper("A robot that folds laundry", "A robot policy for folding.", upvotes=90, authors=["Rosie Robot"])
    bare = paper("Untitled musings on optimisation", "No topic here at all.")
    hidden = paper("Hidden language model paper", "A language model paper hidden by a curator.", is_hidden=True)
    earlier = paper("An earlier language model paper", "LLM things.", listed_on=DAY_BEFORE, upvotes=5)
    later = paper("A later robot paper", "Robot things.", listed_on=DAY_AFTER, upvotes=1)
    file_papers_under_topics(Paper.objects.all())
    return {"scaling": scaling, "folding": folding, "bare": bare, "hidden": hidden, "earlier": earlier, "later": later}


# A paper's page.


def test_papers_are_filed_under_the_topics_the_matcher_finds_for_them(catalog, llms, robots):
    assert set(catalog["scaling"].topics.all()) == {llms}
    assert set(catalog["folding"].topics.all()) == {robots}
    assert not catalog["bare"].topics.exists()


def test_a_paper_page_shows_the_full_abstract_readable_with_authors_links_day_and_topics(client, catalog, llms):
    scaling = catalog["scaling"]
    response = client.get(f"/papers/{scaling.pk}/")
    page, html = text_of(response), response.content.decode()

    assert response.status_code == 200
    assert "Scaling 𝒪(n²) attention in large language models" in page
    assert "Schrödinger bridges and ℝᵈ embeddings." in page
    assert page.count("More words.") == 40  # the whole abstract, not a snippet
    assert "Ada Lovelace, Alan Turing, Grace Hopper, Edsger Dijkstra" in page
    for href in (
        "https://arxiv.org/abs/2410.00001",
        "https://arxiv.org/pdf/2410.00001",
        "https://github.com/example/scaling",
        "https://scaling.example.org/",
    ):
        assert f'href="{href}"' in html
    assert f'href="/days/{DAY.isoformat()}/"' in html and "Thursday 27 November 2025" in page
    assert f'href="/days/{DAY.isoformat()}/?topic={llms.slug}"' in html
    assert f'href="/topics/{llms.slug}.atom"' in html


def test_subscribe_to_papers_like_this_opens_the_signup_form_with_the_papers_topics(client, catalog, llms):
    html = client.get(f"/papers/{catalog['scaling'].pk}/").content.decode()
    assert f'href="/subscribe/?topic={llms.slug}">Subscribe to papers like this</a>' in html


def test_a_paper_with_no_links_offers_an_arxiv_search_and_still_offers_to_subscribe(client, catalog):
    Paper.objects.filter(pk=catalog["bare"].pk).update(abstract="Code at https://github.com/example/musings, <b>x</b>.")
    response = client.get(f"/papers/{catalog['bare'].pk}/")
    page, html = text_of(response), response.content.decode()
    assert "PDF" not in page and "arXiv abstract" not in page
    # Not a dead end: arXiv's search for its title, and the abstract's own link, linked.
    assert "Find it on arXiv" in page and "No link is known for this paper yet" in page
    assert 'href="https://arxiv.org/search/?query=Untitled+musings+on+optimisation&amp;searchtype=title"' in html
    assert '<a href="https://github.com/example/musings" rel="nofollow noopener">' in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html  # still escaped
    assert "not filed under any of our topics" in page
    assert "Subscribe to papers like this" in page


@pytest.mark.parametrize(
    "path",
    [
        "/papers/999999/",
        "/papers/abc/",
        "/days/2025-02-30/",
        "/days/yesterday/",
        "/topics/no-such-topic.atom",
        "/feed/not-a-token.atom",
        f"/days/{DAY.isoformat()}/?page=9",
        f"/days/{DAY.isoformat()}/?page=x",
        f"/days/{DAY.isoformat()}/?topic=no-such-topic",
    ],
)
def test_unknown_papers_days_topics_and_feeds_get_a_clear_not_found_page(client, catalog, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "Page not found" in text_of(response)


def test_a_hidden_paper_has_no_page_and_is_on_no_list(client, catalog):
    assert client.get(f"/papers/{catalog['hidden'].pk}/").status_code == 404
    assert "Hidden language model paper" not in text_of(client.get(f"/days/{DAY.isoformat()}/"))


# A listing day.


def test_a_day_lists_its_papers_most_upvoted_first_with_the_days_around_it(client, catalog):
    page = text_of(client.get(f"/days/{DAY.isoformat()}/"))
    assert "3 papers listed that day, most upvoted first." in page
    order = [page.index(catalog[name].title) for name in ("folding", "bare")]
    assert page.index("Scaling 𝒪(n²)") > order[0] and page.index("Scaling 𝒪(n²)") < order[1]
    assert "An earlier language model paper" not in page and "A later robot paper" not in page
    html = client.get(f"/days/{DAY.isoformat()}/").content.decode()
    assert f'rel="prev" href="/days/{DAY_BEFORE.isoformat()}/"' in html
    assert f'rel="next" href="/days/{DAY_AFTER.isoformat()}/"' in html


def test_the_first_and_last_days_offer_no_day_beyond_them(client, catalog):
    first = client.get(f"/days/{DAY_BEFORE.isoformat()}/").content.decode()
    last = client.get(f"/days/{DAY_AFTER.isoformat()}/").content.decode()
    assert 'rel="prev"' not in first and 'rel="next"' in first
    assert 'rel="next"' not in last and 'rel="prev"' in last


def test_topic_chips_filter_the_day_to_that_topic(client, catalog, llms, robots):
    html = client.get(f"/days/{DAY.isoformat()}/").content.decode()
    assert f'href="/days/{DAY.isoformat()}/?topic={robots.slug}">Robotics <span class="chip__count">1</span>' in html

    response = client.get(f"/days/{DAY.isoformat()}/?topic={robots.slug}")
    page = text_of(response)
    assert "1 of the 3 papers listed that day" in page
    assert "A robot that folds laundry" in page
    assert "Scaling 𝒪(n²)" not in page and "Untitled musings" not in page
    assert 'aria-current="page">Robotics' in response.content.decode()


def test_a_day_without_upvotes_claims_no_order(client, catalog):
    Paper.objects.filter(listed_on=DAY).update(upvotes=0)
    page = text_of(client.get(f"/days/{DAY.isoformat()}/"))
    assert "3 papers listed that day." in page and "most upvoted" not in page


def test_a_big_day_shows_thirty_papers_a_page_with_more(client, settings, time_machine):
    time_machine.move_to(dt.datetime.combine(DAY, dt.time(12), tzinfo=dt.UTC))
    Paper.objects.bulk_create(
        [
            Paper(title=f"Paper number {n:03d}", title_key=f"paper number {n:03d}", listed_on=DAY, upvotes=100 - n)
            for n in range(75)
        ]
    )
    home = text_of(client.get("/"))
    assert "75 papers listed, most upvoted first. The first 30 below." in home
    assert "Paper number 029" in home and "Paper number 030" not in home
    assert "More: papers 31–60 of 75" in home

    second = client.get(f"/days/{DAY.isoformat()}/?page=2")
    page = text_of(second)
    assert "Paper number 030" in page and "Paper number 059" in page and "Paper number 060" not in page
    assert 'start="31"' in second.content.decode()
    assert "More: papers 61–75" in page


# The home page.


def test_the_home_page_shows_the_latest_day_with_its_topic_chips(client, catalog, robots):
    response = client.get("/")
    page, html = text_of(response), response.content.decode()
    assert "A later robot paper" in page and "A robot that folds laundry" not in page
    assert f'href="/days/{DAY_AFTER.isoformat()}/?topic={robots.slug}"' in html
    assert f'rel="prev" href="/days/{DAY.isoformat()}/"' in html
    # It no longer claims an order it does not follow.
    assert "most discussed" not in page


def _home_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/").status_code == 200
    return len(queries)


def test_the_home_page_makes_the_same_number_of_queries_for_30_or_300_papers(client, settings, llms, time_machine):
    settings.PUBLIC_PAGE_CACHE_SECONDS = 0  # measure the rendering, not the cache
    time_machine.move_to(dt.datetime.combine(DAY, dt.time(12), tzinfo=dt.UTC))

    def add(count: int) -> None:
        start = Paper.objects.count()
        new = Paper.objects.bulk_create(
            [
                Paper(
                    title=f"Language model {start + n}",
                    title_key=f"language model {start + n}",
                    listed_on=DAY,
                    upvotes=n,
                    authors=["A", "B"],
                    code_url="https://example.org/c",
                )
                for n in range(count)
            ]
        )
        Paper.topics.through.objects.bulk_create([Paper.topics.through(paper_id=p.pk, topic_id=llms.pk) for p in new])

    add(30)
    few = _home_queries(client)
    add(270)
    many = _home_queries(client)
    assert many == few
    assert few <= 8


# The cache for anonymous visitors.


def test_every_anonymous_visitor_gets_the_same_cached_page_with_no_cookie_or_csrf_token(client, catalog):
    first = client.get("/")
    assert first.status_code == 200
    assert "public" in first["Cache-Control"]
    assert not first.cookies
    assert "Cookie" not in first.get("Vary", "")
    assert "csrfmiddlewaretoken" not in first.content.decode()

    # A visitor with a session and a CSRF cookie, after a flash message was stored for
    # them, still gets the same page: nothing of theirs is read into it or cached.
    other = client.__class__()
    other.cookies["sessionid"] = "someone-elses-session"
    other.cookies["csrftoken"] = "a" * 32
    second = other.get("/")
    assert second.content == first.content
    assert not second.cookies


def test_a_cached_page_is_replaced_as_soon_as_the_catalog_changes(client, catalog):
    before = client.get(f"/days/{DAY.isoformat()}/")
    assert "A robot that folds laundry" in text_of(before)
    folding = Paper.objects.get(pk=catalog["folding"].pk)
    folding.is_hidden = True
    folding.save()
    assert "A robot that folds laundry" not in text_of(client.get(f"/days/{DAY.isoformat()}/"))


def test_junk_query_parameters_share_the_cached_page(client, catalog):
    plain = client.get("/")
    with CaptureQueriesContext(connection) as queries:
        junk = client.get("/?utm_source=newsletter&x=1")
    assert junk.content == plain.content
    assert queries_beyond_the_cache(queries) == []


def test_junk_values_of_the_parameters_a_page_reads_are_not_cached(client, catalog, rf):
    # ?page=junk1, ?page=junk2 ... would each be one more cache entry, and enough of them
    # push the real pages out of the cache: such a page is served, not stored.
    from digest.page_cache import _key, catalog_version

    version = catalog_version()
    for junk in ("/?page=junk1", "/?page=0", "/?page=99999", "/?topic=x1", "/?topic=robotics&page=x"):
        assert _key(rf.get(junk), version) is None, junk
        assert client.get(junk).status_code == 200
    assert _key(rf.get("/?page=2&topic=robotics"), version) is not None
    client.get("/?topic=robotics")
    with CaptureQueriesContext(connection) as queries:
        client.get("/?topic=robotics")
    assert queries_beyond_the_cache(queries) == []  # a real topic's page is cached


def test_pages_with_a_secret_link_are_never_cached_for_others(client, catalog):
    reader = subscriber("ada@example.org", confirmed_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    response = client.get(f"/feed/{reader.feed_token}.atom")
    assert response.status_code == 200
    assert "private" in response["Cache-Control"] and "public" not in response["Cache-Control"]
    assert response["X-Robots-Tag"] == "noindex, nofollow"


# Feeds.


def test_a_topic_feed_is_valid_atom_of_its_papers_newest_first(client, catalog, llms):
    response = client.get(f"/topics/{llms.slug}.atom")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.title == "Large language models · Daily Papers Digest"
    titles = [entry.title for entry in feed.entries]
    assert titles == ["Scaling 𝒪(n²) attention in large language models", "An earlier language model paper"]
    assert feed.entries[0].link.endswith(f"/papers/{catalog['scaling'].pk}/")
    assert "Schrödinger" in feed.entries[0].summary
    assert "Hidden language model paper" not in response.content.decode()


def test_every_feed_has_its_own_id_an_author_and_answers_a_conditional_get(client, catalog, llms, robots):
    reader = subscriber("ada@example.org", confirmed_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    paths = [f"/topics/{llms.slug}.atom", f"/topics/{robots.slug}.atom", f"/feed/{reader.feed_token}.atom"]
    feeds = {path: feedparser.parse(client.get(path).content) for path in paths}
    # Atom wants a permanent id per feed (they all had the home page's) and an author.
    assert len({feed.feed.id for feed in feeds.values()}) == 3
    assert all(feed.feed.id.startswith("tag:") and reader.feed_token not in feed.feed.id for feed in feeds.values())
    assert all(feed.feed.author == "Daily Papers Digest" for feed in feeds.values())
    # Its page is the topic's papers on the latest listing day.
    assert feeds[paths[0]].feed.link.endswith(f"?topic={llms.slug}") and "/days/" in feeds[paths[0]].feed.link
    # A poll with the last answer's ETag (topic feeds) or date (the personal feed) gets 304.
    for path in paths[:2]:
        first = client.get(path)
        again = client.get(path, HTTP_IF_NONE_MATCH=first["ETag"])
        assert again.status_code == 304 and again.content == b"", path
    personal = client.get(paths[2])
    assert client.get(paths[2], HTTP_IF_MODIFIED_SINCE=personal["Last-Modified"]).status_code == 304
    # A paper filed under a topic since: the topic feed is not "unchanged" (its newest
    # paper's date would have said so).
    topic_first = client.get(paths[0])
    assert "Last-Modified" not in topic_first
    catalog["bare"].topics.add(llms)
    from digest.page_cache import catalog_changed

    catalog_changed()
    assert client.get(paths[0], HTTP_IF_NONE_MATCH=topic_first["ETag"]).status_code == 200


def test_a_topic_feeds_summaries_are_escaped_html(client, catalog, llms):
    Paper.objects.filter(pk=catalog["scaling"].pk).update(abstract="Gains hold (p < 0.01) for Si<->En and <5M models.")
    feed = feedparser.parse(client.get(f"/topics/{llms.slug}.atom").content)
    summary = next(e.summary for e in feed.entries if e.title.startswith("Scaling"))
    assert summary == "Gains hold (p &lt; 0.01) for Si&lt;-&gt;En and &lt;5M models."  # HTML, read as text


@pytest.fixture
def reader_with_digests(catalog, llms):
    reader = subscriber("ada.private@example.org", topics=[llms], confirmed_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    for period, papers, status in (
        (DAY_BEFORE, [catalog["earlier"]], Digest.Status.SENT),
        (DAY, [catalog["scaling"], catalog["bare"]], Digest.Status.SENT),
        (DAY_AFTER, [catalog["later"]], Digest.Status.PENDING),
    ):
        digest = Digest.objects.create(
            subscriber=reader,
            period=period,
            status=status,
            subject=f"{papers[0].title} · LLMs",
            sent_at=dt.datetime.combine(period, dt.time(7), tzinfo=dt.UTC) if status == Digest.Status.SENT else None,
        )
        for rank, item in enumerate(papers, 1):
            DigestItem.objects.create(
                digest=digest,
                paper=item,
                rank=rank,
                topic=llms,
                matched=["topic Large language models: 'language model' in title"],
            )
    return reader


def test_the_personal_feed_is_valid_atom_of_sent_digests_without_the_address(client, reader_with_digests, catalog):
    response = client.get(f"/feed/{reader_with_digests.feed_token}.atom")
    body = response.content.decode()
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert [entry.title for entry in feed.entries] == [
        "Scaling $\\mathcal{O}(n^2)$ attention in large language models · LLMs",
        "An earlier language model paper · LLMs",
    ]
    newest = feed.entries[0]
    assert newest.link == view_digest_url(Digest.objects.get(subscriber=reader_with_digests, period=DAY))
    # The digest's papers, best first: arXiv when known, else the paper's page here.
    assert newest.summary.index("https://arxiv.org/abs/2410.00001") < newest.summary.index(
        f"/papers/{catalog['bare'].pk}/"
    )
    assert "ada.private" not in body and "example.org/manage" not in body
    # Each paper says why, as the email does, not with the matcher's own notes.
    assert "— Large language models" in newest.summary and "in title" not in newest.summary


def test_the_feed_token_is_long_random_and_not_the_address(reader_with_digests):
    other = subscriber("grace@example.org")
    assert len(reader_with_digests.feed_token) >= 40
    assert reader_with_digests.feed_token != other.feed_token
    assert "ada" not in reader_with_digests.feed_token.lower()


def test_an_unconfirmed_subscription_has_no_feed(client, catalog):
    pending = subscriber("pending@example.org", status=Subscriber.Status.PENDING)
    assert client.get(f"/feed/{pending.feed_token}.atom").status_code == 404


def test_file_papers_files_the_papers_already_in_the_catalog(llms, robots):
    from django.core.management import call_command

    old = paper("A robot arm", "A robot that sorts parcels.")
    Paper.topics.through.objects.all().delete()
    call_command("file_papers", verbosity=0)
    assert list(old.topics.all()) == [robots]


def test_robots_txt_keeps_personal_pages_out_of_search_engines_and_favicon_ico_finds_the_icon(client):
    robots = client.get("/robots.txt")
    assert robots.status_code == 200 and robots["Content-Type"].startswith("text/plain")
    for private in ("/manage/", "/feed/", "/digests/", "/unsubscribe/", "/feedback/", "/admin/"):
        assert f"Disallow: {private}" in robots.content.decode()
    assert "Disallow: /days/" not in robots.content.decode() and "Disallow: /papers/" not in robots.content.decode()
    icon = client.get("/favicon.ico")
    assert icon.status_code == 302 and icon["Location"].endswith("/favicon.svg")  # not a hashed name, kept forever


def test_a_day_written_another_way_redirects_to_its_one_address(client, catalog):
    response = client.get(f"/days/{DAY:%Y%m%d}/?topic=robotics")
    assert response.status_code == 301
    assert response["Location"] == f"/days/{DAY.isoformat()}/?topic=robotics"


def test_a_days_papers_are_headed_one_level_below_the_page(client, catalog):
    page = client.get(f"/days/{DAY.isoformat()}/").content.decode()
    assert '<h2 class="paper__title"' in page and '<h3 class="paper__title"' not in page
    home = client.get("/").content.decode()
    assert '<h3 class="paper__title"' in home  # under the home page's own h2


def test_a_day_with_no_papers_says_so_and_points_to_the_nearest_days_with_papers(client, catalog):
    empty = DAY_AFTER + dt.timedelta(days=3)
    assert not Paper.objects.filter(listed_on=empty).exists()
    response = client.get(f"/days/{empty.isoformat()}/")
    assert response.status_code == 404  # nothing is at this address
    page = text_of(response)
    assert "No papers were listed on" in page and "Page not found" not in page
    assert f"/days/{DAY_AFTER.isoformat()}/" in response.content.decode()  # the nearest day with papers


def test_an_editors_pick_is_marked_on_the_listing_and_its_page(client, catalog):
    Paper.objects.filter(pk=catalog["scaling"].pk).update(is_featured=True)
    day = text_of(client.get(f"/days/{DAY.isoformat()}/"))
    assert day.count("Editor's pick") == 1
    assert "Editor's pick" in text_of(client.get(f"/papers/{catalog['scaling'].pk}/"))
    assert "Editor's pick" not in text_of(client.get(f"/papers/{catalog['bare'].pk}/"))
