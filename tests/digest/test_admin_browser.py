"""A curator's repairs in real headless Chromium against the live test server."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from digest.celery import app as celery_app
from digest.models import Digest, DigestItem
from tests.subscriptions.test_browser import CHROMIUM, browser, open_page, site  # noqa: F401 (fixtures)

from .sending_helpers import outbox_messages, paper, subscriber

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]

DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def eager_celery():
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = False


def log_in(page, site: str) -> None:  # noqa: F811
    User.objects.create_superuser("curator", "curator@example.org", "a long passphrase")
    page.goto(site + "/admin/")
    page.get_by_label("Username").fill("curator")
    page.get_by_label("Password").fill("a long passphrase")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(site + "/admin/")


def test_a_curator_retries_a_failed_digest_of_today_and_it_is_sent_once(browser, site, outbox, eager_celery):  # noqa: F811
    today = dt.date.today()
    reader = subscriber("ada@example.org")
    failed = Digest.objects.create(subscriber=reader, period=today, status=Digest.Status.FAILED, paper_count=1,
                                   attempts=5, last_error="SMTPServerDisconnected: Connection unexpectedly closed")
    DigestItem.objects.create(digest=failed, paper=paper("Low-bit quantization", listed_on=today), rank=1)
    Digest.objects.create(subscriber=subscriber("grace@example.org"), period=today, status=Digest.Status.SENT)
    page = open_page(browser, viewport=DESKTOP)
    log_in(page, site)

    # Digests → Failed → Today: one row, with its error on the detail page.
    page.get_by_role("link", name="Digests", exact=True).click()
    page.get_by_role("link", name="Failed", exact=True).click()
    page.locator("#changelist-filter").get_by_role("link", name="Today", exact=True).first.click()
    page.wait_for_load_state()
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("ada@example.org")

    page.locator("#action-toggle").check()
    page.locator("select[name=action]").select_option("retry_failed")
    page.get_by_role("button", name="Go").click()

    expect(page.get_by_text("1 failed digest queued to be sent again.")).to_be_visible()
    failed.refresh_from_db()
    assert failed.status == Digest.Status.SENT
    assert [m["To"] for m in outbox_messages(outbox)] == ["ada@example.org"]
    assert page.js_errors == []


def test_a_curator_imports_a_listing_file_and_sees_the_summary(browser, site, tmp_path):  # noqa: F811
    abstract = "An abstract long enough to be one, written as several sentences. " * 5
    listing = tmp_path / "listing.txt"
    listing.write_text(
        "Daily Papers\n\nGood Paper\n\n" + abstract + "\n\nOrphan Title\n\nAnother Good Paper\n\n" + abstract + "\n",
        encoding="utf-8",
    )
    page = open_page(browser, viewport=DESKTOP)
    log_in(page, site)

    page.get_by_role("link", name="Papers", exact=True).click()
    page.get_by_role("link", name="Import papers").click()
    page.get_by_label("File").set_input_files(str(listing))
    page.get_by_role("button", name="Import").click()

    summary = page.locator("#import-summary")
    expect(summary).to_contain_text("Created 2, updated 0, unchanged 0, rejected 1.")
    expect(summary).to_contain_text("line 7")
    page.get_by_role("link", name="See the papers").click()
    expect(page.locator("#result_list")).to_contain_text("Another Good Paper")
    assert page.js_errors == []
