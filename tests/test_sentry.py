"""With SENTRY_DSN set, an unhandled error in a request is reported (here to a stand-in
for Sentry on loopback), without the link token of the request."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]

FAILING_REQUEST = """
import django, sentry_sdk
django.setup()
from django.core import signing
from django.test import Client
token = signing.dumps([1, "0" * 16], salt="subscriptions.token.unsubscribe")
response = Client(raise_request_exception=False).get(
    f"/unsubscribe/{token}/", HTTP_REFERER=f"http://localhost:8000/manage/{token}/"
)
print(response.status_code, token.rpartition(":")[2])
sentry_sdk.flush(10)
"""


class Ingest:
    """Collects what a Sentry client POSTs."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        ingest = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                ingest.bodies.append(body)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.server.server_address[1]}/1"


def test_an_error_in_a_request_is_reported_without_the_links_token(tmp_path):
    ingest = Ingest()
    env = {name: os.environ[name] for name in ("PATH",) if name in os.environ} | {
        "DJANGO_SETTINGS_MODULE": "digest.settings",
        "VAR_DIR": str(tmp_path),
        "SECRET_KEY": "s" * 50,
        "SENTRY_DSN": ingest.dsn,
        # A database that is down: reading the link's subscriber fails.
        "DATABASE_URL": "postgres://nobody@127.0.0.1:9/none",
    }
    try:
        result = subprocess.run(
            [sys.executable, "-c", FAILING_REQUEST], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
        )
    finally:
        ingest.server.shutdown()

    status, signature = result.stdout.split()[-2:]
    assert status == "500", result.stderr
    reports = b"".join(ingest.bodies).decode("utf-8", "replace")
    assert "OperationalError" in reports
    assert "/unsubscribe/<token>/" in reports
    assert signature not in reports
