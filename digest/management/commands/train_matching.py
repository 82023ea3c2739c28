"""python manage.py train_matching [--judged PATH] [--output PATH] [--topic-output PATH] [--target-precision 0.75]
[--topic-target-precision 0.85]"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from django.core.management.base import CommandError
from tqdm import tqdm

from digest import semantic
from digest.decision import DECISION_FILE, FEATURES, TOPIC_DECISION_FILE, TOPIC_FEATURES
from digest.evaluation import (
    JUDGED_INTERESTS,
    JudgedFileError,
    catalog_topics,
    load_judged,
    sample_catalog,
    train_keyword_decision,
    train_topic_decision,
)
from digest.management.cli import OperatorCommand
from digest.matching import CatalogStats, PaperIndex
from digest.meaning import SemanticContext
from digest.models import CuratedRelatedTerms
from digest.vectors import embed_keywords


class Command(OperatorCommand):
    help = (
        "Fit the decisions of when a typed keyword and when a curated topic match a paper "
        "(digest/decision.py) on the tuning half of the judged interests, over the embedded "
        "sample listing, and write them (by default to the files the matcher ships with). The "
        "held-out half is never read: evaluate_matching reports it afterwards."
    )
    # The system checks include "the shipped decision fits this version": the one
    # command that must run when it does not is the one that fits a new one.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--judged", type=Path, default=JUDGED_INTERESTS, help="judged interests (JSON)")
        parser.add_argument(
            "--output", type=Path, default=DECISION_FILE, help="where to write the keyword decision (JSON)"
        )
        parser.add_argument(
            "--topic-output", type=Path, default=TOPIC_DECISION_FILE, help="where to write the topic decision (JSON)"
        )
        parser.add_argument(
            "--target-precision",
            type=float,
            default=0.75,
            help="the threshold is the lowest whose cross-validated precision (interests left out) reaches this",
        )
        parser.add_argument(
            "--topic-target-precision",
            type=float,
            default=0.85,
            help="the topic decision's threshold is the lowest whose precision (each topic left out) reaches this",
        )

    def handle(
        self,
        *args,
        judged: Path,
        output: Path,
        topic_output: Path,
        target_precision: float,
        topic_target_precision: float,
        **options,
    ) -> None:
        for name, value in (
            ("--target-precision", target_precision),
            ("--topic-target-precision", topic_target_precision),
        ):
            if not 0 < value < 1:
                raise CommandError(f"{name} must be between 0 and 1, not {value}")
        for name, path in (("--output", output), ("--topic-output", topic_output)):
            if not path.parent.is_dir():  # as export_papers and preview_digest --html: no folders made up
                raise CommandError(f"{name}: no folder {path.parent}")
            if path.exists() and not path.is_file():
                raise CommandError(f"{name}: {path} is not a file")
        if output.resolve() == topic_output.resolve():
            raise CommandError(f"--output and --topic-output are the same file ({output}): each decision needs its own")
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
            keywords = train_keyword_decision(
                cases,
                index,
                position_of,
                target_precision=target_precision,
                progress=lambda folds: tqdm(folds, desc="folds of interests left out", unit="fold"),
            )
            topics = None
            if any(case.kind == "topic" for case in cases):
                topics = train_topic_decision(
                    cases,
                    index,
                    position_of,
                    catalog_topics(),
                    target_precision=topic_target_precision,
                    progress=lambda slugs: tqdm(slugs, desc="topics left out", unit="topic"),
                )
        except JudgedFileError as error:
            raise CommandError(str(error)) from None
        self.stdout.write("typed keywords:")
        for threshold, precision, recall in keywords.curve:
            self.stdout.write(
                f"  threshold {threshold:.3f}: precision {precision:.3f}, recall {recall:.3f} (interests left out)"
            )
        weights = ", ".join(f"{name} {w:+.2f}" for name, w in zip(FEATURES, keywords.decision.weights, strict=True))
        self.stdout.write(f"weights (per standard deviation): {weights}")
        if (trees := keywords.decision.trees) is not None:
            self.stdout.write(f"trees on the weights' residual: {len(trees.roots)}, {len(trees.feature)} nodes")
        self.stdout.write(keywords.decision.provenance)
        fitted = [(keywords, output)]
        if topics is None:
            self.stdout.write(f"curated topics: no tuning judgements of topics; {topic_output} is left as it is")
        else:
            self.stdout.write("curated topics:")
            for threshold, precision, recall in topics.curve:
                self.stdout.write(
                    f"  threshold {threshold:.4f}: precision {precision:.3f}, recall {recall:.3f} (topics left out)"
                )
            weights = ", ".join(
                f"{name} {w:+.2f}" for name, w in zip(TOPIC_FEATURES, topics.decision.weights, strict=True)
            )
            self.stdout.write(f"weights (per standard deviation): {weights}")
            self.stdout.write(topics.decision.provenance)
            fitted.append((topics, topic_output))
        self._write_together(fitted)

    def _write_together(self, fitted: list) -> None:
        """Both decisions written beside their places first (under names of their own),
        then both put in place: never half a file, and a failure to write either leaves
        the pair the matcher had."""
        written: list[tuple[Path, Path]] = []
        try:
            for trained, path in fitted:
                handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
                written.append((Path(name), path))
                os.chmod(name, 0o644)  # as a file checked out: mkstemp's are the owner's alone
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    out.write(trained.decision.to_json())
            for partial, path in written:
                partial.replace(path)
                self.stdout.write(f"written to {path}")
        except OSError as error:
            raise CommandError(f"could not write {error.filename or 'a decision'}: {error.strerror}") from None
        finally:
            for partial, _ in written:
                partial.unlink(missing_ok=True)
