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


def test_it_unfeatures_and_unhides_in_bulk(admin_client, papers):
    Paper.objects.update(is_featured=True, is_hidden=True)
    url = reverse("admin:digest_paper_changelist")
    pks = [paper.pk for paper in papers]

    admin_client.post(url, {"action": "unfeature", "_selected_action": pks})
    admin_client.post(url, {"action": "unhide", "_selected_action": pks})

    assert not Paper.objects.filter(is_featured=True).exists()
    assert not Paper.objects.filter(is_hidden=True).exists()


def test_it_adds_a_topic_with_one_keyword_phrase_per_line(admin_client):
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


def test_editing_a_topics_description_embeds_it_again(admin_client):
    topic = Topic.objects.create(name="Weather", slug="weather", description="Rain.", keywords="weather")
    admin_client.post(
        reverse("admin:digest_topic_change", args=[topic.pk]),
        {"name": "Weather", "slug": "weather", "description": "Forecasting rain and storms with neural networks.",
         "keywords": "weather", "is_active": "on"},
    )
    topic.refresh_from_db()
    assert topic.embedded_text == "Weather: Forecasting rain and storms with neural networks."
