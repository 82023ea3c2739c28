"""A real HTTP server on 127.0.0.1 for the importers' tests: it serves the fixtures, and
has routes that fail (500, 404) or answer too slowly, and it notes every request."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SAMPLE_LISTING = Path(__file__).resolve().parents[2] / "digest" / "sample_data" / "daily_papers_listing.txt"

ROUTES = {
    "/api/daily_papers": (FIXTURES / "hf_daily_papers.json", "application/json"),
    "/api/query": (FIXTURES / "arxiv_query.atom", "application/atom+xml"),
    "/listing.txt": (SAMPLE_LISTING, "text/plain; charset=utf-8"),
    "/papers": (FIXTURES / "huggingface_papers_page.html", "text/html"),
}
SLOW_SECONDS = 3
DRIP_SECONDS = 3
DRIP_INTERVAL = 0.1


@dataclass
class Hit:
    at: float  # time.monotonic() when the request arrived
    path: str
    query: str
    user_agent: str
    client_port: int


class FeedServer:
    def __init__(self) -> None:
        self.hits: list[Hit] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.1 keeps connections open, so tests can see connection reuse.
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                user_agent = self.headers.get("User-Agent", "")
                server.hits.append(Hit(time.monotonic(), url.path, url.query, user_agent, self.client_address[1]))
                if url.path == "/error":
                    return self._answer(500, b"Internal Server Error", "text/plain")
                if url.path == "/slow":
                    time.sleep(SLOW_SECONDS)
                    return self._answer(200, b"[]", "application/json")
                if url.path == "/drip":
                    return self._drip()
                if url.path == "/redirect-same-host":
                    return self._redirect(server.url("/listing.txt"))
                if url.path == "/redirect-other-host":
                    # The same server under another name: a host the import was not given.
                    return self._redirect(server.url("/listing.txt").replace("127.0.0.1", "localhost"))
                if url.path not in ROUTES:
                    return self._answer(404, b"Not Found", "text/plain")
                path, content_type = ROUTES[url.path]
                self._answer(200, path.read_bytes(), content_type)

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (the timeout tests)

            def _drip(self) -> None:
                """A valid answer, one byte every DRIP_INTERVAL: each read is quick, the
                whole takes DRIP_SECONDS."""
                body = b"[]" + b" " * int(DRIP_SECONDS / DRIP_INTERVAL - 2)
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    for byte in body:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(DRIP_INTERVAL)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _redirect(self, location: str) -> None:
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return self.base_url + path

    def hits_on(self, path: str) -> list[Hit]:
        return [hit for hit in self.hits if hit.path == path]


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
