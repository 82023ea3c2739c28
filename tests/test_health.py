"""`/healthz` says whether the database, the cache and the broker answer."""

from __future__ import annotations

import socket

import pytest

from digest.celery import app

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_all_parts_answer(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"database": "ok", "cache": "ok", "broker": "ok", "static_files": "ok"}
    assert response["Cache-Control"] == "no-store"


def test_a_probe_by_ip_address_is_answered_whatever_allowed_hosts_says(client):
    assert client.get("/healthz", HTTP_HOST="10.1.2.3:8000").status_code == 200


def test_an_unreachable_broker_makes_it_unhealthy_and_says_which_part(client, monkeypatch):
    monkeypatch.setattr(app.conf, "broker_url", f"redis://127.0.0.1:{closed_port()}/0")

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"database": "ok", "cache": "ok", "broker": "unavailable", "static_files": "ok"}


def test_static_files_never_collected_make_it_unhealthy(client, settings, tmp_path):
    # Production serves files named by collectstatic's manifest; without it every page
    # (error pages too) fails, and the health check used to say 200.
    (tmp_path / "static").mkdir()  # there, but never collected into
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}}
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["static_files"] == "unavailable"


def test_other_pages_are_not_answered_by_it(client):
    assert client.get("/healthz/extra").status_code == 404
