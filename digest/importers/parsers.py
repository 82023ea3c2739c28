"""Parsers: the bytes of a file or URL in, PaperRecords and RecordErrors out.

Every parser reads its whole source before anything is written: a source of the wrong
format, or one cut short, raises FormatError and so writes nothing. A single bad record
becomes a RecordError naming its position, and the rest of the source still imports.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from django.utils import timezone

from .records import (
    EXPORT_FORMAT,
    EXPORT_VERSION,
    LONG_TEXT_MAX,
    ORGANIZATION_MAX,
    FormatError,
    PaperRecord,
    Parsed,
    RecordError,
    RecordProblem,
    SourceError,
    arxiv_id_value,
    clean_text,
    count_value,
    date_value,
    flag_value,
    json_kind,
    name_list,
    quoted,
    shorten,
    text_value,
    title_value,
    url_value,
)

FORMATS = ("listing", "hf", "arxiv", "json")
FORMAT_NAMES = {
    "listing": "a Daily Papers listing",
    "hf": "Hugging Face daily papers JSON",
    "arxiv": "an arXiv Atom feed",
    "json": "a Daily Papers Digest export",
}
HF_PAPER_PAGE = "https://huggingface.co/papers/{}"


@dataclass
class ParsedSource:
    format: str
    items: list[Parsed]

    @property
    def records(self) -> list[PaperRecord]:
        return [item for item in self.items if isinstance(item, PaperRecord)]

    @property
    def errors(self) -> list[RecordError]:
        return [item for item in self.items if isinstance(item, RecordError)]


def parse_source(data: bytes, fmt: str = "auto", *, listed_on: date | None = None) -> ParsedSource:
    """Read `data` as `fmt` ("auto" detects it). `listed_on` fills the listed day of
    records whose source gives none; a listing gives none at all, so it defaults to
    today there (and only there: an arXiv record is not news just because it was
    imported today)."""
    text = decode_text(data)
    if fmt == "auto":
        fmt = detect_format(text)
    if fmt not in PARSERS:
        raise FormatError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    items = PARSERS[fmt](text)
    day = listed_on or (timezone.localdate() if fmt == "listing" else None)
    if day:
        items = [
            replace(item, listed_on=day) if isinstance(item, PaperRecord) and not item.listed_on else item
            for item in items
        ]
    return ParsedSource(fmt, items)


def decode_text(data: bytes) -> str:
    if b"\x00" in data[:4096]:
        raise FormatError("a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FormatError(
            f"not UTF-8 text (byte {data[error.start]:#04x} at offset {error.start})"
        ) from None


def detect_format(text: str) -> str:
    """Tell the format from the first character, or the listing's page header. Each
    parser then checks the structure and says clearly when the guess was wrong."""
    start = text.lstrip()[:200].lower()
    if start.startswith(("<!doctype html", "<html")):
        raise FormatError("a web page (HTML), not a feed: does the URL point at a page instead of the API?")
    first = start[:1]
    if first == "[":
        return "hf"
    if first == "{":
        return "json"
    if first == "<":
        return "arxiv"
    if _listing_body_start(_split_lines(text)) is not None:
        return "listing"
    raise FormatError(
        "not a format this command reads (a Daily Papers listing with its page header, "
        "Hugging Face daily papers JSON, an arXiv Atom feed or an export); "
        "if it is one of them, choose its format"
    )


# --- The Daily Papers listing ---------------------------------------------------------
#
# The text of the Daily Papers web page: a few header lines ("new", ..., "Daily Papers",
# "by AK and the research community"), then for each paper a one-line title and a
# one-paragraph abstract, paragraphs separated by blank lines. There is no id or marker,
# so a title is told from an abstract by its shape.

LISTING_HEADER_LINES = 5
# Longer than any real title, far shorter than any real abstract.
LISTING_TITLE_MAX = 300


@dataclass
class _Paragraph:
    line: int  # of its first line, counted from 1
    text: str
    line_count: int

    def looks_like_title(self) -> bool:
        if self.line_count > 1 or len(self.text) > LISTING_TITLE_MAX:
            return False
        # Titles are phrases; a one-line abstract is sentences ending in a full stop.
        return not (self.text.endswith(".") and len(self.text.split()) >= 12)


def _split_lines(text: str) -> list[str]:
    # Not str.splitlines(): it also breaks at form feeds and Unicode separators, which
    # would put our line numbers off from what an editor shows.
    return re.split(r"\r\n|\r|\n", text)


def _listing_body_start(lines: list[str]) -> int | None:
    """Index of the first line after the page header, or None if there is no header.
    The header is recognised by its "Daily Papers" line among the first five lines."""
    seen = 0
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        seen += 1
        if seen > LISTING_HEADER_LINES:
            return None
        if line.strip().casefold() == "daily papers":
            following = [i for i in range(index + 1, len(lines)) if lines[i].strip()]
            if following and lines[following[0]].strip().casefold().startswith("by "):
                return following[0] + 1  # the byline belongs to the header
            return index + 1
    return None


def _paragraphs(lines: list[str], start: int) -> list[_Paragraph]:
    paragraphs: list[_Paragraph] = []
    current: list[str] = []
    first_line = 0
    for index in range(start, len(lines) + 1):
        line = lines[index].strip() if index < len(lines) else ""
        if line:
            if not current:
                first_line = index + 1
            current.append(line)
        elif current:
            paragraphs.append(_Paragraph(first_line, clean_text(" ".join(current)), len(current)))
            current = []
    return paragraphs


def parse_listing(text: str) -> list[Parsed]:
    """Records (title and abstract) from a Daily Papers listing, header optional."""
    lines = _split_lines(text)
    start = _listing_body_start(lines)
    if start is None and text.lstrip()[:1] in ("{", "[", "<"):
        raise FormatError(f"not {FORMAT_NAMES['listing']}: this looks like JSON or XML")
    start = start or 0
    paragraphs = [p for p in _paragraphs(lines, start) if p.text]
    items: list[Parsed] = []
    index = 0
    while index < len(paragraphs):
        title = paragraphs[index]
        position = f"line {title.line}"
        if not title.looks_like_title():
            items.append(RecordError(position, (
                f"expected a title, found a paragraph of {len(title.text)} characters "
                f"({quoted(title.text, 40)}): an abstract without its title, or split in two?"
            )))
            index += 1
            continue
        abstract = paragraphs[index + 1] if index + 1 < len(paragraphs) else None
        if abstract is None:
            items.append(RecordError(position, f"title {quoted(title.text)} has no abstract (the file ends)"))
            break
        if abstract.looks_like_title():
            items.append(RecordError(position, (
                f"title {quoted(title.text)} has no abstract "
                f"(the next paragraph, line {abstract.line}, is another title)"
            )))
            index += 1
            continue
        items.append(PaperRecord(
            title=title.text, position=position, abstract=shorten(abstract.text, LONG_TEXT_MAX)
        ))
        index += 2
    return items


# --- Hugging Face daily papers API ------------------------------------------------------


def _load_json(text: str, fmt: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise FormatError(
            f"not {FORMAT_NAMES[fmt]}: invalid JSON ({error.msg} at line {error.lineno}, "
            f"column {error.colno})"
        ) from None
    except RecursionError:
        raise FormatError(f"not {FORMAT_NAMES[fmt]}: JSON nested too deeply") from None


def _api_error_hint(value: object) -> str:
    # An API that fails often answers {"error": "..."}: show it, it says what went wrong.
    if isinstance(value, dict) and isinstance(value.get("error"), str):
        return f" (it says: {quoted(value['error'], 120)})"
    return ""


def _read_each(entries: list, read: Callable[[Any, str], PaperRecord]) -> list[Parsed]:
    items: list[Parsed] = []
    for number, entry in enumerate(entries, 1):
        position = f"entry {number}"
        try:
            items.append(read(entry, position))
        except RecordProblem as problem:
            items.append(RecordError(position + _which_paper(entry), str(problem)))
    return items


def _which_paper(entry: object) -> str:
    """' (“Title”, 2410.23168)' for a rejected entry that names its paper at all: a
    curator finds it in the file, or on arXiv, by that rather than by its number."""
    found: list[str] = []
    for record in (entry, entry.get("paper") if isinstance(entry, dict) else None):
        if not isinstance(record, dict):
            continue
        title, ident = record.get("title"), record.get("arxiv_id") or record.get("id")
        if isinstance(title, str) and title.strip() and not found:
            found.append(quoted(" ".join(title.split()), 60))
        if isinstance(ident, str) and ident.strip() and len(found) < 2:
            found.append(ident.strip()[:40])
    return f" ({', '.join(found)})" if found else ""


def parse_hf_daily_papers(text: str) -> list[Parsed]:
    """Records from /api/daily_papers: a list of entries, each with a `paper` object."""
    value = _load_json(text, "hf")
    if not isinstance(value, list):
        raise FormatError(
            f"not {FORMAT_NAMES['hf']}: expected a list of entries, found {json_kind(value)}"
            + _api_error_hint(value)
        )
    if value and not any(isinstance(entry, dict) and isinstance(entry.get("paper"), dict) for entry in value):
        raise FormatError(f"not {FORMAT_NAMES['hf']}: no entry has a \"paper\" object")
    return _read_each(value, _hf_record)


def _hf_authors(value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise RecordProblem(f"paper.authors is {json_kind(value)}, not a list")
    names = []
    for author in value:
        if isinstance(author, dict):
            # Hidden authors are not shown on the paper's HF page; show what it shows.
            if author.get("hidden") is True:
                continue
            author = author.get("name")
        if not isinstance(author, str):
            raise RecordProblem(f"paper.authors holds {json_kind(author)} where a name should be")
        name = shorten(clean_text(author), 300)
        if name:
            names.append(name)
    return names


def _hf_organization(entry: dict, paper: dict) -> str:
    value = entry.get("organization") or paper.get("organization")
    if isinstance(value, dict):
        value = value.get("fullname") or value.get("name")
    return text_value(value, "organization", limit=ORGANIZATION_MAX)


def _hf_record(entry: object, position: str) -> PaperRecord:
    if not isinstance(entry, dict):
        raise RecordProblem(f"is {json_kind(entry)}, not an object")
    paper = entry.get("paper")
    if not isinstance(paper, dict):
        raise RecordProblem('has no "paper" object')
    arxiv_id = arxiv_id_value(paper.get("id"), "paper.id", required=True)
    return PaperRecord(
        position=position,
        arxiv_id=arxiv_id,
        # The outer entry repeats title and summary; use them if the paper lacks them.
        title=title_value(paper.get("title") or entry.get("title"), "paper.title"),
        abstract=text_value(paper.get("summary") or entry.get("summary"), "paper.summary"),
        authors=_hf_authors(paper.get("authors")),
        published_on=date_value(paper.get("publishedAt"), "paper.publishedAt"),
        # The day it was on the daily list; the outer publishedAt is not that day.
        listed_on=date_value(paper.get("submittedOnDailyAt"), "paper.submittedOnDailyAt"),
        page_url=HF_PAPER_PAGE.format(arxiv_id),
        code_url=url_value(paper.get("githubRepo"), "paper.githubRepo", position),
        project_url=url_value(paper.get("projectPage"), "paper.projectPage", position),
        upvotes=count_value(paper.get("upvotes"), "paper.upvotes"),
        github_stars=count_value(paper.get("githubStars"), "paper.githubStars"),
        num_comments=count_value(entry.get("numComments"), "numComments"),
        ai_summary=text_value(paper.get("ai_summary"), "paper.ai_summary"),
        ai_keywords=name_list(paper.get("ai_keywords"), "paper.ai_keywords"),
        organization=_hf_organization(entry, paper),
    )


# --- arXiv API Atom feed ----------------------------------------------------------------

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"


def parse_arxiv_atom(text: str) -> list[Parsed]:
    """Records from an arXiv API (/api/query) Atom feed."""
    try:
        root = SafeET.fromstring(text)
    except SafeET.ParseError as error:
        raise FormatError(f"not {FORMAT_NAMES['arxiv']}: the XML is not well-formed ({error})") from None
    except DefusedXmlException as error:
        raise FormatError(f"not {FORMAT_NAMES['arxiv']}: unsafe XML refused ({error})") from None
    if root.tag != f"{ATOM}feed":
        local_name = root.tag.rpartition("}")[2]
        raise FormatError(f"not {FORMAT_NAMES['arxiv']}: XML whose root element is <{local_name}>")
    entries = root.findall(f"{ATOM}entry")
    for entry in entries:
        # A bad query is answered with a feed holding one "Error" entry.
        if "/api/errors" in (_child_text(entry, f"{ATOM}id") or ""):
            message = clean_text(_child_text(entry, f"{ATOM}summary") or "unknown error")
            raise SourceError(f"arXiv answered with an error: {message}")
    return _read_each(entries, _atom_record)


def _child_text(element: Element, tag: str) -> str | None:
    child = element.find(tag)
    return None if child is None else "".join(child.itertext())


def _atom_record(entry: Element, position: str) -> PaperRecord:
    page_url = pdf_url = ""
    for link in entry.findall(f"{ATOM}link"):
        if link.get("rel") == "alternate":
            page_url = url_value(link.get("href"), "alternate link", position)
        elif link.get("title") == "pdf" or link.get("type") == "application/pdf":
            pdf_url = url_value(link.get("href"), "pdf link", position)
    primary = entry.find(f"{ARXIV}primary_category")
    terms = [primary.get("term")] if primary is not None else []
    terms += [category.get("term") for category in entry.findall(f"{ATOM}category")]
    authors = [clean_text(_child_text(author, f"{ATOM}name") or "") for author in entry.findall(f"{ATOM}author")]
    return PaperRecord(
        position=position,
        arxiv_id=arxiv_id_value(_child_text(entry, f"{ATOM}id"), "id", required=True),
        title=title_value(_child_text(entry, f"{ATOM}title")),
        abstract=text_value(_child_text(entry, f"{ATOM}summary"), "summary"),
        authors=[shorten(name, 300) for name in authors if name],
        # The first version's date; <updated> is the latest version's and has no column.
        published_on=date_value(_child_text(entry, f"{ATOM}published"), "published"),
        page_url=page_url,
        pdf_url=pdf_url,
        # Primary category first, each once.
        categories=list(dict.fromkeys(name_list([t for t in terms if t], "category"))),
        comment=text_value(_child_text(entry, f"{ARXIV}comment"), "comment"),
    )


# --- The project's own export -----------------------------------------------------------


def parse_export(text: str) -> list[Parsed]:
    """Records from `manage.py export_papers`, curator flags included."""
    value = _load_json(text, "json")
    if not isinstance(value, dict) or value.get("format") != EXPORT_FORMAT:
        raise FormatError(
            f"not {FORMAT_NAMES['json']}: no \"format\": \"{EXPORT_FORMAT}\" marker"
            + _api_error_hint(value)
        )
    if value.get("version") != EXPORT_VERSION:
        raise FormatError(
            f"export version {quoted(value.get('version'))}; this program reads version {EXPORT_VERSION}"
        )
    papers = value.get("papers")
    if not isinstance(papers, list):
        raise FormatError('the export has no "papers" list')
    return _read_each(papers, _export_record)


def _export_record(item: object, position: str) -> PaperRecord:
    if not isinstance(item, dict):
        raise RecordProblem(f"is {json_kind(item)}, not an object")
    return PaperRecord(
        position=position,
        arxiv_id=arxiv_id_value(item.get("arxiv_id"), "arxiv_id"),
        title=title_value(item.get("title")),
        abstract=text_value(item.get("abstract"), "abstract"),
        authors=name_list(item.get("authors"), "authors"),
        published_on=date_value(item.get("published_on"), "published_on"),
        listed_on=date_value(item.get("listed_on"), "listed_on"),
        page_url=url_value(item.get("page_url"), "page_url", position),
        pdf_url=url_value(item.get("pdf_url"), "pdf_url", position),
        code_url=url_value(item.get("code_url"), "code_url", position),
        project_url=url_value(item.get("project_url"), "project_url", position),
        upvotes=count_value(item.get("upvotes"), "upvotes"),
        github_stars=count_value(item.get("github_stars"), "github_stars"),
        num_comments=count_value(item.get("num_comments"), "num_comments"),
        ai_summary=text_value(item.get("ai_summary"), "ai_summary"),
        ai_keywords=name_list(item.get("ai_keywords"), "ai_keywords"),
        categories=name_list(item.get("categories"), "categories"),
        comment=text_value(item.get("comment"), "comment"),
        organization=text_value(item.get("organization"), "organization", limit=ORGANIZATION_MAX),
        is_featured=flag_value(item.get("is_featured"), "is_featured"),
        is_hidden=flag_value(item.get("is_hidden"), "is_hidden"),
    )


PARSERS: dict[str, Callable[[str], list[Parsed]]] = {
    "listing": parse_listing,
    "hf": parse_hf_daily_papers,
    "arxiv": parse_arxiv_atom,
    "json": parse_export,
}
