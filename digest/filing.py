"""Which curated topics a paper belongs to, for the web pages and the topic feeds.

The digests match each reader's interest afresh; the pages need a stored answer, so
that a listing day's topic chips, a paper's topics and a topic's feed are plain queries
rather than a matcher run per request. A paper is filed under every active topic the
matcher finds it relevant to, through the same index and threshold the digests use.
Imports file the papers they add or change; `file_papers` refiles the catalog after
topics are edited."""

from __future__ import annotations

from collections.abc import Iterable

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
        through.objects.bulk_create(
            [through(paper_id=paper_id, topic_id=topic_id) for paper_id, topic_id in pairs], batch_size=1000
        )
    from .page_cache import catalog_changed

    catalog_changed()
    return len(pairs)
