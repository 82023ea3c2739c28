"""Which curated topics a paper belongs to, for the web pages and the topic feeds.

The digests match each reader's interest afresh; the pages need a stored answer, so
that a listing day's topic chips, a paper's topics and a topic's feed are plain queries
rather than a matcher run per request. A paper is filed under every active topic the
matcher finds it relevant to, through the same index and threshold the digests use.
Imports file the papers they add or change (`refresh_papers`); a curator's topic
change refiles the catalog in the background (`file_catalog`, also `file_papers`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import transaction

from .matching import Interest, PaperIndex, TopicTerms
from .models import Paper, Topic


def file_papers_under_topics(papers: Iterable[Paper], topics: Iterable[Topic] | None = None) -> int:
    """Replace the topics of `papers` with the active topics they match; returns how
    many (paper, topic) pairs were stored."""
    papers = [p for p in papers if not p.is_hidden]
    if not papers:
        return 0
    topics = list(Topic.objects.filter(is_active=True) if topics is None else topics)
    index = PaperIndex.build(papers)
    pairs = []
    for topic in topics:
        interest = Interest(topics=(TopicTerms.from_topic(topic),), include_featured=False)
        pairs += [(match.paper.pk, topic.pk) for match in index.match(interest)]
    through = Paper.topics.through
    with transaction.atomic():
        through.objects.filter(paper_id__in=[p.pk for p in papers]).delete()
        # ignore_conflicts: a background refile and a curator's save may file the same
        # paper at once; each delete misses the other's fresh rows, and the second
        # insert would break the (paper, topic) uniqueness and fail the save.
        through.objects.bulk_create(
            [through(paper_id=paper_id, topic_id=topic_id) for paper_id, topic_id in pairs],
            batch_size=1000,
            ignore_conflicts=True,
        )
    from .page_cache import catalog_changed

    catalog_changed()
    return len(pairs)


@dataclass(frozen=True)
class Filed:
    papers: int
    days: int
    memberships: int


def file_catalog(
    since: dt.date | None = None, *, progress: Callable[[int], object] | None = None, days: list | None = None
) -> Filed:
    """File every visible paper (listed on or after `since`) under the topics it matches,
    one listing day at a time: the matcher's index holds one day's papers, as a digest
    run does. `days` (the listing days to do, found when not given) lets a caller size
    a progress bar first."""
    papers = Paper.objects.filter(is_hidden=False).defer("embedding")
    if since:
        papers = papers.filter(listed_on__gte=since)
    if days is None:
        days = listing_days(since)
    filed = count = 0
    for day in days:
        batch = list(papers.filter(listed_on=day))
        filed += file_papers_under_topics(batch)
        count += len(batch)
        if progress:
            progress(1)
    return Filed(count, len(days), filed)


def listing_days(since: dt.date | None = None) -> list:
    """The listing days of the visible papers, oldest first (papers with no listing day
    last, as one more "day")."""
    papers = Paper.objects.filter(is_hidden=False)
    if since:
        papers = papers.filter(listed_on__gte=since)
    return sorted(set(papers.values_list("listed_on", flat=True)), key=lambda d: (d is None, d))


MEND_AT_A_TIME = 2000


def mend_unembedded() -> int:
    """Vectors and topics for papers left without a vector (an import cut off halfway,
    an admin import whose background task was lost), a bounded number at a time.
    Returns how many were embedded."""
    from . import semantic
    from .vectors import papers_missing_vectors

    if not semantic.semantic_matching_enabled():
        return 0
    ids = list(papers_missing_vectors().filter(is_hidden=False).values_list("id", flat=True)[:MEND_AT_A_TIME])
    return refresh_papers(ids)[0] if ids else 0


def refresh_papers(paper_ids: Iterable[int], *, progress: Callable[[int], object] | None = None) -> tuple[int, str]:
    """Bring these papers' vectors and topics up to date after an import or an edit:
    compute the missing vectors (and any edited topic's), then file them under their
    topics, a listing day at a time. Returns (papers embedded, why none were when the
    model is unavailable). `progress` is told of each chunk of papers embedded."""
    from .vectors import EmbedResult, embed_papers, embed_topics

    ids = sorted(set(paper_ids))
    embed_topics()
    missing = Paper.objects.filter(pk__in=ids, embedding__isnull=True).only("id", "title", "abstract")
    # Nothing to embed, nothing to say (not "model unavailable" over papers that have vectors).
    result = embed_papers(missing.iterator(chunk_size=500), progress=progress) if missing.exists() else EmbedResult()
    # After the vectors, so that a topic's meaning counts too.
    by_day: dict = {}
    for paper in Paper.objects.filter(pk__in=ids, is_hidden=False).defer("embedding"):
        by_day.setdefault(paper.listed_on, []).append(paper)
    for papers in by_day.values():
        file_papers_under_topics(papers)
    return result.embedded, result.skipped_reason
