"""The curator's console: the digest ledger and the catalog in the admin."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.models import ProtectedError
from django.test.utils import CaptureQueriesContext

from digest.models import Digest, DigestItem, Paper, Topic

from .sending_helpers import LISTING_DAY, paper, subscriber

pytestmark = pytest.mark.django_db

DIGESTS = "/admin/digest/digest/"
PAPERS = "/admin/digest/paper/"


def make_digest(reader, papers, *, period=LISTING_DAY, status=Digest.Status.SENT, topic=None, **fields) -> Digest:
    digest = Digest.objects.create(
        subscriber=reader, period=period, status=status, paper_count=len(papers), **fields
    )
    for rank, item in enumerate(papers, start=1):
        DigestItem.objects.create(
            digest=digest, paper=item, rank=rank, score=1.0, topic=topic,
            matched=["topic Quantization: 'quantization' in title", "keyword 'INT4' in abstract"],
        )
    return digest


@pytest.fixture
def sent_digest() -> Digest:
    reader = subscriber("ada@example.org")
    return make_digest(reader, [paper("Low-bit quantization"), paper("Fast MRI reconstruction")])


# --- Defect 1: the ledger is not for deleting -----------------------------------------


def test_nobody_can_delete_a_digest_so_the_next_tick_cannot_send_it_again(admin_client, sent_digest):
    delete_page = f"{DIGESTS}{sent_digest.pk}/delete/"

    assert admin_client.get(delete_page).status_code == 403
    assert admin_client.post(delete_page, {"post": "yes"}).status_code == 403
    admin_client.post(DIGESTS, {"action": "delete_selected", "_selected_action": [sent_digest.pk], "post": "yes"})

    assert Digest.objects.filter(pk=sent_digest.pk, status=Digest.Status.SENT).exists()
    assert DigestItem.objects.filter(digest=sent_digest).count() == 2
    changelist = admin_client.get(DIGESTS)
    assert "delete_selected" not in changelist.content.decode()


def test_a_paper_that_was_sent_cannot_be_deleted_only_hidden(admin_client, sent_digest):
    sent = sent_digest.papers.first()
    never_sent = paper("A paper nobody got")

    assert admin_client.get(f"{PAPERS}{sent.pk}/delete/").status_code == 403
    response = admin_client.post(
        PAPERS, {"action": "delete_selected", "_selected_action": [sent.pk, never_sent.pk], "post": "yes"}, follow=True
    )
    assert "hide" in response.content.decode().lower()
    assert Paper.objects.filter(pk=sent.pk).exists()
    assert DigestItem.objects.filter(digest=sent_digest).count() == 2
    with pytest.raises(ProtectedError):
        sent.delete()

    # A paper no digest holds (a bad import) can still go.
    assert admin_client.post(f"{PAPERS}{never_sent.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not Paper.objects.filter(pk=never_sent.pk).exists()


def test_a_bad_import_of_thousands_of_papers_can_be_deleted_from_the_list(admin_client):
    Paper.objects.bulk_create(Paper(title=f"Bad paper {n}", title_key=f"bad paper {n}") for n in range(3000))
    ids = list(Paper.objects.values_list("pk", flat=True))
    response = admin_client.post(PAPERS, {"action": "delete_selected", "_selected_action": ids, "post": "yes"})
    assert response.status_code == 302  # not Django's 400 "too many fields"
    assert not Paper.objects.exists()


# --- Defect 7: what the admin shows ---------------------------------------------------


def test_a_digest_is_named_by_its_reader_and_its_items_by_their_papers(admin_client, sent_digest):
    page = admin_client.get(f"{DIGESTS}{sent_digest.pk}/change/").content.decode()

    assert "ada@example.org" in str(sent_digest)
    assert "for subscriber" not in page
    assert "DigestItem object" not in page
    item = sent_digest.items.order_by("rank").first()
    assert str(item) == "#1 Low-bit quantization"
    # Why-lines read as text, not as a JSON list.
    assert "[&quot;topic" not in page and '["topic' not in page
    assert "keyword &#x27;INT4&#x27; in abstract" in page or "keyword 'INT4' in abstract" in page


def test_only_a_sent_digest_has_a_view_in_browser_link(admin_client, sent_digest):
    failed = make_digest(subscriber("grace@example.org"), [paper("Something")], status=Digest.Status.FAILED,
                         last_error="SMTPRecipientsRefused: 550 no such user")

    listing = admin_client.get(DIGESTS).content.decode()
    assert listing.count("view in browser") == 1
    detail = admin_client.get(f"{DIGESTS}{failed.pk}/change/").content.decode()
    assert "view in browser" not in detail
    assert "550 no such user" in detail


def test_the_topic_form_says_that_quotes_mean_the_exact_form(admin_client):
    page = admin_client.get("/admin/digest/topic/add/").content.decode()
    assert "double quotes" in page and "exact" in page


# --- Defect 6: the changelist does not count items per row ----------------------------


def test_the_digest_changelist_reads_a_stored_paper_count(admin_client, sent_digest):
    with CaptureQueriesContext(connection) as queries:
        page = admin_client.get(DIGESTS)
    assert page.status_code == 200
    assert not any("digest_digestitem" in q["sql"] for q in queries.captured_queries)
    assert page.context["cl"].result_list[0].paper_count == 2


@pytest.mark.parametrize("url", [DIGESTS, PAPERS, "/admin/digest/topic/", "/admin/subscriptions/subscriber/"])
def test_no_changelist_asks_more_queries_when_there_are_more_rows(admin_client, url):
    topic = Topic.objects.create(name="Bench topic", keywords="bench")

    def grow(start: int, count: int) -> None:
        for n in range(start, start + count):
            reader = subscriber(f"reader{n}@example.org", topics=[topic])
            make_digest(reader, [paper(f"Paper {n} a"), paper(f"Paper {n} b")], topic=topic,
                        period=LISTING_DAY - dt.timedelta(days=n % 5))

    def queries_for_page() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(url).status_code == 200
        return len(queries.captured_queries)

    grow(0, 3)
    few = queries_for_page()
    grow(3, 30)
    assert queries_for_page() == few


def test_digests_are_found_by_reader_address_message_id_and_day(admin_client, sent_digest):
    other = make_digest(subscriber("grace@example.org"), [paper("Other")], period=LISTING_DAY - dt.timedelta(days=1),
                        message_id="<abc.123@digest.example>")

    def found(**query) -> set[int]:
        return {d.pk for d in admin_client.get(DIGESTS, query).context["cl"].result_list}

    assert found(q="ADA@example") == {sent_digest.pk}
    assert found(q="<abc.123@digest.example>") == {other.pk}
    assert found(day=LISTING_DAY.isoformat()) == {sent_digest.pk}
    assert admin_client.get(DIGESTS, {"day": "not-a-date"}).status_code in (200, 302)


# --- Repair: retry failed digests -----------------------------------------------------


@pytest.fixture
def eager_celery():
    from digest.celery import app as celery_app

    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = False


def test_retrying_a_failed_digest_sends_it_once_through_the_normal_claim(
    admin_client, outbox, eager_celery, django_capture_on_commit_callbacks
):
    today = dt.date.today()
    reader = subscriber("ada@example.org")
    failed = make_digest(reader, [paper("Low-bit quantization", listed_on=today)], period=today,
                         status=Digest.Status.FAILED, attempts=5, last_error="SMTPServerDisconnected: gone")
    sent = make_digest(subscriber("grace@example.org"), [paper("Other", listed_on=today)], period=today)

    pages = []
    for _ in range(2):  # a double click, or two curators at once
        with django_capture_on_commit_callbacks(execute=True):
            response = admin_client.post(
                DIGESTS, {"action": "retry_failed", "_selected_action": [failed.pk, sent.pk]}, follow=True
            )
        pages.append(response.content.decode())
    assert "1 failed digest queued to be sent again" in pages[0]
    assert "No failed digest among the selected" in pages[1]
    failed.refresh_from_db()
    sent.refresh_from_db()
    assert failed.status == Digest.Status.SENT
    assert failed.attempts == 6
    assert sent.status == Digest.Status.SENT and sent.attempts == 0
    from .sending_helpers import outbox_messages

    assert [m["To"] for m in outbox_messages(outbox)] == ["ada@example.org"]
