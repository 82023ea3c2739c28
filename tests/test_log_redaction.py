"""Signed links never reach the logs: gunicorn's access log and Django's "Bad Request"
and "Not Found" lines show `<token>` where the link's token was."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from tests.digest.sending_helpers import BASE_DIR, PYTHON, subprocess_env

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

TOKEN = "WzEsImFiYyJd:1xXkKt:secretsignaturepart"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str, referer: str = "") -> int:
    request = urllib.request.Request(url, headers={"Referer": referer} if referer else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_gunicorn_and_django_log_token_links_redacted(tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [
            str(PYTHON.parent / "gunicorn"),
            "digest.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--access-logfile",
            "-",
            "--logger-class",
            "digest.log_redaction.RedactingGunicornLogger",
        ],
        cwd=BASE_DIR,
        # The test database has the cache table only where the tests run without Redis:
        # with Redis, the server must use it too (the feedback page's rate limit reads it).
        env=subprocess_env(tmp_path, redis_url=os.environ.get("REDIS_URL")) | {"ALLOWED_HOSTS": "127.0.0.1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        base = f"http://127.0.0.1:{port}"
        assert get(f"{base}/unsubscribe/{TOKEN}/", referer=f"{base}/manage/{TOKEN}/") == 400
        assert get(f"{base}/digests/{TOKEN}/?utm=x") == 404
        assert get(f"{base}/manage/link-sent/") == 200
        assert get(f"{base}/feed/feedsecretpart.atom") == 404
        assert get(f"{base}/feedback/{TOKEN}/3/") == 400
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)

    logs = out + err
    assert "secretsignaturepart" not in logs and "feedsecretpart" not in logs
    assert "GET /feed/<token>.atom" in logs and "GET /feedback/<token>/3/" in logs
    assert "GET /unsubscribe/<token>/" in logs  # access log
    assert "Bad Request: /unsubscribe/<token>/" in logs  # django.request
    assert "Not Found: /digests/<token>/" in logs
    assert "/manage/<token>/" in logs  # the referer
    assert "GET /manage/link-sent/" in logs  # fixed pages stay readable
