"""The digest email as a reader's mail app shows it: the HTML from the outbox opened in
Debian's headless Chromium at desktop and phone widths, light and dark, checked with
axe-core (injected from node_modules) and photographed into var/screenshots/."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.digest_email import Entry, digest_message
from digest.emails import send_email

from .sending_helpers import BASE_DIR, LISTING_DAY, paper, subscriber, topic

CHROMIUM = Path("/usr/bin/chromium")
AXE = BASE_DIR / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = BASE_DIR / "var" / "screenshots"
WIDTHS = {"desktop": 1280, "phone": 390}

pytestmark = [pytest.mark.browser, pytest.mark.django_db]


@pytest.fixture
def outbox(settings, tmp_path) -> Path:
    settings.EMAIL_BACKEND = "digest.mail_outbox.OutboxBackend"
    settings.OUTBOX_DIR = tmp_path / "outbox"
    return settings.OUTBOX_DIR


def sent_digest_html(outbox: Path) -> Path:
    """A full digest, capped, with every kind of paper and why-line, sent to the outbox."""
    reader = subscriber("reader@example.org", keywords=["test-time compute"], authors=["Zoë Ångström"], max_papers=6)
    reasoning, quant = topic("LLM Reasoning", "reasoning"), topic("Quantization", "quantization")
    day = LISTING_DAY

    def item(rank: int, title: str, *, topic_=None, reasons=(), featured=False, **fields) -> Entry:
        found = paper(title, "We study " + title.lower() + ". " + "A long abstract sentence goes on. " * 12, **fields)
        return Entry(
            paper=found, rank=rank, score=10.0 - rank, topic_slug=topic_.slug if topic_ else None,
            topic_name=topic_.name if topic_ else None, reasons=list(reasons), featured=featured,
        )

    entries = [
        item(1, "An editor's pick about robots", reasons=["editor's pick"], featured=True, arxiv_id="2411.00001",
             upvotes=120, is_featured=True, authors=["A One", "B Two", "C Three", "D Four"]),
        item(2, "Scaling test-time compute optimally", reasons=["keyword 'test-time compute' in title"],
             arxiv_id="2411.00002", code_url="https://github.com/example/ttc", upvotes=48),
        item(3, "Reasoning with $\\mathcal{O}(n^2)$ tokens", topic_=reasoning,
             reasons=["topic LLM Reasoning: 'reasoning' in title", "author Zoë Ångström"], arxiv_id="2411.00003",
             authors=["Zoë Ångström", "E Five"]),
        item(4, "Low-bit quantization of weights", topic_=quant,
             reasons=["topic Quantization: 'quantization' in title", 'like papers you marked "more like this"'],
             arxiv_id="2411.00004", project_url="https://quant.example.org/"),
        item(5, "Quantized attention kernels", topic_=quant, reasons=["topic Quantization: 'quantized' in title"]),
        item(6, "A paper with no known link", topic_=reasoning, reasons=["topic LLM Reasoning: 'reasoning' in title"]),
    ]
    send_email(digest_message(reader, day, entries, view_url="https://papers.example.org/digests/abc/",
                              match_count=42))
    [html] = sorted(outbox.glob("*.html"))
    return html


def axe_violations(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5],
         "summary": v["nodes"][0].get("failureSummary", "")}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_the_digest_email_passes_axe_at_desktop_and_phone_width_in_light_and_dark(outbox):
    assert CHROMIUM.exists(), "needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"
    assert AXE.exists(), "needs axe-core: run `npm ci` (make test does) so node_modules/axe-core is there"
    html = sent_digest_html(outbox)
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems, heights = {}, {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        try:
            for scheme in ("light", "dark"):
                for name, width in WIDTHS.items():
                    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
                    page = context.new_page()
                    page.goto(html.as_uri())
                    # What the reader sees first: the ranked titles, then the cards in that order.
                    glance = page.locator("ol.glance li a").all_inner_texts()
                    cards = page.locator(".paper-title a").all_inner_texts()
                    assert glance == cards and cards[2] == "Reasoning with 𝒪(n²) tokens"
                    # Each title is read whole: on a phone the at-a-glance lines wrap
                    # rather than cut a title to its first words.
                    cut = page.locator("ol.glance li").evaluate_all(
                        "items => items.filter(li => li.scrollWidth > li.clientWidth + 1).length"
                    )
                    assert cut == 0 or name == "desktop", f"{cut} at-a-glance titles cut at {width} px"
                    assert page.get_by_text("Top 6 of 42 matches").is_visible()
                    # "More / less like this" are thumb-sized on a phone (WCAG 2.5.8: 24 px).
                    boxes = [link.bounding_box() for link in page.locator("a.feedback").all()]
                    assert len(boxes) == 12
                    assert name == "desktop" or min(box["height"] for box in boxes) >= 24, boxes[:2]
                    heights[(scheme, name)] = page.evaluate("document.documentElement.scrollHeight")
                    page.screenshot(path=str(SCREENSHOTS / f"digest-email-{name}-{scheme}.png"), full_page=True)
                    if violations := axe_violations(page):
                        problems[(scheme, name)] = violations
                    context.close()
        finally:
            browser.close()
    print(f"\ndigest email height (6 papers): {heights}")
    assert problems == {}
