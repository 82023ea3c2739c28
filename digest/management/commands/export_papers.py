"""python manage.py export_papers [--output PATH]"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from django.core.management.base import CommandError

from digest.importers import write_export
from digest.management.cli import OperatorCommand


class Command(OperatorCommand):
    help = (
        "Write the whole paper catalog, curator flags included, as JSON that "
        "import_papers reads back (into an empty database, for example)."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--output", "-o", type=Path, help="file to write (default: standard output)")

    def handle(self, *args, output: Path | None, verbosity: int, **options) -> None:
        if output is None:
            try:
                count = write_export(self.stdout)
            except BrokenPipeError:
                # Piped into `head` or a pager that quit: stop quietly, like other Unix
                # tools, and keep Python from complaining about stdout at exit.
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                return
        else:
            count = self._write_file(output)
        if verbosity > 0:
            self.stderr.write(f"exported {count} papers" + (f" to {output}" if output else ""))

    def _write_file(self, output: Path) -> int:
        # Written beside the target and renamed into place, so an interrupted export
        # never leaves a truncated file where a good one was.
        try:
            handle, temporary = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp")
        except OSError as error:
            raise CommandError(f"cannot write {output}: {error.strerror or error}") from None
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                count = write_export(out)
            os.chmod(temporary, 0o644)  # mkstemp's 0600 would surprise whoever copies it on
            os.replace(temporary, output)
        except OSError as error:
            raise CommandError(f"cannot write {output}: {error.strerror or error}") from None
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
        return count
