"""Public pages (home, listing days, papers, topic feeds) cached for every anonymous
visitor alike.

These pages are the same for everyone: they read no cookie, set none, and carry no CSRF
token or flash message (see `public_page`), so one rendering serves all visitors until
the catalog changes. The cache key holds a catalog version that imports, filing and
curators' edits bump (`catalog_changed`), so a new listing shows at once rather than
after the timeout; the timeout only bounds how long a missed bump could last."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from functools import lru_cache, wraps
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
_PAGE_NUMBER = re.compile(r"[1-9][0-9]{0,3}")


def _key(request: HttpRequest, version: int) -> str | None:
    """The page's cache key; None for a value no page is cached under (?page=junk1,
    ?topic=<not a topic>): every such variant would be one more entry, and enough of
    them would push the real pages out of the cache."""
    wanted = [(name, request.GET.get(name, "")) for name in PAGE_PARAMETERS if name in request.GET]
    for name, value in wanted:
        if name == "page" and not _PAGE_NUMBER.fullmatch(value):
            return None
        if name == "topic" and value not in _topic_slugs(version):
            return None
    # The host is fixed by ALLOWED_HOSTS and the page depends on no header or cookie.
    digest = hashlib.sha256(repr((request.path, wanted)).encode()).hexdigest()
    return f"public-pages:{version}:{request.method}:{digest}"


@lru_cache(maxsize=2)
def _topic_slugs(version: int) -> frozenset[str]:
    """The topics' slugs, read once per catalog version (a topic edit bumps it)."""
    from .models import Topic

    return frozenset(Topic.objects.values_list("slug", flat=True))


def public_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Serve `view` from the shared cache for GET and HEAD. A response that set a
    cookie or varies on one is never stored: that page was not the same for everyone."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        seconds = settings.PUBLIC_PAGE_CACHE_SECONDS
        if request.method not in ("GET", "HEAD") or seconds <= 0:
            return view(request, *args, **kwargs)
        key = _key(request, catalog_version())
        if key is None:
            return view(request, *args, **kwargs)
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
