"""The home page, the "see what you would get" preview, and the static pages."""

from __future__ import annotations

import pytest

from digest.models import Paper
from subscriptions.models import Subscriber

from .helpers import checked_values, input_value, signup_data, text_of

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_the_home_page_lists_the_latest_days_papers_most_upvoted_first(client, listing):
    page = text_of(client.get("/"))
    assert "Get trending papers in your email inbox" in page
    first = page.index("Scaling Large Language Models with Mixture of Experts")
    second = page.index("Denoising Diffusion for Robot Manipulation")
    assert first < second
    assert "Yesterday's diffusion paper" not in page
    assert "Hidden paper about LLM" not in page
    assert "2 papers listed, most upvoted first." in page


def test_a_paper_shows_its_link_authors_upvotes_and_code_when_known(client, listing):
    html = client.get("/").content.decode()
    page = text_of(html)
    # The title leads to the paper's page here; its Hugging Face page is linked from there.
    assert f'<a href="/papers/{listing[0].pk}/">Scaling Large Language Models' in html
    assert '<a class="button button--secondary" href="https://huggingface.co/papers/2410.00001">' in (
        client.get(f"/papers/{listing[0].pk}/").content.decode()
    )
    assert "Ada Lovelace, Łukasz Kaiser, 李飞飞" in page
    assert "42 upvotes" in page
    assert '<a href="https://github.com/example/moe">Code' in html


def test_a_paper_from_a_bare_listing_shows_just_its_title_and_abstract(client, listing):
    html = client.get("/").content.decode()
    bare = html[html.index('id="paper-%d"' % listing[1].pk):]
    bare = bare[: bare.index("</article>")]
    # One link, the title to the paper's page here: no empty facts, no made-up links.
    assert bare.count("<a ") == 1 and f'<a href="/papers/{listing[1].pk}/">' in bare
    assert "upvote" not in bare
    assert "A diffusion policy that lets a robot fold laundry." in text_of(bare)


def test_a_day_of_bare_listings_does_not_claim_an_upvote_order(client, listing):
    Paper.objects.filter(upvotes__gt=0).update(upvotes=0)
    page = text_of(client.get("/"))
    assert "2 papers listed." in page
    assert "upvote" not in page


@pytest.mark.parametrize("path", ["/", "/privacy/", "/subscribe/check-your-inbox/", "/manage/link-sent/"])
def test_pages_answer_head_requests_like_uptime_monitors_send(client, path):
    assert client.head(path).status_code == 200


@pytest.mark.parametrize("path", ["/subscribe/check-your-inbox/", "/manage/link-sent/"])
def test_pages_that_show_the_address_just_typed_are_never_cached(client, path):
    session = client.session
    session["subscriptions.last_address"] = "ada@example.org"
    session.save()
    response = client.get(path)
    assert "ada@example.org" in text_of(response)
    assert "no-store" in response["Cache-Control"]


def test_the_live_preview_answers_only_a_post_with_the_forms_token(client, listing):
    assert client.get("/subscribe/preview/fragment/", {"keywords": "robot"}).status_code == 405
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/subscribe/preview/fragment/", {"keywords": "robot"}).status_code == 403


def test_the_home_page_reads_well_before_any_paper_is_listed(client):
    Paper.objects.all().delete()
    response = client.get("/")
    assert response.status_code == 200
    assert "No papers have been listed yet." in text_of(response)


def test_the_home_page_box_leads_to_the_full_form(client):
    html = client.get("/").content.decode()
    assert 'action="/subscribe/"' in html
    assert 'method="get"' in html
    assert 'name="email"' in html


def test_pages_load_no_external_assets_and_forbid_inline_scripts(client, listing):
    for path in ["/", "/subscribe/", "/privacy/", "/manage/"]:
        response = client.get(path)
        html = response.content.decode()
        assert "script-src 'self'" in response["Content-Security-Policy"]
        for attribute in ("src=", "href="):
            for chunk in html.split(attribute)[1:]:
                target = chunk[1:].split(chunk[0], 1)[0]
                if target.startswith("http"):
                    # Only links for people to follow point elsewhere, never assets.
                    assert not target.endswith((".css", ".js")), target
        assert "<script>" not in html


def test_the_preview_button_shows_matching_papers_with_why_lines_and_keeps_the_form(client, listing, topics, mailbox):
    response = client.post(
        "/subscribe/preview/",
        signup_data(email="ada@example.org", topics=["large-language-models"], keywords="Robot Manipulation"),
    )
    assert response.status_code == 200
    page = text_of(response)
    assert "you would have got these 2" in page
    assert "Scaling Large Language Models with Mixture of Experts" in page
    assert "Denoising Diffusion for Robot Manipulation" in page
    assert page.count("Why:") == 2
    assert "Hidden paper about LLM" not in page
    assert input_value(response, "email") == "ada@example.org"
    assert input_value(response, "keywords") == "Robot Manipulation"
    assert checked_values(response, "topics") == ["large-language-models"]
    assert not Subscriber.objects.exists()
    assert mailbox.all() == []


def test_the_preview_works_before_an_address_is_typed(client, listing):
    response = client.post("/subscribe/preview/", signup_data(email="", keywords="robot manipulation"))
    assert response.status_code == 200
    assert "Denoising Diffusion for Robot Manipulation" in text_of(response)
    assert "Enter your email address" not in text_of(response)


def test_the_preview_says_so_when_nothing_matches(client, listing):
    response = client.post("/subscribe/preview/fragment/", {"keywords": "quantum gravity"})
    assert "None of the 2 papers listed on" in text_of(response)


def test_the_preview_fragment_for_the_script_is_just_the_results(client, listing, topics):
    response = client.post("/subscribe/preview/fragment/", {"topics": "diffusion-models"})
    html = response.content.decode()
    assert "<html" not in html
    assert "Denoising Diffusion for Robot Manipulation" in text_of(html)
    assert "Why:" in text_of(html)


def test_the_preview_says_which_typed_choices_it_leaves_out_and_why(client, listing, topics):
    many = ", ".join(f"robot {n}" for n in range(21))
    fragment = text_of(client.post("/subscribe/preview/fragment/", {"topics": "robotics", "keywords": many}))
    assert "Not in this preview until it is fixed: Keywords: At most 20 keywords, please: you entered 21." in fragment
    assert "Denoising Diffusion for Robot Manipulation" in fragment  # the topic still is
    page = text_of(client.post("/subscribe/preview/", signup_data(keywords="x" * 61)))
    assert "Not in this preview until it is fixed: Keywords: Each keyword can be at most 60 characters long" in page
    clean = text_of(client.post("/subscribe/preview/fragment/", {"keywords": "robot"}))
    assert "Not in this preview" not in clean
    retired = text_of(client.post("/subscribe/preview/fragment/", {"topics": "no-such-topic"}))
    assert "Topics: “no-such-topic” is not one of the topics offered." in retired


def test_the_preview_names_a_typed_keyword_that_finds_nothing_on_its_own(client, listing):
    page = text_of(client.post("/subscribe/preview/fragment/", {"keywords": "robot manipulation; qwzx flarb"}))
    assert "Denoising Diffusion for Robot Manipulation" in page
    assert "“qwzx flarb” found nothing on its own on" in page
    assert "“robot manipulation” found nothing" not in page
    clean = text_of(client.post("/subscribe/preview/fragment/", {"keywords": "robot manipulation"}))
    assert "found nothing" not in clean


def test_the_preview_suggests_how_papers_spell_a_mistyped_keyword(client, listing):
    page = text_of(client.post("/subscribe/preview/fragment/", {"keywords": "denoising difusion; qwzx flarb"}))
    assert "“denoising difusion”, “qwzx flarb” found nothing" in page
    assert "Did you mean “denoising diffusion” for “denoising difusion”?" in page
    assert "for “qwzx flarb”" not in page  # nothing close: no guess
    right = text_of(client.post("/subscribe/preview/fragment/", {"keywords": "denoising diffusion"}))
    assert "Did you mean" not in right


def test_the_preview_invites_a_choice_when_none_is_made(client, listing):
    response = client.post("/subscribe/preview/fragment/")
    assert "Choose a topic or type a keyword" in text_of(response)


def test_the_privacy_page_says_what_is_stored_and_how_to_delete_it(client, settings):
    page = text_of(client.get("/privacy/"))
    assert "Proof of your consent" in page
    assert "A signup nobody confirms is deleted after 7 days." in page
    assert settings.POSTAL_ADDRESS in page
