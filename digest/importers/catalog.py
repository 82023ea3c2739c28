"""Applying records to the catalog (one paper per real paper, whatever the source) and
writing the catalog out as the project's JSON export."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TextIO

from django.db import transaction
from django.utils import timezone

from digest.models import Paper, normalise_arxiv_id, title_key

from .records import EXPORT_FORMAT, EXPORT_VERSION, PaperRecord, Parsed, RecordError

# Facts about the paper's history or identity: the first source to give them wins, so a
# paper does not move to another day, or flip between its HF and arXiv pages, each time
# a different source is imported.
KEEP_FIRST_FIELDS = ("listed_on", "published_on", "page_url", "pdf_url", "code_url", "project_url")
# Values that change (upvotes, stars, comments, revised abstracts and comments): the
# latest non-empty value a source gives wins.
LATEST_FIELDS = (
    "abstract", "authors", "upvotes", "github_stars", "num_comments", "ai_summary",
    "ai_keywords", "categories", "comment", "organization",
)
# Well under every database's limit on query parameters (SQLite's is the lowest).
LOOKUP_CHUNK = 500

EXPORT_FIELDS = (
    "arxiv_id", "title", "abstract", "authors", "published_on", "listed_on", "page_url",
    "pdf_url", "code_url", "project_url", "upvotes", "github_stars", "num_comments",
    "ai_summary", "ai_keywords", "categories", "comment", "organization", "is_featured",
    "is_hidden", "created_at", "updated_at",
)


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RecordError] = field(default_factory=list)
    # Papers whose title or abstract is new, or that have no vector yet (an earlier
    # import stopped halfway): their stored vectors are to be computed.
    to_embed: list[int] = field(default_factory=list)
    # Every paper the source named: all are filed under their topics again, so that an
    # import run again mends one that stopped before filing.
    to_file: list[int] = field(default_factory=list)
    # New papers the source flagged (our own export carries the flags): an editor's pick
    # opens every digest that takes picks, so the curator is told.
    created_featured: int = 0
    created_hidden: int = 0
    embedded: int = 0
    not_embedded_reason: str = ""  # why no vectors were computed (model unavailable)

    def __str__(self) -> str:
        return (
            f"created {self.created}, updated {self.updated}, "
            f"unchanged {self.unchanged}, rejected {len(self.rejected)}"
        )


def apply_records(
    items: Sequence[Parsed], *, progress: Callable[[int], object] | None = None
) -> ImportSummary:
    """Create or update one paper per record, all or nothing.

    A record matches a paper by arXiv id, else by normalised title (title_key), so the
    same paper arriving from the listing, then HF, then arXiv stays one paper and gains
    fields. Matching papers are looked up in a few bulk queries and written with
    bulk_create/bulk_update, not a query per record. Curator flags (featured, hidden)
    are only ever set when a paper is created.
    """
    summary = ImportSummary()
    # Parsers already give ids without version; records built elsewhere may not.
    items = [
        replace(item, arxiv_id=normalise_arxiv_id(item.arxiv_id)) if isinstance(item, PaperRecord) else item
        for item in items
    ]
    records = [item for item in items if isinstance(item, PaperRecord)]
    with transaction.atomic():
        catalog = _CatalogIndex(_existing_papers(records))
        new_papers: list[Paper] = []
        changed_papers: dict[int, Paper] = {}
        changed_fields: set[str] = set()
        named: list[Paper] = []  # every paper a record names, new or not
        for item in items:
            if isinstance(item, RecordError):
                summary.rejected.append(item)
                if progress:
                    progress(1)
                continue
            if (paper := catalog.find(item)) is None:
                paper = _new_paper(item)
                new_papers.append(paper)
                catalog.add(paper)
                summary.created += 1
            elif fields := _merge(paper, item):
                catalog.add(paper)  # it may have gained an arXiv id
                if paper.pk is not None:  # else it is created below with the merge
                    changed_papers[paper.pk] = paper
                    changed_fields |= fields
                summary.updated += 1
            else:
                summary.unchanged += 1
                if paper.pk is not None and paper.embedding is None:
                    summary.to_embed.append(paper.pk)
            named.append(paper)
            if progress:
                progress(1)
        new_ids: list[int] = []
        if new_papers:
            summary.created_featured = sum(1 for paper in new_papers if paper.is_featured)
            summary.created_hidden = sum(1 for paper in new_papers if paper.is_hidden)
            Paper.objects.bulk_create(new_papers, batch_size=LOOKUP_CHUNK)
            new_ids = _ids_of(new_papers)
            summary.to_embed += new_ids
        summary.to_embed += [pk for pk, paper in changed_papers.items() if paper.embedding is None]
        summary.to_file = sorted({paper.pk for paper in named if paper.pk is not None} | set(new_ids))
        if changed_papers:
            # bulk_update does not run auto_now, so the timestamp is set here.
            now = timezone.now()
            for paper in changed_papers.values():
                paper.updated_at = now
            Paper.objects.bulk_update(
                list(changed_papers.values()), sorted(changed_fields | {"updated_at"}), batch_size=LOOKUP_CHUNK
            )
    if new_papers or changed_papers:
        from digest.page_cache import catalog_changed

        catalog_changed()
    return summary


def _ids_of(created: list[Paper]) -> list[int]:
    if all(paper.pk is not None for paper in created):
        return [paper.pk for paper in created]
    # A backend that does not return ids from bulk inserts: find them by title.
    keys = [paper.title_key for paper in created]
    return [pk for chunk in _chunks(keys) for pk in Paper.objects.filter(title_key__in=chunk).values_list("pk", flat=True)]


def _match_key(title: str) -> str:
    # title_key keeps ASCII letters and digits only, so a title in Greek or Chinese has
    # an empty key; such titles must match exactly rather than all match each other.
    return title_key(title) or f"={title}"


def _chunks(values: Iterable[str]) -> Iterator[list[str]]:
    values = sorted(values)
    for start in range(0, len(values), LOOKUP_CHUNK):
        yield values[start : start + LOOKUP_CHUNK]


def _existing_papers(records: list[PaperRecord]) -> list[Paper]:
    ids = {record.arxiv_id for record in records if record.arxiv_id}
    keys = {title_key(record.title) for record in records} - {""}
    exact_titles = {record.title for record in records if not title_key(record.title)}
    found: dict[int, Paper] = {}
    for lookup, values in (("arxiv_id__in", ids), ("title_key__in", keys), ("title__in", exact_titles)):
        for chunk in _chunks(values):
            found.update((paper.pk, paper) for paper in Paper.objects.filter(**{lookup: chunk}))
    return list(found.values())


class _CatalogIndex:
    """The papers a batch of records can match, by arXiv id and by title key; papers
    created earlier in the same batch are added, so a repeated record merges too."""

    def __init__(self, papers: Iterable[Paper]) -> None:
        self.by_id: dict[str, Paper] = {}
        self.by_title: dict[str, list[Paper]] = defaultdict(list)
        for paper in papers:
            self.add(paper)

    def add(self, paper: Paper) -> None:
        if paper.arxiv_id:
            self.by_id[paper.arxiv_id] = paper
        same_title = self.by_title[_match_key(paper.title)]
        if not any(other is paper for other in same_title):
            same_title.append(paper)

    def find(self, record: PaperRecord) -> Paper | None:
        if record.arxiv_id and record.arxiv_id in self.by_id:
            return self.by_id[record.arxiv_id]
        for paper in self.by_title.get(_match_key(record.title), []):
            # Two papers with one title but different ids are two papers.
            if not (record.arxiv_id and paper.arxiv_id and record.arxiv_id != paper.arxiv_id):
                return paper
        return None


def _is_empty(value: object) -> bool:
    return value is None or value == "" or value == []


def _new_paper(record: PaperRecord) -> Paper:
    paper = Paper(
        title=record.title,
        arxiv_id=record.arxiv_id,
        is_featured=bool(record.is_featured),
        is_hidden=bool(record.is_hidden),
    )
    for name in KEEP_FIRST_FIELDS + LATEST_FIELDS:
        value = getattr(record, name)
        if not _is_empty(value):
            setattr(paper, name, value)
    # bulk_create does not call Paper.save(), which is where title_key is usually set.
    paper.title_key = title_key(paper.title)
    return paper


def _merge(paper: Paper, record: PaperRecord) -> set[str]:
    """Copy what the record adds onto the paper; return the names of changed fields.
    An empty value never blanks a filled field, and curator flags are left alone."""
    changed = set()
    if record.arxiv_id and not paper.arxiv_id:
        paper.arxiv_id = record.arxiv_id
        changed.add("arxiv_id")
    for name in KEEP_FIRST_FIELDS:
        value = getattr(record, name)
        if not _is_empty(value) and _is_empty(getattr(paper, name)):
            setattr(paper, name, value)
            changed.add(name)
    for name in LATEST_FIELDS:
        value = getattr(record, name)
        if not _is_empty(value) and getattr(paper, name) != value:
            setattr(paper, name, value)
            changed.add(name)
    if "abstract" in changed and paper.embedding is not None:
        # The vector said what the old abstract meant; the import computes a new one.
        paper.embedding = None
        changed.add("embedding")
    return changed


# --- Export -----------------------------------------------------------------------------


def paper_as_export(paper: Paper) -> dict[str, object]:
    values = {name: getattr(paper, name) for name in EXPORT_FIELDS}
    for name, value in values.items():
        if hasattr(value, "isoformat"):
            values[name] = value.isoformat()
    return values


def write_export(out: TextIO, papers: Iterable[Paper] | None = None) -> int:
    """Write the catalog (or `papers`) as the JSON export that import_papers reads back,
    curator flags included; return how many papers were written. One paper per line
    keeps the file readable and diffable, and papers are streamed, not held in memory.
    Every write ends with a newline (Django's command output wrapper expects that)."""
    if papers is None:
        papers = Paper.objects.order_by("pk").iterator(chunk_size=LOOKUP_CHUNK)
    header = {"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "exported_at": timezone.now().isoformat()}
    # The header object, left open ("}" cut off) for the papers list that follows.
    out.write(json.dumps(header)[:-1] + ', "papers": [\n')
    count = 0
    pending = None
    for paper in papers:
        if pending is not None:
            out.write(pending + ",\n")
        pending = json.dumps(paper_as_export(paper), ensure_ascii=False)
        count += 1
    if pending is not None:
        out.write(pending + "\n")
    out.write("]}\n")
    return count
