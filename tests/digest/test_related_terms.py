"""Related terms (digest/data/related_terms.txt): the other phrases that signal what a
typed keyword names, which the learned decision weighs as evidence of their own kind."""

from __future__ import annotations

import pytest

from digest.keywords import RELATED_TERMS_FILE, concept_key, related_terms


def test_a_keyword_that_names_a_concept_gets_its_synonyms_and_narrower_terms():
    terms = related_terms("LLM agents")
    assert {"tool use", "ReAct", "autonomous agents"} <= set(terms)


@pytest.mark.parametrize(
    "typed, written",
    [
        ("llm agent", "LLM agents"),
        ("supervised finetuning", "supervised fine-tuning"),
        ("LLM pre-training", "LLM pretraining"),
        ("quantisation", "quantization"),
        ("diffusion policies", "diffusion policy"),
        ("Simultaneous Localisation and Mapping", "simultaneous localization and mapping"),  # not only the last word
    ],
)
def test_spellings_and_synonyms_of_a_concept_get_its_terms(typed, written):
    # Case, hyphens, spaces, plurals and British spellings aside.
    assert related_terms(typed)
    assert related_terms(typed) == related_terms(written)


def test_a_synonym_names_its_concept():
    terms = set(related_terms("LLM-based agents"))
    assert {"LLM agents", "tool use", "ReAct"} <= terms


def test_a_concept_of_its_own_is_not_read_as_a_synonym_of_a_broader_one():
    # "out-of-distribution detection" is also listed as a kind of anomaly detection;
    # its own line says what it is, not fraud detection.
    terms = set(related_terms("out-of-distribution detection"))
    assert "OOD detection" in terms
    assert "fraud detection" not in terms


def test_terms_that_read_as_the_keyword_or_as_each_other_or_say_too_little_are_left_out():
    for typed in ("LLMs", "RLHF", "reinforcement learning", "object detection", "knowledge distillation"):
        terms = related_terms(typed)
        keys = [concept_key(term) for term in terms]
        assert concept_key(typed) not in keys, typed
        assert len(keys) == len(set(keys)), typed  # "LLM" and "LLMs" are one term
        assert all(sum(c.isalnum() for c in term) >= 3 for term in terms), typed  # not "RL", "QA"
    assert "RL" not in related_terms("reinforcement learning")


def test_a_keyword_the_list_does_not_know_has_no_related_terms():
    assert related_terms("zxqv blorft") == ()
    assert related_terms("") == ()
    assert related_terms("µP") == ()  # not "P"


def test_the_shipped_list_is_well_formed():
    # A line a curator mistypes would be silently left out: every concept line has its
    # three fields and a concept name, each concept has one line, and no item is empty
    # or a sentence.
    lines = [
        line
        for line in RELATED_TERMS_FILE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert len(lines) > 500
    concepts = [concept_key(line.split(" | ")[0]) for line in lines]
    assert len(concepts) == len(set(concepts))
    for line in lines:
        fields = line.split(" | ")
        assert len(fields) == 3 and fields[0].strip(), line
        for item in (fields[1] + ";" + fields[2]).split(";"):
            assert item.strip() or not item, line
            assert len(item.split()) <= 6, (line, item)


def test_a_term_in_both_spellings_is_read_in_both():
    # Terms are found as written: "dialog systems" finds papers "dialogue systems" does not.
    assert {"dialogue systems", "dialog systems"} <= set(related_terms("chatbots"))
