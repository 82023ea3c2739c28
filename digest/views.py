"""Pages of the digest app: a sent digest, in the browser, at its signed link."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from .digest_email import read_view_token, render_saved_digest_html


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
    return response
