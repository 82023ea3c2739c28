"""The sample listing (202 real papers) as matcher tests use it.

Read by `digest.evaluation.sample_texts`, not by the importer, so that the matcher's tests
do not depend on it: five header lines, then title, blank line, abstract, and so on.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

from digest import evaluation
from digest.models import Paper, title_key

SAMPLE = Path(__file__).resolve().parents[2] / "digest" / "sample_data" / "daily_papers_listing.txt"
SAMPLE_DAY = dt.date(2024, 11, 27)


@lru_cache(maxsize=1)
def sample_texts() -> tuple[tuple[str, str], ...]:
    """(title, abstract) pairs, in listing order: the judged tests name papers by position."""
    texts = tuple(evaluation.sample_texts(SAMPLE))
    assert len(texts) == 202, "the sample should hold 202 papers"
    return texts


def sample_papers(listed_on: dt.date = SAMPLE_DAY) -> list[Paper]:
    """Unsaved papers whose pk is their position in the listing."""
    papers = []
    for position, (title, abstract) in enumerate(sample_texts()):
        paper = Paper(pk=position, title=title, abstract=abstract, listed_on=listed_on)
        paper.title_key = title_key(title)
        papers.append(paper)
    return papers


def load_sample(listed_on: dt.date = SAMPLE_DAY) -> dict[int, Paper]:
    """The sample in the database, by listing position."""
    papers = sample_papers(listed_on)
    for paper in papers:
        paper.pk = None
    created = Paper.objects.bulk_create(papers)
    if created and created[0].pk is None:  # backends that do not return ids
        created = list(Paper.objects.filter(listed_on=listed_on).order_by("id"))
    return dict(enumerate(created))
