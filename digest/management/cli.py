"""What the digest app's management commands share: option types and how a bad option
value is reported."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db.utils import OperationalError, ProgrammingError


def _which_database() -> str:
    """"(sqlite3 /srv/var/db.sqlite3)": which one, so that the right one is migrated."""
    from django.db import connection

    where = connection.settings_dict
    host = f"{where.get('HOST')}/" if where.get("HOST") else ""
    return f"({connection.vendor} {host}{where.get('NAME')})"


def _missing_table(error: Exception) -> bool:
    text = str(error).lower()
    return "no such table" in text or ("relation" in text and "does not exist" in text)


def iso_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def positive_int(value: str) -> int:
    if not value.strip().isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"not a positive whole number: {value!r}")
    return int(value)


class OperatorCommand(BaseCommand):
    """A command whose every failure reads the same: one line on stderr, exit status 1.

    argparse would print the whole usage and exit with status 2 for a bad option value
    (`--date 2024-13-01`, `--limit 0`); operators and scripts then have two kinds of
    failure to tell apart. Here a bad value is one `CommandError: ...` line like any
    other error (`--help` still shows the usage)."""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)

        def error(message: str):
            if not parser.called_from_command_line:
                raise CommandError(f"Error: {message}")
            sys.stderr.write(f"CommandError: {message}\n")
            sys.exit(1)

        parser.error = error
        return parser

    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except (OperationalError, ProgrammingError) as error:
            # A database that was never migrated (a fresh clone, a new DATABASE_URL):
            # say what to run, not "no such table: digest_paper" in a traceback.
            if _missing_table(error):
                raise CommandError(
                    f"the database {_which_database()} is not migrated ({error}): run python manage.py migrate"
                ) from None
            raise
