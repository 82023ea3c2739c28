"""The healthchecks docker-compose.yml gives web, workers and beat work: each is run
here against the real thing (a live server, a worker on Redis, a beat) and passes, and
fails when its process is not there."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid

import pytest

from tests.conftest import requires_redis
from tests.digest.sending_helpers import BASE_DIR, PYTHON, subprocess_env

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

CELERY = str(PYTHON.parent / "celery")
COMPOSE = (BASE_DIR / "docker-compose.yml").read_text()


def healthcheck(service: str) -> list[str]:
    """The `test:` command of a service's healthcheck, as Docker would run it."""
    block = re.search(rf"^  {re.escape(service)}:\n(.*?)(?=^  \S|\Z)", COMPOSE, re.M | re.S).group(1)
    command = json.loads(re.search(r"^      test: (\[.*\])$", block, re.M).group(1))
    if command[0] == "CMD-SHELL":
        # Compose turns $$ into $ before the shell sees it.
        return ["sh", "-c", command[1].replace("$$", "$")]
    assert command[0] == "CMD"
    return command[1:]


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run a healthcheck with the project's python and celery first on PATH, as in the image."""
    env = env | {"PATH": f"{PYTHON.parent}{os.pathsep}{env.get('PATH', os.defpath)}"}
    return subprocess.run(command, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60)


def test_the_web_healthcheck_passes_on_a_healthy_site_and_fails_without_one(live_server, tmp_path):
    command = [part.replace("http://127.0.0.1:8000", live_server.url) for part in healthcheck("web")]
    env = subprocess_env(tmp_path)

    assert run(command, env).returncode == 0
    gone = [part.replace("http://127.0.0.1:8000", "http://127.0.0.1:9") for part in healthcheck("web")]
    assert run(gone, env).returncode != 0


def test_every_worker_service_has_the_same_healthcheck():
    assert healthcheck("worker-mail") == healthcheck("worker-planning") == healthcheck("worker-imports")


@requires_redis
def test_the_worker_healthcheck_pings_its_own_worker(tmp_path):
    service = "worker-mail"
    env = subprocess_env(tmp_path, redis_url=os.environ["REDIS_URL"]) | {"HOSTNAME": f"h9-{uuid.uuid4().hex[:8]}"}
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            [CELERY, "-A", "digest", "worker", "--pool=solo", "--loglevel=INFO", "--without-gossip", "--without-mingle",
             "--hostname", f"celery@{env['HOSTNAME']}"],
            cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while "ready." not in log_path.read_text():
            assert worker.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        assert run(healthcheck(service), env).returncode == 0
        assert run(healthcheck(service), env | {"HOSTNAME": "someone-else"}).returncode != 0
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def test_the_beat_healthcheck_sees_a_running_beat_and_not_a_stale_file(tmp_path):
    schedule = tmp_path / "celerybeat-schedule"
    command = [part.replace("/tmp/celerybeat-schedule", str(schedule)) for part in healthcheck("beat")]
    env = subprocess_env(tmp_path)
    assert run(command, env).returncode != 0  # no beat has run

    beat = subprocess.Popen(
        [CELERY, "-A", "digest", "beat", "--schedule", str(schedule)],
        cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob("celerybeat-schedule*")):
            assert beat.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        assert run(command, env).returncode == 0
    finally:
        beat.terminate()
        beat.wait(timeout=30)

    an_hour_ago = time.time() - 3600
    for path in tmp_path.glob("celerybeat-schedule*"):
        os.utime(path, (an_hour_ago, an_hour_ago))
    assert run(command, env).returncode != 0


def test_web_workers_and_beat_wait_for_the_one_shot_migration():
    assert re.search(r"^  migrate:\n    <<: \*base\n    restart: \"no\"\n    command: python manage.py migrate --noinput$", COMPOSE, re.M)
    assert "migrate:\n      condition: service_completed_successfully" in COMPOSE
    for service in ("web", "worker-mail", "worker-planning", "worker-imports", "beat"):
        assert re.search(rf"^  {service}:\n    <<: \*app$", COMPOSE, re.M), service
    assert "manage.py migrate" not in re.search(r"^  web:\n(.*?)(?=^  \S)", COMPOSE, re.M | re.S).group(1)


def test_mailpit_is_pinned_to_a_version():
    assert re.search(r"image: axllent/mailpit:v\d+\.\d+\.\d+$", COMPOSE, re.M)


def test_the_image_installs_locked_dependencies_before_the_code_and_runs_as_a_user():
    lines = [line for line in (BASE_DIR / "Dockerfile").read_text().splitlines() if line and not line.startswith("#")]
    install_locked = lines.index("RUN pip install --no-cache-dir --require-hashes -r requirements.lock")
    copy_code = lines.index("COPY . .")
    assert lines.index("COPY requirements.lock ./") < install_locked < copy_code
    users = [line for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("USER root", "USER 0")
    assert lines.index(users[-1]) > max(i for i, line in enumerate(lines) if line.startswith("RUN "))


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_lock_file_pins_every_runtime_dependency_of_pyproject():
    pyproject = (BASE_DIR / "pyproject.toml").read_text()
    block = re.search(r"^dependencies = \[\n(.*?)^\]", pyproject, re.M | re.S).group(1)
    wanted = {normalised(re.match(r'\s*"([A-Za-z0-9_.-]+)', line).group(1)) for line in block.splitlines() if '"' in line}
    locked = {normalised(m) for m in re.findall(r"^([A-Za-z0-9_.-]+)==", (BASE_DIR / "requirements.lock").read_text(), re.M)}
    assert wanted - locked == set(), "re-run the pip-compile command at the top of requirements.lock"
