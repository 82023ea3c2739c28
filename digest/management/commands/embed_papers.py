"""python manage.py embed_papers [--missing | --all | --keywords]"""

from __future__ import annotations

import argparse
import time

from django.core.management.base import CommandError
from tqdm import tqdm

from digest import semantic, vectors
from digest.management.cli import OperatorCommand
from digest.models import Paper


class Command(OperatorCommand):
    help = (
        "Compute the stored vectors of the semantic matcher: papers (title and abstract), "
        "curated topics and subscribers' keywords. By default only what has none yet "
        "(--missing); --all recomputes every paper, topic and keyword, for example after a model change; "
        "--keywords only the readers' keywords (after a change to how keywords are read)."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--missing", action="store_true", help="only what has no vector yet (the default)")
        which.add_argument("--all", action="store_true", help="recompute every paper, topic and keyword")
        which.add_argument(
            "--keywords",
            action="store_true",
            help="recompute every reader's keyword only (quick: after an upgrade that reads keywords differently)",
        )

    def handle(self, *args, missing: bool, all: bool, keywords: bool, verbosity: int, **options) -> None:
        try:
            semantic.get_embedder()
        except semantic.ModelUnavailable as error:
            raise CommandError(f"cannot embed: {error}") from None
        started = time.monotonic()
        if keywords:
            redone = vectors.embed_keywords(vectors.subscribers_keywords(), force=True)
            self.stdout.write(f"embedded {redone.embedded} keywords in {time.monotonic() - started:.1f} s")
            return
        papers = Paper.objects.only("id", "title", "abstract").order_by("id")
        if not all:
            papers = papers.filter(embedding__isnull=True)
        total = papers.count()
        with tqdm(total=total, desc="papers", unit=" papers", file=self.stderr._out, disable=verbosity == 0) as bar:
            done = vectors.embed_papers(papers.iterator(chunk_size=500), progress=bar.update)
        topics = vectors.embed_topics(force=all)
        words = vectors.embed_keywords(vectors.subscribers_keywords(), force=all)
        seconds = time.monotonic() - started
        rate = f", {done.embedded / seconds:.1f} papers/s" if done.embedded and seconds else ""
        self.stdout.write(
            f"embedded {done.embedded} papers, {topics.embedded} topics, {words.embedded} keywords "
            f"in {seconds:.1f} s{rate}"
        )
