"""python manage.py train_matching [--judged PATH] [--output PATH] [--target-precision 0.75]"""

from __future__ import annotations

import argparse
from pathlib import Path

from django.core.management.base import CommandError
from tqdm import tqdm

from digest import semantic
from digest.decision import DECISION_FILE, FEATURES
from digest.evaluation import JUDGED_INTERESTS, JudgedFileError, load_judged, sample_catalog, train_keyword_decision
from digest.management.cli import OperatorCommand
from digest.matching import CatalogStats, PaperIndex
from digest.meaning import SemanticContext
from digest.models import CuratedRelatedTerms
from digest.vectors import embed_keywords


class Command(OperatorCommand):
    help = (
        "Fit the decision of when a typed keyword matches a paper (digest/decision.py) on the "
        "tuning half of the judged interests, over the embedded sample listing, and write it "
        "(by default to the file the matcher ships with). The held-out half is never read: "
        "evaluate_matching reports it afterwards."
    )
    # The system checks include "the shipped decision fits this version": the one
    # command that must run when it does not is the one that fits a new one.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--judged", type=Path, default=JUDGED_INTERESTS, help="judged interests (JSON)")
        parser.add_argument("--output", type=Path, default=DECISION_FILE, help="where to write the decision (JSON)")
        parser.add_argument(
            "--target-precision",
            type=float,
            default=0.75,
            help="the threshold is the lowest whose cross-validated precision (interests left out) reaches this",
        )

    def handle(self, *args, judged: Path, output: Path, target_precision: float, **options) -> None:
        if not 0 < target_precision < 1:
            raise CommandError(f"--target-precision must be between 0 and 1, not {target_precision}")
        if not output.parent.is_dir():  # as export_papers and preview_digest --html: no folders made up
            raise CommandError(f"--output: no folder {output.parent}")
        try:
            cases = [c for c in load_judged(judged) if c.half == "tune"]
        except JudgedFileError as error:
            raise CommandError(str(error)) from None
        if not semantic.semantic_matching_enabled():
            raise CommandError("semantic matching is off (SEMANTIC_MATCHING): the decision reads stored vectors")
        try:
            position_of, catalog = sample_catalog()
        except JudgedFileError as error:
            raise CommandError(str(error)) from None
        if missing := sum(1 for paper in catalog if not paper.embedding):
            raise CommandError(f"{missing} sample papers have no vector: run embed_papers --missing")
        embed_keywords(k for c in cases for k in c.keywords)
        # The shipped list alone: the decision ships with the code, and fitted here it must
        # be what any other database fits (the curators' lines are read when matching).
        index = PaperIndex(catalog, CatalogStats.for_catalog(), SemanticContext.for_catalog(curated_terms=False))
        if curated := CuratedRelatedTerms.objects.count():
            self.stdout.write(
                f"(fitted on the shipped related terms: this database's {curated} curated line(s) are left out)"
            )
        try:
            trained = train_keyword_decision(
                cases,
                index,
                position_of,
                target_precision=target_precision,
                progress=lambda folds: tqdm(folds, desc="folds of interests left out", unit="fold"),
            )
        except JudgedFileError as error:
            raise CommandError(str(error)) from None
        for threshold, precision, recall in trained.curve:
            self.stdout.write(
                f"  threshold {threshold:.3f}: precision {precision:.3f}, recall {recall:.3f} (interests left out)"
            )
        partial = output.with_suffix(output.suffix + ".partial")
        partial.write_text(trained.decision.to_json(), encoding="utf-8")
        partial.replace(output)  # never a half-written decision for the matcher to read
        weights = ", ".join(f"{name} {w:+.2f}" for name, w in zip(FEATURES, trained.decision.weights, strict=True))
        self.stdout.write(f"weights (per standard deviation): {weights}")
        if (trees := trained.decision.trees) is not None:
            self.stdout.write(f"trees on the weights' residual: {len(trees.roots)}, {len(trees.feature)} nodes")
        self.stdout.write(f"{trained.decision.provenance}\nwritten to {output}")
