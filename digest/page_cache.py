"""Public pages (home, listing days, papers, topic feeds) cached for every anonymous
visitor alike.

These pages are the same for everyone: they read no cookie, set none, and carry no CSRF
token or flash message (see `public_page`), so one rendering serves all visitors until
the catalog changes. The cache key holds a catalog version that imports, filing and
curators' edits bump (`catalog_changed`), so a new listing shows at once rather than
after the timeout; the timeout only bounds how long a missed bump could last."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils.cache import has_vary_header

VERSION_KEY = "public-pages:version"


def catalog_version() -> int:
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, 1, timeout=None)
        version = cache.get(VERSION_KEY, 1)
    return int(version)


def catalog_changed() -> None:
    """Every cached public page is out of date from now on."""
    try:
        cache.incr(VERSION_KEY)
    except ValueError:  # no version yet: nothing was cached under one
        cache.add(VERSION_KEY, 1, timeout=None)


# The only query parameters the public pages read. The key holds these alone, so junk
# parameters (?utm_source=..., ?x=<random>) neither miss the cache nor fill it.
PAGE_PARAMETERS = ("topic", "page")


def _key(request: HttpRequest, version: int) -> str:
    # The host is fixed by ALLOWED_HOSTS and the page depends on no header or cookie.
    wanted = [(name, request.GET.get(name)) for name in PAGE_PARAMETERS if name in request.GET]
    digest = hashlib.sha256(repr((request.path, wanted)).encode()).hexdigest()
    return f"public-pages:{version}:{request.method}:{digest}"


def public_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Serve `view` from the shared cache for GET and HEAD. A response that set a
    cookie or varies on one is never stored: that page was not the same for everyone."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        seconds = settings.PUBLIC_PAGE_CACHE_SECONDS
        if request.method not in ("GET", "HEAD") or seconds <= 0:
            return view(request, *args, **kwargs)
        key = _key(request, catalog_version())
        response = cache.get(key)
        if response is None:
            response = view(request, *args, **kwargs)
            if hasattr(response, "render") and callable(response.render):
                response.render()
            storable = (
                response.status_code == 200
                and not response.streaming
                and not response.cookies
                and not has_vary_header(response, "Cookie")
            )
            if storable:
                response["Cache-Control"] = f"public, max-age={min(seconds, 300)}"
                cache.set(key, response, seconds)
        return response

    return wrapped
