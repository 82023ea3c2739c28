"""The curator's console in real headless Chromium against the live test server: a pick
made on the listing day shows in a reader's preview, the topic trial, and the sends
dashboard (with axe-core)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.utils import timezone
from playwright.sync_api import expect

from digest.models import Digest, Paper, TickRun
from digest.tasks import send_due_digests
from tests.subscriptions.test_browser import CHROMIUM, browser, open_page, site  # noqa: F401 (fixtures)

from .sending_helpers import sample_catalog, subscriber
from .test_digest_email_browser import AXE, axe_violations

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]

DESKTOP = {"width": 1280, "height": 900}
PASSWORD = "a long passphrase"
SHOTS = settings.BASE_DIR / "var" / "screenshots"


def log_in(page, site: str, username: str) -> None:  # noqa: F811
    page.goto(site + "/admin/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(site + "/admin/")


def curator() -> str:
    user = User.objects.create_user("cura", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name="Curators"))
    return user.username


def test_a_pick_made_on_the_listing_day_is_in_the_readers_preview(browser, site):  # noqa: F811
    today = timezone.localdate()
    catalog = sample_catalog(today)
    pick = catalog.others[4]
    reader = subscriber("ada@example.org", topics=[catalog.medical])
    User.objects.create_superuser("root", "root@example.org", PASSWORD)
    page = open_page(browser, viewport=DESKTOP)
    log_in(page, site, "root")

    # Papers → Listing day: each paper with its topics and reach; pick one.
    page.get_by_role("link", name="Papers", exact=True).click()
    page.get_by_role("link", name="Listing day").click()
    expect(page.locator("#listing-sent")).to_contain_text("0 of 1")
    mri_row = page.locator("#listing-papers tr", has_text=catalog.mri_paper.title)
    expect(mri_row).to_contain_text("Medical Imaging")
    page.get_by_label(f"Select {pick.title}").check()
    page.get_by_label("Action:").select_option("feature")
    page.get_by_role("button", name="Apply to the selected papers").click()
    expect(page.get_by_text("1 paper featured.")).to_be_visible()
    expect(page.locator("#listing-papers tr", has_text=pick.title)).to_contain_text("Editor's pick")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "admin-listing-day.png"), full_page=True)
    assert Paper.objects.get(pk=pick.pk).is_featured

    # Subscribers → the reader → Preview their email: the pick is in it, HTML and text.
    page.goto(site + "/admin/")
    page.locator("#subscriptions-subscriber").get_by_role("link", name="Subscribers").click()
    page.get_by_role("link", name="ada@example.org").click()
    page.get_by_role("link", name="Preview their email").click()
    # The subject names the top paper, now the pick, and the tags that brought them.
    expect(page.locator("#preview-subject")).to_contain_text(pick.title[:30])
    expect(page.locator("#preview-subject")).to_contain_text("Medical Imaging")
    framed = page.frame_locator("#preview-html")
    expect(framed.get_by_role("heading", name=catalog.mri_paper.title)).to_be_visible()
    expect(framed.get_by_role("heading", name="Editor's picks")).to_be_visible()
    expect(framed.get_by_role("heading", name=pick.title)).to_be_visible()
    expect(page.locator("#preview-text")).to_contain_text(pick.title)
    page.screenshot(path=str(SHOTS / "admin-reader-preview.png"), full_page=True)
    assert page.locator("#preview-html").get_attribute("sandbox") == ""
    assert not Digest.objects.filter(subscriber=reader).exists()
    assert page.js_errors == []


def test_a_curator_tries_a_topic_change_before_saving_it(browser, site):  # noqa: F811
    catalog = sample_catalog(timezone.localdate())
    subscriber("q@example.org", topics=[catalog.quantization])
    page = open_page(browser, viewport=DESKTOP)
    log_in(page, site, curator())

    page.get_by_role("link", name="Topics", exact=True).click()
    page.get_by_role("link", name="Quantization", exact=True).click()
    page.get_by_label("Phrases").fill("MRI\nmedical imaging")
    page.get_by_role("button", name="Try this change").click()
    trial = page.locator("#topic-trial")
    expect(trial).to_contain_text("1 receiving reader follows this topic")
    expect(page.locator("#trial-added")).to_contain_text(catalog.mri_paper.title)
    expect(page.locator("#trial-dropped")).to_contain_text(catalog.quant_paper.title)
    expect(page.get_by_label("Phrases")).to_have_value("MRI\nmedical imaging")
    catalog.quantization.refresh_from_db()
    assert "MRI" not in catalog.quantization.keywords  # tried, not saved
    assert page.js_errors == []


def test_a_curator_reads_the_sends_dashboard_and_it_passes_axe(browser, site):  # noqa: F811
    assert AXE.exists(), "needs axe-core: run `npm ci` (make test does) so node_modules/axe-core is there"
    today = timezone.localdate()
    catalog = sample_catalog(today)
    for n in range(3):
        subscriber(f"r{n}@example.org", topics=[catalog.medical], delivery_time=dt.time(0, 0))
    send_due_digests()  # plans three digests and records the run
    Digest.objects.filter(subscriber__email="r0@example.org").update(status=Digest.Status.SENT, paper_count=1)
    Digest.objects.filter(subscriber__email="r1@example.org").update(
        status=Digest.Status.FAILED, failure=Digest.Failure.BOUNCED)
    username = curator()

    page = open_page(browser, viewport=DESKTOP)
    log_in(page, site, username)
    page.get_by_role("link", name="Sends dashboard").click()
    expect(page.get_by_role("heading", name="Sends dashboard")).to_be_visible()
    today_row = page.locator("#sends-per-day tbody tr").first
    expect(today_row.locator("td").nth(0)).to_have_text("1")  # sent
    expect(today_row.locator("td").nth(3)).to_have_text("1")  # failed
    expect(today_row.locator("td").nth(4)).to_have_text("1")  # bounced
    expect(today_row.locator("td").nth(5)).to_have_text("0")  # refused as spam or by policy
    expect(today_row.locator("td").nth(9)).to_have_text("3")  # subscribed
    expect(page.locator("#tick-runs tbody tr")).to_have_count(TickRun.objects.count())
    expect(page.get_by_role("img", name="Digests per day by outcome")).to_be_visible()
    assert page.js_errors == []
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "admin-sends-dashboard.png"), full_page=True)

    # axe-core is injected as an inline script, which the admin's policy refuses: this
    # context alone bypasses the policy to run it.
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    context.add_cookies(page.context.cookies())
    audit = context.new_page()
    audit.goto(site + "/admin/digest/tickrun/")
    assert axe_violations(audit) == []
