"""The Docker image runs in production mode unless told otherwise: DEBUG off, a
SECRET_KEY required, no debug page for a stranger's Host header."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]

PROBE = """
import django
django.setup()
from django.core.management import call_command
from django.test import Client
call_command("collectstatic", interactive=False, verbosity=0)  # as the image's build does
response = Client(raise_request_exception=False).get("/", HTTP_HOST="evil.example")
body = response.content.decode()
print(response.status_code, "DEBUG = True" in body or "DisallowedHost" in body)
"""


def image_environment() -> dict[str, str]:
    """The ENV lines of the Dockerfile: what every container of the image starts with."""
    found: dict[str, str] = {}
    for line in (BASE_DIR / "Dockerfile").read_text().splitlines():
        if line.startswith("ENV "):
            for pair in shlex.split(line[4:]):
                name, _, value = pair.partition("=")
                found[name] = value
    return found


def run_as_the_image(tmp_path, code: str, **extra: str) -> subprocess.CompletedProcess:
    keep = {name: os.environ[name] for name in ("PATH", "DATABASE_URL", "REDIS_URL") if name in os.environ}
    env = keep | image_environment() | {"VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "digest.settings"} | extra
    return subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_image_refuses_to_start_without_a_secret_key(tmp_path):
    result = run_as_the_image(tmp_path, "import django; django.setup()")

    assert result.returncode != 0
    assert "SECRET_KEY is required when DEBUG is off" in result.stderr


def test_the_image_answers_a_strangers_host_header_without_a_debug_page(tmp_path):
    result = run_as_the_image(tmp_path, PROBE, SECRET_KEY="x" * 50)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["400", "False"]


def test_the_image_collects_static_files_as_production_serves_them():
    # Production (DEBUG off) serves hashed names from a manifest: it must be built with
    # the same storage, or every page fails on a missing manifest entry.
    collect = next(line for line in (BASE_DIR / "Dockerfile").read_text().splitlines() if "collectstatic" in line)
    assert re.search(r"\bDEBUG=(false|0)\b", collect)


def test_compose_runs_in_production_mode_and_requires_a_secret_key():
    compose = (BASE_DIR / "docker-compose.yml").read_text()
    assert 'DEBUG: "false"' in compose
    assert "SECRET_KEY: ${SECRET_KEY:?" in compose


def test_make_demo_and_run_are_development_mode_explicitly():
    makefile = (BASE_DIR / "Makefile").read_text()
    assert re.search(r"^demo run web worker beat migrate: export DEBUG \?= true$", makefile, re.M)
