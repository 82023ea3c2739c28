"""Every response carries a Content-Security-Policy, including the admin, error pages
and a digest shown in the browser."""

from __future__ import annotations

import datetime as dt

import pytest

from digest.digest_email import view_token
from digest.models import Digest
from subscriptions.models import Subscriber

pytestmark = pytest.mark.django_db


def policy(response) -> dict[str, str]:
    header = response.headers.get("Content-Security-Policy", "")
    return {part.split()[0]: part.strip() for part in header.split(";") if part.strip()}


@pytest.mark.parametrize(
    "path", ["/", "/subscribe/", "/manage/", "/no-such-page/", "/digests/not-a-token/", "/privacy/"]
)
def test_site_pages_and_error_pages_run_no_inline_or_foreign_code(client, path):
    response = client.get(path)
    directives = policy(response)
    assert directives["script-src"] == "script-src 'self'"
    assert directives["frame-ancestors"] == "frame-ancestors 'none'"


@pytest.mark.parametrize(
    "path", ["/admin/login/", "/admin/", "/admin/subscriptions/subscriber/", "/admin/nothing-here/"]
)
def test_admin_pages_run_only_their_own_script_files(admin_client, path):
    directives = policy(admin_client.get(path))
    assert directives["script-src"] == "script-src 'self'"
    assert directives["frame-ancestors"] == "frame-ancestors 'none'"


def test_a_digest_in_the_browser_may_run_nothing_at_all(client):
    reader = Subscriber.objects.create(email="ada@example.org", status=Subscriber.Status.ACTIVE)
    digest = Digest.objects.create(subscriber=reader, period=dt.date(2026, 11, 27), status=Digest.Status.SENT)

    response = client.get(f"/digests/{view_token(digest)}/")

    assert response.status_code == 200
    directives = policy(response)
    assert directives["default-src"] == "default-src 'none'"
    assert "script-src" not in directives
    assert directives["form-action"] == "form-action 'none'"
