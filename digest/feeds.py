"""Atom feeds: a public one per curated topic, and a personal one of a subscriber's
digests behind a long random token (no address in it, revoked by a new one).

Built on Django's syndication framework, which writes valid Atom 1.0. Every link is
absolute on SITE_URL, the address the emails use, whatever host the request named."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.feedgenerator import Atom1Feed
from django.utils.html import escape, format_html, format_html_join
from django.views.decorators.http import conditional_page

from subscriptions.models import Subscriber

from . import pages
from .digest_email import Entry, entry_tag, short_authors, title_link, view_digest_url, why_parts, why_text
from .matching import latest_listing_day
from .models import Digest, DigestItem, Paper, Topic
from .page_cache import public_page
from .tex import readable

DIGESTS_IN_FEED = 30


def _midnight(day: dt.date | None) -> dt.datetime | None:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) if day else None


def _paper_url(paper: Paper) -> str:
    return settings.SITE_URL + paper.get_absolute_url()


def _tag_uri(what: str) -> str:
    """A permanent id (RFC 4151): every feed its own, not the home page's address."""
    host = settings.SITE_URL.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    return f"tag:{host},2024:{what}"


FEED_AUTHOR = "Daily Papers Digest"  # Atom wants one author at least, and papers may name none


class TopicFeed(Feed):
    """A topic's newest papers, each linking to its page on this site."""

    feed_type = Atom1Feed
    author_name = FEED_AUTHOR

    def feed_guid(self, topic: Topic) -> str:
        return _tag_uri(f"topic:{topic.slug}")

    def get_object(self, request: HttpRequest, slug: str) -> Topic:
        topic = Topic.objects.defer("embedding").filter(slug=slug).first()
        if topic is None:
            raise Http404(f"No topic {slug!r}")
        return topic

    def title(self, topic: Topic) -> str:
        return f"{topic.name} · Daily Papers Digest"

    def subtitle(self, topic: Topic) -> str:
        return topic.description or f"New research papers about {topic.name}."

    def link(self, topic: Topic) -> str:
        # The topic's papers on the latest listing day, as its chip there shows them.
        latest = latest_listing_day(timezone.localdate())
        if latest is None:
            return settings.SITE_URL + reverse("subscriptions:home")
        return settings.SITE_URL + reverse("digest:day", args=[latest.isoformat()]) + f"?topic={topic.slug}"

    def feed_url(self, topic: Topic) -> str:
        return settings.SITE_URL + reverse("digest:topic_feed", args=[topic.slug])

    def items(self, topic: Topic) -> list[Paper]:
        return pages.topic_papers(topic)

    def item_title(self, paper: Paper) -> str:
        return readable(paper.title)

    def item_description(self, paper: Paper) -> str:
        # Atom says type="html": plain text must be escaped as HTML first, or "p < 0.01"
        # and "Si<->En" reach the reader as broken markup.
        return escape(readable(paper.ai_summary or paper.abstract))

    def item_link(self, paper: Paper) -> str:
        return _paper_url(paper)

    def item_author_name(self, paper: Paper) -> str | None:
        return short_authors(paper.authors) or None

    def item_pubdate(self, paper: Paper) -> dt.datetime | None:
        return _midnight(paper.listed_on)

    def item_updateddate(self, paper: Paper) -> dt.datetime:
        return paper.updated_at


class DigestFeed(Feed):
    """A subscriber's sent digests, newest first: the papers of each, best first, with
    why they were chosen. The feed names no address."""

    feed_type = Atom1Feed
    title = "Your Daily Papers Digest"
    subtitle = "The digests sent to you, as a feed."
    author_name = FEED_AUTHOR

    def feed_guid(self, subscriber: Subscriber) -> str:
        # Stable when the reader renews the feed's address (the token), and names nobody.
        return _tag_uri(f"feed:{subscriber.pk}")

    def get_object(self, request: HttpRequest, token: str) -> Subscriber:
        subscriber = Subscriber.objects.filter(feed_token=token, confirmed_at__isnull=False).first() if token else None
        if subscriber is None:
            raise Http404("No feed at this address")
        return subscriber

    def link(self, subscriber: Subscriber) -> str:
        return settings.SITE_URL + reverse("subscriptions:home")

    def feed_url(self, subscriber: Subscriber) -> str:
        return settings.SITE_URL + reverse("digest:personal_feed", args=[subscriber.feed_token])

    def items(self, subscriber: Subscriber) -> list[Digest]:
        # The topic too: each paper's tag names it (one query per paper otherwise).
        papers = DigestItem.objects.select_related("paper", "topic").defer(
            *(f"paper__{f}" for f in pages.HEAVY_FIELDS), "topic__embedding", "topic__embedded_text"
        )
        digests = (
            Digest.objects.filter(subscriber=subscriber, status=Digest.Status.SENT)
            .select_related("subscriber")
            .prefetch_related(Prefetch("items", queryset=papers.order_by("rank")))
            .order_by("-period", "-sent_at")[:DIGESTS_IN_FEED]
        )
        return list(digests)

    def item_title(self, digest: Digest) -> str:
        return digest.subject or f"Your digest of {digest.period:%d %B %Y}"

    def item_description(self, digest: Digest) -> str:
        entries = [Entry.from_item(item, digest.subscriber) for item in digest.items.all() if not item.paper.is_hidden]
        return format_html(
            "<ol>{}</ol>",
            format_html_join(
                "",
                '<li><a href="{}">{}</a>{}</li>',
                ((title_link(entry.paper)[0], readable(entry.paper.title), _why_in_feed(entry)) for entry in entries),
            ),
        )

    def item_link(self, digest: Digest) -> str:
        return view_digest_url(digest)

    def item_guid(self, digest: Digest) -> str:
        # Stable and free of any token: the view link changes when the reader's links are revoked.
        return _tag_uri(f"digest:{digest.pk}")

    item_guid_is_permalink = False

    def item_pubdate(self, digest: Digest) -> dt.datetime | None:
        return digest.sent_at

    def item_updateddate(self, digest: Digest) -> dt.datetime | None:
        return digest.sent_at


def _why_in_feed(entry: Entry) -> str:
    """ " — privacy and security (Matched on security)": the email's tag and why-line,
    not the matcher's own notes."""
    tag = entry_tag(entry)
    parts = why_parts(entry, tag)
    return f" — {tag}" + (f" ({why_text(parts)})" if parts else "")


_topic_feed = TopicFeed()
_digest_feed = DigestFeed()


# conditional_page: a feed reader that sends back Last-Modified gets 304, not the whole
# feed again at every poll.
@conditional_page
@public_page
def topic_feed(request: HttpRequest, slug: str) -> HttpResponse:
    response = _topic_feed(request, slug=slug)
    # Its newest paper's date says nothing of a paper filed under the topic since (a
    # curator's new phrase): a poll is answered by the body's ETag alone.
    del response["Last-Modified"]
    return response


@conditional_page
def personal_feed(request: HttpRequest, token: str) -> HttpResponse:
    response = _digest_feed(request, token=token)
    # The address is a bearer secret: never cached by others, indexed or passed on.
    response["Cache-Control"] = "private, no-cache"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response
