"""Time the matcher: build the index over the catalog, then match synthetic readers.

    python manage.py bench_matching [--subscribers N] [--papers N] [--seed S]

Readers get random topics (the curated ones), keywords (topic phrases, phrases from
titles, and made-up words that find nothing and defeat the per-index caches), followed
authors, exclusions and already-sent papers, as a day's run would see them. When the
catalog has fewer papers than --papers, copies of its papers make up the rest, so a
thousand-paper day can be timed on the 202-paper sample. Nothing is written.
"""

from __future__ import annotations

import math
import random
import resource
import statistics
import time
import tracemalloc

from django.core.management.base import CommandError

from digest.management.cli import OperatorCommand, positive_int
from digest.matching import CatalogStats, Interest, PaperIndex, TopicTerms
from digest.models import Paper, Topic


class Command(OperatorCommand):
    help = "Time building the matching index and matching synthetic subscribers against it."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--subscribers", type=positive_int, default=10_000, help="Synthetic readers to match (default 10000).")
        parser.add_argument("--papers", type=positive_int, default=1000, help="Candidate papers in the index (default 1000).")
        parser.add_argument("--seed", type=int, default=1, help="Random seed, for repeatable runs.")
        parser.add_argument("--limit", type=positive_int, default=10, help="Papers per reader, as max_papers (default 10).")

    def handle(self, *args, subscribers: int, papers: int, seed: int, limit: int, **options) -> None:
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
        timings, matched, empty = [], 0, 0
        started = time.perf_counter()
        for interest, exclude in zip(interests, sent):
            t0 = time.perf_counter_ns()
            found = index.match(interest, exclude_ids=exclude, limit=limit)
            timings.append((time.perf_counter_ns() - t0) / 1e6)
            matched += len(found)
            empty += not found
        match_seconds = time.perf_counter() - started

        timings.sort()
        per_reader = statistics.fmean(timings)
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        write = self.stdout.write
        write(f"papers in index        {len(candidates)} ({len(catalog)} from the catalog, {len(candidates) - len(catalog)} copies)")
        write(f"catalog statistics     {stats.n_docs} papers, {stats_seconds * 1000:.0f} ms (cached while the catalog is unchanged)")
        write(f"index build            {build_seconds * 1000:.0f} ms")
        write(f"memory                 index {index_bytes / 2**20:.1f} MiB, catalog statistics {stats_bytes / 2**20:.1f} MiB (tracemalloc peaks); process max RSS {rss_mb:.0f} MiB")
        write(f"subscribers            {subscribers} ({len(topics)} topics to choose from, seed {seed})")
        write(
            f"per subscriber         mean {per_reader:.3f} ms, p50 {_pct(timings, 50):.3f} ms, "
            f"p95 {_pct(timings, 95):.3f} ms, p99 {_pct(timings, 99):.3f} ms, max {timings[-1]:.1f} ms"
        )
        write(f"throughput             {subscribers / match_seconds:,.0f} subscribers/s on one core")
        write(f"1,000,000 subscribers  {1_000_000 * per_reader / 1000 / 60:.1f} min of matching on one core")
        write(f"matches                {matched / subscribers:.1f} per subscriber (limit {limit}); {empty / subscribers:.0%} with none")


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
