"""python manage.py file_papers [--since YYYY-MM-DD]

File the catalog's papers under the curated topics they match (the pages' topic chips,
a paper's topics, the topic feeds). Imports do this for the papers they bring; run it
once after upgrading, and after editing topics, to refile the papers already there."""

from __future__ import annotations

import argparse
from datetime import date

from tqdm import tqdm

from digest.filing import file_catalog, listing_days
from digest.management.cli import OperatorCommand, iso_date


class Command(OperatorCommand):
    help = "File papers under the curated topics they match, one listing day at a time."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--since", type=iso_date, metavar="YYYY-MM-DD", help="only papers listed on or after this day"
        )

    def handle(self, *args, since: date | None, verbosity: int, **options) -> None:
        days = listing_days(since)
        with tqdm(total=len(days), desc="filing", unit=" days", file=self.stderr._out, disable=verbosity == 0) as bar:
            filed = file_catalog(since, progress=bar.update, days=days)
        self.stdout.write(
            f"filed {filed.papers} papers from {filed.days} listing days under {filed.memberships} topic memberships"
        )
