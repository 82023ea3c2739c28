"""When a typed keyword's evidence in a paper is enough to match: a decision learned from
judged interests instead of hand-set thresholds.

With stored vectors, a paper can be found for a typed keyword in several ways at once:
the keyword written in its title or abstract (once or often), a looser reading of it, the
curated topic the keyword names, closeness in meaning. Hand-set rules for which
combinations are enough (a lone abstract mention only above some z-score, a topic's
phrases only when ...) were tuned on the same interests they were measured on and did not
carry over to the held-out ones. A logistic regression over a few such measurements,
with small boosted trees on what it gets wrong, does the same job with fewer choices: it
is fitted on the judged tuning interests (`manage.py train_matching`), its threshold is
the lowest whose precision on them, each scored by a decision fitted without it (ten
folds), reaches the target, and it ships as data (`data/keyword_decision.json`).

Numpy only, no model to load: a handful of multiply-adds per candidate paper and reader,
and the trees' part once per keyword and paper.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from .trees import Forest, Settings, fit_forest

DECISION_FILE = Path(__file__).resolve().parent / "data" / "keyword_decision.json"
TOPIC_DECISION_FILE = Path(__file__).resolve().parent / "data" / "topic_decision.json"

# What the decision reads about one (keyword, paper) pair, in this order:
FEATURES = (
    "evidence",  # the keyword as typed (and its acronym and spelling forms): weighted mentions, capped
    "clear",  # ... enough of them to match on words alone (a title mention, or one telling abstract mention)
    "looser_only",  # found only by a looser reading ("agents ... LLM" for "LLM agents")
    "closeness",  # z-score of the paper's closeness in meaning to the keyword, over the usual paper
    "evidence_x_closeness",  # a mention counts for more in a paper about the keyword
    "through_topic",  # matches the curated topic the keyword names
    "names_topic",  # the keyword names a curated topic at all (its own words then say less)
    "log_share",  # log10 of the share of catalog papers that write the keyword: common words say less
    "topic_margin",  # how much closer the keyword is to its nearest topic than to the next one
    "depth",  # how far into the paper the keyword's words first come (0 in the title, 1 not at all)
    "related",  # the keyword's related terms in the paper (3 each in the title, 1 in the abstract), capped
    "related_any",  # ... any at all
    "related_only",  # ... when the keyword's own words are not there: the paper says it in other words
    "field",  # closeness (z) to the nearest of the reader's other keywords; their own keyword's if it is their only one
    "like_clear",  # closeness (z) to the usual papers that clearly write the keyword (their mean vector), else 0
    "like_clear_known",  # ... there are such papers (others than the paper itself) and the paper has a vector
)
# "field": a keyword means less than its words in a reader's field. Beside "speech
# recognition", "quantization" means quantised speech models, not every quantised LLM.
# The nearest other keyword, not the mean of them all, so that a reader with two unrelated
# interests loses nothing. Over the tuning interests (two folds), with a reader of two
# judged interests' keywords together: the nearest gave 0.749 / 0.612 for one interest and
# 0.740 / 0.601 for two (without the feature 0.733 / 0.604 and 0.732 / 0.603), the mean
# 0.756 / 0.615 and 0.794 / 0.525 (it drops a reader's other field).
# "like_clear": a short keyword is a poor query for the embedding model ("alignment" is
# closer to "human pose estimation", 0.24, than to "RLHF", 0.10), but abstracts are good
# company for abstracts. The papers of the reference sample (the usual recent papers the
# z-scores are taken over) that write the keyword clearly enough to match on words alone
# (a title mention, or one telling abstract mention: asides included) show what it means;
# a paper close to them is about the same thing, whatever its words, and a paper that
# writes the keyword but is far from them mentions it in passing. From the reference, not
# the index: a reader's matches do not depend on which papers a run indexes. With the
# fitted weights, having such papers at all lowers a paper's chance unless it is at least
# about 1.5 standard deviations closer to them than usual ("known" -0.78, each z +0.53):
# one writer that is itself an aside can cost a relevant paper ("RLHF" beside "DPO" loses
# Transfer Q*). Requiring two writers instead did no better (0.751 / 0.599 at 0.55).
# Leave-one-interest-out on the tuning interests (rounds 1-37, 680): at every threshold
# +0.002-0.006 precision and +0.004-0.010 recall (0.753 / 0.600 at 0.55, against 0.749 /
# 0.592); the mean of those papers did a little better than the nearest of them (0.750 /
# 0.599) or than the mean with the keyword's topic's papers added (0.750 / 0.601).
# Boosted trees on top of the weights: a linear decision cannot say "a lone abstract
# mention counts when the paper is close in meaning, not otherwise" or "closeness counts
# less for a keyword many papers write". 75 trees of up to 8 leaves fitted on what the
# weights get wrong (digest/trees.py), over every feature but "field", which changes with
# each reader: the trees' part is computed once per keyword and paper (about 30 us for a
# keyword's candidates), the weights' part per reader (a few multiply-adds, as before).
# Ten folds of the tuning interests (rounds 1-37), three draws of the folds, at the
# lowest threshold reaching 0.75 precision: weights alone 0.750 / 0.599; free trees alone
# 0.754-0.758 / 0.614-0.619, monotone trees alone 0.755-0.757 / 0.607-0.609; the weights
# with monotone trees on their residual 0.750-0.760 / 0.614-0.623 (150 trees at rate
# 0.05), 0.751-0.755 / 0.621-0.624 (75 at 0.1, half the cost), 0.753-0.757 / 0.615-0.622
# (50 at 0.15).
TREE_SETTINGS = Settings(trees=75, leaves=8, learning_rate=0.1, min_rows=50, l2=1.0)
# Which way the chance may move with a feature, whatever the trees learn: more of the
# keyword, closer in meaning, its topic agreeing, a mention nearer the start never lowers
# it (a reader would not understand a paper lost for saying more).
RISING = {"evidence", "clear", "closeness", "evidence_x_closeness", "through_topic", "related", "related_any"}
RISING |= {"related_only", "like_clear"}
FALLING = {"depth"}
TREE_MONOTONE = [1 if name in RISING else -1 if name in FALLING else 0 for name in FEATURES]
PER_READER = FEATURES.index("field")  # left out of the trees

EVIDENCE_CAP = 6.0  # beyond about two title mentions, more says nothing new
RELATED_CAP = 6.0  # two related terms in the title, or six in the abstract
SHARE_FLOOR = 1e-3
# A keyword that would find nothing still finds its likeliest paper when the decision gives
# that one at least this chance: a typed keyword that finds nothing is what makes readers
# leave, and such a paper ranks low by its score anyway. Leave-one-interest-out on the
# tuning interests (train_matching; 94, then 144 of them): precision +0.02-0.03 and
# recall +0.01 at 0.2-0.3, less from 0.35 on.
BEST_CANDIDATE_FLOOR = 0.3


class DecisionFileError(ValueError):
    pass


@dataclass(frozen=True)
class Decision:
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    threshold: float
    provenance: str = ""
    trees: Forest | None = None  # added to the weights' logit; never read "field"
    features: tuple[str, ...] = FEATURES  # what its rows hold: a keyword's, or TOPIC_FEATURES

    def probabilities(self, rows: np.ndarray, tree_logits: np.ndarray | None = None) -> np.ndarray:
        """P(relevant) for each row of features (in `FEATURES` order). `tree_logits`: the
        trees' part for these rows (`tree_logits(rows)`), when it is already known."""
        if not len(rows):
            return np.zeros(0)
        logits = self.linear_logits(rows)
        logits += self.tree_logits(rows) if tree_logits is None else tree_logits
        return _sigmoid(logits)

    def linear_logits(self, rows: np.ndarray) -> np.ndarray:
        return ((rows - self.mean) / self.scale) @ self.weights + self.bias

    def tree_logits(self, rows: np.ndarray) -> np.ndarray:
        """The trees' part of the logit: the same for every reader of a keyword, since it
        does not read "field"."""
        if self.trees is None or not len(rows):
            return np.zeros(len(rows))
        assert self.features == FEATURES, "trees are only fitted for keywords"
        return self.trees.logits(_without_reader(rows))

    def to_json(self) -> str:
        # The trees' arrays (thousands of numbers) go on one line each, not one number
        # per line: the file stays a few hundred lines, and a refit's diff readable.
        trees = "null" if self.trees is None else _compact_arrays(self.trees.to_dict())
        return (
            json.dumps(
                {
                    "features": list(self.features),
                    "mean": self.mean.round(6).tolist(),
                    "scale": self.scale.round(6).tolist(),
                    "weights": self.weights.round(6).tolist(),
                    "bias": round(self.bias, 6),
                    "threshold": self.threshold,
                    "provenance": self.provenance,
                    "trees": _TREES_HERE,
                },
                indent=1,
            ).replace(json.dumps(_TREES_HERE), trees)
            + "\n"
        )

    @classmethod
    def from_json(cls, text: str, features: tuple[str, ...] = FEATURES) -> Decision:
        kind = "keyword" if features == FEATURES else "topic"
        try:
            data = json.loads(text)
            if tuple(data["features"]) != features:
                raise ValueError(f"features {data['features']} are not this version's {list(features)}")
            mean, scale, weights = (np.asarray(data[key], dtype=np.float64) for key in ("mean", "scale", "weights"))
            if any(a.shape != (len(features),) for a in (mean, scale, weights)) or not (scale > 0).all():
                raise ValueError("mean, scale and weights need one number per feature (scale > 0)")
            bias, threshold = float(data["bias"]), float(data["threshold"])
            if not np.isfinite([*mean, *scale, *weights, bias]).all() or not 0 <= threshold <= 1:
                raise ValueError("numbers must be finite and the threshold between 0 and 1")
            if data["trees"] is not None and features != FEATURES:
                raise ValueError("only a keyword decision has trees")
            trees = None if data["trees"] is None else Forest.from_dict(data["trees"], len(features))
            if trees is not None and (trees.feature == PER_READER).any():
                raise ValueError('the trees must not read "field", which changes with each reader')
            provenance = str(data.get("provenance", ""))
            return cls(mean, scale, weights, bias, threshold, provenance, trees, features)
        except KeyError as exc:  # a file of an older version, say: without "trees"
            raise DecisionFileError(f"not a {kind} decision of this version: it has no {exc}") from exc
        except (ValueError, TypeError, IndexError, OverflowError, RecursionError) as exc:
            raise DecisionFileError(f"not a {kind} decision: {type(exc).__name__}: {exc}") from exc


def feature_row(
    *,
    evidence: float,
    clear: bool,
    looser_only: bool,
    closeness: float,
    through_topic: bool,
    names_topic: bool,
    share: float,
    topic_margin: float,
    depth: float,
    related: float,
    field: float,
    like_clear: float | None = None,
) -> list[float]:
    """One (keyword, paper) pair's features, in `FEATURES` order. `like_clear` is None when
    no other usual paper clearly writes the keyword, or the paper has no vector."""
    capped = min(evidence, EVIDENCE_CAP)
    related = min(related, RELATED_CAP)
    return [
        capped,
        float(clear),
        float(looser_only),
        closeness,
        capped * closeness,
        float(through_topic),
        float(names_topic),
        float(np.log10(share + SHARE_FLOOR)),
        topic_margin,
        depth,
        related,
        float(related > 0),
        related if evidence == 0 else 0.0,
        field,
        like_clear if like_clear is not None else 0.0,
        float(like_clear is not None),
    ]


# When a curated topic matches a paper, with vectors: the same kind of decision (weights
# only), over what its phrases find and how close in meaning the paper is. The rule it
# replaces (the phrases' evidence reaching MIN_EVIDENCE, or closeness to the topic's
# "Name: description" 3.5 standard deviations above the usual paper) is one of them.
# Chosen on the tuning topics (rounds 1, 2, 3, 14, 18-29 and 42: 335 judgements), each
# topic left out in turn (36 topics): the rule 0.852 / 0.800; weights over ten features
# 0.853 / 0.810 at the lowest threshold reaching 0.85 precision; boosted trees did worse
# (0.852 / 0.763; on their residual 0.850 / 0.765): too few topics to learn them from.
# Dropping features one at a time while recall rose (the first-mention depth, whether the
# phrases alone pass, the paper's margin over its next topic) left these seven:
# 0.859 / 0.820.
TOPIC_FEATURES = (
    "score",  # the phrases' score in the paper (0 when they are not written)
    "evidence",  # their mentions, weighted by field and how telling each phrase is
    "in_title",  # a phrase in the title
    "closeness",  # z-score of the paper's closeness to the topic's "Name: description"
    "like_passing",  # z-score of its closeness to the usual papers the phrases find (their mean), else 0
    "breadth",  # the share of the usual papers the phrases find, at most BREADTH_CAP (see below)
    "rule",  # the rule above takes it
)


# Breadth works as the topic's own prior: the weights give a broad topic more papers (a
# reader of Large language models wants most of a day's LLM papers). Fitted on shares from
# 0.005 (Robotics) to 0.34 (Large language models) of the sample; a catalog where a topic's
# phrases are written by more of the usual papers gets no more than the broadest got.
BREADTH_CAP = 0.35


def topic_feature_row(
    *,
    score: float,
    evidence: float,
    in_title: bool,
    closeness: float,
    like_passing: float | None,
    breadth: float,
    rule: bool,
) -> list[float]:
    """One (topic, paper) pair's features, in `TOPIC_FEATURES` order."""
    return [score, evidence, float(in_title), closeness, like_passing or 0.0, min(breadth, BREADTH_CAP), float(rule)]


def fit(
    rows: np.ndarray, relevant: np.ndarray, *, l2: float = 1.0, steps: int = 50, features: tuple[str, ...] = FEATURES
) -> Decision:
    """L2-regularised logistic regression by Newton's method on standardised features
    (the threshold is set by the caller)."""
    mean = rows.mean(axis=0)
    scale = rows.std(axis=0)
    scale[scale == 0] = 1.0
    x = np.hstack([(rows - mean) / scale, np.ones((len(rows), 1))])
    w = np.zeros(x.shape[1])
    penalty = np.diag(np.r_[np.full(rows.shape[1], l2), 0.0])  # the bias is not shrunk
    for _ in range(steps):
        p = _sigmoid(x @ w)
        gradient = x.T @ (p - relevant) + penalty @ w
        hessian = x.T @ (x * (p * (1 - p))[:, None]) + penalty
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return Decision(mean, scale, w[:-1], float(w[-1]), threshold=0.5, features=features)


_TREES_HERE = "(trees)"


def _compact_arrays(data: dict) -> str:
    lines = [f" {json.dumps(key)}: {json.dumps(value, separators=(',', ':'))}" for key, value in data.items()]
    return "{\n" + ",\n".join(lines) + "\n }"


def fit_with_trees(rows: np.ndarray, relevant: np.ndarray, *, l2: float = 1.0) -> Decision:
    """The weights (`fit`), then boosted trees on what they get wrong (threshold set by
    the caller)."""
    linear = fit(rows, relevant, l2=l2)
    trees = fit_forest(_without_reader(rows), relevant, TREE_MONOTONE, TREE_SETTINGS, offset=linear.linear_logits(rows))
    return replace(linear, trees=trees)


def _without_reader(rows: np.ndarray) -> np.ndarray:
    """`rows` with the per-reader column set to 0, as the trees are fitted and read."""
    fixed = rows.copy()
    fixed[:, PER_READER] = 0.0
    return fixed


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(logits, -50.0, 50.0)))  # no overflow warnings


@lru_cache(maxsize=1)
def shipped_topic() -> Decision:
    """The decision topics are matched with (`TOPIC_DECISION_FILE`)."""
    return _read(TOPIC_DECISION_FILE, TOPIC_FEATURES)


@lru_cache(maxsize=1)
def shipped() -> Decision:
    """The decision the matcher uses (`DECISION_FILE`)."""
    return _read(DECISION_FILE, FEATURES)


def _read(path: Path, features: tuple[str, ...]) -> Decision:
    """A decision file, or one DecisionFileError that names it and says what to run."""
    try:
        return Decision.from_json(path.read_text(encoding="utf-8"), features)
    except (OSError, ValueError) as exc:  # DecisionFileError, and a file that is not UTF-8
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise DecisionFileError(f"{path}: {reason}; run manage.py train_matching to fit it again") from exc


def check_shipped_decision(app_configs=None, **kwargs) -> list:
    """Django system check: a send worker must not find out mid-run that the decision
    file does not fit this version (`manage.py check`, and every command, says so first)."""
    from django.core.checks import Error

    from . import semantic

    if not semantic.semantic_matching_enabled():
        return []
    errors = []
    for read in (shipped, shipped_topic):
        try:
            read()
        except DecisionFileError as error:
            errors.append(Error(str(error), id="digest.E001"))
    return errors
