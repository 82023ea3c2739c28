"""Imports have limits an operator can rely on: a size cap for files as for downloads,
one deadline for a whole download, no redirect to a host nobody listed, and no control
or bidirectional-override characters in imported text."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from digest.importers import FetchError, TransientFetchError
from digest.importers.records import EXPORT_FORMAT, EXPORT_VERSION
from digest.importers.fetching import fetch_url
from digest.models import Paper

from .feed_server import SAMPLE_LISTING, feed_server  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def test_a_local_file_over_the_size_cap_is_refused_before_it_is_read(tmp_path, settings):
    settings.IMPORT_MAX_BYTES = 10_000
    big = tmp_path / "listing.txt"
    big.write_bytes(SAMPLE_LISTING.read_bytes())  # a valid listing, but ~100 kB

    with pytest.raises(CommandError, match="larger than"):
        call_command("import_papers", str(big), stdout=io.StringIO())
    assert Paper.objects.count() == 0


def test_a_download_over_the_size_cap_is_refused(feed_server, settings):  # noqa: F811
    settings.IMPORT_MAX_BYTES = 10_000
    with pytest.raises(FetchError, match="larger than"):
        fetch_url(feed_server.url("/listing.txt"))


def test_a_server_feeding_bytes_slowly_cannot_stretch_a_download_past_its_deadline(feed_server):  # noqa: F811
    # Each byte comes well within the timeout; the whole answer takes three times it.
    with pytest.raises(TransientFetchError, match="did not arrive within 1s"):
        fetch_url(feed_server.url("/drip"), timeout=1)


def test_a_redirect_on_the_same_host_is_followed(feed_server):  # noqa: F811
    assert fetch_url(feed_server.url("/redirect-same-host")) == SAMPLE_LISTING.read_bytes()


def test_a_redirect_to_another_host_is_refused_unless_listed(feed_server, settings):  # noqa: F811
    with pytest.raises(FetchError, match="redirected to another host, localhost"):
        fetch_url(feed_server.url("/redirect-other-host"))
    assert [hit.path for hit in feed_server.hits] == ["/redirect-other-host"]

    settings.FEED_REDIRECT_HOSTS = ["localhost"]
    assert fetch_url(feed_server.url("/redirect-other-host")) == SAMPLE_LISTING.read_bytes()


def test_imported_text_loses_control_and_bidi_override_characters(tmp_path):
    source = tmp_path / "papers.json"
    source.write_text(
        json.dumps(
            {"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "papers": [
                {
                    "title": "Safe\u202e txt.exe\u202c models\u2066 of\u2069 text",
                    "abstract": "An\u0085 abstract\u2028 with\u200f odd\u009b characters.",
                    "authors": ["Ada\u202e Lovelace"],
                    "listed_on": "2025-11-27",
                }
            ]}
        )
    )
    call_command("import_papers", str(source), "--format", "json", stdout=io.StringIO())

    paper = Paper.objects.get()
    assert paper.title == "Safe txt.exe models of text"
    assert paper.abstract == "An abstract with odd characters."
    assert paper.authors == ["Ada Lovelace"]
