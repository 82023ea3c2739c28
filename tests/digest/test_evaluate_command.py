"""`evaluate_matching --round N`: each fresh judging round's own figures (the README
reports every round scored once by a decision that had not seen it), and a round the
file does not hold is a clear error, not an empty table."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.digest.semantic_helpers import load_embedded_sample, rolled_back_afterwards

# Sample listing positions: 191 and 200 are multimodal LLM papers, 13 and 141
# quantization papers.
INTERESTS = [
    {
        "name": "quantization, tuned on",
        "keywords": ["Low-bit quantization", "QAT"],
        "topic": None,
        "relevant": [13, 141],
        "half": "tune",
        "round": 3,
    },
    {
        "name": "multimodal LLMs",
        "keywords": ["multimodal LLMs"],
        "topic": None,
        "relevant": [191, 200],
        "half": "held-out",
        "round": 4,
    },
    {
        "name": "low-bit quantization",
        "keywords": ["low-bit quantization"],
        "topic": None,
        "relevant": [13, 141],
        "half": "held-out",
        "round": 5,
    },
    {
        "name": "topic quantization",
        "keywords": [],
        "topic": "quantization",
        "relevant": [13, 141],
        "half": "held-out",
        "round": 5,
    },
]


@pytest.fixture(scope="module")
def embedded_sample(django_db_setup, django_db_blocker):
    with rolled_back_afterwards(django_db_blocker):
        load_embedded_sample()
        yield


@pytest.fixture
def judged(tmp_path):
    path = tmp_path / "judged.json"
    path.write_text(json.dumps({"interests": INTERESTS}), encoding="utf-8")
    return path


def evaluate(*args: str, judged) -> str:
    out = StringIO()
    call_command("evaluate_matching", *args, judged=judged, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_one_round_is_scored_alone(embedded_sample, judged):
    printed = evaluate("--half", "held-out", "--round", "5", judged=judged)
    assert "low-bit quantization" in printed and "topic quantization" in printed
    assert "multimodal LLMs" not in printed
    assert "keywords held-out ( 1 interests)" in printed
    assert "topic    held-out ( 1 interests)" in printed

    both = evaluate("--half", "held-out", "--round", "4", "--round", "5", judged=judged)
    assert "keywords held-out ( 2 interests)" in both


@pytest.mark.django_db
def test_a_round_of_keywords_alone_prints_no_topic_average(embedded_sample, judged):
    printed = evaluate("--half", "held-out", "--round", "4", judged=judged)
    assert "keywords held-out ( 1 interests)" in printed
    assert "topic    held-out" not in printed  # no "0 interests: 0.00 / 0.00" line


@pytest.mark.django_db
def test_a_round_the_file_does_not_hold_is_a_clear_error(embedded_sample, judged):
    with pytest.raises(CommandError, match=r"no judged interests from round 9; the rounds are \[3, 4, 5\]"):
        evaluate("--round", "9", judged=judged)


@pytest.mark.django_db
def test_held_out_interests_whose_keywords_were_never_tuned_on_have_their_own_row(embedded_sample, judged):
    # "low-bit quantization" is also a tuning interest's keyword (in other case): the
    # decision was fitted on its papers, so only "multimodal LLMs" is unseen throughout.
    printed = evaluate("--half", "held-out", "--round", "4", "--round", "5", judged=judged)
    assert "of which with no keyword a tuning interest typed ( 1):" in printed
    # All or none of them unseen: the row would repeat the one above, or average nothing.
    assert "of which" not in evaluate("--half", "held-out", "--round", "4", judged=judged)
    assert "of which" not in evaluate("--half", "held-out", "--round", "5", judged=judged)


@pytest.mark.django_db
def test_a_half_without_keyword_interests_has_no_in_passing_row(embedded_sample, judged):
    printed = evaluate("--round", "4", judged=judged)
    assert "  held-out:" in printed
    assert "  tune    :" not in printed  # not "0 papers, 0 relevant (-) of 0"


@pytest.mark.django_db
def test_topics_can_be_scored_by_decisions_that_never_saw_them(embedded_sample, judged):
    from tests.digest.test_keyword_decision import JUDGED

    shipped = evaluate("--half", "held-out", "--round", "46", judged=JUDGED)
    left_out = evaluate("--half", "held-out", "--round", "46", "--topics-left-out", judged=JUDGED)
    assert "each scored with a topic decision fitted without its tuning judgements" in left_out

    def topic_row(printed: str) -> str:
        return next(line for line in printed.splitlines() if line.startswith("  topic    held-out"))

    assert "hybrid" in topic_row(left_out) and topic_row(left_out) != topic_row(shipped)
    # The keywords are not the topic decision's: their figures are the same.
    keywords = [line for line in shipped.splitlines() if line.startswith("  keywords")]
    assert keywords == [line for line in left_out.splitlines() if line.startswith("  keywords")]
    # A file without tuning topics has nothing to fit them on: one clear error.
    with pytest.raises(CommandError, match="too few tuning topics"):
        evaluate("--topics-left-out", judged=judged)
