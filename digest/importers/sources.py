"""Whole imports: a path or URL read, parsed and applied, and the scheduled daily feeds."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from .catalog import ImportSummary, apply_records
from .fetching import fetch_source, size_text
from .parsers import parse_source
from .records import SourceError, TransientFetchError

logger = logging.getLogger(__name__)


def is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


def on_private_network(url: str) -> bool:
    """Whether the URL's host is (or resolves to) a loopback, private, link-local or
    otherwise non-public address. A name that does not resolve is not private: the
    fetch then says it cannot be reached."""
    import ipaddress
    import socket
    from urllib.parse import urlsplit

    try:
        host = urlsplit(url).hostname or ""
        infos = socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError, OSError, ValueError):
        return False
    nat64 = ipaddress.ip_network("64:ff9b::/96")
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global:
            return True
        if isinstance(address, ipaddress.IPv6Address):
            # IPv4 carried inside IPv6 (mapped, 6to4, NAT64) counts as the IPv4 it carries.
            carried = address.ipv4_mapped or address.sixtofour
            if carried is None and address in nat64:
                carried = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
            if carried is not None and not carried.is_global:
                return True
    return False


def read_source(source: str, *, fmt: str = "auto", timeout: float | None = None) -> bytes:
    """The bytes of a file path or an http(s) URL; SourceError says why not."""
    if is_url(source):
        return fetch_source(source, fmt=fmt, timeout=timeout)
    limit = settings.IMPORT_MAX_BYTES
    try:
        with Path(source).open("rb") as file:
            # One byte more than allowed tells "too big" without reading all of it.
            data = file.read(limit + 1)
    except OSError as error:
        raise SourceError(f"cannot read the file: {error.strerror or error}") from None
    if len(data) > limit:
        raise SourceError(f"the file is larger than {size_text(limit)} (IMPORT_MAX_MB)")
    return data


def import_source(
    source: str,
    *,
    fmt: str = "auto",
    listed_on: date | None = None,
    progress: Callable[[int], object] | None = None,
) -> ImportSummary:
    """Read, parse and apply one source. Raises SourceError, having written nothing,
    when the source cannot be read or is not the format it was taken for."""
    parsed = parse_source(read_source(source, fmt=fmt), fmt, listed_on=listed_on)
    summary = apply_records(parsed.items, progress=progress)
    embed_imported(summary)
    return summary


def embed_imported(summary: ImportSummary, progress: Callable[[int], object] | None = None) -> None:
    """Compute the vectors of the papers an import added or changed (the model runs here,
    in the importing process, so that the send workers never need it), then file them
    under their topics. Every paper named, not only the new ones: running an import
    again mends one that stopped before its vector or its topics."""
    from digest.filing import refresh_papers

    summary.embedded, summary.not_embedded_reason = refresh_papers(
        summary.to_file or summary.to_embed, progress=progress
    )


def feed_urls(day: date) -> list[str]:
    # str.replace, not str.format: a URL may hold other braces.
    return [template.replace("{date}", day.isoformat()) for template in settings.DAILY_FEED_URLS]


def import_daily_feeds(day: date | None = None) -> dict[str, ImportSummary]:
    """Import every settings.DAILY_FEED_URLS for `day` (default: today), logging one
    summary line per feed. Every feed is tried even if one fails; then a transient
    failure (timeout, 5xx) is raised so the caller can retry (re-importing the feeds
    that worked is harmless: imports are idempotent), or else any other failure."""
    day = day or timezone.localdate()
    summaries: dict[str, ImportSummary] = {}
    failures: list[tuple[str, SourceError]] = []
    if not settings.DAILY_FEED_URLS:
        logger.warning("no feeds to import: DAILY_FEED_URLS is empty")
    for url in feed_urls(day):
        try:
            summaries[url] = summary = import_source(url, listed_on=day)
        except SourceError as error:
            logger.error("feed %s not imported: %s", url, error)
            failures.append((url, error))
            continue
        logger.info("feed %s imported: %s", url, summary)
        for rejected in summary.rejected:
            logger.warning("feed %s: rejected %s", url, rejected)
    transient = [error for _, error in failures if isinstance(error, TransientFetchError)]
    if transient:
        raise transient[0]
    if failures:
        raise SourceError("; ".join(f"{url}: {error}" for url, error in failures))
    return summaries
