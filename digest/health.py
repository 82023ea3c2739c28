"""`/healthz`: is this process able to do its job? The database, the shared cache (rate
limits) and the Celery broker each answer, and the static files are collected, or the
reply is 503 naming what did not.

Answered by a middleware placed first, before the host check: a container's health probe
asks by IP address, which need not be in ALLOWED_HOSTS. The reply says only "ok" or
"unavailable" per part, nothing an outsider could use."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse

PATH = "/healthz"
BROKER_TIMEOUT_SECONDS = 3


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_cache() -> None:
    cache.set("healthz", "ok", 10)
    if cache.get("healthz") != "ok":
        raise RuntimeError("the cache did not keep a value")


def check_broker() -> None:
    from digest.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)


def check_static_files() -> None:
    # With DEBUG off every page names its files through the manifest `collectstatic`
    # writes: without it, every page, error pages included, is a 500.
    from django.contrib.staticfiles.storage import staticfiles_storage

    staticfiles_storage.url("favicon.svg")


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "cache": check_cache,
    "broker": check_broker,
    "static_files": check_static_files,
}


def health() -> dict[str, str]:
    report = {}
    for name, check in CHECKS.items():
        try:
            check()
            report[name] = "ok"
        except Exception:  # any failure of a part is the answer, not an error page
            report[name] = "unavailable"
    return report


class HealthCheckMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path != PATH:
            return self.get_response(request)
        report = health()
        healthy = all(state == "ok" for state in report.values())
        response = HttpResponse(
            json.dumps(report) + "\n", content_type="application/json", status=200 if healthy else 503
        )
        response["Cache-Control"] = "no-store"
        response["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
        return response
