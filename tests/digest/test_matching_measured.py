"""Matching quality on the judged interests (tests/fixtures/judged_interests.json), the
way `manage.py evaluate_matching` measures it: typed keywords alone and curated topics,
lexical-only and hybrid (with the real model's vectors), on the tuning interests and on
the held-out ones that were never tuned on. Keywords: rounds 38 to 46, judged blind
after the decision learned the reader's field, each scored once while held out (rounds
8-37 were each scored while held out, then joined tuning; 30-37 when round 45 was
judged). Topics: rounds 30-41, 43, 44 and 45, each judged blind from the topic's name and
description alone (the topics of rounds 3, 14 and 18-29 joined tuning then, beside round
42's 72 judgements, decided to be tuning data before they were made).

The floors are the figures measured when the matcher was last tuned (or, for the held-out
half, when a fresh round joined it), less 0.02: a change that makes matching worse fails
here. The figures and the issue's targets are in the
README; a failure prints every interest's figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.evaluation import Figures, feedback_effect, figures_for, in_passing_summary, load_judged, macro
from digest.matching import PaperIndex, TopicTerms
from digest.models import Topic
from tests.digest.semantic_helpers import load_embedded_sample, rolled_back_afterwards

# Marked so that pytest-django sets the test database up even when this module runs alone.
pytestmark = pytest.mark.django_db

JUDGED = load_judged(Path(__file__).resolve().parents[1] / "fixtures" / "judged_interests.json")

# (kind, half, mode) -> (precision floor, recall floor)
FLOORS = {
    # Rounds 1-37 (680): the decision is fitted on them; with boosted trees on its
    # weights' residual, 0.752 / 0.619 over ten folds of interests left out
    # (train_matching), in-sample 0.759 / 0.626 (lexical 0.53 / 0.63). (Weights alone:
    # leave-one-interest-out 0.753 / 0.600, in-sample 0.753 / 0.600.)
    ("keywords", "tune", "hybrid"): (0.73, 0.60),
    ("keywords", "tune", "lexical"): (0.51, 0.61),
    # Rounds 38-45 (184): 0.793 / 0.591 (lexical 0.60 / 0.63), with the decision refitted
    # on rounds 1-37 and reading "like_clear". (Rounds 38-44 with the decision fitted on
    # rounds 1-29: 0.80 / 0.58; now 0.791 / 0.580.) With round 46 (38-46, 215): 0.804 /
    # 0.589 (lexical 0.61 / 0.63). With the trees (fitted on rounds 1-37 as before):
    # 0.806 / 0.607. The per-round figures are below.
    ("keywords", "held-out", "hybrid"): (0.78, 0.58),
    ("keywords", "held-out", "lexical"): (0.59, 0.60),
    # Rounds 1, 2, 3, 14, 18-29 and 42 (335): 0.852 / 0.800 (lexical 0.85 / 0.79). With
    # the learned topic decision fitted on them: 0.859 / 0.820 with each topic left out
    # (train_matching), in-sample 0.855 / 0.814.
    ("topic", "tune", "hybrid"): (0.83, 0.79),
    ("topic", "tune", "lexical"): (0.83, 0.76),
    # Rounds 30-41, 43, 44 and 45 (407): 0.857 / 0.787 (lexical 0.86 / 0.77); on the
    # odd-position papers, which migration 0025 chose no phrase from, 0.843 / 0.776. With
    # round 46 (479): 0.858 / 0.789 (lexical 0.86 / 0.77); odd positions 0.843 / 0.777.
    # With the learned topic decision (chosen on the tuning topics alone, then scored
    # once here): 0.861 / 0.806; odd positions 0.86 / 0.81.
    ("topic", "held-out", "hybrid"): (0.84, 0.78),
    ("topic", "held-out", "lexical"): (0.83, 0.75),
}


@pytest.fixture(scope="module")
def measured(django_db_setup, django_db_blocker):
    with rolled_back_afterwards(django_db_blocker):
        by_position = load_embedded_sample()
        from digest.vectors import embed_keywords

        embed_keywords(k for case in JUDGED for k in case.keywords)
        hybrid = PaperIndex.build(by_position.values())
        lexical = PaperIndex(hybrid.papers, hybrid.stats)
        topics = {t.slug: TopicTerms.from_topic(t) for t in Topic.objects.all()}
        position_of = {paper.pk: position for position, paper in by_position.items()}
        results = {
            mode: [figures_for(case, index, position_of, topics) for case in JUDGED]
            for mode, index in (("hybrid", hybrid), ("lexical", lexical))
        }
        vectors = {paper.pk: paper.embedding for paper in by_position.values()}
        effects = [feedback_effect(case, hybrid, position_of, topics, vectors=vectors.get) for case in JUDGED]
        yield results, [e for e in effects if e is not None]


def report(figures: list[Figures]) -> str:
    return "\n".join(
        f"{f.interest.name:34s} {f.interest.half:8s} P {f.precision:.2f} R {f.recall:.2f} "
        f"+{f.false_positives} -{f.missed}"
        for f in figures
    )


@pytest.mark.parametrize("kind, half, mode", sorted(FLOORS), ids=["-".join(key) for key in sorted(FLOORS)])
def test_matching_stays_at_its_measured_quality(measured, kind, half, mode):
    results, _ = measured
    chosen = [f for f in results[mode] if f.interest.kind == kind and f.interest.half == half]
    precision, recall = macro(chosen)
    floor_p, floor_r = FLOORS[(kind, half, mode)]
    assert precision >= floor_p and recall >= floor_r, (
        f"{kind} {half} {mode}: precision {precision:.2f} (floor {floor_p}), recall {recall:.2f} (floor {floor_r})\n"
        + report(chosen)
    )


@pytest.mark.parametrize(
    "rounds, half, floors",
    [
        ((12,), "tune", (0.89, 0.69)),
        ((13,), "tune", (0.84, 0.68)),
        ((14,), "tune", (0.81, 0.81)),
        ((15,), "tune", (0.85, 0.73)),
        ((16,), "tune", (0.79, 0.78)),
        ((17,), "tune", (0.86, 0.72)),
        ((18,), "tune", (0.57, 0.61)),
        ((19,), "tune", (0.74, 0.69)),
        ((20,), "tune", (0.72, 0.50)),
        ((21,), "tune", (0.82, 0.60)),
        ((22,), "tune", (0.84, 0.53)),
        ((23,), "tune", (0.76, 0.54)),
        ((24,), "tune", (0.74, 0.51)),
        ((25,), "tune", (0.72, 0.59)),
        ((26,), "tune", (0.79, 0.61)),
        ((27,), "tune", (0.93, 0.72)),
        ((28,), "tune", (0.61, 0.60)),
        ((29,), "tune", (0.65, 0.55)),
        ((12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29), "tune", (0.77, 0.65)),
        ((30,), "tune", (0.63, 0.59)),
        ((31,), "tune", (0.78, 0.61)),
        ((32,), "tune", (0.65, 0.77)),
        ((33,), "tune", (0.65, 0.72)),
        ((34,), "tune", (0.63, 0.50)),
        ((34, 35), "tune", (0.59, 0.50)),
        ((36,), "tune", (0.71, 0.69)),
        ((36, 37), "tune", (0.66, 0.64)),
        ((30, 31, 32, 33, 34, 35, 36, 37), "tune", (0.66, 0.62)),
        (tuple(range(12, 38)), "tune", (0.74, 0.64)),
        ((38,), "held-out", (0.74, 0.69)),
        ((39,), "held-out", (0.69, 0.56)),
        ((40,), "held-out", (0.80, 0.63)),
        ((41,), "held-out", (0.77, 0.69)),
        ((42,), "held-out", (0.80, 0.63)),
        ((43,), "held-out", (0.76, 0.49)),
        ((44,), "held-out", (0.80, 0.49)),
        ((45,), "held-out", (0.76, 0.64)),
        ((46,), "held-out", (0.86, 0.57)),
        ((45, 46), "held-out", (0.81, 0.60)),
        ((38, 39), "held-out", (0.72, 0.62)),
        ((40, 41), "held-out", (0.78, 0.66)),
        ((38, 39, 40, 41), "held-out", (0.75, 0.64)),
        ((43, 44), "held-out", (0.78, 0.49)),
        ((43, 44, 45), "held-out", (0.78, 0.53)),
        ((43, 44, 45, 46), "held-out", (0.80, 0.54)),
        ((38, 39, 40, 41, 42, 43, 44), "held-out", (0.77, 0.57)),
        ((38, 39, 40, 41, 42, 43, 44, 45), "held-out", (0.77, 0.58)),
        (tuple(range(38, 47)), "held-out", (0.78, 0.58)),
    ],
    ids=str,
)
def test_typical_typed_interests_reach_the_targets(measured, rounds, half, floors):
    # From round 12 on, readers typed what a researcher first types into an alert box
    # (rounds 9-11 were told to avoid every interest judged before, which left the narrow
    # and abstract ones). Each round was scored once, by a matcher frozen before it was
    # judged: round 12 0.79 / 0.67, 13 0.76 / 0.68, 14 0.78 / 0.82, 15 0.72 / 0.71,
    # 16 0.72 / 0.79, 17 0.69 / 0.76, 18 0.52 / 0.61, 19 0.75 / 0.75, 20 0.58 / 0.57,
    # 21 0.71 / 0.67 (decision fitted on rounds 1-7); 22 0.86 / 0.48 (refitted on rounds
    # 1-21); 23 0.69 / 0.50 (refitted on rounds 1-22); 24 0.68 / 0.47 (refitted on rounds
    # 1-23, with the depth of the first mention); 25 and 26, with the same matcher,
    # 0.73 / 0.57 and 0.65 / 0.61; 27 0.90 / 0.60 (refitted on rounds 1-26), 28 and 29,
    # with the same matcher, 0.58 / 0.55 and 0.63 / 0.52; with related terms (fitted on
    # rounds 1-29), 30 0.69 / 0.61 and 31 0.77 / 0.65 (0.71 / 0.59 and 0.76 / 0.61 after
    # the review's fixes), 32 0.66 / 0.65 and 33 0.66 / 0.75; with the same matcher,
    # 34 0.57 / 0.48 and 35 0.45 / 0.51 (nine interests): personas whose fields the sample
    # barely covers (pretraining-data pipelines and MoE systems in 34; web agents and
    # neural rendering in 35); 36 0.64 / 0.70 and 37 0.65 / 0.56 (ten interests), their
    # personas drawn at random from a pool of mainstream fields written beforehand.
    # Then each keyword read in the field of the reader's other keywords (refitted on
    # rounds 1-29 only): 30 0.66 / 0.60, 31 0.78 / 0.60, 32 0.69 / 0.79, 33 0.70 / 0.72,
    # 34 0.66 / 0.52, 36 0.69 / 0.74; all eight 0.68 / 0.64. With that matcher frozen,
    # 38 0.77 / 0.71 and 39 0.73 / 0.58 (18 interests), personas drawn at random from a
    # new pool written beforehand; together 0.75 / 0.64 (precision 0.7499). Then, with
    # the review's fixes (figures unchanged), 40 0.83 / 0.64 and 41 0.79 / 0.66, the
    # pool's other eight fields; 38 to 41 together 0.78 / 0.65. Round 42 (17 interests),
    # personas drawn from a third pool with niche fields, scored once at 1e0a0f8:
    # 0.86 / 0.65; 38 to 42 0.79 / 0.65; 30 to 42 0.73 / 0.64. Round 43 (33 interests),
    # a fourth pool, scored once after migration 0025's topic phrases (decision refitted):
    # 0.78 / 0.46; 38 to 43 0.79 / 0.60 (0.789 / 0.597); 30 to 43 0.73 / 0.62. Round 44
    # (34), the rest of that pool, the same matcher: 0.82 / 0.51; 43 and 44 0.80 / 0.49;
    # 38 to 44 0.80 / 0.58; 30 to 44 0.74 / 0.61.
    # Round 45 (28 interests), eight personas drawn at random from the 48 of rounds 36-44,
    # scored once with the decision refitted on rounds 1-37 and reading "like_clear":
    # 0.80 / 0.66; 43 to 45 0.80 / 0.54; 38 to 45 0.79 / 0.59. Round 46 (31), eight more
    # personas drawn from the other 40, the same matcher: 0.87 / 0.57; 45 and 46 0.84 /
    # 0.61; 43 to 46 0.82 / 0.55; 38 to 46 0.80 / 0.59.
    # Then boosted trees on the weights' residual, chosen by ten folds of rounds 1-37 with
    # the held-out rounds unread, scored once on them: 38 0.77 / 0.71, 39 0.72 / 0.58,
    # 40 0.83 / 0.65, 41 0.79 / 0.71, 42 0.83 / 0.65, 43 0.79 / 0.52, 44 0.83 / 0.52,
    # 45 0.79 / 0.67, 46 0.88 / 0.59; 43 to 46 0.82 / 0.57; 38 to 46 0.81 / 0.61.
    # The targets: 0.75 / 0.60.
    # Rounds 12-37 are tuning data now: their floors are in-sample figures (with the
    # decision and its trees fitted on rounds 1-37), kept so that a change that loses what
    # the decision learned from them fails here; the held-out rounds' floors are their
    # figures with that decision (above), less 0.02.
    results, _ = measured
    chosen = [
        f
        for f in results["hybrid"]
        if f.interest.kind == "keywords" and f.interest.round in rounds and f.interest.half == half
    ]
    precision, recall = macro(chosen)
    assert len(chosen) >= 13
    assert precision >= floors[0] and recall >= floors[1], f"precision {precision:.2f}, recall {recall:.2f}\n" + report(
        chosen
    )


def test_curated_topics_as_fresh_blind_readers_judge_them(measured):
    # Round 14: four readers who never saw a topic's phrases judged every topic from its
    # name and description alone, as a subscriber reads them on the signup form; scored
    # once: readers A and C's topics 0.77 / 0.83, readers B and D's (held out) 0.83 / 0.79.
    # Round 18: sixteen topics drawn at random, judged the same way by four more readers
    # and scored once at dbd2230: 0.88 / 0.67. Round 19: sixteen of the twenty round 18
    # did not draw, scored once at f98f594: 0.87 / 0.80. Round 20: sixteen of all 36,
    # scored once at d5c43dd: 0.77 / 0.68; round 21, sixteen more, scored once at 5662d17
    # with the same matcher: 0.90 / 0.76; rounds 22 and 23 (the topic matching unchanged
    # since), sixteen each: 0.88 / 0.73 and 0.89 / 0.78; rounds 24 to 26, sixteen more
    # each: 0.81 / 0.69, 0.87 / 0.77 and 0.86 / 0.75; round 27, sixteen more, scored once
    # after the keyword decision was refitted (topics match as before): 0.83 / 0.78;
    # rounds 28 to 33, sixteen more each: 0.88 / 0.83, 0.80 / 0.74, 0.82 / 0.76,
    # 0.84 / 0.75, 0.87 / 0.80 and 0.81 / 0.76; rounds 34 and 35: 0.75 / 0.79 and
    # 0.82 / 0.82; rounds 36 and 37: 0.86 / 0.79 and 0.80 / 0.80 (the targets:
    # 0.85 / 0.80). Round 42: every topic judged by two of eight readers, decided to be
    # tuning data before it was judged; before any tuning on it, 0.83 / 0.78; with the
    # phrases 0025 added from its and the other tuning readers' misses, 0.84 / 0.81.
    # Round 43: every topic judged by two more readers, held out, scored once after
    # 0025: 0.88 / 0.77 (on the odd-position papers, which 0025 chose nothing from,
    # 0.84 / 0.75). Round 44, likewise: 0.88 / 0.76 (0.85 / 0.75 on the odd positions).
    # Round 45, likewise (topic matching unchanged): 0.86 / 0.77 (0.86 / 0.78 on the odd
    # positions); round 46, likewise: 0.86 / 0.80 (0.85 / 0.78 on the odd positions).
    # Rounds 3, 14 and 18-29 joined tuning then; every round's floor is its
    # figure now, less 0.02.
    results, _ = measured
    for round_, half, floors, size in (
        (14, "tune", (0.79, 0.82), 35),
        (18, "tune", (0.87, 0.68), 16),
        (19, "tune", (0.85, 0.81), 16),
        (20, "tune", (0.76, 0.74), 16),
        (21, "tune", (0.86, 0.76), 16),
        (22, "tune", (0.85, 0.76), 16),
        (23, "tune", (0.87, 0.79), 16),
        (24, "tune", (0.81, 0.72), 16),
        (25, "tune", (0.85, 0.74), 16),
        (26, "tune", (0.83, 0.75), 16),
        (27, "tune", (0.81, 0.79), 16),
        (28, "tune", (0.87, 0.85), 16),
        (29, "tune", (0.79, 0.75), 16),
        (30, "held-out", (0.82, 0.78), 16),
        (31, "held-out", (0.83, 0.73), 16),
        (32, "held-out", (0.84, 0.80), 16),
        (33, "held-out", (0.80, 0.80), 16),
        (34, "held-out", (0.74, 0.82), 16),
        (35, "held-out", (0.80, 0.80), 16),
        (36, "held-out", (0.84, 0.77), 16),
        (37, "held-out", (0.80, 0.83), 16),
        (38, "held-out", (0.81, 0.77), 16),
        (39, "held-out", (0.85, 0.73), 16),
        (40, "held-out", (0.82, 0.85), 16),
        (41, "held-out", (0.86, 0.71), 16),
        (42, "tune", (0.81, 0.79), 72),
        (43, "held-out", (0.85, 0.74), 71),
        (44, "held-out", (0.85, 0.74), 72),
        (45, "held-out", (0.83, 0.75), 72),
        (46, "held-out", (0.84, 0.78), 72),
    ):
        chosen = [
            f
            for f in results["hybrid"]
            if f.interest.kind == "topic" and f.interest.round == round_ and f.interest.half == half
        ]
        precision, recall = macro(chosen)
        assert len(chosen) >= size
        assert precision >= floors[0] and recall >= floors[1], (
            f"round {round_} {half}: precision {precision:.2f}, recall {recall:.2f}\n" + report(chosen)
        )


@pytest.mark.parametrize("half", ["tune", "held-out"])
def test_the_semantic_model_makes_typed_keywords_more_precise_at_a_small_cost_in_recall(measured, half):
    # Measured: tune +0.22 precision for -0.03 recall, held-out (rounds 38-46) +0.19 for -0.04.
    results, _ = measured
    hybrid = macro([f for f in results["hybrid"] if f.interest.kind == "keywords" and f.interest.half == half])
    lexical = macro([f for f in results["lexical"] if f.interest.kind == "keywords" and f.interest.half == half])
    assert hybrid[0] > lexical[0] + 0.10, f"hybrid precision {hybrid[0]:.2f}, lexical {lexical[0]:.2f}"
    assert hybrid[1] > lexical[1] - 0.12, f"hybrid recall {hybrid[1]:.2f}, lexical {lexical[1]:.2f}"


@pytest.mark.parametrize("half", ["tune", "held-out"])
def test_papers_that_mention_a_keyword_in_passing_are_rightly_ranked_below_the_matches(measured, half):
    # Kept rather than dropped (the digest's web page lists them), but far less often
    # relevant than the matches: that is why they are not matches.
    results, _ = measured
    chosen = [f for f in results["hybrid"] if f.interest.kind == "keywords" and f.interest.half == half]
    listed, relevant, _ = in_passing_summary(chosen)
    precision, _ = macro(chosen)
    assert listed >= 20
    assert relevant / listed < precision / 2, f"{relevant} of {listed} relevant, matches' precision {precision:.2f}"
    assert all(not f.in_passing & f.found for f in chosen)


def test_feedback_does_not_make_the_next_digest_worse(measured):
    _, effects = measured
    before = sum(b for b, _ in effects) / len(effects)
    after = sum(a for _, a in effects) / len(effects)
    assert len(effects) >= 10
    assert after >= before, f"precision of the next digest {before:.2f} without feedback, {after:.2f} with"


def test_a_half_of_the_papers_scores_each_interest_on_its_own_relevant_papers_there():
    from digest.evaluation import JudgedInterest, papers_half

    cases = [
        JudgedInterest("both halves", frozenset({2, 3, 4})),
        JudgedInterest("odd only", frozenset({3, 5}), keywords=("x",)),
    ]
    kept, halved = papers_half({10: 2, 11: 3, 12: 4, 13: 5}, cases, parity=0)
    assert kept == {10: 2, 12: 4}
    assert [(c.name, sorted(c.relevant)) for c in halved] == [("both halves", [2, 4])]


def test_topics_reach_their_targets_with_a_decision_that_never_saw_them(measured):
    # The held-out topic judgements are new readers' of the 36 topics the topic decision
    # was fitted on (their judgements largely agree with the tuning readers'). Scored with
    # a decision fitted without each one's topic (evaluate_matching --topics-left-out):
    # 0.865 / 0.814 when this was written; on the tuning judgements 0.859 / 0.820, what
    # train_matching prints. The floor is that less 0.02.
    from digest.evaluation import catalog_topics, sample_catalog, topic_decisions_left_out
    from digest.matching import CatalogStats
    from digest.meaning import SemanticContext

    position_of, catalog = sample_catalog()
    index = PaperIndex(catalog, CatalogStats.for_catalog(), SemanticContext.for_catalog(curated_terms=False))
    topics = catalog_topics()
    left_out = topic_decisions_left_out(JUDGED, index, position_of, topics, index.topic_decision.threshold)
    figures = []
    for case in JUDGED:
        if case.kind == "topic" and case.half == "held-out":
            index.use_topic_decision(left_out[case.topic])
            figures.append(figures_for(case, index, position_of, topics))
    precision, recall = macro(figures)
    assert len(figures) == 479
    assert precision >= 0.84 and recall >= 0.79, f"precision {precision:.3f}, recall {recall:.3f}\n" + report(figures)
