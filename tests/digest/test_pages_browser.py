"""The paper, day and home pages in real headless Chromium (Debian's /usr/bin/chromium,
driven by Playwright) against the live test server: checked with axe-core in light and
dark, at desktop and phone width, photographed into var/screenshots/, and the topic chips
clicked."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from digest.filing import file_papers_under_topics
from digest.models import Paper

from .sending_helpers import LISTING_DAY, paper, topic
from .test_digest_email_browser import AXE, CHROMIUM, SCREENSHOTS, WIDTHS, axe_violations

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

DAY = LISTING_DAY


@pytest.fixture
def browser(transactional_db, monkeypatch) -> Iterator:
    assert CHROMIUM.exists(), "needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"
    assert AXE.exists(), "needs axe-core: run `npm ci` (make test does) so node_modules/axe-core is there"
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()
        from django.db import connections

        connections.close_all()


@pytest.fixture
def site(live_server, settings, time_machine) -> str:
    settings.SITE_URL = live_server.url
    time_machine.move_to(dt.datetime.combine(DAY, dt.time(12), tzinfo=dt.UTC), tick=True)
    return live_server.url


@pytest.fixture
def catalog() -> dict[str, Paper]:
    topic("Large language models", "language model", "LLM")
    topic("Robotics", "robot")
    topic("Quantization", "quantization", "quantized")
    star = paper(
        "Scaling $\\mathcal{O}(n^2)$ attention in large language models",
        'We study LLM scaling with $\\mathbb{R}^d$ embeddings and Schr\\"odinger bridges. '
        + "A long abstract sentence goes on about language models. " * 14,
        arxiv_id="2411.00001",
        upvotes=120,
        authors=["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra", "Barbara Liskov"],
        code_url="https://github.com/example/scaling",
        project_url="https://scaling.example.org/",
        page_url="https://huggingface.co/papers/2411.00001",
        organization="Example Lab",
    )
    for n in range(44):
        kind = ("a robot that folds laundry", "quantized language model kernels", "an LLM agent")[n % 3]
        paper(
            f"Paper {n + 1}: {kind}",
            f"We present {kind}. " + "More detail follows here. " * 8,
            upvotes=100 - n,
            authors=["First Author", "Second Author"],
            arxiv_id=f"2411.{n + 100:05d}",
        )
    paper("Yesterday's robot paper", "A robot.", listed_on=DAY - dt.timedelta(days=1), upvotes=3)
    file_papers_under_topics(Paper.objects.all())
    return {"star": star}


def test_paper_day_and_home_pages_pass_axe_light_and_dark_and_are_photographed(browser, site, catalog):
    pages = {
        "paper": f"/papers/{catalog['star'].pk}/",
        "day": f"/days/{DAY.isoformat()}/",
        "home": "/",
        # A day nothing was listed on: its own page, pointing to the days around.
        "empty-day": f"/days/{(DAY + dt.timedelta(days=30)).isoformat()}/",
    }
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems = {}
    for scheme in ("light", "dark"):
        for size, width in WIDTHS.items():
            # The site's CSP forbids inline scripts, rightly; the test's axe injection is one.
            context = browser.new_context(
                viewport={"width": width, "height": 900}, color_scheme=scheme, bypass_csp=True
            )
            page = context.new_page()
            for name, path in pages.items():
                page.goto(site + path)
                if violations := axe_violations(page):
                    problems[(name, scheme, size)] = violations
                if name in ("paper", "day") and scheme == "light":
                    page.screenshot(path=str(SCREENSHOTS / f"{name}-page-{width}.png"), full_page=True)
            context.close()
    assert problems == {}
    for name in ("paper", "day"):
        for width in WIDTHS.values():
            assert (SCREENSHOTS / f"{name}-page-{width}.png").stat().st_size > 10_000


def test_a_reader_filters_a_day_by_topic_opens_a_paper_and_goes_to_subscribe(browser, site, catalog):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(site + "/")
    assert page.locator("ol.papers > li").count() == 30
    page.get_by_role("link", name="Robotics").first.click()
    page.wait_for_url(f"**/days/{DAY.isoformat()}/?topic=robotics")
    titles = page.locator("ol.papers .paper__title").all_inner_texts()
    assert titles and all("robot" in title for title in titles)
    assert page.locator('.chips a[aria-current="page"]').inner_text().startswith("Robotics")

    page.get_by_role("link", name="Previous day").click()
    assert "Yesterday's robot paper" in page.locator("main").inner_text()

    page.goto(site + "/")
    page.get_by_role("link", name="Scaling 𝒪(n²) attention in large language models", exact=True).click()
    assert page.get_by_role("heading", level=1).inner_text() == "Scaling 𝒪(n²) attention in large language models"
    assert "Schrödinger bridges" in page.locator("main").inner_text()
    href = page.get_by_role("link", name="Subscribe to papers like this").get_attribute("href")
    assert href == "/subscribe/?topic=large-language-models"
    context.close()
