"""The learned decision of when a typed keyword matches (digest/decision.py): it ships as
what `train_matching` fits on the tuning interests, never reads the held-out ones, and a
file that does not fit this version is refused with a clear error."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from digest.decision import (
    DECISION_FILE,
    FEATURES,
    TOPIC_DECISION_FILE,
    TOPIC_FEATURES,
    Decision,
    DecisionFileError,
    shipped,
    shipped_topic,
)
from tests.digest.semantic_helpers import load_embedded_sample, rolled_back_afterwards

JUDGED = Path(__file__).resolve().parents[1] / "fixtures" / "judged_interests.json"


@pytest.fixture(scope="module")
def embedded_sample(django_db_setup, django_db_blocker):
    with rolled_back_afterwards(django_db_blocker):
        load_embedded_sample()
        yield


def check_errors_when_read_from(path: Path, setting: str, read, monkeypatch) -> list:
    """The system check's errors with the decision file `setting` names read from `path`
    (`read` is the cached reader of that file)."""
    from digest import decision

    monkeypatch.setattr(decision, setting, path)
    read.cache_clear()
    try:
        return decision.check_shipped_decision()
    finally:
        monkeypatch.undo()
        read.cache_clear()


def train(output: Path, judged: Path = JUDGED) -> str:
    """Fits both decisions: the keyword one to `output`, the topic one beside it."""
    out = StringIO()
    topic_output = output.with_name("topic-" + output.name)
    call_command(
        "train_matching", judged=judged, output=output, topic_output=topic_output, stdout=out, stderr=StringIO()
    )
    return out.getvalue()


@pytest.mark.django_db
def test_the_shipped_decision_is_what_training_on_the_tuning_interests_gives(embedded_sample, tmp_path):
    # A change to the features or the judged set that is not followed by a new
    # `train_matching` would leave the matcher deciding with stale weights. A curator's
    # line of related terms in this database changes nothing: the decision ships with the
    # code, fitted on the shipped list.
    from digest.models import CuratedRelatedTerms

    CuratedRelatedTerms.objects.create(concept="model compression", narrower="pruning")
    report = train(tmp_path / "decision.json")
    assert "this database's 1 curated line(s) are left out" in report
    tuning = [i for i in json.loads(JUDGED.read_text())["interests"] if i["half"] == "tune" and not i.get("topic")]
    assert f"fitted on {len(tuning)} keyword interests" in report
    assert "over 10 folds of interests left out in turn" in report
    fresh, ours = Decision.from_json((tmp_path / "decision.json").read_text()), shipped()
    assert fresh.threshold == ours.threshold
    np.testing.assert_allclose(fresh.weights, ours.weights, atol=0.02)
    np.testing.assert_allclose(fresh.bias, ours.bias, atol=0.02)
    np.testing.assert_allclose(fresh.mean, ours.mean, rtol=0.01, atol=1e-3)
    np.testing.assert_allclose(fresh.scale, ours.scale, rtol=0.01, atol=1e-3)
    # The trees as a whole: the chances they give over the range the features take
    # (another database's last bits of a z-score may move a split, never the decision).
    assert fresh.trees is not None and ours.trees is not None
    rows = np.random.default_rng(0).normal(ours.mean, ours.scale, size=(4000, len(FEATURES)))
    differences = np.abs(fresh.probabilities(rows) - ours.probabilities(rows))
    assert differences.max() < 0.05 and differences.mean() < 0.005
    # And the topic decision, fitted on the tuning topics' judgements.
    topic_judgements = [
        i for i in json.loads(JUDGED.read_text())["interests"] if i["half"] == "tune" and i.get("topic")
    ]
    assert f"fitted on {len(topic_judgements)} judgements of" in report
    assert "with each topic left out in turn" in report
    fresh = Decision.from_json((tmp_path / "topic-decision.json").read_text(), TOPIC_FEATURES)
    ours = shipped_topic()
    assert fresh.threshold == ours.threshold and fresh.trees is None
    np.testing.assert_allclose(fresh.weights, ours.weights, atol=0.02)
    np.testing.assert_allclose(fresh.bias, ours.bias, atol=0.02)
    np.testing.assert_allclose(fresh.mean, ours.mean, rtol=0.01, atol=1e-3)


@pytest.mark.django_db
def test_training_never_reads_the_held_out_interests(embedded_sample, tmp_path):
    data = json.loads(JUDGED.read_text())
    for interest in data["interests"]:
        if interest["half"] == "held-out":
            interest["relevant"] = [0, 1]  # judgements turned upside down
    changed = tmp_path / "judged.json"
    changed.write_text(json.dumps(data))
    train(tmp_path / "a.json")
    train(tmp_path / "b.json", changed)
    assert (tmp_path / "a.json").read_text() == (tmp_path / "b.json").read_text()
    assert (tmp_path / "topic-a.json").read_text() == (tmp_path / "topic-b.json").read_text()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "options, message",
    [
        ({"target_precision": 1.5}, "--target-precision must be between 0 and 1"),
        ({"topic_target_precision": 0.0}, "--topic-target-precision must be between 0 and 1"),
        ({"topic_output": Path("/nonexistent/t.json")}, "--topic-output: no folder /nonexistent"),
        ({"judged": Path("/nonexistent/judged.json")}, "not a judged-interests file"),
    ],
)
def test_bad_training_options_are_one_clear_error(tmp_path, options, message):
    with pytest.raises(CommandError, match=message):
        call_command("train_matching", output=tmp_path / "d.json", **options)
    assert not (tmp_path / "d.json").exists()


def test_training_refuses_to_write_both_decisions_to_one_file(tmp_path):
    # The second would overwrite the first, and the matcher would refuse to start.
    with pytest.raises(CommandError, match="--output and --topic-output are the same file"):
        call_command("train_matching", output=tmp_path / "d.json", topic_output=tmp_path / "." / "d.json")
    assert not (tmp_path / "d.json").exists()


def test_a_decision_file_that_is_not_json_nor_text_or_holds_huge_numbers_is_one_clear_error(tmp_path, monkeypatch):

    data = json.loads(DECISION_FILE.read_text())
    for broken in (b"\xff\xfe not UTF-8", json.dumps({**data, "bias": 10**400}).encode(), b"[" * 100_000):
        (tmp_path / "broken.json").write_bytes(broken)
        errors = check_errors_when_read_from(tmp_path / "broken.json", "DECISION_FILE", shipped, monkeypatch)
        assert [e.id for e in errors] == ["digest.E001"] and "run manage.py train_matching" in errors[0].msg


def test_training_refuses_a_folder_for_a_decision_file_before_fitting(tmp_path):
    (tmp_path / "topics").mkdir()
    with pytest.raises(CommandError, match="is not a file"):
        call_command("train_matching", output=tmp_path / "d.json", topic_output=tmp_path / "topics")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["topics"]  # nothing written, nothing left


def test_a_decision_file_of_an_older_version_says_so():
    data = json.loads(DECISION_FILE.read_text())
    del data["trees"]  # as written before the trees
    with pytest.raises(DecisionFileError, match="not a keyword decision of this version: it has no 'trees'"):
        Decision.from_json(json.dumps(data))


def test_a_topic_decision_is_not_read_as_a_keyword_one_nor_the_other_way_round():
    with pytest.raises(DecisionFileError, match="not a keyword decision"):
        Decision.from_json(TOPIC_DECISION_FILE.read_text())
    with pytest.raises(DecisionFileError, match="not a topic decision"):
        Decision.from_json(DECISION_FILE.read_text(), TOPIC_FEATURES)
    data = json.loads(TOPIC_DECISION_FILE.read_text())
    data["trees"] = json.loads(DECISION_FILE.read_text())["trees"]
    with pytest.raises(DecisionFileError, match="only a keyword decision has trees"):
        Decision.from_json(json.dumps(data), TOPIC_FEATURES)


def test_a_decision_for_other_features_is_refused_with_a_clear_error():
    data = json.loads(DECISION_FILE.read_text())
    data["features"] = ["evidence", "something new", *data["features"][2:]]
    with pytest.raises(DecisionFileError, match="not this version's"):
        Decision.from_json(json.dumps(data))
    with pytest.raises(DecisionFileError, match="one number per feature"):
        Decision.from_json(json.dumps({**json.loads(DECISION_FILE.read_text()), "weights": [1.0]}))


@pytest.mark.parametrize(
    "change, message",
    [
        # The trees' part is computed once per keyword for all its readers.
        (lambda trees: trees["feature"].__setitem__(trees["feature"].index(0), FEATURES.index("field")), '"field"'),
        (
            lambda trees: trees["left"].__setitem__(next(i for i, f in enumerate(trees["feature"]) if f >= 0), 0),
            "after it",
        ),
        (lambda trees: trees["feature"].__setitem__(0, len(FEATURES)), "outside"),
        (lambda trees: trees.__setitem__("value", trees["value"][:-1]), "every node needs"),
        (lambda trees: trees.__setitem__("depth", 1), "deepest leaf"),
        # A node that is both children of its parent: a walk down every path would double
        # at each such node (a chain of 40 would hang the system check).
        (lambda trees: trees["right"].__setitem__(0, trees["left"][0]), "two parents"),
        (lambda trees: trees["roots"].__setitem__(0, 2**70), "out of range"),
        (lambda trees: trees.__setitem__("depth", float("inf")), "out of range"),
        (lambda trees: trees.__setitem__("feature", [trees["feature"]]), "every node needs"),
    ],
    ids=[
        "reads field",
        "loops",
        "unknown feature",
        "short arrays",
        "depth",
        "two parents",
        "huge root",
        "infinite depth",
        "2-D",
    ],
)
def test_trees_that_are_not_well_formed_are_refused_with_a_clear_error(change, message):
    data = json.loads(DECISION_FILE.read_text())
    change(data["trees"])
    with pytest.raises(DecisionFileError, match=message):
        Decision.from_json(json.dumps(data))


@pytest.mark.parametrize(
    "setting, file, read",
    [("DECISION_FILE", DECISION_FILE, shipped), ("TOPIC_DECISION_FILE", TOPIC_DECISION_FILE, shipped_topic)],
)
def test_a_shipped_decision_that_does_not_fit_is_a_system_check_error_that_says_what_to_run(
    tmp_path, monkeypatch, setting, file, read
):
    from digest import decision

    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps({**json.loads(file.read_text()), "threshold": float("nan")}))
    errors = check_errors_when_read_from(stale, setting, read, monkeypatch)
    assert [e.id for e in errors] == ["digest.E001"]
    assert str(stale) in errors[0].msg and "run manage.py train_matching" in errors[0].msg
    assert decision.check_shipped_decision() == []


def test_more_evidence_never_makes_a_match_less_likely():
    # What the weights say, checked as a reader would expect it: another mention, a paper
    # closer in meaning (to the keyword, or to the reader's other keywords: their field, or
    # to the usual papers that clearly write the keyword; that there are such papers at all
    # is no evidence, see decision.py),
    # the keyword's topic agreeing, a mention nearer the start of the paper (its title,
    # its first sentence), or the paper saying it in related terms ("quantization" for
    # "model compression") only raise the chance.
    from digest.decision import feature_row

    decision = shipped()
    usual = dict(
        evidence=1.0, clear=False, looser_only=False, closeness=1.0, through_topic=False,
        names_topic=True, share=0.01, topic_margin=0.1, depth=0.8, related=0.0, field=1.0, like_clear=1.0,
    )  # fmt: skip
    for base in (usual, {**usual, "evidence": 0.0, "depth": 1.0}):
        before = decision.probabilities(np.array([feature_row(**base)]))[0]
        changes = (
            {"evidence": 2.0}, {"closeness": 3.0}, {"field": 3.0}, {"through_topic": True}, {"related": 3.0},
            {"like_clear": 3.0},
        )  # fmt: skip
        for change in changes:
            if "evidence" in change and not base["evidence"]:
                continue
            after = decision.probabilities(np.array([feature_row(**{**base, **change})]))[0]
            assert after > before, (base, change)
        if base["evidence"]:
            nearer = decision.probabilities(np.array([feature_row(**{**base, "depth": 0.0})]))[0]
            assert nearer > before


@pytest.mark.django_db
def test_training_works_when_the_shipped_decision_no_longer_fits_the_features(embedded_sample, tmp_path, monkeypatch):
    # After a change to the features the shipped file is refused; the index that
    # training builds must not need it, or a new decision could never be fitted.
    from digest import decision

    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps({**json.loads(DECISION_FILE.read_text()), "features": ["an old feature"]}))
    monkeypatch.setattr(decision, "DECISION_FILE", stale)
    shipped.cache_clear()
    try:
        with pytest.raises(DecisionFileError):
            shipped()
        report = train(tmp_path / "new.json")
    finally:
        monkeypatch.undo()
        shipped.cache_clear()
    assert "written to" in report
    assert Decision.from_json((tmp_path / "new.json").read_text()).threshold == shipped().threshold


def test_a_keyword_that_would_find_nothing_finds_its_likeliest_paper_if_it_is_likely_enough():
    from digest.decision import BEST_CANDIDATE_FLOOR
    from digest.matching import KeywordEvidence

    # One feature that sets the chance: logit = closeness, so chance = sigmoid(closeness).
    weights = np.zeros(len(FEATURES))
    weights[FEATURES.index("closeness")] = 1.0
    decision = Decision(np.zeros(len(FEATURES)), np.ones(len(FEATURES)), weights, 0.0, threshold=0.9)

    def evidence(closeness: list[float], without_vector: list[bool] | None = None) -> KeywordEvidence:
        rows = np.zeros((len(closeness), len(FEATURES)))
        rows[:, FEATURES.index("closeness")] = closeness
        n = len(closeness)
        no_vector = np.array(without_vector or [False] * n)
        return KeywordEvidence(list(range(n)), rows, np.zeros(n, dtype=bool), no_vector, np.zeros(n, dtype=bool))

    likely_enough = float(np.log(BEST_CANDIDATE_FLOOR / (1 - BEST_CANDIDATE_FLOOR))) + 0.1
    # Below the threshold, none would match: the likeliest does, alone.
    passes, _ = evidence([likely_enough - 1.0, likely_enough, likely_enough - 0.5]).decide(decision)
    assert passes.tolist() == [False, True, False]
    # Not when even the likeliest is unlikely.
    passes, _ = evidence([likely_enough - 0.2, likely_enough - 0.3]).decide(decision)
    assert passes.tolist() == [False, False]
    # Not when some paper clears the threshold: then the decision alone says.
    passes, _ = evidence([3.0, likely_enough]).decide(decision)
    assert passes.tolist() == [True, False]
    # A paper without a vector is matched by its words only, never as the likeliest.
    passes, _ = evidence([5.0, likely_enough], without_vector=[True, False]).decide(decision)
    assert passes.tolist() == [False, True]
    # No candidate at all: nothing.
    assert evidence([]).decide(decision)[0].tolist() == []
