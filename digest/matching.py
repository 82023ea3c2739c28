"""Which papers a subscriber gets, in what order, and why.

INTERFACE (fixed; the sending pipeline and the signup preview call it):

- `Interest`: what one reader wants (topics, keywords, authors, exclusions, picks).
- `PaperIndex.build(papers)`: built ONCE per run over every candidate paper of the
  widest window; scoring a subscriber is then in-memory work, no queries.
- `index.match(interest, listed_from=..., listed_to=..., exclude_ids=..., limit=...)`:
  ranked `Match`es, best first, each with its why-lines.

The implementation below is a placeholder that the matcher work replaces.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Container, Iterable
from dataclasses import dataclass, field

from .models import Paper, Topic


@dataclass(frozen=True)
class TopicTerms:
    slug: str
    name: str
    phrases: tuple[str, ...]

    @classmethod
    def from_topic(cls, topic: Topic) -> "TopicTerms":
        return cls(slug=topic.slug, name=topic.name, phrases=tuple(topic.keyword_list))


@dataclass(frozen=True)
class Interest:
    topics: tuple[TopicTerms, ...] = ()
    keywords: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    include_featured: bool = True

    @classmethod
    def from_subscriber(cls, subscriber) -> "Interest":
        """Uses `subscriber.topics.all()`: prefetch topics when doing this in bulk."""
        return cls(
            topics=tuple(TopicTerms.from_topic(t) for t in subscriber.topics.all()),
            keywords=tuple(subscriber.keywords or ()),
            authors=tuple(subscriber.authors or ()),
            excluded=tuple(subscriber.excluded_keywords or ()),
            include_featured=subscriber.include_featured,
        )


@dataclass
class Match:
    paper: Paper
    score: float
    topic: TopicTerms | None = None  # the paper's best-matching topic; None for keyword/author-only
    reasons: list[str] = field(default_factory=list)  # e.g. "keyword 'LoRA' in title"
    featured: bool = False  # an editor's pick shown even without a match


class PaperIndex:
    def __init__(self, papers: list[Paper]):
        self.papers = papers

    @classmethod
    def build(cls, papers: Iterable[Paper]) -> "PaperIndex":
        return cls([p for p in papers if not p.is_hidden])

    def match(
        self,
        interest: Interest,
        *,
        listed_from: dt.date | None = None,
        listed_to: dt.date | None = None,
        exclude_ids: Container[int] = frozenset(),
        limit: int | None = None,
    ) -> list[Match]:
        """Papers listed in [listed_from, listed_to] (either end open when None) that
        clear the relevance threshold, featured picks first, then by score."""
        results: list[Match] = []
        for paper in self.papers:
            if paper.pk in exclude_ids:
                continue
            if listed_from and (paper.listed_on is None or paper.listed_on < listed_from):
                continue
            if listed_to and (paper.listed_on is None or paper.listed_on > listed_to):
                continue
            text = f"{paper.title} {paper.abstract}".lower()
            if any(word.lower() in text for word in interest.excluded):
                continue
            if paper.is_featured and interest.include_featured:
                results.append(Match(paper=paper, score=1000.0, reasons=["editor's pick"], featured=True))
                continue
            for topic in interest.topics:
                hit = next((p for p in topic.phrases if p.lower() in text), None)
                if hit:
                    results.append(Match(paper=paper, score=1.0, topic=topic, reasons=[f"topic {topic.name}: '{hit}'"]))
                    break
            else:
                hit = next((k for k in interest.keywords if k.lower() in text), None)
                if hit:
                    results.append(Match(paper=paper, score=1.0, reasons=[f"keyword '{hit}'"]))
        results.sort(key=lambda m: (-m.score, -m.paper.upvotes))
        return results[:limit] if limit else results


def latest_listing_day(on_or_before: dt.date) -> dt.date | None:
    """The most recent day with listed, visible papers, up to `on_or_before`."""
    return (
        Paper.objects.filter(listed_on__lte=on_or_before, is_hidden=False)
        .order_by("-listed_on")
        .values_list("listed_on", flat=True)
        .first()
    )
