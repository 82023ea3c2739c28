"""The curators' admin for papers and topics."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from digest.models import Paper, Topic

pytestmark = pytest.mark.django_db


@pytest.fixture
def papers() -> list[Paper]:
    return [
        Paper.objects.create(title="TokenFormer: Rethinking Transformer Scaling", arxiv_id="2410.23168",
                             listed_on=date(2024, 10, 31), upvotes=24),
        Paper.objects.create(title="PixArt-Σ: Weak-to-Strong Training", arxiv_id="2403.04692",
                             listed_on=date(2024, 3, 8), upvotes=31),
    ]


def test_it_lists_papers_with_their_id_day_votes_and_flags(admin_client, papers):
    response = admin_client.get(reverse("admin:digest_paper_changelist"))

    page = response.content.decode()
    assert response.status_code == 200
    assert "TokenFormer: Rethinking Transformer Scaling" in page and "PixArt-Σ" in page
    assert "2410.23168" in page
    assert 'name="form-0-is_featured"' in page and 'name="form-0-is_hidden"' in page


def test_it_finds_a_paper_by_an_arxiv_id_pasted_with_its_version(admin_client, papers):
    response = admin_client.get(reverse("admin:digest_paper_changelist"), {"q": "arXiv:2410.23168v2"})

    assert [paper.pk for paper in response.context["cl"].result_list] == [papers[0].pk]


@pytest.mark.parametrize(
    "action, flags",
    [("feature", {"is_featured": True}), ("hide", {"is_hidden": True})],
)
def test_it_features_and_hides_selected_papers_in_bulk(admin_client, papers, action, flags):
    response = admin_client.post(
        reverse("admin:digest_paper_changelist"),
        {"action": action, "_selected_action": [papers[0].pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert "1 paper " in response.content.decode()
    assert Paper.objects.filter(pk=papers[0].pk, **flags).exists()
    assert not Paper.objects.filter(pk=papers[1].pk, **flags).exists()


def test_a_bulk_action_leaves_each_papers_history_saying_who_did_it(admin_client, papers):
    from django.contrib.admin.models import LogEntry

    admin_client.post(reverse("admin:digest_paper_changelist"),
                      {"action": "hide", "_selected_action": [p.pk for p in papers]})
    entries = LogEntry.objects.filter(object_id__in=[str(p.pk) for p in papers])
    assert sorted(e.get_change_message() for e in entries) == ["Hidden (bulk action)."] * 2
    assert {e.user.username for e in entries} == {"admin"}
    history = admin_client.get(reverse("admin:digest_paper_history", args=[papers[0].pk])).content.decode()
    assert "Hidden (bulk action)." in history
    # Hiding them again changes nothing, and says nothing.
    admin_client.post(reverse("admin:digest_paper_changelist"),
                      {"action": "hide", "_selected_action": [p.pk for p in papers]})
    assert LogEntry.objects.count() == 2


def test_it_unfeatures_and_unhides_in_bulk(admin_client, papers):
    Paper.objects.update(is_featured=True, is_hidden=True)
    url = reverse("admin:digest_paper_changelist")
    pks = [paper.pk for paper in papers]

    admin_client.post(url, {"action": "unfeature", "_selected_action": pks})
    admin_client.post(url, {"action": "unhide", "_selected_action": pks})

    assert not Paper.objects.filter(is_featured=True).exists()
    assert not Paper.objects.filter(is_hidden=True).exists()


def test_it_adds_a_topic_with_one_keyword_phrase_per_line(admin_client, celery_eager):
    form = admin_client.get(reverse("admin:digest_topic_add")).content.decode()
    assert "<textarea" in form and 'name="keywords"' in form

    response = admin_client.post(
        reverse("admin:digest_topic_add"),
        {"name": "Weather forecasting", "slug": "weather-forecasting", "description": "",
         "keywords": "weather\r\nclimate model\r\nnowcasting", "is_active": "on"},
    )

    assert response.status_code == 302  # saved, not the form again with errors
    topic = Topic.objects.get(slug="weather-forecasting")
    assert topic.keyword_list == ["weather", "climate model", "nowcasting"]
    # What the topic means to the semantic matcher is stored with it at once.
    assert topic.embedded_text == "Weather forecasting" and len(bytes(topic.embedding)) == 768


def test_editing_a_topics_description_embeds_it_again(admin_client, celery_eager):
    topic = Topic.objects.create(name="Weather", slug="weather", description="Rain.", keywords="weather")
    admin_client.post(
        reverse("admin:digest_topic_change", args=[topic.pk]),
        {"name": "Weather", "slug": "weather", "description": "Forecasting rain and storms with neural networks.",
         "keywords": "weather", "is_active": "on"},
    )
    topic.refresh_from_db()
    assert topic.embedded_text == "Weather: Forecasting rain and storms with neural networks."


# --- What a curator's edits do to vectors and topic filing ----------------------------

MRI = ("Brain tumour segmentation in MRI scans",
       "We segment brain tumours in magnetic resonance images with a U-Net, on a public medical imaging benchmark.")
POKER = ("Are language models good poker players?",
         "We let large language models play heads-up poker against each other and study their bluffing.")


def change_data(paper: Paper, **fields) -> dict:
    data = {
        "title": paper.title, "arxiv_id": paper.arxiv_id or "", "abstract": paper.abstract,
        "authors": "\n".join(paper.authors), "listed_on": paper.listed_on.isoformat() if paper.listed_on else "",
        "upvotes": paper.upvotes, "published_on": "", "github_stars": "", "num_comments": "",
        "page_url": "", "pdf_url": "", "code_url": "", "project_url": "", "organization": "",
        "categories": "[]", "comment": "", "ai_summary": "", "ai_keywords": "[]",
    }
    return {**data, **fields}


def test_rewriting_a_papers_abstract_embeds_it_again_and_files_it_under_its_new_topics(admin_client):
    paper = Paper.objects.create(title="A survey of sorting networks", abstract="Comparators, depth and size.",
                                 listed_on=date(2024, 11, 27))
    response = admin_client.post(
        reverse("admin:digest_paper_change", args=[paper.pk]), change_data(paper, title=MRI[0], abstract=MRI[1])
    )
    assert response.status_code == 302
    paper.refresh_from_db()
    assert paper.embedding is not None
    assert "medical-imaging" in set(paper.topics.values_list("slug", flat=True))


def test_a_paper_added_by_hand_is_embedded_and_filed_at_once(admin_client):
    response = admin_client.post(
        reverse("admin:digest_paper_add"),
        change_data(Paper(title=MRI[0], abstract=MRI[1], listed_on=date(2024, 11, 27)), arxiv_id="2411.00001"),
    )
    assert response.status_code == 302
    paper = Paper.objects.get(arxiv_id="2411.00001")
    assert paper.embedding is not None
    assert "medical-imaging" in set(paper.topics.values_list("slug", flat=True))


@pytest.mark.parametrize(
    "typed",
    ["2410.23168v2", "arXiv:2410.23168", "https://arxiv.org/abs/2410.23168v1", "https://arxiv.org/pdf/2410.23168v3.pdf"],
)
def test_an_arxiv_id_is_stored_as_the_importers_store_it_whatever_form_is_pasted(admin_client, typed):
    paper = Paper.objects.create(title="TokenFormer", listed_on=date(2024, 10, 31))
    url = reverse("admin:digest_paper_change", args=[paper.pk])
    response = admin_client.post(url, change_data(paper, arxiv_id=typed))
    assert response.status_code == 302
    paper.refresh_from_db()
    assert paper.arxiv_id == "2410.23168"


def test_a_wrong_arxiv_id_is_refused_and_a_taken_one_too(admin_client, papers):
    url = reverse("admin:digest_paper_change", args=[papers[1].pk])
    wrong = admin_client.post(url, change_data(papers[1], arxiv_id="hello world"))
    assert wrong.status_code == 200
    assert "“hello world” is not an arXiv id: give one like 2410.23168" in wrong.content.decode()
    taken = admin_client.post(url, change_data(papers[1], arxiv_id="2410.23168v2"))  # TokenFormer's
    assert "Paper with this ArXiv id already exists." in taken.content.decode()
    papers[1].refresh_from_db()
    assert papers[1].arxiv_id == "2403.04692"


def test_authors_are_typed_one_per_line(admin_client, papers):
    url = reverse("admin:digest_paper_change", args=[papers[0].pk])
    admin_client.post(url, change_data(papers[0], authors="Ada Lovelace\r\n  Alan   Turing \r\n\r\n"))
    papers[0].refresh_from_db()
    assert papers[0].authors == ["Ada Lovelace", "Alan Turing"]
    assert "Ada Lovelace\nAlan Turing</textarea>" in admin_client.get(url).content.decode()


def test_a_new_topic_and_a_retired_one_reach_the_papers_topics(
    admin_client, celery_eager, django_capture_on_commit_callbacks
):
    poker = Paper.objects.create(title=POKER[0], abstract=POKER[1], listed_on=date(2024, 11, 27))
    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        response = admin_client.post(
            reverse("admin:digest_topic_add"),
            {"name": "Games and poker", "slug": "games-and-poker", "description": "",
             "keywords": "poker\r\ngames", "is_active": "on"},
            follow=True,
        )
    assert "being filed under the topics again in the background" in response.content.decode()
    # Queued only once the topic is committed: a worker reading it earlier would not see it.
    assert len(after_commit) == 1 and not poker.topics.exists()
    after_commit[0]()
    assert "games-and-poker" in set(poker.topics.values_list("slug", flat=True))

    topic = Topic.objects.get(slug="games-and-poker")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:digest_topic_change", args=[topic.pk]),
            {"name": topic.name, "slug": topic.slug, "description": "", "keywords": "poker\r\ngames"},  # inactive
        )
    assert "games-and-poker" not in set(poker.topics.values_list("slug", flat=True))


def test_retiring_several_topics_from_the_list_refiles_the_catalog_once(
    admin_client, celery_eager, django_capture_on_commit_callbacks
):
    topics = list(Topic.objects.filter(is_active=True).order_by("pk")[:3])
    data = {"form-TOTAL_FORMS": "3", "form-INITIAL_FORMS": "3", "_save": "Save"}
    for n, topic in enumerate(topics):
        data |= {f"form-{n}-id": topic.pk, f"form-{n}-group": topic.group}  # is_active unticked
    changelist = reverse("admin:digest_topic_changelist")
    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        response = admin_client.post(changelist + f"?id__in={','.join(str(t.pk) for t in topics)}", data)
    assert response.status_code == 302
    assert Topic.objects.filter(pk__in=[t.pk for t in topics], is_active=True).count() == 0
    assert len(after_commit) == 1
