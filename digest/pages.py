"""What the public pages show: a listing day (ranked, filtered by topic, a page at a
time), one paper, and the feeds' items. Each is a fixed number of queries, however many
papers a day lists, so the pages stay fast as the catalog grows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db.models import Count, Prefetch, QuerySet
from django.http import Http404
from django.utils import timezone

from .matching import latest_listing_day
from .models import Paper, Topic

# What a card and the paper page read; the embedding vectors stay in the database.
HEAVY_FIELDS = ("embedding", "ai_keywords", "title_key")


def visible_papers() -> QuerySet[Paper]:
    return Paper.objects.filter(is_hidden=False).defer(*HEAVY_FIELDS)


def _with_topics(papers: QuerySet[Paper]) -> QuerySet[Paper]:
    return papers.prefetch_related(Prefetch("topics", queryset=Topic.objects.defer("embedding").order_by("name")))


@dataclass(frozen=True)
class TopicChip:
    topic: Topic
    papers: int


@dataclass(frozen=True)
class ListingDay:
    day: dt.date
    page: Page
    total: int  # papers listed that day (all topics)
    chips: list[TopicChip]
    topic: Topic | None  # the chip that filters the page, if any
    previous_day: dt.date | None
    next_day: dt.date | None
    ranked_by_upvotes: bool

    @property
    def papers(self) -> list[Paper]:
        return list(self.page.object_list)


def parse_day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Http404(f"Not a date: {value!r}") from None


def latest_day() -> dt.date | None:
    return latest_listing_day(timezone.localdate())


def listing_day(day: dt.date, *, topic_slug: str | None = None, page: str | int | None = 1) -> ListingDay:
    """A day's papers, most upvoted first (in listing order when the source gives no
    upvotes), optionally only those filed under one topic; a day with no papers, an
    unknown topic or a page past the end is a 404."""
    papers = visible_papers().filter(listed_on=day)
    chips = [
        TopicChip(topic, topic.n)
        for topic in Topic.objects.defer("embedding")
        .filter(papers__listed_on=day, papers__is_hidden=False)
        .annotate(n=Count("papers"))
        .order_by("-n", "name")
    ]
    topic = None
    if topic_slug is not None:
        topic = next((chip.topic for chip in chips if chip.topic.slug == topic_slug), None)
        if topic is None:
            raise Http404(f"No papers about {topic_slug!r} on {day}")
        papers = papers.filter(topics=topic)
    paginator = Paginator(_with_topics(papers.order_by("-upvotes", "pk")), settings.PAPERS_PER_PAGE)
    try:
        shown = paginator.page(page or 1)
    except (PageNotAnInteger, EmptyPage):
        raise Http404(f"No page {page!r} of {day}") from None
    total = paginator.count if topic is None else _day_count(day)
    previous_day, next_day = _days_around(day)
    if total == 0:
        raise NoPapersThatDay(EmptyDay(day, previous_day, next_day))
    ranked_by_upvotes = visible_papers().filter(listed_on=day, upvotes__gt=0).exists()
    return ListingDay(
        day=day,
        page=shown,
        total=total,
        chips=chips,
        topic=topic,
        previous_day=previous_day,
        next_day=next_day,
        ranked_by_upvotes=ranked_by_upvotes,
    )


@dataclass(frozen=True)
class EmptyDay:
    """A day nothing was listed on (a weekend, a holiday): its neighbours with papers."""

    day: dt.date
    previous_day: dt.date | None
    next_day: dt.date | None


class NoPapersThatDay(Http404):
    def __init__(self, empty: EmptyDay) -> None:
        super().__init__(f"No papers listed on {empty.day}")
        self.empty = empty


def _days_around(day: dt.date) -> tuple[dt.date | None, dt.date | None]:
    # Each read from the (listed_on, is_hidden) index, not by scanning the catalog.
    days = Paper.objects.filter(is_hidden=False).values_list("listed_on", flat=True)
    previous_day = days.filter(listed_on__lt=day).order_by("-listed_on").first()
    next_day = days.filter(listed_on__gt=day).order_by("listed_on").first()
    return previous_day, next_day


def _day_count(day: dt.date) -> int:
    return visible_papers().filter(listed_on=day).count()


def paper(pk: int) -> Paper:
    try:
        return _with_topics(visible_papers()).get(pk=pk)
    except Paper.DoesNotExist:
        raise Http404(f"No paper {pk}") from None


def topic_papers(topic: Topic, limit: int = 50) -> list[Paper]:
    """A topic's newest papers, for its feed."""
    return list(visible_papers().filter(topics=topic).order_by("-listed_on", "-upvotes", "pk")[:limit])
