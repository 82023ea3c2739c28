"""The scheduled import of the daily feeds, and the HTTP clients under it, against a real
local HTTP server (no mocks)."""

from __future__ import annotations

import logging
import threading
import time
from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from digest import importers
from digest.importers import SourceError, TransientFetchError, fetch_arxiv
from digest.models import Paper
from digest.tasks import import_daily_feeds

from .feed_server import SLOW_SECONDS, feed_server  # noqa: F401

pytestmark = pytest.mark.django_db


def test_it_imports_every_configured_feed_for_the_day_and_logs_a_summary(
    feed_server, settings, caplog  # noqa: F811
):
    settings.DAILY_FEED_URLS = [
        feed_server.url("/api/daily_papers?date={date}"),
        feed_server.url("/api/query?search_query=submittedDate:{date}"),
    ]
    caplog.set_level(logging.INFO, logger="digest.importers")

    result = import_daily_feeds.apply(args=["2024-10-31"])

    assert result.successful()
    assert [hit.query for hit in feed_server.hits] == [
        "date=2024-10-31", "search_query=submittedDate:2024-10-31"
    ]
    assert Paper.objects.count() == 6  # 5 from HF; arXiv adds Maldacena and fills the rest
    # HF gives no listing day for this one: it was on the feed of the day fetched.
    assert Paper.objects.get(arxiv_id="1706.03762").listed_on == date(2024, 10, 31)
    assert Paper.objects.get(arxiv_id="2410.23168").listed_on == date(2024, 10, 31)
    # The task embeds what it imported (and re-embeds abstracts the second feed revised).
    assert not Paper.objects.filter(embedding__isnull=True).exists()
    summaries = [r.getMessage() for r in caplog.records if "imported:" in r.getMessage()]
    assert summaries == [
        f"feed {feed_server.url('/api/daily_papers?date=2024-10-31')} imported: "
        "created 5, updated 0, unchanged 0, rejected 1",
        f"feed {feed_server.url('/api/query?search_query=submittedDate:2024-10-31')} imported: "
        "created 1, updated 3, unchanged 0, rejected 1",
    ]


def test_the_daily_import_mends_papers_an_interrupted_import_left_without_vectors(feed_server, settings):  # noqa: F811
    settings.DAILY_FEED_URLS = [feed_server.url("/api/daily_papers?date={date}")]
    left = Paper.objects.create(
        title="Brain tumour segmentation in MRI",
        abstract="We segment brain tumours in magnetic resonance images of patients.",
        listed_on=date(2024, 10, 30),
    )
    hidden = Paper.objects.create(title="A hidden paper", abstract="Never shown.", is_hidden=True)

    assert import_daily_feeds.apply(args=["2024-10-31"]).successful()

    left.refresh_from_db()
    assert left.embedding is not None
    assert left.topics.filter(slug="medical-imaging").exists()
    hidden.refresh_from_db()
    assert hidden.embedding is None  # never shown, never matched: no work spent on it


def test_the_daily_import_embeds_readers_keywords_a_lost_task_left_without_a_vector(feed_server, settings):  # noqa: F811
    from digest.models import EmbeddedKeyword
    from subscriptions.models import Subscriber

    settings.DAILY_FEED_URLS = [feed_server.url("/api/daily_papers?date={date}")]
    Subscriber.objects.create(email="ada@example.org", keywords=["brain tumour segmentation"])
    old = Subscriber.objects.create(email="old@example.org", keywords=["protein folding"])
    # Only readers who changed their keywords lately: not a scan of every reader each time.
    Subscriber.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timezone.timedelta(days=30))
    assert not EmbeddedKeyword.objects.exists()

    assert import_daily_feeds.apply(args=["2024-10-31"]).successful()

    assert set(EmbeddedKeyword.objects.values_list("key", flat=True)) == {"brain tumour segmentation"}


def test_it_retries_a_feed_that_answers_500_five_times_then_fails(feed_server, settings):  # noqa: F811
    settings.DAILY_FEED_URLS = [feed_server.url("/error")]

    # apply() runs the task and its retries at once (no backoff wait) in this process.
    result = import_daily_feeds.apply(args=["2024-10-31"])

    assert result.failed()
    assert isinstance(result.result, TransientFetchError)
    assert len(feed_server.hits_on("/error")) == 1 + 5


def test_it_does_not_retry_a_feed_that_is_not_found(feed_server, settings):  # noqa: F811
    settings.DAILY_FEED_URLS = [feed_server.url("/no-such-feed?date={date}")]

    result = import_daily_feeds.apply(args=["2024-10-31"])

    assert result.failed()
    assert "HTTP 404 Not Found" in str(result.result)
    assert len(feed_server.hits) == 1


def test_it_gives_up_on_a_slow_feed_after_the_timeout(feed_server, settings):  # noqa: F811
    settings.FEED_TIMEOUT_SECONDS = 0.5
    settings.DAILY_FEED_URLS = [feed_server.url("/slow")]
    started = time.monotonic()

    with pytest.raises(TransientFetchError, match="timed out after 0.5s"):
        importers.import_daily_feeds(date(2024, 10, 31))

    assert time.monotonic() - started < SLOW_SECONDS


def test_it_still_imports_the_other_feeds_when_one_fails(feed_server, settings):  # noqa: F811
    settings.DAILY_FEED_URLS = [feed_server.url("/error"), feed_server.url("/api/daily_papers?date={date}")]

    with pytest.raises(TransientFetchError):
        importers.import_daily_feeds(date(2024, 10, 31))

    assert Paper.objects.count() == 5


def test_it_fails_a_feed_of_the_wrong_format_without_retrying(feed_server, settings):  # noqa: F811
    settings.DAILY_FEED_URLS = [feed_server.url("/papers?date={date}")]

    with pytest.raises(SourceError, match="a web page \\(HTML\\), not a feed") as failure:
        importers.import_daily_feeds(date(2024, 10, 31))

    assert not isinstance(failure.value, TransientFetchError)
    assert Paper.objects.count() == 0


# --- The arXiv client ---------------------------------------------------------------------

INTERVAL = 0.4


def gaps(hits) -> list[float]:
    return [later.at - earlier.at for earlier, later in zip(hits, hits[1:], strict=False)]


def test_it_spaces_arxiv_requests_from_all_threads_over_one_connection(feed_server, settings):  # noqa: F811
    settings.ARXIV_REQUEST_INTERVAL_SECONDS = INTERVAL
    url = feed_server.url("/api/query")
    threads = [threading.Thread(target=fetch_arxiv, args=(url,)) for _ in range(3)]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    hits = feed_server.hits_on("/api/query")
    assert len(hits) == 3
    assert min(gaps(hits)) >= INTERVAL
    assert len({hit.client_port for hit in hits}) == 1  # one kept-alive connection
    assert "mailto:" in hits[0].user_agent and "DailyPapersDigest/" in hits[0].user_agent


def test_it_paces_the_import_command_when_it_reads_arxiv(feed_server, settings):  # noqa: F811
    settings.ARXIV_REQUEST_INTERVAL_SECONDS = INTERVAL
    url = feed_server.url("/api/query?id_list=2410.23168")

    for _ in range(2):
        call_command("import_papers", url, "--format", "arxiv", stdout=StringIO(), stderr=StringIO())

    assert min(gaps(feed_server.hits_on("/api/query"))) >= INTERVAL
    assert Paper.objects.count() == 4
