"""The default topics from the data migration, and looking topics up by slug."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps

from digest.matching import CatalogStats, Interest, PaperIndex, TopicTerms
from digest.models import Paper, Topic
from digest.text import compile_phrase
from digest.topics import UnknownTopic, topics_by_slugs
from tests.digest.matching_sample import sample_texts

pytestmark = pytest.mark.django_db

default_topics = importlib.import_module("digest.migrations.0003_default_topics")
DEFAULT_SLUGS = [slug for _, slug, _, _ in default_topics.TOPICS]
from_misses = importlib.import_module("digest.migrations.0025_topic_phrases_from_misses")


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


def test_the_default_topics_find_papers_in_the_words_their_readers_missed():
    papers = [
        Paper(
            pk=1,
            title="Zero-shot information extraction from radiology reports",
            abstract="We extract findings from free-text radiology reports with an open model.",
        ),
        Paper(
            pk=2,
            title="PortaSpeech: a lightweight architecture for text-to-speech",
            abstract="A small model for resource-constrained devices that keeps prosody.",
        ),
        Paper(
            pk=3,
            title="Quantizing state space models for faster inference",
            abstract="We study quantization of recurrent layers and its effect on accuracy.",
        ),
        Paper(
            pk=4,
            title="Audio pre-training with acoustic tokenizers",
            abstract="Self-supervised audio representations from tokenized sound clips.",
        ),
    ]
    index = PaperIndex(papers, CatalogStats.from_texts(sample_texts()))

    def found(slug: str) -> set[int]:
        topic = TopicTerms.from_topic(Topic.objects.get(slug=slug))
        return {m.paper.pk for m in index.match(Interest(topics=(topic,), include_featured=False))}

    assert 1 in found("healthcare")
    assert 2 in found("efficient-architectures")
    assert 3 in found("efficient-inference")
    # "tokenization" counts only as written: a paper on audio tokenizers is not NLP.
    assert 4 not in found("nlp-translation")


def test_the_phrases_from_the_misses_go_back_out_and_leave_a_curators_topic_alone():
    after = {t.slug: t.keywords for t in Topic.objects.all()}
    assert after["efficient-inference"].splitlines()[-4:] == from_misses.ADDED["efficient-inference"]
    Topic.objects.filter(slug="healthcare").update(keywords="clinical\nmy own phrase")
    from_misses._update(django_apps, False)
    reversed_ = {t.slug: t.keywords for t in Topic.objects.all()}
    assert reversed_["healthcare"] == "clinical\nmy own phrase"
    for slug, phrases in from_misses.BEFORE.items():
        if slug != "healthcare":
            assert reversed_[slug] == "\n".join(phrases), slug
    untouched = set(after) - set(from_misses.BEFORE)
    assert {slug: reversed_[slug] for slug in untouched} == {slug: after[slug] for slug in untouched}
    # Forward again, twice: the same phrases as the first time, and the curator's topic as they left it.
    from_misses._update(django_apps, True)
    from_misses._update(django_apps, True)
    again = {t.slug: t.keywords for t in Topic.objects.all()}
    assert again["healthcare"] == "clinical\nmy own phrase"
    assert {slug: kw for slug, kw in again.items() if slug != "healthcare"} == {
        slug: kw for slug, kw in after.items() if slug != "healthcare"
    }
