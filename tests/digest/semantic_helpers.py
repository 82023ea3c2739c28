"""The real model's vectors for the sample listing, computed once per test run (about ten
seconds on two cores) and attached to sample papers as an import would store them."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from django.apps import apps
from django.db import transaction

from digest import semantic
from digest.models import Paper
from digest.vectors import embed_topics
from tests.digest.matching_sample import load_sample, sample_texts


@lru_cache(maxsize=1)
def sample_vectors() -> tuple[bytes, ...]:
    texts = [semantic.paper_text(title, abstract) for title, abstract in sample_texts()]
    return tuple(semantic.to_bytes(v) for v in semantic.get_embedder().embed(texts))


def ensure_default_topics() -> None:
    """The default topics as the data migrations make them: a transactional test that
    ran before may have flushed them."""
    from digest.models import Topic

    if Topic.objects.exists():
        return
    importlib.import_module("digest.migrations.0003_default_topics").add_topics(apps, None)
    for name in (
        "0005_sharper_topic_phrases",
        "0006_sharper_topic_phrases_2",
        "0011_sharper_topic_phrases_3",
        "0025_topic_phrases_from_misses",
    ):
        importlib.import_module(f"digest.migrations.{name}")._update(apps, True)
    importlib.import_module("digest.migrations.0015_topic_groups").assign_groups(apps, None)


def load_embedded_sample() -> dict[int, Paper]:
    """The sample in the database with its vectors, by listing position; the topics
    embedded too (as the first import does)."""
    ensure_default_topics()
    by_position = load_sample()
    vectors = sample_vectors()
    for position, paper in by_position.items():
        paper.embedding = vectors[position]
        Paper.objects.filter(pk=paper.pk).update(embedding=paper.embedding)
    embed_topics()
    return by_position


@contextmanager
def rolled_back_afterwards(django_db_blocker) -> Iterator[None]:
    """For a module-scoped fixture: what it writes stays for the module's tests, and is
    rolled back after them."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield
        transaction.set_rollback(True)
