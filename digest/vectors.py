"""Stored vectors: embed papers, topics and keywords once, read them everywhere else.

Writing needs the model (`digest.semantic.get_embedder`); reading needs only numpy. Every
writer here is a no-op that says so when the model is unavailable, so an import or a
signup never fails because semantic matching cannot run on this machine.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from django.db import transaction
from django.utils import timezone

from . import semantic
from .keywords import embedding_text
from .models import EmbeddedKeyword, Paper, Topic

if TYPE_CHECKING:
    from .matching import CatalogStats

logger = logging.getLogger(__name__)

# Papers are embedded and saved in chunks, so an interrupted back-fill keeps what it did.
SAVE_CHUNK = 64
LOOKUP_CHUNK = 1000


@dataclass
class EmbedResult:
    embedded: int = 0
    skipped_reason: str = ""  # why nothing was embedded (model unavailable), else empty


def embed_papers(papers: Iterable[Paper], *, progress: Callable[[int], object] | None = None) -> EmbedResult:
    """Embed these papers' title and abstract and store the vectors. `progress` is
    called with the number done after each chunk (for a progress bar)."""
    try:
        embedder = semantic.get_embedder()
    except semantic.ModelUnavailable as exc:
        return EmbedResult(skipped_reason=str(exc))
    result = EmbedResult()
    pending = list(papers)
    for chunk in semantic.batched(pending, SAVE_CHUNK):
        vectors = embedder.embed([semantic.paper_text(p.title, p.abstract) for p in chunk])
        for paper, vector in zip(chunk, vectors, strict=True):
            paper.embedding = semantic.to_bytes(vector)
        # Only the vector column (an import or a curator may be editing the rest), and
        # `updated_at`: caches keyed on it (the preview's index, the z-score reference
        # sample) must see that the paper now has a vector, or a new one.
        now = timezone.now()
        with transaction.atomic():
            for paper in chunk:
                Paper.objects.filter(pk=paper.pk).update(embedding=paper.embedding, updated_at=now)
        result.embedded += len(chunk)
        if progress:
            progress(len(chunk))
    return result


def papers_missing_vectors():
    return Paper.objects.filter(embedding__isnull=True).only("id", "title", "abstract").order_by("id")


def embed_topics(topics: Iterable[Topic] | None = None, *, force: bool = False) -> EmbedResult:
    """Embed topics whose "Name: description" changed since they were embedded (all of
    them with `force`)."""
    try:
        embedder = semantic.get_embedder()
    except semantic.ModelUnavailable as exc:
        return EmbedResult(skipped_reason=str(exc))
    todo = [
        topic
        for topic in (Topic.objects.all() if topics is None else topics)
        if force or topic.embedding is None or topic.embedded_text != semantic.topic_text(topic.name, topic.description)
    ]
    if not todo:
        return EmbedResult()
    texts = [semantic.topic_text(t.name, t.description) for t in todo]
    for topic, text, vector in zip(todo, texts, embedder.embed(texts), strict=True):
        topic.embedding, topic.embedded_text = semantic.to_bytes(vector), text
        Topic.objects.filter(pk=topic.pk).update(embedding=topic.embedding, embedded_text=text)
    return EmbedResult(embedded=len(todo))


def embed_keywords(keywords: Iterable[str], *, force: bool = False) -> EmbedResult:
    """Store a vector for each keyword that has none yet (typed keywords are shared);
    with `force`, compute every one of them again (after a model change)."""
    from .matching import CatalogStats  # matching reads vectors: import it only when needed

    keys = {semantic.keyword_key(k) for k in keywords if k and k.strip()}
    keys.discard("")
    if not keys:
        return EmbedResult()
    known: set[str] = set()
    ordered = sorted(keys)
    for start in range(0, len(ordered), LOOKUP_CHUNK):  # SQLite takes at most ~32k variables
        chunk = ordered[start : start + LOOKUP_CHUNK]
        known.update(EmbeddedKeyword.objects.filter(key__in=chunk).values_list("key", flat=True))
    todo = sorted(keys if force else keys - known)
    if not todo:
        return EmbedResult()
    try:
        embedder = semantic.get_embedder()
    except semantic.ModelUnavailable as exc:
        return EmbedResult(skipped_reason=str(exc))
    catalog = CatalogStats.for_catalog()  # how the field spells compounds ("fine-tuning")
    texts = [embedding_text(key, catalog) for key in todo]
    rows = [
        EmbeddedKeyword(key=key, embedding=semantic.to_bytes(vector))
        for key, vector in zip(todo, embedder.embed(texts), strict=True)
    ]
    if force:
        EmbeddedKeyword.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["key"], update_fields=["embedding"]
        )
    else:
        EmbeddedKeyword.objects.bulk_create(rows, ignore_conflicts=True)  # another process may race us
    return EmbedResult(embedded=len(rows))


def keyword_vectors(keywords: Iterable[str]) -> dict[str, np.ndarray]:
    """Stored vectors by keyword key, for those that have one. One query."""
    keys = {semantic.keyword_key(k) for k in keywords if k and k.strip()}
    found: dict[str, np.ndarray] = {}
    for key, data in EmbeddedKeyword.objects.filter(key__in=keys).values_list("key", "embedding"):
        vector = semantic.from_bytes(data)
        if vector is not None:
            found[key] = vector
    return found


def keyword_vector_now(keyword: str, catalog: CatalogStats | None = None) -> np.ndarray | None:
    """The keyword's vector: the stored one, else computed if the model is here, and not
    stored (the signup preview asks about keywords nobody has saved yet: anyone can type
    anything there, and it must not fill the table). `catalog`: the statistics the
    caller holds (else the catalog's, one query to see they are current)."""
    from .matching import CatalogStats

    key = semantic.keyword_key(keyword)
    stored = keyword_vectors([key]).get(key)
    if stored is not None or not key:
        return stored
    try:
        embedder = semantic.get_embedder()
    except semantic.ModelUnavailable:
        return None
    return embedder.embed([embedding_text(key, catalog or CatalogStats.for_catalog())])[0]


def embed_recent_readers_keywords(days: int = 2) -> EmbedResult:
    """Vectors for the keywords of readers who changed them in the last `days` days and
    still lack one (an `embed_keywords` task lost with a worker): the scheduled feed
    import runs this, so a reader is not matched by words alone for good. Only recent
    readers: every reader's keywords, every two hours, would be a scan of the table."""

    if not semantic.semantic_matching_enabled():
        return EmbedResult(skipped_reason="semantic matching is switched off")
    return embed_keywords(subscribers_keywords(changed_since=timezone.now() - dt.timedelta(days=days)))


def subscribers_keywords(changed_since: dt.datetime | None = None) -> set[str]:
    """Every keyword some subscriber follows (of those changed since `changed_since`)."""
    from subscriptions.models import Subscriber

    readers = Subscriber.objects.exclude(keywords=[])
    if changed_since is not None:
        readers = readers.filter(updated_at__gte=changed_since)
    found: set[str] = set()
    for keywords in readers.values_list("keywords", flat=True).iterator(chunk_size=2000):
        found.update(k for k in keywords or () if isinstance(k, str) and k.strip())
    return found
