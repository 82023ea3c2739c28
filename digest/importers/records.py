"""The plain values every importer deals in: a PaperRecord per paper read, a RecordError
per record that could not be read, the errors that stop a whole import, and the small
helpers that turn a source's raw values into clean field values."""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from digest.models import normalise_arxiv_id

logger = logging.getLogger(__name__)

# Column sizes of digest.models.Paper: a longer value would fail on PostgreSQL (SQLite
# does not check), so parsers enforce them before anything is written.
TITLE_MAX = 500
URL_MAX = 500
ORGANIZATION_MAX = 200
# No real abstract, AI summary or arXiv comment comes near this; a longer one is a broken
# record, and cutting it keeps one bad record from bloating every digest it appears in.
LONG_TEXT_MAX = 10_000
# Author names, keywords and categories.
NAME_MAX = 300
# PositiveIntegerField is a 32-bit integer on PostgreSQL.
COUNT_MAX = 2_147_483_647

# The project's own export (see digest.importers.catalog.write_export).
EXPORT_FORMAT = "daily-papers-digest/papers"
EXPORT_VERSION = 1

# New-style ids (2410.23168) and old-style ones (hep-th/9711200, math.GT/0309136).
ARXIV_ID_RE = re.compile(r"\d{4}\.\d{4,5}|[a-z]+(?:-[a-z]+)*(?:\.[A-Z]{2})?/\d{7}")


class SourceError(Exception):
    """The source as a whole cannot be imported (unreadable, wrong format, HTTP error,
    timeout), so nothing from it is written. The message is meant for the operator."""


class FormatError(SourceError):
    """The bytes are not the format they were taken for."""


class FetchError(SourceError):
    """Fetching a URL failed in a way that trying again will not fix (404, bad URL)."""


class TransientFetchError(FetchError):
    """A timeout, a connection failure or a 5xx/429 answer: worth trying again later."""


class RecordProblem(Exception):
    """Raised while reading one record; it becomes a RecordError for that record only."""


@dataclass
class PaperRecord:
    """The values one source gives for one paper. Empty values ("", [], None) mean the
    source does not say, so they never blank what the catalog already knows."""

    title: str
    position: str = ""
    arxiv_id: str | None = None
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    published_on: date | None = None
    listed_on: date | None = None
    page_url: str = ""
    pdf_url: str = ""
    code_url: str = ""
    project_url: str = ""
    upvotes: int | None = None
    github_stars: int | None = None
    num_comments: int | None = None
    ai_summary: str = ""
    ai_keywords: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    comment: str = ""
    organization: str = ""
    # Only the project's own export carries curator flags; they apply on creation only.
    is_featured: bool | None = None
    is_hidden: bool | None = None


@dataclass(frozen=True)
class RecordError:
    """A record that was not imported: where it is in the source ("line 37",
    "entry 4"; counted from 1) and why."""

    position: str
    reason: str

    def __str__(self) -> str:
        return f"{self.position}: {self.reason}"


Parsed = PaperRecord | RecordError

# Control characters (C0, C1, line and paragraph separators) become spaces; invisible
# bidirectional controls, which can make text display as something it is not
# ("txt.exe" shown for "exe.txt"), go: the signup form refuses the same characters.
_CONTROL_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_url_validator = URLValidator(schemes=["http", "https"])


def clean_text(value: str) -> str:
    """Display text: HTML entities unescaped, control characters dropped (PostgreSQL
    refuses NUL), hard wraps and runs of whitespace collapsed, ends trimmed. Unicode is
    kept as it is."""
    text = _CONTROL_CHARS.sub(" ", _BIDI_CONTROLS.sub("", html.unescape(value)))
    return " ".join(text.split())


def shorten(text: str, limit: int) -> str:
    """Cut at `limit` characters, marking the cut so a reader sees text is missing."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def quoted(value: object, limit: int = 60) -> str:
    """A value as it appears in an error message: short and on one line."""
    if isinstance(value, str):
        return repr(shorten(" ".join(value.split()), limit))
    return shorten(repr(value), limit)


def json_kind(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false"}.get(
        type(value), "null" if value is None else "a number"
    )


def text_value(value: object, name: str, *, limit: int = LONG_TEXT_MAX) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RecordProblem(f"{name} is {json_kind(value)}, not text")
    return shorten(clean_text(value), limit)


def title_value(value: object, name: str = "title") -> str:
    """Titles are required and never cut: a title longer than the column is not a title
    but a sign the record is garbled, so it is rejected."""
    title = text_value(value, name, limit=10 * TITLE_MAX)
    if not title:
        raise RecordProblem(f"{name} is missing or empty")
    if len(title) > TITLE_MAX:
        raise RecordProblem(f"{name} is {len(title)} characters long (at most {TITLE_MAX})")
    return title


def arxiv_id_value(value: object, name: str, *, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise RecordProblem(f"{name} is missing")
        return None
    if not isinstance(value, str):
        raise RecordProblem(f"{name} is {json_kind(value)}, not an arXiv id")
    arxiv_id = normalise_arxiv_id(clean_text(value))
    if not arxiv_id or not ARXIV_ID_RE.fullmatch(arxiv_id):
        raise RecordProblem(f"{name} {quoted(value)} is not an arXiv id")
    return arxiv_id


def count_value(value: object, name: str) -> int | None:
    if value is None:
        return None
    # JSON has one number type: 12.0 is a fine count, true is not.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordProblem(f"{name} {quoted(value)} is not a whole number")
    if not 0 <= value <= COUNT_MAX:
        raise RecordProblem(f"{name} {value} is out of range")
    return value


def flag_value(value: object, name: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise RecordProblem(f"{name} {quoted(value)} is not true or false")


def date_value(value: object, name: str) -> date | None:
    """A date from "2024-10-30" or an ISO timestamp; timestamps count in UTC, the day
    the sources themselves list papers by."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            return moment.astimezone(UTC).date() if moment.tzinfo else moment.date()
    raise RecordProblem(f"{name} {quoted(value)} is not a date")


_BARE_HOST_PATH = re.compile(r"^(?:www\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}/\S*$", re.IGNORECASE)


def url_value(value: object, name: str, position: str) -> str:
    """A web address, or "" when the source gives none or an unusable one. An optional
    link is not worth losing the paper over, so a bad one is dropped with a warning in
    the log rather than rejecting the record."""
    if value is None or value == "":
        return ""
    url = value.strip() if isinstance(value, str) else ""
    if _BARE_HOST_PATH.match(url):
        # Sources often give "github.com/org/repo": a link without its scheme.
        url = "https://" + url
    try:
        if len(url) > URL_MAX:
            raise ValidationError("too long")
        _url_validator(url)
    except ValidationError:
        logger.warning("%s: ignoring %s %s: not a usable web address", position, name, quoted(value))
        return ""
    return url


def name_list(value: object, name: str) -> list[str]:
    """A list of short strings (keywords, categories), cleaned, empty ones dropped."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise RecordProblem(f"{name} is {json_kind(value)}, not a list")
    names = []
    for item in value:
        if not isinstance(item, str):
            raise RecordProblem(f"{name} holds {json_kind(item)}, not text")
        text = shorten(clean_text(item), NAME_MAX)
        if text:
            names.append(text)
    return names
