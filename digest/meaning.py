"""What stored vectors add to matching (see `digest.semantic` for the model).

Three things, all dot products on vectors stored in the database; nothing here loads the
model unless asked to embed a keyword nobody has saved yet (the signup preview):

- **Keyword -> topic expansion.** A typed keyword that is clearly closer to one curated
  topic than to any other (top-1 similarity at least `TOPIC_FLOOR`, and `TOPIC_MARGIN`
  above the runner-up) also matches through that topic's phrases, as weaker evidence than
  the keyword itself. Readers see it and can remove it.
- **Closeness in meaning.** How far a paper's similarity to the keyword stands above the
  catalog's distribution for that keyword: a z-score over a fixed sample of recent
  papers, because raw cosines do not carry over between queries (a short keyword is
  "0.3 close" to everything in one field and nothing in another). With the keyword's
  words and its topic, it is what the learned decision (`digest.decision`) weighs: a
  paper far above the usual one can match on closeness alone ("close in meaning to ...").
- **Feedback.** A reader's "more like this" and "less like this" move their ranking:
  towards papers close to the ones they liked, away from the ones they disliked, and
  near-duplicates of a disliked paper drop out.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from django.db.models import Count, F, Max
from django.utils import timezone

from . import semantic
from .keywords import RelatedTable, shipped_related_lines, shipped_related_table

if TYPE_CHECKING:
    from .matching import CatalogStats, TopicTerms
    from .models import Paper

# Chosen on the tuning half of the judged keywords (tests/fixtures/judged_interests.json);
# see the README for the figures on the held-out half. Below 0.6 the "nearest" topic is
# often only a neighbour: "object tracking" (0.51) is not all of computer vision, and
# "hyperparameter tuning" (0.59) is not parameter-efficient fine-tuning.
TOPIC_FLOOR = 0.6
TOPIC_MARGIN = 0.06
Z_SAMPLE_SIZE = 1000  # recent papers the z-scores are taken over ...
MIN_Z_SAMPLE = 200  # ... and below this many, no z-scores: too few to say what is usual
REFERENCE_DAYS = 60  # ... listed at most this long before the latest listing day, when enough were
# The similarities of a keyword to a varied sample of papers spread by 0.04 (the least,
# over 400 judged and typed keywords on the sample listing) to 0.12 (cosine): a spread
# below this floor means the sample is not varied, not that the keyword is sharp.
MIN_SPREAD = 0.035
# A paper this many standard deviations closer to a curated topic's own "Name:
# description" than the usual paper matches the topic (its phrases already find most of
# its papers, so the bar is high).
TOPIC_Z_MIN = 3.5
# A keyword that is a topic's very name matches the topic's papers that are at least this
# close in meaning to the keyword itself (half a standard deviation above the usual paper).
Z_AGREE = 0.5

_reference_lock = threading.Lock()
_reference_cache: dict[str, tuple[tuple, np.ndarray, tuple[Paper, ...]]] = {}
_related_cache: dict[str, tuple[tuple, RelatedTable]] = {}


@dataclass(frozen=True)
class TopicVector:
    terms: TopicTerms  # noqa: F821 (matching.TopicTerms; imported late to avoid a cycle)
    vector: np.ndarray = field(compare=False)


@dataclass(frozen=True, eq=False)
class KeywordMeaning:
    """What the vectors say about one typed keyword."""

    topic_slug: str | None  # the curated topic it clearly names, if any
    topic_similarity: float
    runner_up_similarity: float
    z_scores: np.ndarray | None  # per index paper; None without a vector or reference


@dataclass(eq=False)
class Feedback:
    """A reader's votes, as the vectors of the papers they voted on."""

    liked_ids: frozenset[int] = frozenset()
    disliked_ids: frozenset[int] = frozenset()
    liked: np.ndarray = field(default_factory=lambda: np.zeros((0, semantic.DIMENSIONS), np.float32))
    disliked: np.ndarray = field(default_factory=lambda: np.zeros((0, semantic.DIMENSIONS), np.float32))

    def __bool__(self) -> bool:
        return bool(self.liked_ids or self.disliked_ids)

    @classmethod
    def from_votes(cls, votes: Iterable[tuple[int, int, bytes | memoryview | None]]) -> Feedback:
        """From (paper id, +1 or -1, the paper's stored vector) rows."""
        liked_ids: set[int] = set()
        disliked_ids: set[int] = set()
        liked: list[np.ndarray] = []
        disliked: list[np.ndarray] = []
        for paper_id, value, data in votes:
            vector = semantic.from_bytes(data)
            (liked_ids if value > 0 else disliked_ids).add(paper_id)
            if vector is not None:
                (liked if value > 0 else disliked).append(vector)
        return cls(frozenset(liked_ids), frozenset(disliked_ids), semantic.stack(liked), semantic.stack(disliked))


class SemanticContext:
    """Topic vectors, the z-score reference sample and keyword vectors for one index."""

    def __init__(
        self,
        topics: list[TopicVector],
        reference: np.ndarray,
        keyword_lookup: Callable[[str], np.ndarray | None],
        related: RelatedTable | None = None,
        reference_papers: Sequence[Paper] = (),
    ) -> None:
        # The related terms the learned decision weighs (the shipped list unless given).
        self.related = related or shipped_related_table()
        self.topics = {t.terms.slug: t.terms for t in topics}
        self.topic_slugs = [t.terms.slug for t in topics]
        self.topic_matrix = semantic.stack(t.vector for t in topics)
        self.reference = reference
        # The reference's papers, row for row (their titles and abstracts: what the usual
        # paper writes); none where only the vectors are known.
        if len(reference_papers) not in (0, len(reference)):
            raise ValueError(f"{len(reference_papers)} reference papers for {len(reference)} reference vectors")
        self.reference_papers = tuple(reference_papers)
        self._lookup = keyword_lookup
        self._vectors: dict[str, np.ndarray | None] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_catalog(
        cls,
        *,
        embed_missing_keywords: bool = False,
        catalog_stats: CatalogStats | None = None,
        curated_terms: bool = True,
    ) -> SemanticContext:
        """Active topics' vectors and the reference sample from the database; keyword
        vectors are read when first asked for (and computed, in a process that may load
        the model, with `embed_missing_keywords`, spelled as `catalog_stats` say the
        catalog spells compounds). The related terms are the shipped list with the
        curators' lines, or the shipped list alone without `curated_terms` (what the
        shipped decision is fitted and measured on)."""
        from .matching import TopicTerms
        from .models import Topic
        from .vectors import keyword_vector_now, keyword_vectors

        topics = []
        for topic in Topic.objects.filter(is_active=True):
            vector = semantic.from_bytes(topic.embedding)
            if vector is not None and topic.embedded_text == semantic.topic_text(topic.name, topic.description):
                topics.append(TopicVector(TopicTerms.from_topic(topic), vector))
        if embed_missing_keywords:

            def lookup(keyword: str) -> np.ndarray | None:
                return keyword_vector_now(keyword, catalog_stats)
        else:

            def lookup(keyword: str) -> np.ndarray | None:
                return keyword_vectors([keyword]).get(semantic.keyword_key(keyword))

        related = current_related_table() if curated_terms else shipped_related_table()
        sample, papers = reference_sample_and_papers()
        return cls(topics, sample, lookup, related, reference_papers=papers)

    def keyword_vector(self, keyword: str) -> np.ndarray | None:
        key = semantic.keyword_key(keyword)
        with self._lock:
            if key in self._vectors:
                return self._vectors[key]
        vector = self._lookup(keyword)
        with self._lock:
            if len(self._vectors) > 50_000:  # a run over many unusual keywords
                self._vectors.clear()
            self._vectors[key] = vector
        return vector

    def prefetch_keywords(self, keywords: Iterable[str]) -> None:
        """Read many keywords' vectors in one query (a planning batch)."""
        from .vectors import keyword_vectors

        wanted = {semantic.keyword_key(k) for k in keywords if k.strip()} - set(self._vectors)
        if not wanted:
            return
        found = keyword_vectors(wanted)
        with self._lock:
            for key in wanted:
                self._vectors[key] = found.get(key)

    def topic_z_scores(self, slug: str, papers: np.ndarray) -> np.ndarray | None:
        """How far above the usual paper each paper stands in closeness to a topic."""
        if slug not in self.topics or len(self.reference) < MIN_Z_SAMPLE or not len(papers):
            return None
        return self._z_scores(self.topic_matrix[self.topic_slugs.index(slug)], papers)

    def _z_scores(self, vector: np.ndarray, papers: np.ndarray) -> np.ndarray:
        usual = self.reference @ vector
        # A reference of near-copies (an import of one paper's variants, say) would make
        # every small difference look like a large one.
        spread = max(float(usual.std()), MIN_SPREAD)
        return (papers @ vector - float(usual.mean())) / spread

    def meaning(self, keyword: str, papers: np.ndarray) -> KeywordMeaning | None:
        """What the keyword's vector says, for the index's paper vectors `papers`."""
        vector = self.keyword_vector(keyword)
        if vector is None:
            return None
        slug, best, second = None, 0.0, 0.0
        if len(self.topic_slugs):
            sims = self.topic_matrix @ vector
            order = np.argsort(-sims)
            best = float(sims[order[0]])
            second = float(sims[order[1]]) if len(order) > 1 else 0.0
            if best >= TOPIC_FLOOR and best - second >= TOPIC_MARGIN:
                slug = self.topic_slugs[order[0]]
        z_scores = None
        if len(self.reference) >= MIN_Z_SAMPLE and len(papers):
            z_scores = self._z_scores(vector, papers)
        return KeywordMeaning(slug, best, second, z_scores)


def current_related_table() -> RelatedTable:
    """The shipped related terms with the curators' lines (`CuratedRelatedTerms`), built
    again only when a line was added, changed or deleted since. The lines themselves are
    the fingerprint (one query over a short table): a bulk `.update()` outside the admin
    leaves `updated_at` as it was."""
    from .models import CuratedRelatedTerms

    lines = CuratedRelatedTerms.objects.order_by("concept", "id")
    rows = list(lines.values_list("id", "concept", "synonyms", "narrower"))
    fingerprint = tuple(rows)
    with _reference_lock:
        cached = _related_cache.get("table")
        if cached and cached[0] == fingerprint:
            return cached[1]
    curated = [CuratedRelatedTerms(concept=c, synonyms=syn, narrower=nar).line for _, c, syn, nar in rows]
    table = RelatedTable.from_lines(shipped_related_lines(), curated) if curated else shipped_related_table()
    with _reference_lock:
        _related_cache["table"] = (fingerprint, table)
    return table


def reference_sample_and_papers(size: int | None = None) -> tuple[np.ndarray, tuple[Paper, ...]]:
    """Vectors of the papers of the latest listing days (embedded, visible): the "usual
    paper" a keyword's similarities are compared with. By listing day, not by when they
    were stored: a back-filled import of old papers must not change what is usual for
    today's. With them, their papers row for row (unsaved copies holding the id, title
    and abstract): the usual papers that write a keyword say what it means, whichever
    papers a run's index holds. Cached while the catalog's vectors are unchanged."""
    from .models import Paper

    size = size or Z_SAMPLE_SIZE
    today = timezone.localdate()  # the window moves with the days, as well as with the catalog
    embedded = Paper.objects.filter(is_hidden=False, embedding__isnull=False)
    fingerprint = (size, today, *embedded.aggregate(n=Count("id"), top=Max("id"), changed=Max("updated_at")).values())
    if not fingerprint[2]:  # no paper has a vector yet
        return semantic.stack(()), ()
    with _reference_lock:
        cached = _reference_cache.get("sample")
        if cached and cached[0] == fingerprint:
            return cached[1], cached[2]
    latest_first = (F("listed_on").desc(nulls_last=True), "-id")
    recent = embedded
    # The latest listing day up to today: a paper mis-dated into the future must not
    # become the window's anchor.
    if (latest := embedded.filter(listed_on__lte=today).aggregate(day=Max("listed_on"))["day"]) is not None:
        recent = embedded.filter(listed_on__gte=latest - dt.timedelta(days=REFERENCE_DAYS), listed_on__lte=today)
        if recent.count() < MIN_Z_SAMPLE:  # a young catalog: older papers make up the number
            recent = embedded
    rows = recent.order_by(*latest_first).values_list("id", "title", "abstract", "embedding")[:size]
    vectors, papers = [], []
    for pk, title, abstract, data in rows:
        if (vector := semantic.from_bytes(data)) is not None:
            vectors.append(vector)
            papers.append(Paper(pk=pk, title=title, abstract=abstract))
    sample, kept = semantic.stack(vectors), tuple(papers)
    with _reference_lock:
        _reference_cache["sample"] = (fingerprint, sample, kept)
    return sample, kept
