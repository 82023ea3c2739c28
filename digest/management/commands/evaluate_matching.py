"""python manage.py evaluate_matching [--judged PATH] [--half tune|held-out|all] [--round N ...]
[--papers all|even|odd] [--details]"""

from __future__ import annotations

import argparse
from pathlib import Path

from django.core.management.base import CommandError

from digest import semantic
from digest.evaluation import (
    JUDGED_INTERESTS,
    Figures,
    JudgedFileError,
    JudgedInterest,
    catalog_topics,
    feedback_effect,
    figures_for,
    in_passing_summary,
    load_judged,
    macro,
    papers_half,
    sample_catalog,
    shares_keywords,
    topic_decisions_left_out,
    typed_keywords,
)
from digest.management.cli import OperatorCommand
from digest.matching import CatalogStats, PaperIndex
from digest.meaning import SemanticContext
from digest.vectors import embed_keywords

DIGEST_SIZE = 10  # the default papers per email


class Command(OperatorCommand):
    help = (
        "Precision and recall of the matcher on judged interests over the sample listing "
        "(import it first), lexical-only and hybrid side by side, per half (tune / "
        "held-out), and the effect of feedback on a simulated reader. Writes nothing but "
        "the judged keywords' vectors (as a subscriber saving them would)."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--judged", type=Path, default=JUDGED_INTERESTS, help="judged interests (JSON)")
        parser.add_argument("--half", choices=("tune", "held-out", "all"), default="all")
        parser.add_argument(
            "--papers",
            choices=("all", "even", "odd"),
            default="all",
            help="score only the sample's papers at even or odd positions (the matcher still sees all): "
            "a held-out half of the papers for interests whose own words were tuned on the other half",
        )
        parser.add_argument(
            "--round",
            type=int,
            action="append",
            dest="rounds",
            metavar="N",
            help="only the interests of this judging round (repeat for several): each fresh round's own figures",
        )
        parser.add_argument("--details", action="store_true", help="false positives and misses per interest")
        parser.add_argument(
            "--topics-left-out",
            action="store_true",
            help="score each topic's judgements with topic decision weights fitted without that topic's tuning "
            "judgements (the shipped ones were fitted on every tuning topic; the threshold, features and the "
            "topic's phrases were still chosen with it)",
        )
        parser.add_argument(
            "--with-curated-terms",
            action="store_true",
            help="read the curators' related-terms lines too (by default the shipped list alone, as the shipped "
            "decision was fitted and the README's figures measured)",
        )

    def handle(
        self,
        *args,
        judged: Path,
        half: str,
        papers: str,
        details: bool,
        rounds: list[int] | None,
        with_curated_terms: bool,
        topics_left_out: bool,
        **options,
    ) -> None:
        try:
            cases = load_judged(judged)
            position_of, catalog = sample_catalog()
        except JudgedFileError as error:
            raise CommandError(str(error)) from None
        tuned_keywords = typed_keywords(c for c in cases if c.half == "tune")
        every_case, every_position = cases, position_of  # what the left-out topic decisions are fitted on
        if rounds:
            known = sorted({c.round for c in cases if c.round is not None})
            if unknown := sorted(set(rounds) - set(known)):
                raise CommandError(f"no judged interests from round {unknown[0]}; the rounds are {known}")
            cases = [c for c in cases if c.round in rounds]
        if papers != "all":
            position_of, cases = papers_half(position_of, cases, parity=0 if papers == "even" else 1)
        stats = CatalogStats.for_catalog()
        topics = catalog_topics()
        indexes = {"lexical": PaperIndex(catalog, stats)}
        if semantic.semantic_matching_enabled() and any(p.embedding for p in catalog):
            embed_keywords(k for c in cases for k in c.keywords)
            context = SemanticContext.for_catalog(curated_terms=with_curated_terms)
            indexes["hybrid"] = PaperIndex(catalog, stats, context)
        else:
            self.stdout.write("hybrid: not measured (no stored vectors, or SEMANTIC_MATCHING is off)")
        halves = ("tune", "held-out") if half == "all" else (half,)
        left_out = {}
        if topics_left_out:
            if "hybrid" not in indexes:
                raise CommandError("--topics-left-out: the topic decision needs stored vectors")
            shipped = indexes["hybrid"].topic_decision
            try:
                left_out = topic_decisions_left_out(
                    every_case, indexes["hybrid"], every_position, topics, shipped.threshold
                )
            except JudgedFileError as error:
                raise CommandError(str(error)) from None
            self.stdout.write(
                "topics: each scored with a topic decision fitted without its tuning judgements "
                f"(threshold {shipped.threshold} as shipped)"
            )

        def scored(case: JudgedInterest, mode: str, index: PaperIndex, limit: int | None = None) -> Figures:
            if mode == "hybrid" and case.kind == "topic" and case.topic in left_out:
                index.use_topic_decision(left_out[case.topic])
            return figures_for(case, index, position_of, topics, limit=limit)

        try:
            results = {
                mode: [scored(c, mode, index) for c in cases if c.half in halves] for mode, index in indexes.items()
            }
        except JudgedFileError as error:
            raise CommandError(str(error)) from None
        modes = list(indexes)
        header = f"{'interest':36s} {'half':8s} " + " ".join(f"{m + ' P':>10s} {m + ' R':>10s}" for m in modes)
        self.stdout.write(header)
        for n, case in enumerate(c for c in cases if c.half in halves):
            cells = " ".join(f"{results[m][n].precision:10.2f} {results[m][n].recall:10.2f}" for m in modes)
            self.stdout.write(f"{case.name[:36]:36s} {case.half:8s} {cells}")
            if details:
                for m in modes:
                    f = results[m][n]
                    self.stdout.write(f"    {m}: +{f.false_positives} -{f.missed}")
        # What a reader sees is the digest: the first DIGEST_SIZE matches, best first.
        top = {
            mode: [scored(c, mode, index, limit=DIGEST_SIZE) for c in cases if c.half in halves]
            for mode, index in indexes.items()
        }
        if left_out:  # the feedback below is the shipped matcher's
            indexes["hybrid"].use_topic_decision(shipped)
        self.stdout.write("")
        self.stdout.write(
            f"macro averages (precision / recall of all matches; precision of a {DIGEST_SIZE}-paper digest):"
        )
        for kind in ("keywords", "topic"):
            for which in halves:
                count = sum(1 for c in cases if c.kind == kind and c.half == which)
                if not count:
                    continue  # a round of typed keywords only, say: no average of nothing
                row = []
                for m in modes:
                    chosen = [f for f in results[m] if f.interest.kind == kind and f.interest.half == which]
                    firsts = [f for f in top[m] if f.interest.kind == kind and f.interest.half == which]
                    p, r = macro(chosen)
                    row.append(f"{m} {p:.2f} / {r:.2f}; digest {macro(firsts)[0]:.2f}")
                self.stdout.write(f"  {kind:8s} {which:8s} ({count:2d} interests): " + "   ".join(row))
                if kind == "keywords" and which == "held-out":
                    self._unseen_keywords_row(results, top, tuned_keywords, count)
        self.stdout.write("typed keywords' papers listed in passing, below the matches (not counted above):")
        for which in halves:
            if not any(c.kind == "keywords" and c.half == which for c in cases):
                continue
            row = []
            for m in modes:
                listed, relevant, missed = in_passing_summary(
                    [f for f in results[m] if f.interest.kind == "keywords" and f.interest.half == which]
                )
                share = f"{relevant / listed:.2f}" if listed else "-"
                row.append(f"{m} {listed} papers, {relevant} relevant ({share}) of {missed} the matches missed")
            self.stdout.write(f"  {which:8s}: " + "   ".join(row))
        if "hybrid" in indexes and papers == "all":  # the simulated reader's two days are the two halves
            vectors: dict[int, bytes | memoryview | None] = {p.pk: p.embedding for p in catalog}
            measured = [
                feedback_effect(c, indexes["hybrid"], position_of, topics, vectors=vectors.get)
                for c in cases
                if c.half in halves
            ]
            effects = [e for e in measured if e is not None]
            if effects:
                before = sum(b for b, _ in effects) / len(effects)
                after = sum(a for _, a in effects) / len(effects)
                self.stdout.write(
                    f"feedback ({len(effects)} simulated readers: up to 3 liked and 3 disliked in day one's "
                    f"10 papers): precision of day two's top 5 {before:.2f} without, {after:.2f} with feedback"
                )

    def _unseen_keywords_row(self, results: dict, top: dict, tuned_keywords: frozenset[str], count: int) -> None:
        """The held-out keyword interests none of whose keywords a tuning interest typed
        (when that is some of them, not all): the figure least helped by tuning."""

        def unseen(figures):
            return [
                f
                for f in figures
                if f.interest.kind == "keywords"
                and f.interest.half == "held-out"
                and not shares_keywords(f.interest, tuned_keywords)
            ]

        some = len(unseen(next(iter(results.values()))))
        if not 0 < some < count:
            return
        row = []
        for m in results:
            p, r = macro(unseen(results[m]))
            row.append(f"{m} {p:.2f} / {r:.2f}; digest {macro(unseen(top[m]))[0]:.2f}")
        self.stdout.write(f"    of which with no keyword a tuning interest typed ({some:2d}): " + "   ".join(row))
