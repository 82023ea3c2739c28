"""The signup form, the manage page and a digest's web page as people meet them, in
Debian's headless Chromium: a quick path by keyboard, the topic filter, the preview that
stays beside the form, and axe-core (injected from node_modules) in light and dark at
desktop and phone width. Screenshots and the signup page's figures go to var/."""

from __future__ import annotations

import json
import re

import pytest
import time_machine
from django.utils import timezone

from digest import digests
from digest.digest_email import view_digest_url
from digest.models import Digest, Topic
from subscriptions.models import Subscriber
from subscriptions.tokens import make_token

from ..digest.sending_helpers import NOON_UTC, paper, sample_catalog, subscriber
from ..digest.test_digest_email_browser import AXE, BASE_DIR, axe_violations
from .helpers import TOOL_PAPER
from .helpers import embedded_agents_listing as make_embedded_agents_listing
from .signup_metrics import page_figures
from .test_browser import PHONE

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

VAR = BASE_DIR / "var"
SCREENSHOTS = VAR / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
WIDTHS = {"1280": DESKTOP, "390": PHONE}
QUICK_PATH_MAX_TAB_STOPS = 14


def new_page(browser, viewport, *, scheme: str = "light", javascript: bool = True):
    # The site's CSP refuses inline scripts, axe's injected one included: the test
    # browser alone bypasses it.
    context = browser.new_context(
        viewport=viewport,
        color_scheme=scheme,
        java_script_enabled=javascript,
        bypass_csp=True,
        timezone_id="Europe/Berlin",
        locale="en-GB",
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.js_errors = []
    page.on("pageerror", lambda error: page.js_errors.append(str(error)))
    return page


def focused(page) -> dict:
    return page.evaluate(
        """() => { const el = document.activeElement;
                   return {name: el.name || '', type: el.type || '', text: (el.textContent || '').trim(),
                           id: el.id || '', value: el.value || ''}; }"""
    )


def tab_until(page, predicate, *, limit: int = 80) -> int:
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if predicate(focused(page)):
            return presses
    raise AssertionError(f"not reached in {limit} tab stops; last focus {focused(page)}")


def test_the_quick_path_email_two_topics_subscribe_is_a_dozen_tab_stops(browser, site, mailbox):
    """By keyboard from the top of the page: the address, two topics picked with the
    filter box (a word, Enter ticks the one topic left), then Subscribe."""
    page = new_page(browser, DESKTOP)
    page.goto(site + "/subscribe/")
    page.evaluate("() => document.activeElement && document.activeElement.blur()")

    stops = tab_until(page, lambda el: el["name"] == "email")
    page.keyboard.type("quick@example.org")
    stops += tab_until(page, lambda el: el["type"] == "search")
    page.keyboard.type("diffusion")
    page.keyboard.press("Enter")
    page.get_by_text("“Diffusion models” is ticked.").wait_for()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("embodied")
    page.keyboard.press("Enter")
    page.get_by_text("“Robotics and embodied AI” is ticked.").wait_for()
    stops += tab_until(page, lambda el: el["type"] == "submit" and el["text"] == "Subscribe")
    page.keyboard.press("Enter")

    page.get_by_role("heading", name="Check your inbox").wait_for()
    subscriber = Subscriber.objects.get(email="quick@example.org")
    assert sorted(t.slug for t in subscriber.topics.all()) == ["diffusion-models", "robotics"]
    print(f"\nquick path tab stops: {stops}")
    assert stops <= QUICK_PATH_MAX_TAB_STOPS
    assert page.js_errors == []


def test_by_tab_and_space_alone_two_filtered_topics_are_still_about_a_dozen_tab_stops(browser, site, mailbox):
    page = new_page(browser, DESKTOP)
    page.goto(site + "/subscribe/")
    page.evaluate("() => document.activeElement && document.activeElement.blur()")

    stops = tab_until(page, lambda el: el["name"] == "email")
    page.keyboard.type("space@example.org")
    stops += tab_until(page, lambda el: el["type"] == "search")
    page.keyboard.type("efficient inference")
    stops += tab_until(page, lambda el: el["name"] == "topics")
    page.keyboard.press("Space")
    page.keyboard.press("Shift+Tab")
    stops += 1
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("quantization")
    stops += tab_until(page, lambda el: el["name"] == "topics")
    page.keyboard.press("Space")
    stops += tab_until(page, lambda el: el["type"] == "submit" and el["text"] == "Subscribe")
    page.keyboard.press("Enter")

    page.get_by_role("heading", name="Check your inbox").wait_for()
    subscriber = Subscriber.objects.get(email="space@example.org")
    assert sorted(t.slug for t in subscriber.topics.all()) == ["efficient-inference", "quantization"]
    print(f"\ntab-and-space path tab stops: {stops}")
    assert stops <= QUICK_PATH_MAX_TAB_STOPS


def test_the_filter_box_narrows_the_topics_as_you_type(browser, site):
    page = new_page(browser, DESKTOP)
    page.goto(site + "/subscribe/")
    topics = page.locator("[data-topic]")
    total = Topic.objects.filter(is_active=True).count()
    assert total >= 30 and topics.count() == total
    shown = lambda: page.locator("[data-topic]:visible").count()  # noqa: E731
    assert shown() == total

    def finds(typed: str, slug: str) -> bool:
        page.get_by_label("Filter topics").fill(typed)
        page.get_by_text(re.compile(r"\d+ of \d+ topics shown")).wait_for()
        return page.locator(f"input[value={slug}]").is_visible()

    assert finds("safety", "safety-alignment")
    assert 1 <= shown() < total
    assert page.locator("input[value=diffusion-models]").is_hidden()

    # An acronym finds its topic though neither name nor description writes it.
    assert finds("LLM", "large-language-models")
    assert finds("LLMs", "large-language-models")  # as typed in the plural

    # A word typed in part finds the words it begins, not words it sits inside; an
    # acronym typed in capitals is a whole word ("SAM" is not "sampling").
    assert finds("diffu", "diffusion-models")
    page.get_by_label("Filter topics").fill("SAM")
    page.get_by_text("No topic matches").wait_for()
    assert shown() == 0
    page.get_by_label("Filter topics").fill("ampling")
    page.get_by_text("No topic matches").wait_for()

    # British spelling finds the topic its name spells the American way.
    assert finds("optimisation", "optimization-training")

    page.get_by_label("Filter topics").fill("zzzz nothing")
    page.get_by_text("No topic matches").wait_for()
    assert shown() == 0
    assert page.locator("[data-topic-group]:visible").count() == 0

    # Escape clears it; Enter in the box never subscribes.
    page.get_by_label("Filter topics").press("Escape")
    assert shown() == total
    page.get_by_label("Filter topics").press("Enter")
    assert page.url.endswith("/subscribe/")
    assert page.js_errors == []


def test_without_javascript_every_topic_is_listed_and_there_is_no_dead_filter_box(browser, site):
    page = new_page(browser, DESKTOP, javascript=False)
    page.goto(site + "/subscribe/")
    assert page.locator("[data-topic]:visible").count() == Topic.objects.filter(is_active=True).count()
    assert page.get_by_label("Filter topics").is_hidden()


def test_on_a_desktop_the_preview_sits_beside_the_form_and_stays_in_view(browser, site, listing):
    page = new_page(browser, DESKTOP)
    page.goto(site + "/subscribe/")
    preview = page.locator("#preview")
    form = page.locator("#subscribe-form")
    assert preview.bounding_box()["x"] >= form.bounding_box()["x"] + form.bounding_box()["width"]

    # Tick a topic, go on down the list: the preview stays on screen and shows its papers.
    page.locator("input[name=topics][value=robotics]").check()
    page.locator("[data-topic] input").last.scroll_into_view_if_needed()
    page.mouse.wheel(0, 400)
    page.locator("#preview-results").get_by_text("Denoising Diffusion for Robot Manipulation").wait_for()
    assert page.evaluate("window.scrollY") > 400
    box = preview.bounding_box()
    assert box["y"] >= 0 and box["y"] + min(box["height"], 200) <= DESKTOP["height"]
    assert page.locator("[data-preview-line]").is_hidden()  # the preview itself is in view


def test_on_a_phone_a_line_under_the_topics_says_what_you_would_get(browser, site, listing):
    page = new_page(browser, PHONE)
    page.goto(site + "/subscribe/")
    line = page.locator("[data-preview-line]")
    assert line.is_visible()

    page.get_by_label("Filter topics").fill("robot")
    page.locator("input[name=topics][value=robotics]").check()
    page.wait_for_function("() => /would match/.test(document.querySelector('[data-preview-line]').textContent)")
    # The listing fixture's latest day is today; the robot paper is the one match.
    assert re.fullmatch(r"1 paper from today's listing would match\.", line.inner_text().strip())
    # The line sits right under the topics, the preview list further down.
    assert line.bounding_box()["y"] < page.locator("#preview").bounding_box()["y"]


def test_topic_links_prefill_the_form(browser, site):
    page = new_page(browser, PHONE)
    page.goto(site + "/subscribe/?topic=robotics&topic=quantization&topic=no-such-topic&email=pre@example.org")
    checked = page.locator("input[name=topics]:checked")
    assert sorted(checked.evaluate_all("els => els.map(e => e.value)")) == ["quantization", "robotics"]
    assert page.get_by_label("Email address").input_value() == "pre@example.org"


def test_an_empty_signup_is_refused_with_the_error_at_the_topics(browser, site, mailbox):
    page = new_page(browser, PHONE)
    page.goto(site + "/subscribe/")
    page.get_by_label("Email address").fill("empty@example.org")
    page.get_by_role("button", name="Subscribe", exact=True).click()

    page.get_by_role("heading", name="Please correct this").wait_for()
    page.get_by_role("link", name=re.compile("Choose at least one topic, keyword or author")).click()
    assert page.evaluate("() => document.activeElement.id") == "id_topics"
    assert page.locator("#id_topics .field-error").is_visible()
    assert not Subscriber.objects.exists()
    assert mailbox.all() == []


@pytest.fixture
def manage_url(site, topics, listing):
    """An active reader, with no digest yet, and their manage page."""
    ada = Subscriber.objects.create(
        email="ada@example.org",
        status=Subscriber.Status.ACTIVE,
        keywords=["diffusion"],
        timezone="Europe/Berlin",
        confirmed_at=timezone.now(),
    )
    ada.topics.set([topics["Robotics"], topics["Large language models"]])
    return f"{site}/manage/{make_token(ada, 'manage')}/"


def test_the_manage_page_opens_with_a_summary_whose_pause_and_unsubscribe_work(browser, site, manage_url):
    page = new_page(browser, PHONE)
    page.goto(manage_url)
    summary = page.get_by_role("region", name="What you get")
    assert "Large language models, Robotics" in summary.inner_text()
    assert "Daily at 07:00 Europe/Berlin time, up to 10 papers, HTML" in summary.inner_text()
    assert "None yet" in summary.inner_text()
    # The summary comes before the form.
    assert summary.bounding_box()["y"] < page.locator("#preferences-form").bounding_box()["y"]

    summary.get_by_role("button", name="Pause").click()
    page.get_by_text("Paused. No digests until you resume.").wait_for()
    assert Subscriber.objects.get().status == Subscriber.Status.PAUSED
    page.get_by_role("button", name="Resume now").click()
    page.get_by_text("Welcome back.").wait_for()

    page.get_by_role("region", name="What you get").get_by_role("button", name="Unsubscribe").click()
    page.get_by_role("heading", name="You're unsubscribed").wait_for()
    assert Subscriber.objects.get().status == Subscriber.Status.UNSUBSCRIBED


def test_clearing_every_choice_on_the_manage_page_is_refused(browser, site, manage_url):
    page = new_page(browser, DESKTOP)
    page.goto(manage_url)
    ticked = page.locator("input[name=topics]:checked")
    while ticked.count():
        ticked.first.uncheck()
    page.get_by_label("Keywords", exact=True).fill("")
    page.get_by_role("button", name="Save my choices").click()
    page.get_by_role("heading", name="Please correct this").wait_for()
    assert page.get_by_text("Choose at least one topic, keyword or author").first.is_visible()
    assert Subscriber.objects.get().keywords == ["diffusion"]


def _all_matches_digest_url() -> str:
    with time_machine.travel(timezone.now(), tick=False):
        catalog = sample_catalog()
        for n in range(5):
            paper(f"Quantized attention, variant {n}", "We quantize attention to low-bit integers.", upvotes=n)
        reader = subscriber("quant@example.org", topics=[catalog.quantization], max_papers=2)
        digests.plan_digests(NOON_UTC)
        digest = Digest.objects.get(subscriber=reader)
        digests.send_digest(digest.pk)
        return view_digest_url(digest)


def test_signup_manage_and_digest_pages_pass_axe_in_light_and_dark(browser, site, manage_url, settings, tmp_path):
    assert AXE.exists(), "needs axe-core: run `npm ci` (make test does) so node_modules/axe-core is there"
    settings.EMAIL_BACKEND = "digest.mail_outbox.OutboxBackend"
    settings.OUTBOX_DIR = tmp_path / "outbox"
    digest_url = re.sub(r"^https?://[^/]+", site, _all_matches_digest_url())
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pages = {"signup": site + "/subscribe/", "manage": manage_url, "digest-web": digest_url}
    problems = {}
    for scheme in ("light", "dark"):
        for name, url in pages.items():
            for width, viewport in WIDTHS.items():
                page = new_page(browser, viewport, scheme=scheme)
                page.goto(url)
                if name == "signup":
                    page.get_by_label("Filter topics").fill("robot")
                    page.locator("input[name=topics][value=robotics]").check()
                    results = page.locator("#preview-results")
                    results.get_by_text("Denoising Diffusion for Robot Manipulation").wait_for()
                    page.get_by_label("Filter topics").fill("")
                    # The preview's notes are read too: what it leaves out, what finds nothing.
                    page.get_by_role("textbox", name="Keywords").fill(
                        "qwzx flarb; " + "; ".join(f"robot {n}" for n in range(20))
                    )
                    results.get_by_text("Not in this preview until it is fixed").wait_for()
                    page.get_by_role("textbox", name="Keywords").fill("qwzx flarb")
                    results.get_by_text("found nothing on its own").wait_for()
                if name == "digest-web":
                    assert page.get_by_role("heading", name="All 6 matches").is_visible()
                page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}-{scheme}.png"), full_page=True)
                if violations := axe_violations(page):
                    problems[(name, width, scheme)] = violations
                assert page.js_errors == []
                page.context.close()
    assert problems == {}


def test_the_signup_page_figures_are_saved_next_to_the_screenshots(browser, site, listing):
    figures = {}
    for width, viewport in WIDTHS.items():
        page = new_page(browser, viewport)
        response = page.goto(site + "/subscribe/")
        figures[width] = page_figures(page, response)
        page.context.close()
    VAR.mkdir(exist_ok=True)
    (VAR / "signup-metrics-after.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\nsignup page: {figures}")
    # On a desktop the preview is beside the form, at the top, not under 36 topic cards.
    assert figures["1280"]["preview_y"] < DESKTOP["height"]


@pytest.fixture
def embedded_agents_listing(site):
    return make_embedded_agents_listing(timezone.localdate())


def active_reader(**fields) -> Subscriber:
    return Subscriber.objects.create(
        email="ada@example.org", status=Subscriber.Status.ACTIVE, confirmed_at=timezone.now(), **fields
    )


AGENTS_READING = "“LLM agents” — also matching topic “Agents and tool use”"
REMOVED_READING = "“LLM agents” — matched only as typed, not through topic “Agents and tool use”"


def test_removing_a_keywords_topic_in_the_live_preview_is_kept_and_saved(
    browser, site, mailbox, embedded_agents_listing
):
    page = new_page(browser, DESKTOP)
    page.goto(site + "/subscribe/")
    results = page.locator("#preview-results")
    page.get_by_role("textbox", name="Keywords").fill("LLM agents")
    results.get_by_text(AGENTS_READING).wait_for()
    results.get_by_text(TOOL_PAPER).wait_for()

    # The box sits in the preview, beside the form: ticking it updates the preview ...
    results.get_by_label("remove topic “Agents and tool use” from “LLM agents”").check()
    results.get_by_text(REMOVED_READING).wait_for()
    assert results.get_by_text(TOOL_PAPER).count() == 0
    # ... and survives the next refresh, when the keywords change again.
    page.get_by_role("textbox", name="Keywords").fill("LLM agents; sorting networks")
    results.get_by_text("Faster sorting networks").wait_for()
    assert results.get_by_text(REMOVED_READING).is_visible()

    page.get_by_label("Email address").fill("typed@example.org")
    page.get_by_role("button", name="Subscribe", exact=True).click()
    page.get_by_role("heading", name="Check your inbox").wait_for()
    assert Subscriber.objects.get(email="typed@example.org").unexpanded_keywords == ["LLM agents"]
    assert page.js_errors == []


def test_without_javascript_the_remove_box_goes_with_the_preview_and_the_signup(
    browser, site, mailbox, embedded_agents_listing
):
    page = new_page(browser, DESKTOP, javascript=False)
    page.goto(site + "/subscribe/")
    page.get_by_role("textbox", name="Keywords").fill("LLM agents")
    page.get_by_role("button", name="Show me the papers").click()
    page.get_by_text(AGENTS_READING).wait_for()

    page.get_by_label("remove topic “Agents and tool use” from “LLM agents”").check()
    page.get_by_role("button", name="Show me the papers").click()
    page.get_by_text(REMOVED_READING).wait_for()
    assert page.get_by_text(TOOL_PAPER).count() == 0

    page.get_by_label("Email address").fill("nojs@example.org")
    page.get_by_role("button", name="Subscribe", exact=True).click()
    page.get_by_role("heading", name="Check your inbox").wait_for()
    assert Subscriber.objects.get(email="nojs@example.org").unexpanded_keywords == ["LLM agents"]


def test_a_long_pasted_list_gets_the_live_preview_saying_what_is_wrong(browser, site, listing):
    """The live preview posts the form's choices: a pasted list of 200 keywords is longer
    than a query string may be behind a real web server (gunicorn: 4 KB)."""
    page = new_page(browser, DESKTOP)
    page.goto(site + "/subscribe/")
    requests = []
    page.on("request", lambda request: requests.append(request) if "/preview/fragment/" in request.url else None)
    page.get_by_role("textbox", name="Keywords").fill("; ".join(f"keyword number {n}" for n in range(200)))
    page.locator("#preview-results").get_by_text("At most 20 keywords, please: you entered 200.").wait_for()
    assert requests and all(r.method == "POST" and "keyword" not in r.url for r in requests)
    assert page.js_errors == []


def test_a_mistyped_keyword_is_put_right_from_the_live_preview_with_one_click(browser, site, listing):
    page = new_page(browser, DESKTOP)
    page.goto(site + "/subscribe/")
    keywords = page.get_by_role("textbox", name="Keywords")
    keywords.fill("LoRA; robot difusion")
    results = page.locator("#preview-results")
    results.get_by_text("Did you mean “robot diffusion” for “robot difusion”?").wait_for()

    results.get_by_role("button", name="Use “robot diffusion”").click()

    assert keywords.input_value() == "LoRA; robot diffusion"
    results.get_by_text("Denoising Diffusion for Robot Manipulation").wait_for()
    assert results.get_by_text("Did you mean").count() == 0
    assert page.js_errors == []


def test_the_manage_page_previews_changed_keywords_live_and_saves_a_removed_topic(
    browser, site, embedded_agents_listing
):
    reader = active_reader(keywords=["sorting networks"])
    page = new_page(browser, DESKTOP)
    page.goto(f"{site}/manage/{make_token(reader, 'manage')}/")
    results = page.locator("#preview-results")
    # What the saved choices bring, shown at once; then what a change would, before saving.
    results.get_by_text("Faster sorting networks").wait_for()
    page.get_by_role("textbox", name="Keywords").fill("sorting networks; LLM agents")
    results.get_by_text(AGENTS_READING).wait_for()
    results.get_by_text(TOOL_PAPER).wait_for()
    results.get_by_label("remove topic “Agents and tool use” from “LLM agents”").check()
    results.get_by_text(REMOVED_READING).wait_for()
    assert page.get_by_text(AGENTS_READING).count() == 0  # no stale copy of the list elsewhere
    # The preview was drawn again: the box ticked keeps the keyboard's focus.
    assert page.evaluate("() => document.activeElement.name") == "unexpanded_keywords"

    page.get_by_role("button", name="Save my choices").click()
    page.get_by_text("Your choices are saved.").wait_for()
    reader.refresh_from_db()
    assert reader.keywords == ["sorting networks", "LLM agents"]
    assert reader.unexpanded_keywords == ["LLM agents"]
    assert page.js_errors == []


@pytest.fixture
def embedded_sample(site):
    from subscriptions import services
    from tests.digest.semantic_helpers import load_embedded_sample

    load_embedded_sample()
    services._index_cache.clear()


def test_the_manage_page_shows_a_keywords_related_terms_and_saves_their_removal(browser, site, embedded_sample):
    reader = active_reader(keywords=["model compression"], max_papers=50)
    page = new_page(browser, DESKTOP)
    page.goto(f"{site}/manage/{make_token(reader, 'manage')}/")
    results = page.locator("#preview-results")
    decoupleq = results.get_by_text("decoupleQ: Towards 2-bit Post-Training Uniform Quantization", exact=False)
    decoupleq.wait_for()  # it writes "quantization", one of the keyword's related terms
    reading = page.locator(".readings > li", has_text="“model compression”")
    assert "also looking for related terms: neural network compression" in reading.inner_text()
    # The long list folds away after six terms; it opens to show the rest.
    reading.get_by_text(re.compile(r"and \d+ more")).click()
    assert reading.get_by_text("GPTQ", exact=False).is_visible()

    page.get_by_label("remove all related terms from “model compression”").check()
    page.get_by_text("“model compression” — not looking for related terms", exact=False).wait_for()
    decoupleq.wait_for(state="detached")
    assert page.evaluate("() => document.activeElement.name") == "keywords_without_related"

    page.get_by_role("button", name="Save my choices").click()
    page.get_by_text("Your choices are saved.").wait_for()
    reader.refresh_from_db()
    assert reader.keywords_without_related == ["model compression"]
    assert page.js_errors == []


def test_the_live_preview_leaves_out_one_related_term_and_the_manage_page_saves_it(browser, site, embedded_sample):
    reader = active_reader(keywords=["model compression"], max_papers=50)
    page = new_page(browser, DESKTOP)
    page.goto(f"{site}/manage/{make_token(reader, 'manage')}/")
    results = page.locator("#preview-results")
    decoupleq = results.get_by_text("decoupleQ: Towards 2-bit Post-Training Uniform Quantization", exact=False)
    decoupleq.wait_for()
    reading = page.locator(".readings > li", has_text="“model compression”")
    reading.get_by_text("choose which", exact=False).click()
    page.get_by_label("leave out “quantization” from “model compression”").check()
    decoupleq.wait_for(state="detached")  # it wrote only "quantization"
    assert (
        "quantization"
        not in page.locator(".readings > li", has_text="“model compression”")
        .locator(".readings__related")
        .inner_text()
        .split("remove all")[0]
    )
    assert page.get_by_label("leave out “quantization” from “model compression”").is_checked()
    assert page.evaluate("() => document.activeElement.name") == "left_out_terms"
    # Unticked again, the redrawn list stays open and the box keeps the focus.
    page.get_by_label("leave out “quantization” from “model compression”").uncheck()
    decoupleq.wait_for()
    assert page.evaluate("() => document.activeElement.name") == "left_out_terms"
    assert page.locator("details.readings__more").evaluate("details => details.open")
    page.get_by_label("leave out “quantization” from “model compression”").check()
    decoupleq.wait_for(state="detached")

    page.get_by_role("button", name="Save my choices").click()
    page.get_by_text("Your choices are saved.").wait_for()
    reader.refresh_from_db()
    assert reader.left_out_terms == {"model compression": ["quantization"]}
    assert page.js_errors == []


def test_a_removed_topic_survives_a_moment_of_invalid_keywords_in_the_live_preview(
    browser, site, embedded_agents_listing
):
    # Pasting 21 keywords makes the keywords field invalid for a while; the script then
    # draws the preview's "remove" boxes in place of the page's, and the reader's saved
    # removal must stay ticked through it.
    reader = active_reader(keywords=["LLM agents"], unexpanded_keywords=["LLM agents"])
    page = new_page(browser, DESKTOP)
    page.goto(f"{site}/manage/{make_token(reader, 'manage')}/")
    results = page.locator("#preview-results")
    keywords = page.get_by_role("textbox", name="Keywords")
    keywords.fill("LLM agents; " + "; ".join(f"keyword number {n}" for n in range(20)))
    results.get_by_text("At most 20 keywords, please: you entered 21.").wait_for()
    keywords.fill("LLM agents")
    results.get_by_text(REMOVED_READING).wait_for()
    assert results.get_by_label("remove topic “Agents and tool use” from “LLM agents”").is_checked()

    page.get_by_role("button", name="Save my choices").click()
    page.get_by_text("Your choices are saved.").wait_for()
    reader.refresh_from_db()
    assert reader.unexpanded_keywords == ["LLM agents"]
    assert page.js_errors == []
