"""Paper catalog ingestion: parsers for each source, the upsert that keeps one paper per
real paper, the HTTP clients, and the whole imports the command and the task run."""

from .catalog import ImportSummary, apply_records, write_export
from .fetching import fetch_arxiv, fetch_source, fetch_url
from .parsers import (
    FORMATS,
    ParsedSource,
    detect_format,
    parse_arxiv_atom,
    parse_export,
    parse_hf_daily_papers,
    parse_listing,
    parse_source,
)
from .records import (
    FetchError,
    FormatError,
    PaperRecord,
    RecordError,
    SourceError,
    TransientFetchError,
)
from .sources import embed_imported, import_daily_feeds, import_source, read_source

__all__ = [
    "FORMATS",
    "FetchError",
    "FormatError",
    "ImportSummary",
    "PaperRecord",
    "ParsedSource",
    "RecordError",
    "SourceError",
    "TransientFetchError",
    "apply_records",
    "detect_format",
    "embed_imported",
    "fetch_arxiv",
    "fetch_source",
    "fetch_url",
    "import_daily_feeds",
    "import_source",
    "parse_arxiv_atom",
    "parse_export",
    "parse_hf_daily_papers",
    "parse_listing",
    "parse_source",
    "read_source",
    "write_export",
]
