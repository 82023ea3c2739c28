"""End to end in real headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright) against the live test server: what a person does, with and without
JavaScript, on a phone-sized screen."""

from __future__ import annotations

import re

import pytest

from subscriptions.models import Subscriber

from .conftest import CHROMIUM, browser, site  # noqa: F401 (fixtures: other browser tests import them from here)

PHONE = {"width": 390, "height": 844}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"),
]


def open_page(browser, *, javascript: bool = True, viewport=PHONE, timezone_id: str = "Asia/Tokyo"):
    context = browser.new_context(
        viewport=viewport, java_script_enabled=javascript, timezone_id=timezone_id, locale="en-GB"
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.js_errors = errors
    return page



def test_a_person_signs_up_confirms_changes_preferences_and_unsubscribes(browser, site, mailbox, topics, listing, tmp_path):
    page = open_page(browser)

    # The home page: today's papers under the subscribe box.
    page.goto(site + "/")
    assert page.get_by_role("heading", name="Get trending papers in your email inbox").is_visible()
    assert page.get_by_role("link", name="Scaling Large Language Models with Mixture of Experts", exact=True).is_visible()
    page.get_by_label("Email address").fill("ada.lovelace@example.org")
    page.get_by_role("button", name="Subscribe").click()

    # The full form, with the address carried over and the browser's time zone chosen.
    page.wait_for_url(re.compile(r"/subscribe/\?email="))
    assert page.get_by_label("Email address").input_value() == "ada.lovelace@example.org"
    assert page.get_by_label("Time zone").input_value() == "Asia/Tokyo"
    assert page.get_by_label("Day of the week").is_hidden()

    # Choices update the preview as they are made, with the reason for each paper.
    page.get_by_label("Diffusion models").check()
    page.get_by_label("Keywords").fill("mixture of experts; Schrödinger")
    preview = page.locator("#preview-results")
    preview.get_by_text("Denoising Diffusion for Robot Manipulation").wait_for()
    preview.get_by_text("Scaling Large Language Models with Mixture of Experts").wait_for()
    assert preview.get_by_text("Why:").count() == 2

    # The schedule is folded under its summary, which says what is chosen.
    assert page.get_by_text(re.compile("Daily at 07:00 Asia/Tokyo time, up to 10 papers, HTML")).is_visible()
    page.get_by_text("When and how").click()
    page.get_by_label("Weekly").check()
    assert page.get_by_label("Day of the week").is_visible()
    page.get_by_label("Day of the week").select_option(label="Friday")
    page.get_by_label("Delivery time").fill("08:15")
    page.screenshot(path=str(tmp_path / "signup-phone.png"), full_page=True)
    page.get_by_role("button", name="Subscribe", exact=True).click()

    page.get_by_role("heading", name="Check your inbox").wait_for()
    assert page.get_by_text("ada.lovelace@example.org").is_visible()
    subscriber = Subscriber.objects.get()
    assert subscriber.status == Subscriber.Status.PENDING
    assert subscriber.timezone == "Asia/Tokyo"
    assert (subscriber.frequency, subscriber.weekday) == ("weekly", 4)
    assert subscriber.keywords == ["mixture of experts", "Schrödinger"]
    assert "HeadlessChrome" in subscriber.signup_user_agent or "Chrome" in subscriber.signup_user_agent

    # The confirmation link from the email: a page with a button.
    confirmation = mailbox.only("ada.lovelace@example.org")
    page.goto(confirmation.link("/confirm/"))
    page.get_by_role("button", name="Yes, subscribe me").click()
    # On a Friday after 08:15 in Tokyo the first digest is due at once.
    page.get_by_text(re.compile(r"You're subscribed\. Your first digest arrives (on Friday|today)")).wait_for()
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.ACTIVE
    assert subscriber.confirm_ip == "127.0.0.1"

    # The manage page shows the choices; change some and save.
    assert page.get_by_label("Diffusion models").is_checked()
    page.get_by_text("When and how").click()
    page.get_by_text("Authors, words to leave out, editors' picks").click()
    page.get_by_label("Papers per email").fill("20")
    page.get_by_label("Start each email with the editors' picks").uncheck()
    page.get_by_label("Authors to follow").fill("Łukasz Kaiser; 李飞飞")
    page.get_by_role("button", name="Save my choices").click()
    page.get_by_text("Your choices are saved.").wait_for()
    subscriber.refresh_from_db()
    assert subscriber.max_papers == 20
    assert subscriber.include_featured is False
    assert subscriber.authors == ["Łukasz Kaiser", "李飞飞"]
    assert page.get_by_label("Time zone").input_value() == "Asia/Tokyo"

    # The unsubscribe link from the welcome email's footer: one button.
    [welcome] = [m for m in mailbox.to("ada.lovelace@example.org") if m.subject == "You're subscribed to Daily Papers Digest"]
    page.goto(welcome.link("/unsubscribe/"))
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.ACTIVE, "opening the link alone must not unsubscribe"
    page.get_by_role("button", name="Unsubscribe").click()
    page.get_by_role("heading", name="You're unsubscribed").wait_for()
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED

    assert page.js_errors == []


def test_without_javascript_the_form_preview_and_errors_all_work(browser, site, mailbox, listing, topics):
    page = open_page(browser, javascript=False)
    page.goto(site + "/subscribe/")

    # No script: the time zone is a plain select starting at UTC, the weekday is shown
    # (in the folded schedule, which opens without a script too).
    assert page.get_by_label("Time zone").input_value() == "UTC"
    page.get_by_text("When and how").click()
    assert page.get_by_label("Day of the week").is_visible()

    page.get_by_label("Keywords").fill("robot manipulation")
    page.get_by_role("button", name="Show me the papers").click()
    page.locator("#preview-results").get_by_text("Denoising Diffusion for Robot Manipulation").wait_for()
    assert page.get_by_label("Keywords").input_value() == "robot manipulation"
    page.get_by_text("When and how").click()

    page.get_by_label("Email address").fill("grace@example.org")
    page.get_by_label("Papers per email").fill("99")
    page.get_by_label("Time zone").select_option("Europe/Paris")
    page.get_by_role("button", name="Subscribe", exact=True).click()

    page.get_by_role("heading", name="Please correct this").wait_for()
    assert page.get_by_text("At most 50 papers per email, please.").first.is_visible()
    assert page.get_by_label("Email address").input_value() == "grace@example.org"
    assert page.get_by_label("Time zone").input_value() == "Europe/Paris"
    assert not Subscriber.objects.exists()
    assert mailbox.all() == []

    page.get_by_label("Papers per email").fill("15")
    page.get_by_role("button", name="Subscribe", exact=True).click()
    page.get_by_role("heading", name="Check your inbox").wait_for()
    subscriber = Subscriber.objects.get()
    assert (subscriber.email, subscriber.max_papers, subscriber.timezone) == ("grace@example.org", 15, "Europe/Paris")
    assert "/confirm/" in mailbox.only("grace@example.org").link("/confirm/")


def test_pressing_enter_in_the_address_field_subscribes_rather_than_previews(browser, site, mailbox):
    page = open_page(browser)
    page.goto(site + "/subscribe/")
    page.get_by_label("Keywords", exact=True).fill("LoRA")  # a subscription needs something to match
    page.get_by_label("Email address").fill("enter@example.org")
    page.get_by_label("Email address").press("Enter")
    page.get_by_role("heading", name="Check your inbox").wait_for()
    assert Subscriber.objects.filter(email="enter@example.org").exists()


def test_the_signup_page_is_labelled_and_fits_a_small_phone(browser, site, topics):
    page = open_page(browser, viewport={"width": 320, "height": 640})
    page.goto(site + "/subscribe/")

    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
            .filter(el => el.type !== 'hidden' && !el.closest('[aria-hidden="true"]'))
            .filter(el => !(el.labels && el.labels.length))
            .map(el => el.name)"""
    )
    assert unlabelled == []
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    assert page.get_by_role("button", name="Subscribe", exact=True).is_visible()


def test_after_a_failed_submit_the_list_of_problems_has_focus(browser, site):
    page = open_page(browser)
    page.goto(site + "/subscribe/")
    page.get_by_label("Keywords", exact=True).fill("LoRA")  # so that the address is the one problem
    page.get_by_label("Email address").fill("not an address")
    page.get_by_role("button", name="Subscribe", exact=True).click()
    page.get_by_role("heading", name="Please correct this").wait_for()
    focused = page.evaluate("() => document.activeElement.hasAttribute('data-error-summary')")
    assert focused
    page.get_by_role("link", name=re.compile("Email address: Enter an email address")).click()
    assert page.evaluate("() => document.activeElement.name") == "email"


def test_more_like_this_is_one_click_with_undo_and_a_plain_form_without_javascript(browser, site, topics, listing):
    from subscriptions.models import Vote
    from subscriptions.tokens import make_feedback_token

    reader = Subscriber.objects.create(email="ada@example.org", status=Subscriber.Status.ACTIVE)
    paper = listing[0]
    url = f"{site}/feedback/{make_feedback_token(reader, paper.pk)}/?v=more"

    page = open_page(browser)
    page.goto(url)
    assert Vote.objects.count() == 0  # opening the link changes nothing
    assert page.get_by_label("More like this").is_checked()
    page.get_by_role("button", name="Save my choice").click()
    page.get_by_text("Noted: more like this").wait_for()
    assert page.url == url  # recorded in place, no reload
    assert Vote.objects.get().value == Vote.Value.MORE
    # Saved: the page no longer says that nothing is saved.
    assert not page.get_by_text("Nothing is saved until you press").is_visible()
    page.get_by_role("button", name="undo").click()
    page.get_by_text("Undone: this paper no longer shapes your digests.").wait_for()
    assert page.get_by_text("Nothing is saved until you press").is_visible()
    assert not Vote.objects.exists()
    assert page.js_errors == []

    # Opened again after a vote made earlier: it says so, and its Undo is there to press.
    Vote.objects.create(subscriber=reader, paper=paper, value=Vote.Value.LESS)
    page.goto(url)
    page.get_by_text("You said: less like this.").wait_for()
    page.get_by_role("button", name="Undo").click()
    page.get_by_text("Undone: this paper no longer shapes your digests.").wait_for()
    assert not Vote.objects.exists()

    # The text part's link names no choice: none is ticked, and Save asks for one.
    page.goto(url.replace("?v=more", ""))
    assert not page.get_by_label("More like this").is_checked()
    assert not page.get_by_label("Less like this").is_checked()
    page.get_by_role("button", name="Save my choice").click()
    page.get_by_text("Choose “more like this” or “less like this”.").wait_for()
    assert not Vote.objects.exists()
    assert page.js_errors == []

    plain = open_page(browser, javascript=False)
    plain.goto(url.replace("v=more", "v=less"))
    assert plain.get_by_label("Less like this").is_checked()
    plain.get_by_role("button", name="Save my choice").click()
    plain.get_by_text("Noted: less like this.").wait_for()
    assert Vote.objects.get().value == Vote.Value.LESS
