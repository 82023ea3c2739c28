"""Importing papers from the admin: a file or a URL, the same importers and limits as
`import_papers`, and its summary with every rejected record."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile

from digest.models import Paper

from .feed_server import FIXTURES, SAMPLE_LISTING, feed_server  # noqa: F401
from .test_curator_admin import PAPERS

pytestmark = pytest.mark.django_db

IMPORT = PAPERS + "import/"
ABSTRACT = "An abstract long enough to be one, written as several sentences. " * 5


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def summary_text(response) -> str:
    page = response.content.decode()
    assert response.status_code == 200
    return page


def test_the_paper_list_links_to_the_import_page(admin_client):
    assert IMPORT in admin_client.get(PAPERS).content.decode()


def test_a_curator_uploads_a_listing_and_sees_each_rejected_record(admin_client):
    listing = ("Daily Papers\r\n\r\nGood Paper\r\n\r\n" + ABSTRACT + "\r\n\r\nOrphan Title\r\n\r\n"
               "Another Good Paper\r\n\r\n" + ABSTRACT + "\r\n").encode()

    page = summary_text(admin_client.post(IMPORT, {"file": upload("listing.txt", listing), "fmt": "auto",
                                                   "listed_on": "2024-10-31"}))

    assert "Created 2, updated 0, unchanged 0, rejected 1." in page
    assert "line 7" in page and "has no abstract" in page
    assert set(Paper.objects.values_list("title", flat=True)) == {"Good Paper", "Another Good Paper"}
    assert set(Paper.objects.values_list("listed_on", flat=True)).pop().isoformat() == "2024-10-31"

    again = summary_text(admin_client.post(IMPORT, {"file": upload("listing.txt", listing), "fmt": "auto"}))
    assert "Created 0, updated 0, unchanged 2, rejected 1." in again


def test_a_curator_imports_from_a_url(admin_client, feed_server, settings):  # noqa: F811
    settings.IMPORT_PRIVATE_URLS = True  # the test's feed server is on this machine
    page = summary_text(admin_client.post(IMPORT, {"url": feed_server.base_url + "/api/daily_papers", "fmt": "hf"}))

    assert "Created 5, updated 0, unchanged 0, rejected 1." in page
    assert Paper.objects.filter(arxiv_id="2410.23168").exists()


@pytest.mark.parametrize(
    "data, message",
    [
        ({"fmt": "auto"}, "Choose a file or give a URL"),
        ({"url": "file:///etc/passwd", "fmt": "auto"}, "Enter a valid URL"),
        ({"url": "ftp://example.org/papers.json", "fmt": "auto"}, "Give an http:// or https:// address."),
        ({"file": "not json", "fmt": "json"}, "Nothing was imported"),
        ({"fmt": "yaml", "url": "https://example.org/"}, "Select a valid choice"),
    ],
)
def test_bad_input_gets_a_clear_error_and_imports_nothing(admin_client, data, message):
    if "file" in data:
        data = dict(data, file=upload("papers.json", data["file"].encode()))
    page = summary_text(admin_client.post(IMPORT, data))
    assert message in page
    assert Paper.objects.count() == 0


def test_a_curator_may_import_and_a_staff_user_without_the_role_may_not(client):
    curator = User.objects.create_user("cura", password="x", is_staff=True)
    curator.groups.add(Group.objects.get(name="Curators"))
    client.force_login(curator)
    assert client.get(IMPORT).status_code == 200

    client.force_login(User.objects.create_user("other", password="x", is_staff=True))
    assert client.get(IMPORT).status_code == 403
    client.logout()
    assert client.get(IMPORT).status_code == 302


def test_a_big_import_leaves_vectors_and_topics_to_the_imports_worker(admin_client, celery_eager, monkeypatch):
    """More papers than the page can embed while it waits go to a background task (run
    here at once: celery_eager); the page says so, and the task files them."""
    from digest import admin as digest_admin

    monkeypatch.setattr(digest_admin, "IMPORT_INLINE_PAPERS", 1)
    listing = ("Daily Papers\r\n\r\nBrain tumour segmentation in MRI\r\n\r\n" + ABSTRACT
               + "\r\n\r\nMedical image segmentation with U-Nets\r\n\r\n" + ABSTRACT + "\r\n").encode()
    page = summary_text(admin_client.post(IMPORT, {"file": upload("listing.txt", listing), "fmt": "auto",
                                                   "listed_on": "2024-10-31"}))
    assert "Created 2" in page
    assert "The vectors and topics of these 2 papers are being computed in the background" in page
    assert Paper.objects.filter(embedding__isnull=True).count() == 0
    assert Paper.objects.filter(topics__slug="medical-imaging").count() == 2


def test_importing_a_file_again_mends_papers_an_earlier_import_left_without_vectors_or_topics(admin_client):
    listing = ("Daily Papers\r\n\r\nBrain tumour segmentation in MRI\r\n\r\n" + ABSTRACT + "\r\n").encode()
    data = {"file": upload("listing.txt", listing), "fmt": "auto", "listed_on": "2024-10-31"}
    summary_text(admin_client.post(IMPORT, data))
    paper = Paper.objects.get()
    assert paper.embedding is not None and paper.topics.exists()
    # As a request cut off by the server's timeout between the import and the rest.
    Paper.objects.update(embedding=None)
    paper.topics.clear()

    again = summary_text(admin_client.post(IMPORT, {**data, "file": upload("listing.txt", listing)}))
    assert "Created 0, updated 0, unchanged 1" in again
    paper.refresh_from_db()
    assert paper.embedding is not None and paper.topics.filter(slug="medical-imaging").exists()


def test_an_import_says_how_many_papers_it_left_without_a_listing_day(admin_client):
    atom = (FIXTURES / "arxiv_query.atom").read_bytes()
    page = summary_text(admin_client.post(IMPORT, {"file": upload("query.atom", atom), "fmt": "arxiv"}))
    unlisted = Paper.objects.filter(listed_on__isnull=True).count()
    assert unlisted > 0
    assert f"{unlisted} of these papers have no listing day: they are on no day page and in no digest." in page

    dated = summary_text(admin_client.post(IMPORT, {"file": upload("query.atom", atom), "fmt": "arxiv",
                                                    "listed_on": "2024-10-31"}))
    assert "no listing day: they are on no day page" not in dated


def test_a_source_with_no_papers_says_so(admin_client):
    page = summary_text(admin_client.post(IMPORT, {"file": upload("empty.json", b"[]"), "fmt": "hf"}))
    assert "The source holds no papers: nothing was imported." in page


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1:6379", "localhost:5432", "10.0.0.8", "[::1]:8000", "169.254.169.254",
     "[64:ff9b::7f00:1]", "[2002:7f00:1::1]"],  # loopback carried in NAT64 and 6to4 addresses
)
def test_a_url_on_the_servers_own_network_is_refused(admin_client, host):
    page = summary_text(admin_client.post(IMPORT, {"url": f"http://{host}/papers.json", "fmt": "auto"}))
    assert "That address is on this server&#x27;s own network: give a public one." in page
    assert not Paper.objects.exists()


def test_an_import_says_how_many_new_papers_came_as_editors_picks_or_hidden(admin_client):
    import json

    export = json.dumps({"format": "daily-papers-digest/papers", "version": 1, "papers": [
        {"title": "A featured paper", "abstract": ABSTRACT, "is_featured": True, "listed_on": "2024-10-31"},
        {"title": "A hidden paper", "abstract": ABSTRACT, "is_hidden": True, "listed_on": "2024-10-31"},
        {"title": "A plain paper", "abstract": ABSTRACT, "listed_on": "2024-10-31"},
    ]}).encode()
    page = summary_text(admin_client.post(IMPORT, {"file": upload("export.json", export), "fmt": "json"}))
    assert "Created 3" in page
    assert "1 of the new papers came marked as editor's picks" in page
    assert "1 of the new papers came marked hidden" in page
