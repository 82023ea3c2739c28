"""The default topics from the data migration, and looking topics up by slug."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps

from digest.models import Topic
from digest.text import compile_phrase
from digest.topics import UnknownTopic, topics_by_slugs

pytestmark = pytest.mark.django_db

default_topics = importlib.import_module("digest.migrations.0003_default_topics")
DEFAULT_SLUGS = [slug for _, slug, _, _ in default_topics.TOPICS]


def test_the_default_topics_cover_at_least_25_research_areas():
    assert Topic.objects.filter(slug__in=DEFAULT_SLUGS, is_active=True).count() == len(DEFAULT_SLUGS) >= 25
    for slug in ["large-language-models", "reasoning", "quantization", "mixture-of-experts", "diffusion-models",
                 "3d-vision", "speech-audio", "federated-learning", "safety-alignment", "efficient-inference",
                 "peft", "scaling-laws", "medical-imaging", "robotics", "reinforcement-learning", "graph-learning",
                 "retrieval-rag", "multimodal", "agents"]:
        assert slug in DEFAULT_SLUGS


def test_every_default_topic_has_a_unique_slug_a_description_and_keywords():
    names = [name for name, _, _, _ in default_topics.TOPICS]
    assert len(set(DEFAULT_SLUGS)) == len(DEFAULT_SLUGS)
    assert len({name.lower() for name in names}) == len(names)
    for topic in Topic.objects.filter(slug__in=DEFAULT_SLUGS):
        assert topic.description and len(topic.description) <= 300, topic.slug
        assert len(topic.keyword_list) >= 8, topic.slug
        assert len(set(topic.keyword_list)) == len(topic.keyword_list), f"{topic.slug} repeats a keyword"


def test_every_default_keyword_can_be_matched():
    for topic in Topic.objects.filter(slug__in=DEFAULT_SLUGS):
        for keyword in topic.keyword_list:
            assert not compile_phrase(keyword).is_empty, f"{topic.slug}: {keyword!r} has no words"


def test_reversing_the_migration_removes_the_default_topics_and_only_them():
    Topic.objects.create(name="Curated by hand", slug="by-hand", keywords="hand")
    default_topics.remove_topics(django_apps, None)
    assert list(Topic.objects.values_list("slug", flat=True)) == ["by-hand"]
    default_topics.add_topics(django_apps, None)
    assert Topic.objects.count() == len(DEFAULT_SLUGS) + 1


def test_adding_the_defaults_keeps_a_topic_a_curator_already_made():
    Topic.objects.filter(slug="quantization").update(keywords="my own phrase", description="Mine")
    default_topics.add_topics(django_apps, None)
    mine = Topic.objects.get(slug="quantization")
    assert (mine.keywords, mine.description) == ("my own phrase", "Mine")
    assert Topic.objects.filter(slug="quantization").count() == 1


def test_topics_are_found_by_slug_in_the_order_given_each_once():
    found = topics_by_slugs(["quantization", " Medical-Imaging ", "quantization", ""])
    assert [t.slug for t in found] == ["quantization", "medical-imaging"]


def test_an_unknown_slug_is_a_clear_error_that_lists_the_valid_ones():
    with pytest.raises(UnknownTopic) as raised:
        topics_by_slugs(["quantization", "quantisation", "nope"])
    error = raised.value
    assert isinstance(error, ValueError)
    assert error.unknown == ["quantisation", "nope"]
    assert "quantization" in error.valid and "quantisation" not in error.valid
    assert str(error).startswith("Unknown topics: quantisation, nope. Valid topics: ")
    assert "medical-imaging" in str(error)


def test_inactive_topics_are_unknown_where_only_active_ones_are_offered():
    Topic.objects.filter(slug="robotics").update(is_active=False)
    assert [t.slug for t in topics_by_slugs(["robotics"])] == ["robotics"]
    with pytest.raises(UnknownTopic, match=r"^Unknown topic: robotics\. "):
        topics_by_slugs(["robotics"], active_only=True)
