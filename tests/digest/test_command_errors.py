"""Every digest command fails the same way on a bad option value: one line, exit status 1.

argparse alone prints its whole usage and exits with status 2, so scripts (and `make`)
would see two kinds of failure and operators a screenful for a typo in a date.
"""

from __future__ import annotations

import subprocess

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from .sending_helpers import BASE_DIR, PYTHON, subprocess_env

BAD_VALUES = [
    (["preview_digest", "--topics", "quantization", "--date", "2024-13-01"],
     "argument --date: not a date (YYYY-MM-DD): '2024-13-01'"),
    (["preview_digest", "--topics", "quantization", "--since", "yesterday"],
     "argument --since: not a date (YYYY-MM-DD): 'yesterday'"),
    (["preview_digest", "--topics", "quantization", "--limit", "0"],
     "argument --limit: not a positive whole number: '0'"),
    (["preview_digest", "--topics", "quantization", "--limit", "3", "--all"],
     "argument --all: not allowed with argument --limit"),
    (["send_digests", "--timeout", "-5"], "argument --timeout: not a positive whole number: '-5'"),
    (["send_digests", "--dryrun"], "unrecognized arguments: --dryrun"),
    (["import_papers", "listing.txt", "--listed-on", "31/10/2024"],
     "argument --listed-on: not a date (YYYY-MM-DD): '31/10/2024'"),
    (["import_papers"], "the following arguments are required: source"),
    (["bench_admin", "--items-per-digest", "-2"], "argument --items-per-digest: not a positive whole number: '-2'"),
    (["train_matching", "--output", "/nonexistent/decision.json"], "--output: no folder /nonexistent"),
    (["preview_digest", "--topics", "quantization", "--json", "--text"], "argument --text: not allowed with argument --json"),
    (["import_papers", "http://[bad"], "http://[bad: not a URL that can be fetched (Invalid IPv6 URL): 'http://[bad'"),
]


@pytest.mark.parametrize("args, message", BAD_VALUES, ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_a_bad_option_value_is_one_line_and_exit_status_1(tmp_path, args, message):
    done = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=BASE_DIR, env=subprocess_env(tmp_path),
        capture_output=True, text=True, timeout=60,
    )

    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.splitlines() == [f"CommandError: {message}"]


def test_called_from_code_a_bad_option_value_raises_command_error():
    with pytest.raises(CommandError, match="not a positive whole number: '0'"):
        call_command("preview_digest", "--topics", "quantization", "--limit", "0")


@pytest.mark.django_db
def test_training_the_keyword_decision_without_the_sample_in_the_catalog_says_what_to_run(tmp_path):
    with pytest.raises(CommandError, match="run import_papers"):
        call_command("train_matching", output=tmp_path / "d.json")
    assert not (tmp_path / "d.json").exists()


@pytest.mark.parametrize(
    "args",
    [["import_papers", "digest/sample_data/daily_papers_listing.txt"], ["send_digests", "--inline", "--now"],
     ["file_papers"], ["preview_digest", "--topics", "quantization"]],
    ids=lambda args: args[0],
)
def test_on_a_database_never_migrated_a_command_says_to_migrate(tmp_path, args):
    env = subprocess_env(tmp_path) | {"DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}"}
    done = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 1
    last = done.stderr.splitlines()[-1]
    # Which database, so that the right one is migrated (a cron job without DATABASE_URL
    # falls back to a new SQLite file).
    assert last.startswith(f"CommandError: the database (sqlite {tmp_path / 'fresh.sqlite3'}) is not migrated (")
    assert last.endswith("): run python manage.py migrate")
    assert "Traceback" not in done.stderr
