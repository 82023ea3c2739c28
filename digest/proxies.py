"""The client's IP address, read the same way by the rate limits and the consent
evidence, behind any number of trusted reverse proxies (settings.TRUSTED_PROXY_COUNT).

Each proxy appends the address it received the request from to X-Forwarded-For, so only
the last TRUSTED_PROXY_COUNT entries were written by someone we trust; everything to
their left is whatever the client sent. With no trusted proxy the header is ignored."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest

# A key for the rate limits when no address can be read at all (a Unix socket without a
# proxy): such requests then share one budget instead of failing.
UNKNOWN_CLIENT = "0.0.0.0"


def _valid(candidate: str) -> str | None:
    try:
        return str(ipaddress.ip_address(candidate.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The address TRUSTED_PROXY_COUNT hops from the right of X-Forwarded-For, else
    REMOTE_ADDR; None when neither holds an address."""
    hops = settings.TRUSTED_PROXY_COUNT
    if hops > 0:
        entries = [entry for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if entry.strip()]
        if len(entries) >= hops:
            address = _valid(entries[-hops])
            if address is not None:
                return address
    return _valid(request.META.get("REMOTE_ADDR", "") or "")


def ratelimit_ip(request: HttpRequest) -> str:
    """django-ratelimit's RATELIMIT_IP_META_KEY: always an address, never an error."""
    return client_ip(request) or UNKNOWN_CLIENT
