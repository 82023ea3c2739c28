"""How a typed keyword is read beyond its words (the curated topic it names, the related
terms it looks for) is shown next to it on the signup preview and the manage page, and
the reader can remove each reading."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.utils import timezone

from digest.models import Paper
from subscriptions.models import Subscriber
from subscriptions.tokens import make_token

from .helpers import embedded_agents_listing, signup_data, text_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def embedded_listing() -> list[Paper]:
    return embedded_agents_listing(dt.date.today())


def test_the_preview_shows_the_topic_a_keyword_also_matches_with_a_box_to_remove_it(client, embedded_listing):
    response = client.post("/subscribe/preview/", signup_data(keywords="LLM agents"))
    page = text_of(response.content.decode())
    assert "“LLM agents” — also matching topic “Agents and tool use”" in page
    assert 'name="unexpanded_keywords" value="LLM agents"' in response.content.decode()
    assert "Tool-augmented language models plan before they call tools" in page

    removed = client.post("/subscribe/preview/", signup_data(keywords="LLM agents", unexpanded_keywords="LLM agents"))
    page = text_of(removed.content.decode())
    assert "“LLM agents” — matched only as typed, not through topic “Agents and tool use”" in page
    assert "Tool-augmented language models plan before they call tools" not in page


def test_the_live_preview_keeps_a_removal_ticked_while_the_keywords_field_has_an_error(client, embedded_listing):
    # The signup page's script replaces its "remove" boxes with the live preview's: a
    # moment of 21 keywords must not send back a preview without the reader's removal.
    typed = "LLM agents; " + "; ".join(f"keyword number {n}" for n in range(20))
    response = client.post("/subscribe/preview/fragment/", {"keywords": typed, "unexpanded_keywords": "LLM agents"})
    html = response.content.decode()
    assert "At most 20 keywords, please: you entered 21." in text_of(html)
    assert "“LLM agents” — matched only as typed, not through topic “Agents and tool use”" in text_of(html)
    [box] = re.findall(r'<input type="checkbox" name="unexpanded_keywords"[^>]*>', html)
    assert 'value="LLM agents"' in box and "checked" in box
    # A removal for a keyword no longer typed is not kept alive.
    gone = client.post("/subscribe/preview/fragment/", {"keywords": "sorting networks", "unexpanded_keywords": "LLM agents"})
    assert 'name="unexpanded_keywords"' not in gone.content.decode()


def test_a_topic_the_reader_already_follows_is_not_offered_again(client, embedded_listing, make_subscriber):
    response = client.post("/subscribe/preview/", signup_data(keywords="LLM agents", topics="agents"))
    page = text_of(response.content.decode())
    assert "Tool-augmented language models plan before they call tools" in page  # through the topic itself
    assert "also matching topic" not in page and 'name="unexpanded_keywords"' not in response.content.decode()

    reader = make_subscriber("ada@example.org", keywords=["LLM agents"], confirmed_at=timezone.now())
    from digest.models import Topic

    reader.topics.set([Topic.objects.get(slug="agents")])
    assert "also matching topic" not in text_of(client.get(f"/manage/{make_token(reader, 'manage')}/").content.decode())


def test_a_removed_reading_survives_a_save_while_the_reader_follows_its_topic(
    client, embedded_listing, make_subscriber
):
    from digest.models import Topic

    reader = make_subscriber(
        "ada@example.org", keywords=["LLM agents"], unexpanded_keywords=["LLM agents"], confirmed_at=timezone.now()
    )
    reader.topics.set([Topic.objects.get(slug="agents")])
    path = f"/manage/{make_token(reader, 'manage')}/"
    page = client.get(path).content.decode()
    assert 'value="LLM agents" checked' in page  # still shown, ticked: its box keeps the removal
    data = signup_data(keywords="LLM agents", topics="agents", unexpanded_keywords="LLM agents", max_papers="20")
    data.pop("email"), data.pop("website")
    client.post(path, data)
    reader.refresh_from_db()
    assert reader.max_papers == 20 and reader.unexpanded_keywords == ["LLM agents"]


def test_a_removed_reading_is_saved_and_shown_on_the_manage_page(client, embedded_listing, make_subscriber):
    reader = make_subscriber("ada@example.org", keywords=["LLM agents"], confirmed_at=timezone.now())
    path = f"/manage/{make_token(reader, 'manage')}/"
    page = client.get(path).content.decode()
    assert "“LLM agents” — also matching topic “Agents and tool use”" in text_of(page)
    assert 'value="LLM agents" checked' not in page
    data = signup_data(keywords="LLM agents", unexpanded_keywords="LLM agents")
    data.pop("email"), data.pop("website")
    client.post(path, data)
    reader.refresh_from_db()
    assert reader.unexpanded_keywords == ["LLM agents"]
    assert 'value="LLM agents" checked' in client.get(path).content.decode()


def test_a_keyword_is_embedded_when_a_reader_saves_it_by_the_imports_worker(
    client, embedded_listing, django_capture_on_commit_callbacks
):
    from digest.models import EmbeddedKeyword

    with django_capture_on_commit_callbacks() as queued:
        client.post("/subscribe/", signup_data(keywords="data curation; LLM agents"))
    # Not in the request: a signup for a known address embeds nothing, and the time the
    # page took would tell which addresses are subscribed.
    assert Subscriber.objects.get().keywords == ["data curation", "LLM agents"]
    assert not EmbeddedKeyword.objects.filter(key__in=["data curation", "llm agents"]).exists()
    for callback in queued:
        callback()
    assert set(EmbeddedKeyword.objects.values_list("key", flat=True)) >= {"data curation", "llm agents"}


def test_the_preview_stores_no_vector_for_what_is_typed_there(client, embedded_listing):
    # Anyone can type anything into the preview: it computes vectors in memory only.
    from digest.models import EmbeddedKeyword

    before = EmbeddedKeyword.objects.count()
    response = client.post("/subscribe/preview/fragment/", {"keywords": "LLM agents; zq ultra rare words"})
    page = text_of(response.content.decode())
    assert "also matching topic “Agents and tool use”" in page  # the vector was there to read
    assert EmbeddedKeyword.objects.count() == before


def test_a_removal_for_a_keyword_no_longer_typed_is_dropped(client, embedded_listing):
    client.post("/subscribe/", signup_data(keywords="data curation", unexpanded_keywords="LLM agents"))
    assert Subscriber.objects.get().unexpanded_keywords == []


def test_the_manage_pages_preview_reads_the_readers_votes(client, embedded_listing, make_subscriber):
    # "Less like this" drops a paper and its near-duplicates from the reader's digests:
    # the manage page's preview (which sends its token) shows it gone too.
    from subscriptions.models import Vote

    reader = make_subscriber("ada@example.org", keywords=["LLM agents"], confirmed_at=timezone.now())
    token = make_token(reader, "manage")
    tool_paper = Paper.objects.get(title__startswith="Tool-augmented language models")
    asked = {"keywords": "LLM agents", "preview_for": token}
    before = text_of(client.post("/subscribe/preview/fragment/", asked).content.decode())
    assert "Tool-augmented language models plan before they call tools" in before
    Vote.objects.create(subscriber=reader, paper=tool_paper, value=Vote.Value.LESS)
    after = text_of(client.post("/subscribe/preview/fragment/", asked).content.decode())
    assert "Tool-augmented language models plan before they call tools" not in after
    # Without the token (the signup form), or with a bad one, nobody's votes count.
    anyone = client.post("/subscribe/preview/fragment/", {"keywords": "LLM agents", "preview_for": "not-a-token"})
    assert "Tool-augmented language models plan before they call tools" in text_of(anyone.content.decode())


def test_a_manage_preview_with_votes_but_no_interest_lists_nothing_saving_would_refuse(
    client, embedded_listing, make_subscriber
):
    # A reader who clears every topic and keyword on the manage page sees no paper
    # "they would have got": their votes alone bring papers like the ones they liked,
    # but a subscription of votes alone cannot be saved.
    from subscriptions.models import Vote

    reader = make_subscriber("ada@example.org", keywords=["LLM agents"], confirmed_at=timezone.now())
    Vote.objects.create(
        subscriber=reader,
        paper=Paper.objects.get(title__startswith="Tool-augmented language models"),
        value=Vote.Value.MORE,
    )
    page = text_of(client.post("/subscribe/preview/fragment/", {"preview_for": make_token(reader, "manage")}))
    assert "Choose a topic or type a keyword" in page
    assert "you would have got" not in page
    saved = client.post(f"/manage/{make_token(reader, 'manage')}/", {"frequency": "daily", "timezone": "UTC"})
    assert "Choose at least one topic, keyword or author" in text_of(saved)


def test_a_removal_survives_a_page_with_an_error(client, embedded_listing, make_subscriber):
    # The error page must keep the "remove" box ticked: the save after the fix sends it.
    reader = make_subscriber(
        "ada@example.org", keywords=["LLM agents"], unexpanded_keywords=["LLM agents"], confirmed_at=timezone.now()
    )
    path = f"/manage/{make_token(reader, 'manage')}/"
    too_many = "LLM agents; " + "; ".join(f"word{n}" for n in range(20))
    data = signup_data(keywords=too_many, unexpanded_keywords="LLM agents")
    data.pop("email"), data.pop("website")
    page = client.post(path, data)
    assert page.status_code == 400
    assert 'value="LLM agents" checked' in page.content.decode()

    typo = signup_data(email="typo@@example.org", keywords="LLM agents", unexpanded_keywords="LLM agents")
    signup = client.post("/subscribe/", typo)
    assert signup.status_code == 400
    assert re.search(r'name="unexpanded_keywords" value="LLM agents"[^>]* checked', signup.content.decode())


@pytest.fixture
def embedded_sample() -> None:
    """The sample listing with its vectors: enough papers for a keyword's closeness to be
    weighed, which is when related terms are read."""
    from subscriptions import services
    from tests.digest.semantic_helpers import load_embedded_sample

    load_embedded_sample()
    services._index_cache.clear()


DECOUPLEQ = "decoupleQ: Towards 2-bit Post-Training Uniform Quantization via decoupling Parameters into Integer and Floating Points"


def test_the_preview_lists_a_keywords_related_terms_and_the_reader_can_remove_them(client, embedded_sample):
    response = client.post("/subscribe/preview/", signup_data(keywords="model compression", max_papers="50"))
    page = text_of(response.content.decode())
    line = re.search(r"“model compression” — (.*?) remove all related terms from", page).group(1)
    assert "also looking for related terms:" in line and "quantization" in line and "pruning" in line
    assert 'name="keywords_without_related" value="model compression"' in response.content.decode()
    assert DECOUPLEQ in page  # it writes "quantization", never "compression"

    removed = client.post(
        "/subscribe/preview/",
        signup_data(keywords="model compression", keywords_without_related="model compression", max_papers="50"),
    )
    page = text_of(removed.content.decode())
    assert "“model compression” — not looking for related terms:" in page
    assert DECOUPLEQ not in page


def test_removed_related_terms_are_saved_kept_on_the_manage_page_and_exported(
    client, embedded_sample, make_subscriber
):
    reader = make_subscriber("ada@example.org", keywords=["model compression"], confirmed_at=timezone.now())
    path = f"/manage/{make_token(reader, 'manage')}/"
    page = client.get(path).content.decode()
    assert "also looking for related terms:" in text_of(page)
    assert 'name="keywords_without_related" value="model compression" checked' not in page
    data = signup_data(keywords="model compression; RLHF", keywords_without_related="model compression")
    data.pop("email"), data.pop("website")
    client.post(path, data)
    reader.refresh_from_db()
    assert reader.keywords_without_related == ["model compression"]
    page = client.get(path).content.decode()
    assert 'name="keywords_without_related" value="model compression" checked' in page
    assert "“model compression” — not looking for related terms:" in text_of(page)
    assert "“RLHF” — also looking for related terms:" in text_of(page)  # the other keyword keeps its own
    exported = json.loads(client.get(path + "my-data.json").content)
    assert exported["preferences"]["keywords_matched_without_related_terms"] == ["model compression"]
    # A removal goes when its keyword goes.
    data = signup_data(keywords="RLHF", keywords_without_related="model compression")
    data.pop("email"), data.pop("website")
    client.post(path, data)
    reader.refresh_from_db()
    assert reader.keywords_without_related == []


def test_a_related_terms_removal_survives_a_save_on_a_day_without_vectors(client, embedded_listing, make_subscriber):
    # Two papers are too few to weigh a keyword's closeness: no related terms are read that
    # day, but the reader's removal is still shown, ticked, so that saving keeps it.
    reader = make_subscriber(
        "ada@example.org", keywords=["model compression"], keywords_without_related=["model compression"],
        confirmed_at=timezone.now(),
    )
    path = f"/manage/{make_token(reader, 'manage')}/"
    page = client.get(path).content.decode()
    assert 'name="keywords_without_related" value="model compression" checked' in page
    data = signup_data(keywords="model compression", keywords_without_related="model compression", max_papers="20")
    data.pop("email"), data.pop("website")
    client.post(path, data)
    reader.refresh_from_db()
    assert reader.max_papers == 20 and reader.keywords_without_related == ["model compression"]


def test_a_related_terms_removal_is_saved_at_signup_and_kept_through_an_error(client, embedded_sample):
    # The box's value is the keyword as first typed; the reader may retype its case.
    typed = "model compression; " + "; ".join(f"keyword number {n}" for n in range(20))
    response = client.post("/subscribe/preview/fragment/", {"keywords": typed, "keywords_without_related": "model compression"})
    html = response.content.decode()
    assert "At most 20 keywords, please: you entered 21." in text_of(html)
    [box] = re.findall(r'<input type="checkbox" name="keywords_without_related"[^>]*>', html)
    assert 'value="model compression"' in box and "checked" in box

    client.post("/subscribe/", signup_data(keywords="Model Compression", keywords_without_related="model compression"))
    assert Subscriber.objects.get().keywords_without_related == ["model compression"]
    preview = client.post(
        "/subscribe/preview/",
        signup_data(keywords="Model Compression", keywords_without_related="model compression", max_papers="50"),
    )
    assert "“Model Compression” — not looking for related terms:" in text_of(preview.content.decode())
    assert DECOUPLEQ not in text_of(preview.content.decode())


def test_a_removed_topic_with_related_terms_kept_reads_as_one_sentence(client, embedded_sample):
    # "Matched only as typed" would be untrue while the related terms are still read.
    from digest.vectors import embed_keywords

    embed_keywords(["LLM agents"])
    data = signup_data(keywords="LLM agents", unexpanded_keywords="LLM agents")
    page = text_of(client.post("/subscribe/preview/", data).content.decode())
    line = re.search(r"“LLM agents” — (.*?) remove all related terms from", page).group(1)
    assert line.startswith("not matching topic “Agents and tool use”") and "and also looking for related terms:" in line
    assert "matched only as typed" not in line


QUANTIZATION_OUT = json.dumps(["model compression", "quantization"])


def test_a_reader_leaves_out_one_related_term_in_the_preview(client, embedded_sample):
    data = signup_data(keywords="model compression", max_papers="50", left_out_terms=QUANTIZATION_OUT)
    response = client.post("/subscribe/preview/", data)
    html = response.content.decode()
    page = text_of(html)
    line = re.search(r"“model compression” — also looking for related terms: (.*?) remove all", page).group(1)
    assert "quantization" not in line and "pruning" in line
    [box] = re.findall(
        r"<input type=\"checkbox\" name=\"left_out_terms\" value='\[\"model compression\", \"quantization\"\]'[^>]*>",
        html,
    )
    assert "checked" in box
    assert "leave out “pruning” from “model compression”" in page  # every term has its box
    assert DECOUPLEQ not in page


def test_left_out_terms_are_saved_exported_and_go_with_their_keyword(client, embedded_sample, make_subscriber):
    reader = make_subscriber("ada@example.org", keywords=["model compression"], confirmed_at=timezone.now())
    path = f"/manage/{make_token(reader, 'manage')}/"
    data = signup_data(keywords="model compression; RLHF", left_out_terms=QUANTIZATION_OUT)
    data.pop("email"), data.pop("website")
    client.post(path, data)
    reader.refresh_from_db()
    assert reader.left_out_terms == {"model compression": ["quantization"]}
    assert 'value=\'["model compression", "quantization"]\' checked' in client.get(path).content.decode()
    exported = json.loads(client.get(path + "my-data.json").content)
    assert exported["preferences"]["related_terms_left_out"] == {"model compression": ["quantization"]}
    data = signup_data(keywords="RLHF", left_out_terms=QUANTIZATION_OUT)
    data.pop("email"), data.pop("website")
    client.post(path, data)
    reader.refresh_from_db()
    assert reader.left_out_terms == {}


def test_a_left_out_term_that_is_not_a_pair_is_a_clear_error_not_a_crash(client, embedded_sample):
    response = client.post("/subscribe/", signup_data(keywords="model compression", left_out_terms="quantization"))
    assert response.status_code == 400  # the form again, as for any field in error
    assert "Choose among the related terms shown." in text_of(response.content.decode())
    assert not Subscriber.objects.exists()
    # The live preview takes what it can and shows the rest.
    fragment = client.post("/subscribe/preview/fragment/", {"keywords": "model compression", "left_out_terms": "{"})
    assert fragment.status_code == 200


def test_terms_left_out_stay_chosen_under_remove_all(client, embedded_sample, make_subscriber):
    # Unticking "remove all" later brings back the other terms, not the one left out.
    reader = make_subscriber(
        "ada@example.org", keywords=["model compression"], keywords_without_related=["model compression"],
        left_out_terms={"model compression": ["quantization"]}, confirmed_at=timezone.now(),
    )
    path = f"/manage/{make_token(reader, 'manage')}/"
    html = client.get(path).content.decode()
    assert "<input type=\"hidden\" name=\"left_out_terms\" value='[\"model compression\", \"quantization\"]'" in html
    data = signup_data(keywords="Model Compression", keywords_without_related="model compression",
                       left_out_terms=QUANTIZATION_OUT)
    data.pop("email"), data.pop("website")
    client.post(path, data)
    reader.refresh_from_db()
    # Kept, and stored under the keyword as now typed.
    assert reader.left_out_terms == {"Model Compression": ["quantization"]}


def test_every_term_left_out_says_so(client, embedded_sample):
    from digest.keywords import related_terms

    pairs = [json.dumps(["model compression", term]) for term in related_terms("model compression")]
    data = signup_data(keywords="model compression", left_out_terms=pairs)
    page = text_of(client.post("/subscribe/preview/", data).content.decode())
    assert "“model compression” — not looking for related terms (all left out)" in page
