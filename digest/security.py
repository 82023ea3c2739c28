"""Content-Security-Policy on every response: the site's pages, the admin, error pages
and a digest shown in the browser each get the narrowest policy they work with."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

# Everything the pages need is served from this site: no inline code, no third parties.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
# Django's admin sets a few style attributes inline; its scripts are all files.
ADMIN_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
# A digest in the browser is the email's HTML: inlined styles, nothing to run, no forms.
DIGEST_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)

# The same HTML as a reader's preview inside the admin: framed by the admin's own pages
# only (in a sandboxed iframe there), still nothing to run and no forms.
ADMIN_PREVIEW_CONTENT_SECURITY_POLICY = DIGEST_CONTENT_SECURITY_POLICY.replace(
    "frame-ancestors 'none'", "frame-ancestors 'self'"
)


class ContentSecurityPolicyMiddleware:
    """Sets the default policy on any response whose view did not choose its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        admin = request.path.startswith("/admin/")
        response.headers.setdefault(
            "Content-Security-Policy", ADMIN_CONTENT_SECURITY_POLICY if admin else CONTENT_SECURITY_POLICY
        )
        return response
