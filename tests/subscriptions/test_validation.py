"""Every way the signup form can be filled in wrong: a 400 page with the error next to
the field and the values kept, nothing stored, no email sent."""

from __future__ import annotations

import pytest

from subscriptions.forms import SubscribeForm
from subscriptions.models import Subscriber

from .helpers import field_error, input_value, signup_data, text_of

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

TOO_MANY = ", ".join(f"keyword {n}" for n in range(21))
TOO_LONG = "x" * 61

INVALID = [
    pytest.param("email", "not-an-address", "Enter an email address like name@example.org.", id="bad-address"),
    pytest.param("email", "", "Enter your email address.", id="missing-address"),
    pytest.param("email", "ada@example.org\r\nBcc: victim@example.org", "line breaks", id="header-injection-in-address"),
    pytest.param("keywords", TOO_MANY, "At most 20 keywords, please: you entered 21.", id="too-many-keywords"),
    pytest.param("keywords", f"fine, {TOO_LONG}", "Each keyword can be at most 60 characters long", id="keyword-too-long"),
    pytest.param("keywords", "LoRA\nSubject: spam", "line breaks", id="newline-in-keywords"),
    pytest.param("keywords", "tab\there", "control characters", id="tab-in-keywords"),
    pytest.param("keywords", "evil\u202etxt.exe", "control characters", id="bidi-override-in-keywords"),
    pytest.param("keywords", "LoRA; !!!", "Each keyword needs a letter or a digit: “!!!” has none.", id="keyword-of-punctuation"),
    pytest.param("keywords", "🤖🤖", "Each keyword needs a letter or a digit", id="keyword-of-emoji"),
    pytest.param("authors", "---", "Each author needs a letter or a digit", id="author-of-punctuation"),
    pytest.param(
        "keywords", "LoRA; the; of", "“the” is made of words nearly every paper uses", id="keyword-of-common-words"
    ),
    pytest.param("excluded_keywords", TOO_MANY, "At most 20 excluded keywords", id="too-many-exclusions"),
    pytest.param("authors", ", ".join(f"Author {n}" for n in range(21)), "At most 20 authors", id="too-many-authors"),
    pytest.param("authors", "y" * 101, "Each author can be at most 100 characters long", id="author-too-long"),
    pytest.param("authors", "Ada\x00Lovelace", "control characters", id="nul-in-authors"),
    pytest.param("timezone", "Mars/Olympus_Mons", "is not a time zone we know", id="unknown-time-zone"),
    pytest.param("max_papers", "4", "At least 5 papers per email", id="too-few-papers"),
    pytest.param("max_papers", "51", "At most 50 papers per email", id="too-many-papers"),
    pytest.param("max_papers", "ten", "Enter a whole number between 5 and 50.", id="papers-not-a-number"),
    pytest.param("delivery_time", "25:00", "Enter a time like 07:30.", id="impossible-time"),
    pytest.param("frequency", "hourly", "Choose daily or weekly.", id="unknown-frequency"),
    pytest.param("weekday", "9", "Choose a day of the week.", id="unknown-weekday"),
    pytest.param("email_format", "pdf", "Choose HTML or plain text.", id="unknown-format"),
    pytest.param("topics", "no-such-topic", "is not one of the topics offered", id="unknown-topic"),
]


@pytest.mark.parametrize(("field", "value", "message"), INVALID)
def test_an_invalid_field_gets_a_400_with_the_error_beside_it_and_nothing_happens(
    client, mailbox, field, value, message
):
    response = client.post("/subscribe/", signup_data(**{field: value}))

    assert response.status_code == 400
    assert message in field_error(response, field)
    assert "Please correct this" in text_of(response)
    assert not Subscriber.objects.exists()
    assert mailbox.all() == []


def test_invisible_characters_pasted_into_a_keyword_are_dropped(client, mailbox):
    # A zero-width space or soft hyphen (from a web page or a PDF) looks like nothing and
    # would make the keyword never match the papers' text.
    assert client.post("/subscribe/", signup_data(keywords="diffusion\u200bmodels, Lo\u00adRA, \ufeffRLHF")).status_code == 302
    assert Subscriber.objects.get().keywords == ["diffusion models", "LoRA", "RLHF"]


def test_keywords_typed_the_way_people_type_them_are_saved_as_meant(client, mailbox):
    # A quoted phrase keeps its comma; a stray quote is dropped, not saved to show up in
    # why-lines; full-width letters and commas (a CJK input method) are plain ones.
    typed = '"fast, accurate"; “vision, language” models; "LoRA, ｄｉｆｆｕｓｉｏｎ models，RAG、the transformer, US'
    assert client.post("/subscribe/", signup_data(keywords=typed)).status_code == 302
    saved = Subscriber.objects.get().keywords
    assert saved == [
        '"fast, accurate"', '"vision, language" models', "LoRA", "diffusion models", "RAG", "the transformer", "US"
    ]
    # Shown on the manage page and saved again, they stay as they are.
    field = SubscribeForm.base_fields["keywords"]
    assert field.clean(field.prepare_value(saved)) == saved


def test_a_pasted_list_far_over_the_limit_is_refused_in_words_not_cut_by_the_browser(client, mailbox):
    pasted = ", ".join(f"keyword number {n}" for n in range(200))  # 3,500 characters
    page = client.get("/subscribe/").content.decode()
    assert 'name="keywords"' in page and "maxlength" not in page.split('name="keywords"')[1].split(">")[0]
    response = client.post("/subscribe/", signup_data(keywords=pasted))
    assert response.status_code == 400
    assert "At most 20 keywords, please: you entered 200." in field_error(response, "keywords")
    huge = client.post("/subscribe/", signup_data(keywords="x, " * 2000))
    assert "That is too long to read: at most 20 keywords, each up to 60 characters." in field_error(huge, "keywords")
    assert not Subscriber.objects.exists()


def test_a_subscription_that_could_never_bring_a_paper_is_refused(client, mailbox):
    """No topic, keyword or author and no editors' picks: nothing would ever match."""
    response = client.post("/subscribe/", signup_data(keywords="", include_featured=None, excluded_keywords="medical"))
    assert response.status_code == 400
    assert "Choose at least one topic, keyword or author" in field_error(response, "topics")
    assert not Subscriber.objects.exists()
    assert mailbox.all() == []

    # One author alone is enough.
    assert client.post("/subscribe/", signup_data(email="b@example.org", keywords="", include_featured=None, authors="Fei-Fei Li")).status_code == 302


def test_a_signup_with_only_an_address_is_refused_next_to_the_topics(client, mailbox):
    """The form's defaults keep the editors' picks; they come only on the days an editor
    features a paper, so an address alone was confirmed, promised a digest, and sent
    nothing."""
    response = client.post("/subscribe/", signup_data(keywords=""))

    assert response.status_code == 400
    assert "Choose at least one topic, keyword or author" in field_error(response, "topics")
    assert 'href="#id_topics"' in response.content.decode()
    assert input_value(response, "email") == "ada@example.org"
    assert not Subscriber.objects.exists()
    assert mailbox.all() == []


def test_a_daily_subscription_needs_no_weekday_but_a_weekly_one_does(client, mailbox):
    assert client.post("/subscribe/", signup_data(weekday=None)).status_code == 302
    assert Subscriber.objects.get().weekday == 0

    response = client.post("/subscribe/", signup_data(email="b@example.org", frequency="weekly", weekday=None))
    assert response.status_code == 400
    assert "Choose a day of the week." in field_error(response, "weekday")
    assert Subscriber.objects.count() == 1


def test_the_values_typed_are_kept_when_the_form_comes_back(client):
    response = client.post(
        "/subscribe/",
        signup_data(email="ada@example.org", keywords="Schrödinger, 大语言模型", authors="Łukasz Kaiser", max_papers="99"),
    )
    assert response.status_code == 400
    assert input_value(response, "email") == "ada@example.org"
    assert input_value(response, "keywords") == "Schrödinger, 大语言模型"
    assert input_value(response, "authors") == "Łukasz Kaiser"
    assert input_value(response, "max_papers") == "99"
    html = response.content.decode()
    assert '<option value="Europe/Berlin" selected>' in html


def test_the_field_with_an_error_points_screen_readers_to_it(client):
    response = client.post("/subscribe/", signup_data(max_papers="3"))
    html = response.content.decode()
    assert 'aria-describedby="id_max_papers-hint id_max_papers-error"' in html
    assert 'aria-invalid="true"' in html
    assert '<a href="#id_max_papers">Papers per email: At least 5 papers per email, please.</a>' in html


def test_several_errors_are_all_listed_at_the_top(client):
    response = client.post("/subscribe/", signup_data(email="nope", timezone="Nowhere/Else", max_papers="0"))
    page = text_of(response)
    assert "Please correct these 3 things" in page
    assert "Nothing was saved, and no email was sent." in page


def test_an_email_address_with_a_newline_can_never_reach_a_mail_header(client, mailbox):
    client.post("/subscribe/", signup_data(email="ada@example.org\nBcc: everyone@example.org"))
    client.post("/manage/", {"email": "ada@example.org\r\nCc: x@example.org"})
    assert mailbox.all() == []
    assert not Subscriber.objects.exists()
