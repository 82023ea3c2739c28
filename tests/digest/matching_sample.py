"""The sample listing (202 real papers) as matcher tests use it.

A small parser of its own, so that the matcher's tests do not depend on the importer:
five header lines, then title, blank line, abstract, blank line, and so on.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

from digest.models import Paper, title_key

SAMPLE = Path(__file__).resolve().parents[2] / "digest" / "sample_data" / "daily_papers_listing.txt"
SAMPLE_DAY = dt.date(2024, 11, 27)
HEADER_LINES = 5


@lru_cache(maxsize=1)
def sample_texts() -> tuple[tuple[str, str], ...]:
    """(title, abstract) pairs, in listing order: the judged tests name papers by position."""
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    seen = start = 0
    while seen < HEADER_LINES:
        seen += bool(lines[start].strip())
        start += 1
    paragraphs, current = [], []
    for line in lines[start:] + [""]:
        if line.strip():
            current.append(line.strip())
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    assert len(paragraphs) % 2 == 0, "the sample should alternate titles and abstracts"
    return tuple(zip(paragraphs[0::2], paragraphs[1::2]))


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
