"""HTTP for the importers: one GET with a timeout, and errors an operator can act on.

arXiv's API terms (https://info.arxiv.org/help/api/tou.html) ask for at most one request
every three seconds over a single connection, with a User-Agent that says who is asking;
fetch_arxiv keeps to that for every thread of this process. Separate worker processes
each keep their own pace: arXiv imports are run by hand, not scheduled, so that is fine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from .records import FetchError, TransientFetchError

# Redirects followed before giving up; each must stay on the host asked for, or go to
# one of settings.FEED_REDIRECT_HOSTS.
MAX_REDIRECTS = 5
# Answers that mean "not now" rather than "never".
TRANSIENT_STATUSES = {408, 425, 429}


def user_agent() -> str:
    try:
        version = metadata.version("daily-papers-digest")
    except metadata.PackageNotFoundError:
        version = "dev"
    return f"DailyPapersDigest/{version} (+{settings.SITE_URL}; mailto:{settings.DEFAULT_FROM_EMAIL})"


def fetch_url(url: str, *, timeout: float | None = None) -> bytes:
    """GET `url` and return the body. Raises TransientFetchError on a timeout, a
    connection failure or a 5xx/429 answer, FetchError on anything else that failed."""
    timeout = settings.FEED_TIMEOUT_SECONDS if timeout is None else timeout
    with httpx.Client(headers={"User-Agent": user_agent()}) as client:
        return _get(client, url, timeout)


def fetch_arxiv(url: str, *, timeout: float | None = None) -> bytes:
    """Like fetch_url, but paced for arXiv (settings.ARXIV_REQUEST_INTERVAL_SECONDS
    between the end of one request and the start of the next) over one connection."""
    timeout = settings.FEED_TIMEOUT_SECONDS if timeout is None else timeout
    with ARXIV_THROTTLE.turn(settings.ARXIV_REQUEST_INTERVAL_SECONDS):
        return _get(_arxiv_client(), url, timeout)


def _host_of(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError as exc:  # "http://[bad": an unclosed IPv6 bracket, say
        raise FetchError(f"not a URL that can be fetched ({exc}): {url[:200]!r}") from None


def fetch_source(url: str, *, fmt: str = "auto", timeout: float | None = None) -> bytes:
    """Fetch with the client the source needs: arXiv's paced one for arXiv."""
    host = _host_of(url).lower()
    if fmt == "arxiv" or host == "arxiv.org" or host.endswith(".arxiv.org"):
        return fetch_arxiv(url, timeout=timeout)
    return fetch_url(url, timeout=timeout)


class Throttle:
    """One call at a time, each starting at least `interval` seconds after the previous
    one ended (measuring from the end keeps a slow answer from shortening the gap)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ready_at = 0.0

    @contextmanager
    def turn(self, interval: float) -> Iterator[None]:
        with self._lock:
            delay = self._ready_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                yield
            finally:
                self._ready_at = time.monotonic() + interval


ARXIV_THROTTLE = Throttle()
_arxiv_http: httpx.Client | None = None


def _arxiv_client() -> httpx.Client:
    # Created on first use (in the worker process, after any fork) and only ever used
    # inside ARXIV_THROTTLE's lock, which also makes creating it here race-free.
    global _arxiv_http
    if _arxiv_http is None:
        _arxiv_http = httpx.Client(
            headers={"User-Agent": user_agent()},
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )
    return _arxiv_http


def size_text(limit: int) -> str:
    return f"{limit // 2**20} MB" if limit >= 2**20 else f"{limit // 1024} kB"


def _get(client: httpx.Client, url: str, timeout: float) -> bytes:
    """The body at `url`, within `timeout` seconds for the whole download (a server
    dripping bytes cannot stretch it: httpx's timeout counts per read), at most
    settings.IMPORT_MAX_BYTES, following redirects only on allowed hosts."""
    deadline = time.monotonic() + timeout
    allowed_hosts = {_host_of(url).lower(), *(h.lower() for h in settings.FEED_REDIRECT_HOSTS)}
    try:
        for _ in range(MAX_REDIRECTS + 1):
            remaining = max(deadline - time.monotonic(), 0.001)
            with client.stream("GET", url, timeout=remaining) as response:
                if response.is_redirect and response.next_request is not None:
                    host = (response.next_request.url.host or "").lower()
                    if host not in allowed_hosts:
                        raise FetchError(
                            f"the server redirected to another host, {host} (list it in FEED_REDIRECT_HOSTS to allow it)"
                        )
                    url = str(response.next_request.url)
                    continue
                return _read_body(response, deadline, timeout)
        raise FetchError(f"more than {MAX_REDIRECTS} redirects")
    except httpx.TimeoutException:
        raise TransientFetchError(f"timed out after {timeout:g}s without an answer") from None
    except (httpx.NetworkError, httpx.RemoteProtocolError) as error:
        raise TransientFetchError(f"could not reach the server ({error or type(error).__name__})") from None
    except (httpx.HTTPError, httpx.InvalidURL) as error:
        raise FetchError(f"could not fetch it ({error or type(error).__name__})") from None


def _read_body(response: httpx.Response, deadline: float, timeout: float) -> bytes:
    if response.status_code >= 400:
        status = f"the server answered HTTP {response.status_code} {response.reason_phrase}".rstrip()
        if response.status_code >= 500 or response.status_code in TRANSIENT_STATUSES:
            raise TransientFetchError(status)
        raise FetchError(status)
    limit = settings.IMPORT_MAX_BYTES
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > limit:
            raise FetchError(f"the answer is larger than {size_text(limit)}")
        if time.monotonic() > deadline:
            raise TransientFetchError(f"the whole answer did not arrive within {timeout:g}s")
    return bytes(body)
