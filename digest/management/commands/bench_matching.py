"""Time the matcher: build the index over the catalog, then match synthetic readers.

    python manage.py bench_matching [--subscribers N] [--papers N] [--seed S] [--mode both|lexical|semantic]

Readers get random topics (the curated ones), keywords (topic phrases, phrases from
titles, and made-up words that find nothing and defeat the per-index caches), followed
authors, exclusions and already-sent papers, as a day's run would see them. When the
catalog has fewer papers than --papers, copies of its papers make up the rest, so a
thousand-paper day can be timed on the 202-paper sample. Nothing is written.

With semantic matching (the default compares both modes on the same readers), every
paper and keyword gets a vector, and a fifth of the readers have voted on a few papers
(feedback). The vectors are computed in a child process, as imports and the web process
compute them in production: this process matches the way a send worker does, with the
model never loaded, so its peak RSS is a worker's. The child reports how fast the model
embeds papers.
"""

from __future__ import annotations

import math
import multiprocessing
import random
import resource
import statistics
import time
import tracemalloc

import numpy as np

from django.core.management.base import CommandError

from digest.management.cli import OperatorCommand, positive_int
from digest import semantic
from digest.matching import CatalogStats, Interest, PaperIndex, TopicTerms
from digest.meaning import Feedback, SemanticContext, TopicVector, reference_sample_and_papers
from digest.models import Paper, Topic


class Command(OperatorCommand):
    help = "Time building the matching index and matching synthetic subscribers against it."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--subscribers", type=positive_int, default=10_000, help="Synthetic readers to match (default 10000).")
        parser.add_argument("--papers", type=positive_int, default=1000, help="Candidate papers in the index (default 1000).")
        parser.add_argument("--seed", type=int, default=1, help="Random seed, for repeatable runs.")
        parser.add_argument("--limit", type=positive_int, default=10, help="Papers per reader, as max_papers (default 10).")
        parser.add_argument(
            "--mode", choices=("both", "lexical", "semantic"), default="both",
            help="lexical-only, with the semantic model's vectors, or both on the same readers (default)",
        )

    def handle(self, *args, subscribers: int, papers: int, seed: int, limit: int, mode: str, **options) -> None:
        if subscribers < 1 or papers < 1:
            raise CommandError("--subscribers and --papers must be at least 1.")
        rng = random.Random(seed)
        catalog = list(Paper.objects.filter(is_hidden=False).order_by("-listed_on", "-id")[:papers])
        if not catalog:
            raise CommandError(
                "The catalog is empty: import papers first, e.g. "
                "`python manage.py import_papers digest/sample_data/daily_papers_listing.txt`."
            )
        candidates = _fill(catalog, papers)
        topics = [TopicTerms.from_topic(t) for t in Topic.objects.filter(is_active=True)]
        if not topics:
            raise CommandError("No active topics: run `python manage.py migrate` for the default ones.")

        started = time.perf_counter()
        stats = CatalogStats.for_catalog()
        stats_seconds = time.perf_counter() - started
        started = time.perf_counter()
        index = PaperIndex(candidates, stats)
        build_seconds = time.perf_counter() - started

        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        CatalogStats.from_texts((p.title, p.abstract) for p in catalog)
        stats_bytes = tracemalloc.get_traced_memory()[1] - before
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        PaperIndex(candidates, stats)
        index_bytes = tracemalloc.get_traced_memory()[1] - before
        tracemalloc.stop()

        interests = [_reader(rng, topics, catalog, n) for n in range(subscribers)]
        pks = [p.pk for p in candidates]
        sent = [frozenset(rng.sample(pks, min(len(pks), rng.randint(0, 5)))) for _ in range(subscribers)]
        write = self.stdout.write
        write(f"papers in index        {len(candidates)} ({len(catalog)} from the catalog, {len(candidates) - len(catalog)} copies)")
        write(f"catalog statistics     {stats.n_docs} papers, {stats_seconds * 1000:.0f} ms (cached while the catalog is unchanged)")
        write(f"index build            {build_seconds * 1000:.0f} ms")
        write(f"memory                 index {index_bytes / 2**20:.1f} MiB, catalog statistics {stats_bytes / 2**20:.1f} MiB (tracemalloc peaks)")
        write(f"subscribers            {subscribers} ({len(topics)} topics to choose from, seed {seed})")

        runs: dict[str, list[Interest]] = {}
        if mode in ("both", "lexical"):
            runs["lexical"] = interests
        if mode in ("both", "semantic"):
            try:
                vectors = _vectors_from_child(candidates, topics, interests)
            except semantic.ModelUnavailable as error:
                raise CommandError(f"semantic mode needs the model: {error}") from None
            index_semantic = _semantic_index(candidates, stats, topics, vectors)
            runs["semantic"] = _with_feedback(rng, interests, index_semantic)
            write(
                f"embedding (child)      {vectors['papers_per_second']:.1f} papers/s, "
                f"{vectors['keywords_per_second']:.0f} keywords/s, model loaded in {vectors['load_seconds']:.2f} s"
            )
        means = {}
        for name, readers in runs.items():
            run_index = index if name == "lexical" else index_semantic
            timings, matched, empty, seconds = _match_all(run_index, readers, sent, limit)
            per_reader = statistics.fmean(timings)
            means[name] = per_reader
            write(f"-- {name}")
            write(
                f"per subscriber         mean {per_reader:.3f} ms, p50 {_pct(timings, 50):.3f} ms, "
                f"p95 {_pct(timings, 95):.3f} ms, p99 {_pct(timings, 99):.3f} ms, max {timings[-1]:.1f} ms"
            )
            write(f"throughput             {subscribers / seconds:,.0f} subscribers/s on one core")
            write(f"1,000,000 subscribers  {1_000_000 * per_reader / 1000 / 60:.1f} min of matching on one core")
            write(f"matches                {matched / subscribers:.1f} per subscriber (limit {limit}); {empty / subscribers:.0%} with none")
        if len(means) == 2:
            write(f"semantic / lexical     {means['semantic'] / means['lexical']:.2f}x per subscriber")
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        write(f"peak RSS               {rss_mb:.0f} MiB (this process: a send worker's work, the model never loaded)")


def _match_all(index: PaperIndex, interests: list[Interest], sent: list[frozenset], limit: int):
    timings, matched, empty = [], 0, 0
    started = time.perf_counter()
    for interest, exclude in zip(interests, sent):
        t0 = time.perf_counter_ns()
        found = index.match(interest, exclude_ids=exclude, limit=limit)
        timings.append((time.perf_counter_ns() - t0) / 1e6)
        matched += len(found)
        empty += not found
    seconds = time.perf_counter() - started
    timings.sort()
    return timings, matched, empty, seconds


def _vectors_from_child(candidates: list[Paper], topics: list[TopicTerms], interests: list[Interest]) -> dict:
    """Vectors of the catalog's papers (copies share their source's), the topics and every
    keyword, computed in a child process so that this one never loads the model."""
    if not semantic.semantic_matching_enabled():
        raise semantic.ModelUnavailable("semantic matching is switched off (SEMANTIC_MATCHING=off)")
    by_id = {t.slug: t for t in Topic.objects.filter(slug__in=[t.slug for t in topics])}
    keywords = sorted({k for interest in interests for k in interest.keywords})
    sources = {}
    for paper in candidates:
        sources.setdefault(paper.abstract, semantic.paper_text(paper.title, paper.abstract))
    texts = list(sources.values())
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        found = pool.apply(semantic.embed_for_benchmark, (texts, [semantic.topic_text(by_id[t.slug].name, by_id[t.slug].description) for t in topics], keywords))
    unpack = lambda data: np.frombuffer(data, dtype=np.float16).astype(np.float32).reshape(-1, semantic.DIMENSIONS)  # noqa: E731
    paper_vectors = dict(zip(sources, unpack(found["papers"]), strict=True))
    found["paper_vectors"] = [paper_vectors[p.abstract] for p in candidates]
    found["topic_vectors"] = unpack(found["topics"])
    found["keyword_vectors"] = dict(zip(keywords, unpack(found["keywords"]), strict=True))
    return found


def _semantic_index(candidates: list[Paper], stats: CatalogStats, topics: list[TopicTerms], vectors: dict) -> PaperIndex:
    embedded = []
    for paper, vector in zip(candidates, vectors["paper_vectors"], strict=True):
        copy = Paper(**{f.attname: getattr(paper, f.attname) for f in Paper._meta.concrete_fields})
        copy.embedding = semantic.to_bytes(vector)
        embedded.append(copy)
    keyword_vectors = {semantic.keyword_key(k): v for k, v in vectors["keyword_vectors"].items()}
    reference, reference_papers = reference_sample_and_papers()
    if len(reference) < 200:  # the catalog is not embedded yet: the candidates stand in
        reference, reference_papers = semantic.stack(vectors["paper_vectors"][:1000]), tuple(embedded[:1000])
    context = SemanticContext(
        [TopicVector(t, v) for t, v in zip(topics, vectors["topic_vectors"], strict=True)],
        reference,
        lambda keyword: keyword_vectors.get(semantic.keyword_key(keyword)),
        reference_papers=reference_papers,
    )
    return PaperIndex(embedded, stats, context)


def _with_feedback(rng: random.Random, interests: list[Interest], index: PaperIndex) -> list[Interest]:
    """The same readers; a fifth of them voted on 2-6 papers of the index."""
    import dataclasses

    readers = []
    for interest in interests:
        if rng.random() < 0.2:
            voted = rng.sample(index.papers, min(len(index.papers), rng.randint(2, 6)))
            feedback = Feedback.from_votes((p.pk, rng.choice((1, -1)), p.embedding) for p in voted)
            interest = dataclasses.replace(interest, feedback=feedback)
        readers.append(interest)
    return readers


def _fill(catalog: list[Paper], size: int) -> list[Paper]:
    """The catalog's papers, then unsaved copies of them (new ids) up to `size`."""
    papers = list(catalog)
    next_pk = max(p.pk for p in catalog) + 1
    copy = 0
    while len(papers) < size:
        source = catalog[copy % len(catalog)]
        papers.append(Paper(
            pk=next_pk, title=f"{source.title} ({copy // len(catalog) + 2})", abstract=source.abstract,
            authors=source.authors, listed_on=source.listed_on, upvotes=source.upvotes, is_featured=False,
        ))
        next_pk += 1
        copy += 1
    return papers


_MADE_UP = "qzx vorb plinth snark wugs tove brillig frumious"


def _reader(rng: random.Random, topics: list[TopicTerms], catalog: list[Paper], n: int) -> Interest:
    chosen = rng.sample(topics, min(len(topics), rng.choice((1, 1, 2, 2, 3, 4))))
    keywords: list[str] = []
    for _ in range(rng.choice((0, 0, 1, 2, 3))):
        kind = rng.random()
        if kind < 0.5:
            keywords.append(rng.choice(rng.choice(topics).phrases))
        elif kind < 0.8:
            words = rng.choice(catalog).title.split()
            start = rng.randrange(len(words))
            keywords.append(" ".join(words[start:start + 2]))
        else:  # a phrase no other reader has: no cache helps
            keywords.append(f"{rng.choice(_MADE_UP.split())} {n}")
    authors: list[str] = []
    for _ in range(rng.choice((0, 0, 0, 1, 2))):
        paper = rng.choice(catalog)
        authors.append(rng.choice(paper.authors) if paper.authors else f"Ada Reader{n}")
    authors = [a if isinstance(a, str) else str(a.get("name", "")) for a in authors]
    excluded = [rng.choice(rng.choice(topics).phrases)] if rng.random() < 0.2 else []
    return Interest(
        topics=tuple(chosen), keywords=tuple(keywords), authors=tuple(authors),
        excluded=tuple(excluded), include_featured=rng.random() < 0.8,
    )


def _pct(sorted_values: list[float], percentile: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, math.ceil(percentile / 100 * len(sorted_values)) - 1)]
