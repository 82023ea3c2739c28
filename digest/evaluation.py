"""Matching quality against relevance judgements: precision and recall per interest, and
the learned keyword decision fitted on them (`train_keyword_decision`).

A judged file (JSON) names papers of the sample listing by their position in it (0 is
the first paper of `digest/sample_data/daily_papers_listing.txt`) and says, for each
interest, which of them a researcher with that interest would want:

    {"interests": [{"name": "LLM agents", "keywords": ["LLM agents"], "topic": null,
                    "relevant": [51, 56, 125], "half": "held-out"}, ...]}

`half` is "tune" (what thresholds were chosen on) or "held-out" (reported, never tuned
on). `evaluate_matching` prints the figures; the judged tests assert them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .decision import TOPIC_FEATURES, Decision, fit, fit_with_trees
from .matching import Interest, KeywordEvidence, PaperIndex, TopicTerms
from .meaning import Feedback
from .models import Paper, Topic, title_key

SAMPLE_LISTING = Path(__file__).resolve().parent / "sample_data" / "daily_papers_listing.txt"
JUDGED_INTERESTS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "judged_interests.json"
LISTING_HEADER_LINES = 5


class JudgedFileError(ValueError):
    pass


@dataclass(frozen=True)
class JudgedInterest:
    name: str
    relevant: frozenset[int]
    keywords: tuple[str, ...] = ()
    topic: str | None = None
    half: str = "tune"
    round: int | None = None  # which judging round it came from (the file's "round")

    @property
    def kind(self) -> str:
        return "topic" if self.topic else "keywords"


@dataclass(frozen=True)
class Figures:
    interest: JudgedInterest
    precision: float
    recall: float
    found: frozenset[int]
    # Listed below the matches as mentioning a keyword in passing (not counted above).
    in_passing: frozenset[int] = frozenset()

    @property
    def false_positives(self) -> list[int]:
        return sorted(self.found - self.interest.relevant)

    @property
    def missed(self) -> list[int]:
        return sorted(self.interest.relevant - self.found)


def load_judged(path: Path) -> list[JudgedInterest]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        cases = [
            JudgedInterest(
                name=str(item["name"]),
                relevant=frozenset(int(p) for p in item["relevant"]),
                keywords=tuple(item.get("keywords") or ()),
                topic=item.get("topic") or None,
                half=item.get("half", "tune"),
                round=int(item["round"]) if item.get("round") is not None else None,
            )
            for item in data["interests"]
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise JudgedFileError(f"{path}: not a judged-interests file ({exc})") from exc
    for case in cases:
        if case.half not in {"tune", "held-out"}:
            raise JudgedFileError(f"{path}: {case.name}: half must be 'tune' or 'held-out'")
        if not case.relevant:
            raise JudgedFileError(f"{path}: {case.name}: no relevant papers, precision and recall say nothing")
    return cases


def sample_texts(path: Path = SAMPLE_LISTING) -> list[tuple[str, str]]:
    """(title, abstract) of the sample listing's papers, in order: five header lines, then
    title and abstract paragraphs. (Its own small reader, not the importer's, so that
    judged positions never move with the importer.)"""
    lines = path.read_text(encoding="utf-8").splitlines()
    seen = start = 0
    while seen < LISTING_HEADER_LINES:
        seen += bool(lines[start].strip())
        start += 1
    paragraphs, current = [], []
    for line in lines[start:] + [""]:
        if line.strip():
            current.append(line.strip())
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    return list(zip(paragraphs[0::2], paragraphs[1::2], strict=False))  # a title without abstract is dropped


def sample_titles(path: Path = SAMPLE_LISTING) -> list[str]:
    return [title for title, _ in sample_texts(path)]


def sample_positions() -> dict[int, int]:
    """Listing position by paper id, for the sample papers in the catalog."""
    by_key = {title_key(title): position for position, title in enumerate(sample_titles())}
    found = {}
    for pk, key in Paper.objects.filter(title_key__in=list(by_key)).values_list("id", "title_key"):
        found[pk] = by_key[key]
    return found


def sample_catalog() -> tuple[dict[int, int], list[Paper]]:
    """The sample papers in the catalog and their listing positions; an error that says
    what to run when the sample was never imported."""
    position_of = sample_positions()
    if len(position_of) < 100:
        raise JudgedFileError(
            "the sample listing is not in the catalog: run import_papers on digest/sample_data/daily_papers_listing.txt"
        )
    return position_of, list(Paper.objects.filter(pk__in=list(position_of)))


def papers_half(
    position_of: dict[int, int], cases: Sequence[JudgedInterest], parity: int
) -> tuple[dict[int, int], list[JudgedInterest]]:
    """Only the papers at even (parity 0) or odd positions are scored, and each interest
    only by its relevant papers among them (an interest left with none is dropped)."""
    kept = {pk: position for pk, position in position_of.items() if position % 2 == parity}
    halved = [replace(c, relevant=frozenset(p for p in c.relevant if p % 2 == parity)) for c in cases]
    return kept, [c for c in halved if c.relevant]


def interest_for(case: JudgedInterest, topics: dict[str, TopicTerms], feedback: Feedback | None = None) -> Interest:
    if case.topic and case.topic not in topics:
        raise JudgedFileError(f"{case.name}: no topic '{case.topic}' in the catalog")
    return Interest(
        topics=(topics[case.topic],) if case.topic else (),
        keywords=case.keywords,
        include_featured=False,
        feedback=feedback,
    )


def figures_for(
    case: JudgedInterest,
    index: PaperIndex,
    position_of: dict[int, int],
    topics: dict[str, TopicTerms],
    *,
    feedback: Feedback | None = None,
    limit: int | None = None,
) -> Figures:
    matches = index.match(interest_for(case, topics, feedback), limit=limit)
    found = frozenset(position_of[m.paper.pk] for m in matches if m.paper.pk in position_of)
    precision, recall = precision_recall(found, case.relevant)
    in_passing = frozenset(position_of[pk] for pk, _ in matches.in_passing if pk in position_of)
    return Figures(case, precision, recall, found, in_passing)


def precision_recall(found: frozenset[int], relevant: frozenset[int]) -> tuple[float, float]:
    """Of one interest: the share of what was found that is relevant (0 when nothing was
    found), and the share of the relevant papers found."""
    hits = len(found & relevant)
    return (hits / len(found) if found else 0.0), hits / len(relevant)


def in_passing_summary(figures: Sequence[Figures]) -> tuple[int, int, int]:
    """Over some interests: papers listed in passing, how many of them are relevant, and
    how many relevant papers the matches missed (the relevant ones listed are of those)."""
    listed = sum(len(f.in_passing) for f in figures)
    relevant = sum(len(f.in_passing & f.interest.relevant) for f in figures)
    missed = sum(len(f.missed) for f in figures)
    return listed, relevant, missed


def typed_keywords(cases: Iterable[JudgedInterest]) -> frozenset[str]:
    """The keywords these interests type, in lower case."""
    return frozenset(k.strip().lower() for case in cases for k in case.keywords)


def shares_keywords(case: JudgedInterest, typed: frozenset[str]) -> bool:
    """Whether the interest types a keyword that is in `typed`: a held-out interest that
    types a tuning interest's keyword is unseen as an interest, but the decision was fitted
    on that keyword's papers."""
    return any(k.strip().lower() in typed for k in case.keywords)


def macro(figures: Sequence[Figures]) -> tuple[float, float]:
    if not figures:
        return 0.0, 0.0
    return (
        sum(f.precision for f in figures) / len(figures),
        sum(f.recall for f in figures) / len(figures),
    )


def catalog_topics() -> dict[str, TopicTerms]:
    return {t.slug: TopicTerms.from_topic(t) for t in Topic.objects.all()}


def feedback_effect(
    case: JudgedInterest,
    index: PaperIndex,
    position_of: dict[int, int],
    topics: dict[str, TopicTerms],
    *,
    vectors: Callable[[int], bytes | memoryview | None],
    first_size: int = 10,
    next_size: int = 5,
    votes: int = 3,
) -> tuple[float, float] | None:
    """A simulated reader over two days: the sample's even positions are listed on day
    one, the odd ones on day two. From day one's digest (`first_size` papers) they mark
    up to `votes` relevant papers "more like this" and up to `votes` irrelevant ones
    "less like this"; returns the precision of day two's digest (`next_size` papers)
    without and with that feedback, or None when there was nothing to vote on or day
    two brings fewer than `next_size` matches (then ranking changes nothing)."""
    day_one = {pk for pk, position in position_of.items() if position % 2 == 0}
    day_two = set(position_of) - day_one
    first = index.match(interest_for(case, topics), exclude_ids=day_two, limit=first_size)
    liked = [m.paper.pk for m in first if position_of[m.paper.pk] in case.relevant][:votes]
    disliked = [m.paper.pk for m in first if position_of[m.paper.pk] not in case.relevant][:votes]
    if not liked and not disliked:
        return None
    feedback = Feedback.from_votes([(pk, 1, vectors(pk)) for pk in liked] + [(pk, -1, vectors(pk)) for pk in disliked])

    def precision(fb: Feedback | None) -> float | None:
        matches = index.match(interest_for(case, topics, fb), exclude_ids=day_one, limit=next_size)
        if len(matches) < next_size:
            return None
        return sum(position_of[m.paper.pk] in case.relevant for m in matches) / len(matches)

    before, after = precision(None), precision(feedback)
    if before is None or after is None:
        return None
    return before, after


@dataclass(frozen=True)
class TrainedDecision:
    decision: Decision
    curve: list[tuple[float, float, float]]  # (threshold, leave-one-out precision, recall)


@dataclass(frozen=True)
class _Judged:
    """One judged keyword interest, as the decision sees it."""

    relevant: frozenset[int]  # listing positions
    evidence: list[KeywordEvidence]  # one per keyword
    labels: list[np.ndarray]  # per keyword, whether each candidate paper is relevant

    def rows_and_labels(self) -> tuple[np.ndarray, np.ndarray]:
        """What the decision is fitted on: the candidates with a vector."""
        keep = [~e.without_vector for e in self.evidence]
        rows = [e.rows[k] for e, k in zip(self.evidence, keep, strict=True)]
        labels = [y[k] for y, k in zip(self.labels, keep, strict=True)]
        return np.vstack(rows), np.concatenate(labels)


# 0.300, 0.325 ... 0.700: in 0.05 steps the lowest threshold reaching the target precision
# could give away 0.02 of recall that one step between would have kept.
THRESHOLDS = tuple(round(0.3 + 0.025 * step, 3) for step in range(17))
# The threshold is chosen on interests each scored by a decision fitted without them: ten
# folds of the interests (the n-th in the file goes to fold n mod 10, so that a reader's
# interests, which are neighbours there, fall in different folds, as with one left out).
# One left out at a time, as before the trees, would fit 680 forests of a few seconds each.
FOLDS = 10


def train_keyword_decision(
    cases: Sequence[JudgedInterest],
    index: PaperIndex,
    position_of: dict[int, int],
    *,
    target_precision: float = 0.75,
    l2: float = 1.0,
    progress: Callable[[Iterable], Iterable] = iter,
) -> TrainedDecision:
    """Fit `digest.decision` on the tuning half's typed-keyword interests of `cases`
    (held-out ones are left aside here, whoever calls this).

    The threshold is the lowest whose cross-validated macro precision reaches
    `target_precision` (the most recall that keeps it), or the most precise one if none
    does: each interest is scored by a decision fitted on the other folds' interests, so
    the figures say how it does on interests it has not seen."""
    judged = []
    for case in cases:
        if case.kind != "keywords" or case.half != "tune":
            continue
        read = [index.keyword_evidence(keyword, others=case.keywords) for keyword in case.keywords]
        evidence = [e for e in read if e is not None and len(e.papers)]
        labels = [
            np.array([position_of.get(index.papers[i].pk, -1) in case.relevant for i in e.papers], dtype=float)
            for e in evidence
        ]
        judged.append(_Judged(case.relevant, evidence, labels))
    if len(judged) < 5:
        raise JudgedFileError(f"{len(judged)} tuning keyword interests are too few to learn from (5 at least)")
    if not any(j.evidence for j in judged):
        raise JudgedFileError("no keyword finds anything: are the sample papers and keywords embedded?")

    def fit_on(interests: list[_Judged]) -> Decision:
        pairs = [j.rows_and_labels() for j in interests if j.evidence]
        return fit_with_trees(np.vstack([r for r, _ in pairs]), np.concatenate([y for _, y in pairs]), l2=l2)

    def found_by(interest: _Judged, decision: Decision) -> frozenset[int]:
        found: set[int] = set()
        for evidence in interest.evidence:
            passes, _ = evidence.decide(decision)
            found.update(position_of.get(index.papers[i].pk, -1) for i in np.array(evidence.papers)[passes])
        return frozenset(found - {-1})

    folds = [fit_on([j for n, j in enumerate(judged) if n % FOLDS != fold]) for fold in progress(range(FOLDS))]
    left_out = [folds[n % FOLDS] for n in range(len(judged))]
    curve = []
    for threshold in THRESHOLDS:
        scores = []
        for interest, fitted in zip(judged, left_out, strict=True):
            scores.append(precision_recall(found_by(interest, replace(fitted, threshold=threshold)), interest.relevant))
        curve.append((threshold, sum(p for p, _ in scores) / len(scores), sum(r for _, r in scores) / len(scores)))
    reaching = [point for point in curve if point[1] >= target_precision]
    chosen = reaching[0] if reaching else max(curve, key=lambda point: point[1])
    pairs = sum(len(e.papers) for j in judged for e in j.evidence)
    provenance = (
        f"fitted on {len(judged)} keyword interests ({pairs} keyword-paper pairs); threshold {chosen[0]:.3f}: "
        f"precision {chosen[1]:.3f}, recall {chosen[2]:.3f} over {FOLDS} folds of interests left out in turn"
    )
    return TrainedDecision(replace(fit_on(judged), threshold=chosen[0], provenance=provenance), curve)


# 0.3000, 0.3125 ... 0.7000: the topic decision's thresholds.
TOPIC_THRESHOLDS = tuple(round(0.3 + 0.0125 * step, 4) for step in range(33))


def train_topic_decision(
    cases: Sequence[JudgedInterest],
    index: PaperIndex,
    position_of: dict[int, int],
    topics: dict[str, TopicTerms],
    *,
    target_precision: float = 0.85,
    l2: float = 1.0,
    progress: Callable[[Iterable], Iterable] = iter,
) -> TrainedDecision:
    """Fit the topic decision (`decision.TOPIC_FEATURES`, weights only) on the tuning
    half's curated-topic judgements of `cases`. The threshold is the lowest whose macro
    precision reaches `target_precision` with each topic left out in turn: the same topic
    is judged by many readers, so leaving out one judgement would leave its topic in."""
    judged = _judged_topics(cases, index, position_of, topics)
    slugs = sorted({j.slug for j in judged})
    if len(slugs) < 3:
        raise JudgedFileError(f"{len(slugs)} tuning topics are too few to learn from (3 at least)")
    left_out = _fits_without_each(judged, progress(slugs), l2)
    curve = []
    for threshold in TOPIC_THRESHOLDS:
        scores = [j.scored(left_out[j.slug], threshold) for j in judged]
        curve.append((threshold, sum(p for p, _ in scores) / len(scores), sum(r for _, r in scores) / len(scores)))
    reaching = [point for point in curve if point[1] >= target_precision]
    chosen = reaching[0] if reaching else max(curve, key=lambda point: point[1])
    provenance = (
        f"fitted on {len(judged)} judgements of {len(slugs)} topics; threshold {chosen[0]:.4f}: "
        f"precision {chosen[1]:.3f}, recall {chosen[2]:.3f} with each topic left out in turn"
    )
    return TrainedDecision(replace(_fit_topics(judged, l2), threshold=chosen[0], provenance=provenance), curve)


def topic_decisions_left_out(
    cases: Sequence[JudgedInterest],
    index: PaperIndex,
    position_of: dict[int, int],
    topics: dict[str, TopicTerms],
    threshold: float,
    l2: float = 1.0,
) -> dict[str, Decision]:
    """For each topic of `topics`, the topic decision fitted on the tuning judgements of
    the other topics (at `threshold`): what the held-out judgements of a topic are scored
    with to say how the decision does on a topic it has never seen. (The shipped one was
    fitted on every tuning topic, and the held-out judgements are new readers' of the
    same topics: they largely agree with the tuning readers'.)"""
    judged = _judged_topics(cases, index, position_of, topics)
    if len({j.slug for j in judged}) < 3:
        raise JudgedFileError("too few tuning topics to fit a topic decision without one of them (3 at least)")
    return {
        slug: replace(fitted, threshold=threshold) for slug, fitted in _fits_without_each(judged, topics, l2).items()
    }


@dataclass(frozen=True)
class _JudgedTopic:
    """One tuning judgement of a curated topic, as the topic decision sees it."""

    slug: str
    relevant: frozenset[int]
    rows: np.ndarray
    labels: np.ndarray
    found_at: np.ndarray  # listing positions of the candidates (-1: not in the listing)
    without_vector: np.ndarray
    rule_passes: np.ndarray

    def scored(self, fitted: Decision, threshold: float) -> tuple[float, float]:
        takes = np.where(self.without_vector, self.rule_passes, fitted.probabilities(self.rows) >= threshold)
        return precision_recall(frozenset(self.found_at[takes].tolist()) - {-1}, self.relevant)


def _judged_topics(
    cases: Sequence[JudgedInterest], index: PaperIndex, position_of: dict[int, int], topics: dict[str, TopicTerms]
) -> list[_JudgedTopic]:
    judged = []
    for case in cases:
        if case.kind != "topic" or case.half != "tune":
            continue
        if case.topic not in topics:
            raise JudgedFileError(f"{case.name}: no topic {case.topic!r} in this database")
        if not index.reads_topic_meaning(case.topic):
            raise JudgedFileError("the topics have no z-scores: are the sample papers and topics embedded?")
        evidence = index.topic_evidence(topics[case.topic])
        if evidence is None:  # no phrase the usual papers write: the rule decides this topic, not the decision
            continue
        found_at = np.array([position_of.get(index.papers[i].pk, -1) for i in evidence.papers], dtype=np.int64)
        labels = np.array([position in case.relevant for position in found_at], dtype=float)
        judged.append(
            _JudgedTopic(
                case.topic,
                case.relevant,
                evidence.rows,
                labels,
                found_at,
                evidence.without_vector,
                evidence.rule_passes,
            )
        )
    return judged


def _fits_without_each(judged: list[_JudgedTopic], slugs: Iterable[str], l2: float) -> dict[str, Decision]:
    """For each of `slugs`, the topic decision fitted on the other topics' judgements."""
    return {slug: _fit_topics([j for j in judged if j.slug != slug], l2) for slug in slugs}


def _fit_topics(judged: list[_JudgedTopic], l2: float) -> Decision:
    rows = np.vstack([j.rows[~j.without_vector] for j in judged])
    labels = np.concatenate([j.labels[~j.without_vector] for j in judged])
    return fit(rows, labels, l2=l2, features=TOPIC_FEATURES)
