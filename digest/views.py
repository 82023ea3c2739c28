"""Pages of the digest app: a sent digest, in the browser, at its signed link; the
admin's login with a limit on guessing."""

from __future__ import annotations

import unicodedata

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_safe
from django_ratelimit import UNSAFE
from django_ratelimit.core import is_ratelimited

from . import pages
from .digest_email import read_view_token, render_saved_digest_html
from .page_cache import public_page
from .security import DIGEST_CONTENT_SECURITY_POLICY


@require_safe
def view_digest(request: HttpRequest, token: str) -> HttpResponse:
    """The digest as the email showed it. A bad or revoked link gets a friendly 404."""
    digest = read_view_token(token)
    if digest is None:
        return render(request, "digest/digest_not_found.html", status=404)
    response = HttpResponse(render_saved_digest_html(digest))
    # The link is a bearer token: keep the page out of search engines and other sites' logs.
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = DIGEST_CONTENT_SECURITY_POLICY
    return response


def admin_login(request: HttpRequest, **kwargs) -> HttpResponse:
    """The admin's login, with a budget of attempts per client IP and per username: past
    either, a 429 page and the password is not even checked, so guessing stops paying.
    Per username too, since a botnet has many IPs; the price is that someone hammering a
    curator's username locks it out until the window passes (the 429 page says so)."""
    if request.method == "POST":
        # As Django's login reads it (NFKC): "ｃur" logs in as "cur", so it must share its budget.
        username = unicodedata.normalize("NFKC", request.POST.get("username", "")).strip().casefold()
        limited_by_ip = is_ratelimited(
            request,
            group="admin.login-per-ip",
            key="ip",
            rate=lambda group, request: settings.ADMIN_LOGIN_RATE_PER_IP,
            method=UNSAFE,
            increment=True,
        )
        limited_by_username = is_ratelimited(
            request,
            group="admin.login-per-username",
            key=lambda group, request: username,
            rate=lambda group, request: settings.ADMIN_LOGIN_RATE_PER_USERNAME,
            method=UNSAFE,
            increment=True,
        )
        if limited_by_ip or limited_by_username:
            response = render(request, "admin_login_limited.html", status=429)
            response["Retry-After"] = "3600"
            return response
    return admin.site.login(request, **kwargs)


# The public pages: the same for every visitor, served from the shared cache.


def _public(request: HttpRequest, template: str, context: dict) -> HttpResponse:
    # `public_page` in the context keeps base.html from reading flash messages, which
    # would touch the session and make the page differ per visitor.
    return render(request, template, {**context, "public_page": True})


@require_safe
@public_page
def listing_day(request: HttpRequest, day: str) -> HttpResponse:
    parsed = pages.parse_day(day)
    if day != parsed.isoformat():  # "20261130" is the same day: one address for it
        query = f"?{request.GET.urlencode()}" if request.GET else ""
        return redirect(reverse("digest:day", args=[parsed.isoformat()]) + query, permanent=True)
    try:
        shown = pages.listing_day(parsed, topic_slug=request.GET.get("topic"), page=request.GET.get("page"))
    except pages.NoPapersThatDay as nothing:
        # Still a 404 (nothing is at this address), but one that says why and where to go.
        response = _public(request, "digest/empty_day.html", {"listing": nothing.empty})
        response.status_code = 404
        return response
    return _public(request, "digest/day.html", {"listing": shown})


@require_safe
@public_page
def paper(request: HttpRequest, pk: int) -> HttpResponse:
    return _public(request, "digest/paper.html", {"paper": pages.paper(pk)})


# Pages behind a personal link (or the admin) are nobody's to index; the listing is.
ROBOTS_TXT = """User-agent: *
Disallow: /admin/
Disallow: /manage/
Disallow: /confirm/
Disallow: /confirm-new-address/
Disallow: /unsubscribe/
Disallow: /feedback/
Disallow: /digests/
Disallow: /feed/
Disallow: /subscribe/preview/
"""


@require_safe
def robots_txt(request: HttpRequest) -> HttpResponse:
    return HttpResponse(ROBOTS_TXT, content_type="text/plain; charset=utf-8")


@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    # Browsers ask for /favicon.ico whatever the page says: the icon is an SVG. Not a
    # permanent redirect to a hashed name, which a browser would keep after it changed.
    return redirect(settings.STATIC_URL + "favicon.svg")
