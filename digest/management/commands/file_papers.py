"""python manage.py file_papers [--since YYYY-MM-DD]

File the catalog's papers under the curated topics they match (the pages' topic chips,
a paper's topics, the topic feeds). Imports do this for the papers they bring; run it
once after upgrading, and after editing topics, to refile the papers already there."""

from __future__ import annotations

import argparse
from datetime import date

from tqdm import tqdm

from digest.filing import file_papers_under_topics
from digest.management.cli import OperatorCommand, iso_date
from digest.models import Paper


class Command(OperatorCommand):
    help = "File papers under the curated topics they match, one listing day at a time."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--since", type=iso_date, metavar="YYYY-MM-DD", help="only papers listed on or after this day"
        )

    def handle(self, *args, since: date | None, verbosity: int, **options) -> None:
        papers = Paper.objects.filter(is_hidden=False).defer("embedding")
        if since:
            papers = papers.filter(listed_on__gte=since)
        days = sorted(set(papers.values_list("listed_on", flat=True)), key=lambda d: (d is None, d))
        filed = count = 0
        # One day at a time: the matcher's index holds one day's papers, as a digest run does.
        with tqdm(total=len(days), desc="filing", unit=" days", file=self.stderr._out, disable=verbosity == 0) as bar:
            for day in days:
                batch = list(papers.filter(listed_on=day))
                filed += file_papers_under_topics(batch)
                count += len(batch)
                bar.update(1)
        self.stdout.write(f"filed {count} papers from {len(days)} listing days under {filed} topic memberships")
