"""A setting given a value it cannot use is refused at start, in one line that names it,
not met by an error on every request or by a job that quietly does nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[1]


def check_with(tmp_path: Path, **settings: str) -> subprocess.CompletedProcess:
    """`manage.py check` with only these settings (and the embedded defaults)."""
    env = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
    env |= {"VAR_DIR": str(tmp_path), **settings}
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("DIGEST_PLAN_CHUNK", "0", "DIGEST_PLAN_CHUNK must be at least 1, not 0"),  # planned nobody, silently
        ("DIGEST_TICK_SECONDS", "0", "DIGEST_TICK_SECONDS must be at least 1, not 0"),  # ticks without end
        ("PAPERS_PER_PAGE", "0", "PAPERS_PER_PAGE must be at least 1, not 0"),
        ("EDITORS_PICKS_PER_DIGEST", "-3", "EDITORS_PICKS_PER_DIGEST must be at least 0, not -3"),
        ("IMPORT_MAX_MB", "-1", "IMPORT_MAX_MB must be at least 1, not -1"),
        ("EMAIL_PORT", "70000", "EMAIL_PORT must be at most 65535, not 70000"),
        ("SIGNUP_RATE_PER_IP", "ten", 'SIGNUP_RATE_PER_IP must be a rate like "10/h"'),
        ("ADMIN_LOGIN_RATE_PER_IP", "x", 'ADMIN_LOGIN_RATE_PER_IP must be a rate like "10/h"'),
        ("ADMIN_LOGIN_RATE_PER_IP", "10/0m", 'ADMIN_LOGIN_RATE_PER_IP must be a rate like "10/h"'),  # a zero period
        ("DATABASE_URL", "notaurl", "DATABASE_URL is not a database URL"),
        ("REDIS_URL", "notaurl", "REDIS_URL must start with redis://"),
        ("REDIS_URL", "unix:///run/redis.sock", "REDIS_URL must start with redis://"),  # no Celery transport
        ("LOG_LEVEL", "loud", "LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not 'LOUD'"),
    ],
)
def test_a_setting_it_cannot_use_is_refused_at_start_in_one_line(tmp_path, setting, value, message):
    done = check_with(tmp_path, **{setting: value})
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [f"configuration error: {message}"] or (
        message in done.stderr and "Traceback" not in done.stderr
    ), done.stderr


@pytest.mark.parametrize("level", ["debug", "WARN", "warning"])
def test_log_level_is_read_whatever_its_case_and_as_logging_names_it(tmp_path, level):
    done = check_with(tmp_path, LOG_LEVEL=level)
    assert done.returncode == 0, done.stderr
