"""Curators extend the related terms in the admin, as they edit topics: a line of theirs
adds a concept the shipped list (digest/data/related_terms.txt) lacks, or takes the place
of its line for the same concept, and matching reads it from the next index on."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group, User

from digest.keywords import RelatedTable, related_terms, shipped_related_lines
from digest.matching import Interest, PaperIndex
from digest.meaning import current_related_table
from digest.models import CuratedRelatedTerms
from digest.vectors import embed_keywords
from tests.digest.semantic_helpers import load_embedded_sample

pytestmark = pytest.mark.django_db

ADD = "/admin/digest/curatedrelatedterms/add/"


def test_a_curated_line_adds_a_concept_or_takes_the_place_of_the_shipped_one():
    shipped = shipped_related_lines()
    table = RelatedTable.from_lines(
        shipped,
        [
            ("sorting networks", ("comparator networks",), ("bitonic sorter", "odd-even merge")),
            ("Model-Compression", (), ("pruning",)),  # the shipped concept, spelled otherwise
            ("LLM agents", (), ()),  # no terms: takes the shipped ones away
        ],
    )
    assert related_terms("sorting network", table) == ("comparator networks", "bitonic sorter", "odd-even merge")
    assert related_terms("comparator networks", table) == ("sorting networks", "bitonic sorter", "odd-even merge")
    assert related_terms("model compression", table) == ("pruning",)
    assert related_terms("LLM agents", table) == ()
    # The shipped list alone is untouched.
    assert "quantization" in related_terms("model compression") and related_terms("sorting networks") == ()


def test_matching_reads_a_curators_line_from_the_next_index_on():
    by_position = load_embedded_sample()
    embed_keywords(["model compression"])
    interest = Interest(keywords=("model compression",), include_featured=False)
    decoupleq = by_position[13]  # writes "quantization", never "compression"

    def matched() -> set[int]:
        return {m.paper.pk for m in PaperIndex.build(by_position.values()).match(interest)}

    assert decoupleq.pk in matched()
    line = CuratedRelatedTerms.objects.create(concept="model compression", narrower="pruning; low-rank factorization")
    assert decoupleq.pk not in matched()  # its line no longer lists quantization
    index = PaperIndex.build(by_position.values())
    assert index.related_terms_read("model compression") == ("pruning", "low-rank factorization")
    line.delete()
    assert decoupleq.pk in matched()  # the shipped line again
    assert current_related_table().concepts == RelatedTable.from_lines(shipped_related_lines()).concepts


def test_a_line_changed_in_bulk_outside_the_admin_is_read_too():
    # An operator's script may `.update()` lines, which leaves updated_at as it was.
    line = CuratedRelatedTerms.objects.create(concept="sorting networks", narrower="bitonic sorter")
    assert related_terms("sorting networks", current_related_table()) == ("bitonic sorter",)
    CuratedRelatedTerms.objects.filter(pk=line.pk).update(narrower="odd-even merge")
    assert related_terms("sorting networks", current_related_table()) == ("odd-even merge",)


@pytest.fixture
def curator_client(client):
    curator = User.objects.create_user("cura", password="x", is_staff=True)
    curator.groups.add(Group.objects.get(name="Curators"))
    client.force_login(curator)
    return client


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_two_curators_adding_one_concept_at_once_get_a_clear_error_not_a_500(curator_client, monkeypatch):
    # The other curator's line is saved after this form's check and before its save.
    from digest.admin import CuratedRelatedTermsForm

    theirs = CuratedRelatedTerms.objects.create(concept="sorting networks", narrower="bitonic sorter")
    real_clean = CuratedRelatedTermsForm.clean
    checks = []

    def clean_before_theirs_lands(form):
        checks.append(1)
        if len(checks) > 1:
            return real_clean(form)
        CuratedRelatedTerms.objects.filter(pk=theirs.pk).update(concept_key="not yet")
        try:
            return real_clean(form)
        finally:
            CuratedRelatedTerms.objects.filter(pk=theirs.pk).update(concept_key="sortingnetwork")

    monkeypatch.setattr(CuratedRelatedTermsForm, "clean", clean_before_theirs_lands)
    response = curator_client.post(ADD, {"concept": "Sorting networks", "synonyms": "", "narrower": "odd-even merge"})
    assert response.status_code == 200 and len(checks) == 2
    assert "“sorting networks” is already curated" in text_of(response)
    assert "odd-even merge" in response.content.decode()  # what they typed is still there
    assert list(CuratedRelatedTerms.objects.values_list("narrower", flat=True)) == ["bitonic sorter"]


def test_a_curator_adds_a_line_and_is_told_what_the_keyword_now_looks_for(curator_client):
    response = curator_client.post(
        ADD,
        {"concept": "sorting networks", "synonyms": "comparator networks", "narrower": "bitonic sorter;odd-even merge;"},
        follow=True,
    )
    line = CuratedRelatedTerms.objects.get()
    assert line.line == ("sorting networks", ("comparator networks",), ("bitonic sorter", "odd-even merge"))
    assert "“sorting networks” now also looks for 3 related terms (comparator networks, bitonic sorter, odd-even merge)" in text_of(response)
    assert "Shown once saved" in text_of(curator_client.get(ADD))
    # One term, and none: said as a person would.
    change = f"/admin/digest/curatedrelatedterms/{line.pk}/change/"
    response = curator_client.post(change, {"concept": "sorting networks", "synonyms": "", "narrower": "bitonic sorter"}, follow=True)
    assert "“sorting networks” now also looks for 1 related term (bitonic sorter)" in text_of(response)
    response = curator_client.post(change, {"concept": "sorting networks", "synonyms": "", "narrower": ""}, follow=True)
    assert "“sorting networks” now looks for no related terms" in text_of(response)


def test_the_change_page_shows_the_shipped_line_a_curated_one_replaces(curator_client):
    line = CuratedRelatedTerms.objects.create(concept="Model compression", narrower="pruning")
    page = text_of(curator_client.get(f"/admin/digest/curatedrelatedterms/{line.pk}/change/"))
    assert "model compression | neural network compression; LLM compression" in page
    listing = text_of(curator_client.get("/admin/digest/curatedrelatedterms/"))
    assert "Model compression" in listing


@pytest.mark.parametrize(
    "data, error",
    [
        ({"concept": "a | b", "synonyms": "", "narrower": "x"}, "A term cannot hold “|”: separate terms with semicolons."),
        ({"concept": "x", "synonyms": "", "narrower": "y | z"}, "A term cannot hold “|”: separate terms with semicolons."),
        ({"concept": "agents; tools", "synonyms": "", "narrower": "y"}, "One concept per line: put other names under Synonyms."),
        ({"concept": "µ", "synonyms": "", "narrower": "y"}, "Type a concept of at least two letters or digits."),
        ({"concept": "LLM-Agent", "synonyms": "", "narrower": "y"}, "“LLM agents” is already curated"),
        # 150 characters that fold to 450 ("ﬃ" is "ffi"): longer than the key may be.
        ({"concept": "\ufb03" * 150, "synonyms": "", "narrower": "y"}, "Type a shorter concept"),
    ],
)
def test_a_bad_line_is_refused_with_a_clear_error(curator_client, data, error):
    CuratedRelatedTerms.objects.create(concept="LLM agents", narrower="tool use")
    response = curator_client.post(ADD, data)
    assert response.status_code == 200
    assert error in text_of(response)
    assert CuratedRelatedTerms.objects.count() == 1


def test_only_curators_and_superusers_edit_the_related_terms(client):
    client.force_login(User.objects.create_user("other", password="x", is_staff=True))
    assert client.get(ADD).status_code == 403
    client.logout()
    assert client.get(ADD).status_code == 302  # to the login page


def test_the_signup_preview_reads_a_line_saved_after_it_was_first_drawn(client):
    from subscriptions import services
    from tests.subscriptions.helpers import signup_data, text_of as page_text

    load_embedded_sample()
    services._index_cache.clear()
    data = signup_data(keywords="model compression", max_papers="50")
    assert "quantization" in page_text(client.post("/subscribe/preview/", data).content.decode())
    CuratedRelatedTerms.objects.create(concept="model compression", narrower="pruning; low-rank factorization")
    page = page_text(client.post("/subscribe/preview/", data).content.decode())
    assert "also looking for related terms: pruning, low-rank factorization" in page
    assert "quantization" not in page.split("also looking for related terms:")[1][:200]


def test_without_semantic_matching_a_readers_removal_is_still_shown_so_saving_keeps_it(client, settings):
    from django.utils import timezone

    from subscriptions.models import Subscriber
    from subscriptions.tokens import make_token
    from tests.subscriptions.helpers import signup_data

    settings.SEMANTIC_MATCHING = False
    reader = Subscriber.objects.create(
        email="ada@example.org", status=Subscriber.Status.ACTIVE, confirmed_at=timezone.now(),
        keywords=["model compression"], keywords_without_related=["model compression"],
    )
    path = f"/manage/{make_token(reader, 'manage')}/"
    assert 'name="keywords_without_related" value="model compression" checked' in client.get(path).content.decode()
    data = signup_data(keywords="model compression", keywords_without_related="model compression", max_papers="20")
    data.pop("email"), data.pop("website")
    client.post(path, data)
    reader.refresh_from_db()
    assert reader.max_papers == 20 and reader.keywords_without_related == ["model compression"]


def test_terms_one_per_line_are_as_good_as_semicolons(curator_client):
    curator_client.post(ADD, {"concept": "sorting networks", "synonyms": "", "narrower": "bitonic sorter\r\nodd-even merge\r\n"})
    assert CuratedRelatedTerms.objects.get().line[2] == ("bitonic sorter", "odd-even merge")


def test_a_line_for_a_shipped_synonym_says_which_concept_reads_it_today(curator_client):
    line = CuratedRelatedTerms.objects.create(concept="LLM compression", narrower="pruning")
    page = text_of(curator_client.get(f"/admin/digest/curatedrelatedterms/{line.pk}/change/"))
    assert "Read today as another name for “model compression”, whose line is: model compression |" in page
    assert "This line is read instead for “LLM compression” (“model compression” keeps its own)." in page
    assert related_terms("LLM compression", current_related_table()) == ("pruning",)
    assert "quantization" in related_terms("model compression", current_related_table())


def test_a_curator_edits_and_deletes_a_line_and_a_superuser_may_too(curator_client, admin_client):
    line = CuratedRelatedTerms.objects.create(concept="sorting networks", narrower="bitonic sorter")
    change = f"/admin/digest/curatedrelatedterms/{line.pk}/change/"
    curator_client.post(change, {"concept": "sorting networks", "synonyms": "", "narrower": "bitonic sorter; odd-even merge"})
    assert related_terms("sorting networks", current_related_table()) == ("bitonic sorter", "odd-even merge")
    curator_client.post(f"/admin/digest/curatedrelatedterms/{line.pk}/delete/", {"post": "yes"})
    assert not CuratedRelatedTerms.objects.exists()
    assert related_terms("sorting networks", current_related_table()) == ()
    assert admin_client.get(ADD).status_code == 200
