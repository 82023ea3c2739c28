"""Related terms (digest/data/related_terms.txt): the other phrases that signal what a
typed keyword names, which the learned decision weighs as evidence of their own kind."""

from __future__ import annotations

import pytest

from digest.keywords import RELATED_TERMS_FILE, _concept_key, related_terms


def test_a_keyword_that_names_a_concept_gets_its_synonyms_and_narrower_terms():
    terms = related_terms("LLM agents")
    assert {"tool use", "ReAct", "autonomous agents"} <= set(terms)


@pytest.mark.parametrize("typed", ["LLM-based agents", "llm based agent", "LLM agent"])
def test_a_synonym_or_another_spelling_of_a_concept_gets_the_same_terms(typed):
    # Case, hyphens, spaces and a plural "s" aside, a synonym names the concept too, and
    # the concept's own name becomes one of its terms.
    terms = set(related_terms(typed))
    assert {"tool use", "ReAct"} <= terms
    assert "LLM agents" in terms or _concept_key(typed) == _concept_key("LLM agents")


def test_no_related_term_is_the_keyword_itself():
    for typed in ("LLM agents", "RLHF", "object detection", "knowledge distillation"):
        assert all(_concept_key(term) != _concept_key(typed) for term in related_terms(typed))


def test_a_keyword_the_list_does_not_know_has_no_related_terms():
    assert related_terms("zxqv blorft") == ()
    assert related_terms("") == ()


def test_the_shipped_list_is_well_formed():
    # A line a curator mistypes would be silently left out: every concept line has its
    # three fields and a concept name, and no item is empty or a sentence.
    lines = [
        line
        for line in RELATED_TERMS_FILE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert len(lines) > 500
    for line in lines:
        fields = line.split(" | ")
        assert len(fields) == 3 and fields[0].strip(), line
        for item in (fields[1] + ";" + fields[2]).split(";"):
            assert len(item.split()) <= 6, (line, item)
