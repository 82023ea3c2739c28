"""python manage.py import_papers SOURCE [--format ...] [--listed-on YYYY-MM-DD]"""

from __future__ import annotations

import argparse
from datetime import date

from django.core.management.base import CommandError
from tqdm import tqdm

from digest.importers import (
    FORMATS,
    SourceError,
    apply_records,
    embed_imported,
    parse_source,
    read_source,
)
from digest.management.cli import OperatorCommand, iso_date


class Command(OperatorCommand):
    help = (
        "Import papers into the catalog from a Daily Papers listing, Hugging Face daily "
        "papers JSON, an arXiv Atom feed or an export_papers file (a path or an http(s) "
        "URL). Re-importing updates papers, never duplicates them."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("source", help="a file path or an http(s) URL")
        parser.add_argument(
            "--format", dest="fmt", choices=("auto", *FORMATS), default="auto",
            help="the source's format (default: detected)",
        )
        parser.add_argument(
            "--listed-on", type=iso_date, metavar="YYYY-MM-DD",
            help="the day the papers were listed: a listing's records get it (default "
            "today), other records get it when their source gives no day",
        )

    def handle(self, *args, source: str, fmt: str, listed_on: date | None, verbosity: int, **options) -> None:
        try:
            parsed = parse_source(read_source(source, fmt=fmt), fmt, listed_on=listed_on)
            # The bar writes carriage returns, so it gets the raw stream, not Django's
            # line-based wrapper.
            with tqdm(
                total=len(parsed.items), desc="importing", unit=" papers",
                file=self.stderr._out, disable=verbosity == 0,
            ) as bar:
                summary = apply_records(parsed.items, progress=bar.update)
        except SourceError as error:
            # One line, no traceback: the operator needs the reason, not our stack.
            raise CommandError(" ".join(f"{source}: {error}".split())) from None
        # After the upsert has committed: the catalog is usable (lexically) at once, and
        # an interrupted embedding is finished later by `embed_papers --missing`.
        with tqdm(
            total=len(summary.to_embed), desc="embedding", unit=" papers",
            file=self.stderr._out, disable=verbosity == 0 or not summary.to_embed,
        ) as bar:
            embed_imported(summary, progress=bar.update)
        if summary.not_embedded_reason:
            self.stdout.write(f"not embedded ({summary.not_embedded_reason}): matching is lexical only")
        elif summary.to_embed:
            self.stdout.write(f"embedded {summary.embedded} papers")
        for rejected in summary.rejected:
            self.stdout.write(f"rejected {rejected.position}: {rejected.reason}")
        self.stdout.write(str(summary))
        if summary.rejected and not summary.to_file:
            # Every record refused: a cron job must be able to tell this from a good run.
            raise CommandError(f"{source}: nothing imported, all {len(summary.rejected)} records were rejected")
