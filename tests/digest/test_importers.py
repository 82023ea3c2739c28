"""The parsers (each source's records and errors) and the upsert that keeps one paper per
real paper."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from digest.importers import (
    FormatError,
    PaperRecord,
    RecordError,
    SourceError,
    apply_records,
    parse_arxiv_atom,
    parse_export,
    parse_hf_daily_papers,
    parse_listing,
    parse_source,
)
from digest.models import Paper
from tests.conftest import queries_beyond_the_cache

from .feed_server import FIXTURES, SAMPLE_LISTING

HEADER = (
    "new\n\nGet trending papers in your email inbox!\n\nSubscribe\n\n"
    "Daily Papers\n\nby AK and the research community\n\n"
)
ABSTRACT = "We study a thing in depth. " * 12  # long enough to read as an abstract


def records_of(items):
    return [item for item in items if isinstance(item, PaperRecord)]


def errors_of(items):
    return [item for item in items if isinstance(item, RecordError)]


def by_id(items):
    return {record.arxiv_id: record for record in records_of(items)}


# --- The Daily Papers listing -----------------------------------------------------------


def test_it_reads_all_202_papers_of_the_sample_listing():
    items = parse_listing(SAMPLE_LISTING.read_text(encoding="utf-8"))

    assert errors_of(items) == []
    records = records_of(items)
    assert len(records) == 202
    assert records[0].title == "TokenFormer: Rethinking Transformer Scaling with Tokenized Model Parameters"
    assert records[0].abstract.startswith("Transformers have become the predominant architecture")
    assert records[0].position == "line 11"
    assert all(record.abstract for record in records)
    assert "PixArt-Σ: Weak-to-Strong Training of Diffusion Transformer for 4K Text-to-Image Generation" in {
        record.title for record in records
    }


def test_it_gives_the_listing_day_to_listing_records_defaulting_to_today():
    data = SAMPLE_LISTING.read_bytes()

    assert parse_source(data).records[0].listed_on == timezone.localdate()
    assert parse_source(data, listed_on=date(2024, 10, 31)).records[5].listed_on == date(2024, 10, 31)


def test_it_reads_a_listing_with_windows_line_endings_and_trailing_spaces_the_same():
    text = SAMPLE_LISTING.read_text(encoding="utf-8")
    windows = "\r\n".join(line + "  \t" for line in text.split("\n"))

    assert parse_listing(windows) == parse_listing(text)


def test_it_reports_a_title_without_abstract_and_imports_the_papers_around_it():
    text = HEADER + f"First Paper\n\n{ABSTRACT}\n\nLonely Title\n\nThird Paper\n\n{ABSTRACT}\n"

    items = parse_listing(text)

    assert [record.title for record in records_of(items)] == ["First Paper", "Third Paper"]
    [error] = errors_of(items)
    assert error.position == "line 15"
    assert "'Lonely Title' has no abstract" in error.reason
    assert "line 17" in error.reason


def test_it_reports_a_last_title_whose_abstract_is_missing():
    items = parse_listing(HEADER + f"First Paper\n\n{ABSTRACT}\n\nCut Off Here\n")

    assert [record.title for record in records_of(items)] == ["First Paper"]
    assert errors_of(items) == [RecordError("line 15", "title 'Cut Off Here' has no abstract (the file ends)")]


def test_it_reports_an_abstract_split_in_two_instead_of_taking_half_of_it_for_a_title():
    text = HEADER + f"First Paper\n\n{ABSTRACT}\n\n{ABSTRACT}\n\nSecond Paper\n\n{ABSTRACT}\n"

    items = parse_listing(text)

    assert [record.title for record in records_of(items)] == ["First Paper", "Second Paper"]
    [error] = errors_of(items)
    assert error.position == "line 15"
    assert "expected a title" in error.reason


def test_it_unescapes_entities_keeps_unicode_and_joins_a_wrapped_abstract_in_a_listing():
    text = HEADER + (
        "Q&amp;A with PixArt-Σ\n\n"
        "We answer &quot;questions&quot; about\n"
        "images, at length and with care, across many datasets and settings.\n"
    )

    [record] = parse_listing(text)

    assert record.title == "Q&A with PixArt-Σ"
    assert record.abstract == (
        'We answer "questions" about images, at length and with care, across many datasets and settings.'
    )


# --- Hugging Face daily papers ----------------------------------------------------------


def hf_items():
    return parse_hf_daily_papers((FIXTURES / "hf_daily_papers.json").read_text(encoding="utf-8"))


def test_it_reads_every_field_an_hf_entry_gives():
    tokenformer = by_id(hf_items())["2410.23168"]

    assert tokenformer.title == "TokenFormer: Rethinking Transformer Scaling with Tokenized Model Parameters"
    # The day it was on the daily list, not the outer entry's publishedAt (a day earlier).
    assert tokenformer.listed_on == date(2024, 10, 31)
    assert tokenformer.published_on == date(2024, 10, 30)
    assert tokenformer.upvotes == 24
    assert tokenformer.num_comments == 3
    assert tokenformer.github_stars == 545
    assert tokenformer.authors[0] == "Haiyang Wang" and tokenformer.authors[-1] == "Bernt Schiele"
    assert tokenformer.code_url == "https://github.com/Haiyang-W/TokenFormer"
    assert tokenformer.page_url == "https://huggingface.co/papers/2410.23168"
    assert tokenformer.organization == "Max Planck Institute for Informatics"
    assert tokenformer.ai_summary.startswith("TokenFormer treats model parameters as tokens & replaces")
    assert "token–parameter attention" in tokenformer.ai_summary
    assert "key-value parameter pairs" in tokenformer.ai_keywords
    # The summary is hard-wrapped in the API; the abstract reads as one paragraph.
    assert "\n" not in tokenformer.abstract and "due to their excellent" in tokenformer.abstract


def test_it_tolerates_missing_and_null_optional_hf_fields():
    records = by_id(hf_items())

    pixart = records["2403.04692"]
    assert pixart.title.startswith("PixArt-Σ")
    assert pixart.code_url == "" and pixart.github_stars is None and pixart.organization == ""
    assert pixart.project_url == "https://pixart-alpha.github.io/PixArt-sigma-project/"
    scaling = records["2408.03314"]
    assert scaling.num_comments is None and scaling.ai_keywords == [] and scaling.code_url == ""
    assert 'a "compute-optimal" scaling strategy' in scaling.abstract
    assert scaling.organization == "Google DeepMind"  # a plain string, not an object
    attention = records["1706.03762"]
    assert attention.listed_on is None and attention.project_url == ""
    assert attention.organization == "google"  # an object with a name but no fullname
    assert "Łukasz Kaiser" in attention.authors
    # A repository given without its scheme ("github.com/org/repo") still links.
    assert records["2312.11514"].code_url == "https://github.com/apple/llm-in-a-flash"


@pytest.mark.parametrize("given", ["javascript:alert(1)", "not a link", "ftp://example.org/x", "github.com"])
def test_an_unusable_link_is_dropped_and_the_paper_kept(given):
    from digest.importers.records import url_value

    assert url_value(given, "paper.githubRepo", "entry 1") == ""


def test_it_leaves_out_authors_hf_hides():
    pixart = by_id(hf_items())["2403.04692"]

    assert "Xiaozhe Ren" not in pixart.authors
    assert pixart.authors[:3] == ["Junsong Chen", "Chongjian Ge", "Enze Xie"]
    assert len(pixart.authors) == 9


def test_it_rejects_the_malformed_hf_entry_with_its_position_and_keeps_the_rest():
    items = hf_items()

    # Where, and which paper: its title and id, as the file gives them.
    assert errors_of(items) == [RecordError(
        "entry 5 ('A Record Whose Id Is Not an arXiv Id', not-an-arxiv-id)", "paper.id 'not-an-arxiv-id' is not an arXiv id"
    )]
    assert len(records_of(items)) == 5


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"error": "Invalid date"}', "expected a list of entries, found an object (it says: 'Invalid date')"),
        ('[{"title": "no paper"}]', 'no entry has a "paper" object'),
        ('[{"paper": {"id": "2410.23168"', "invalid JSON"),
    ],
)
def test_it_refuses_json_that_is_not_the_hf_daily_papers_api(text, message):
    with pytest.raises(FormatError, match=re.escape(message)):
        parse_hf_daily_papers(text)


# --- arXiv Atom -------------------------------------------------------------------------


def atom_items():
    return parse_arxiv_atom((FIXTURES / "arxiv_query.atom").read_text(encoding="utf-8"))


def test_it_reads_an_arxiv_entry_with_wrapping_collapsed_and_the_id_without_version():
    tokenformer = by_id(atom_items())["2410.23168"]

    assert tokenformer.title == "TokenFormer: Rethinking Transformer Scaling with Tokenized Model Parameters"
    assert tokenformer.abstract.startswith("Transformers have become the predominant architecture")
    assert "in foundation models due to their excellent performance" in tokenformer.abstract  # was wrapped
    assert "  " not in tokenformer.abstract and "\n" not in tokenformer.abstract
    assert tokenformer.published_on == date(2024, 10, 30)
    assert len(tokenformer.authors) == 8 and tokenformer.authors[0] == "Haiyang Wang"
    assert tokenformer.page_url == "http://arxiv.org/abs/2410.23168v2"
    assert tokenformer.pdf_url == "http://arxiv.org/pdf/2410.23168v2"
    assert tokenformer.categories == ["cs.LG", "cs.CV", "cs.AI"]  # primary first, each once
    assert tokenformer.comment == "17 pages, 5 figures. Code: https://github.com/Haiyang-W/TokenFormer"


def test_it_reads_old_style_ids_unicode_and_entities_from_arxiv():
    records = by_id(atom_items())

    maldacena = records["hep-th/9711200"]
    assert maldacena.pdf_url == "" and maldacena.categories == ["hep-th"]
    assert records["2403.04692"].title.startswith("PixArt-Σ: Weak-to-Strong Training")
    assert "higher fidelity & improved alignment" in records["2403.04692"].abstract
    assert records["1706.03762"].comment == "15 pages, 5 figures & 4 tables"
    assert "Łukasz Kaiser" in records["1706.03762"].authors


def test_it_rejects_the_malformed_atom_entry_with_its_number_and_keeps_the_rest():
    items = atom_items()

    assert errors_of(items) == [RecordError("entry 3", "title is missing or empty")]
    assert len(records_of(items)) == 4


def test_it_reports_an_arxiv_error_feed_as_a_failed_source():
    error_feed = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><entry>'
        "<id>http://arxiv.org/api/errors#incorrect_id_format_for_1234.5678v9x</id><title>Error</title>"
        "<summary>incorrect id format for 1234.5678v9x</summary></entry></feed>"
    )

    with pytest.raises(SourceError, match="arXiv answered with an error: incorrect id format for 1234.5678v9x"):
        parse_arxiv_atom(error_feed)


def test_it_refuses_xml_with_entity_expansion():
    bomb = '<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY a "aaaaaaaaaa">]><feed>&a;</feed>'

    with pytest.raises(FormatError, match="unsafe XML refused"):
        parse_arxiv_atom(bomb)


# --- Limits, detection ------------------------------------------------------------------


def test_it_rejects_an_overlong_title_and_shortens_an_overlong_organization():
    entries = [
        {"paper": {"id": "2401.00001", "title": "T" * 501}},
        {"paper": {"id": "2401.00002", "title": "Fine"}, "organization": {"fullname": "O" * 300}},
    ]

    items = parse_hf_daily_papers(json.dumps(entries))

    assert items[0].reason == "paper.title is 501 characters long (at most 500)"
    assert items[0].position.startswith("entry 1 ('TTTT") and items[0].position.endswith("…', 2401.00001)")
    assert len(items[1].organization) == 200 and items[1].organization.endswith("…")


@pytest.mark.parametrize(
    "name, fmt",
    [("hf_daily_papers.json", "hf"), ("arxiv_query.atom", "arxiv"), (SAMPLE_LISTING, "listing")],
)
def test_it_detects_each_format(name, fmt):
    assert parse_source((FIXTURES / name).read_bytes()).format == fmt


@pytest.mark.parametrize(
    "data, message",
    [
        ((FIXTURES / "huggingface_papers_page.html").read_bytes(), "a web page (HTML), not a feed"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a binary file"),
        (b"caf\xe9 au lait", "not UTF-8 text"),
        (b"arxiv_id,title\n2410.23168,TokenFormer\n", "not a format this command reads"),
        (b'{"papers": []}', 'no "format": "daily-papers-digest/papers" marker'),
        (b"<rss><channel/></rss>", "XML whose root element is <rss>"),
    ],
)
def test_it_refuses_a_source_it_cannot_read_with_a_clear_reason(data, message):
    with pytest.raises(FormatError, match=re.escape(message)):
        parse_source(data)


def test_it_refuses_an_export_written_by_a_newer_version():
    with pytest.raises(FormatError, match="export version 2; this program reads version 1"):
        parse_export('{"format": "daily-papers-digest/papers", "version": 2, "papers": []}')


# --- The upsert ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_matches_titles_that_differ_only_in_case_spacing_and_punctuation():
    apply_records([PaperRecord(title="TokenFormer: Rethinking Transformer Scaling")])

    summary = apply_records(
        [PaperRecord(title="tokenformer -- rethinking  transformer scaling", arxiv_id="2410.23168")]
    )

    assert (summary.created, summary.updated) == (0, 1)
    assert Paper.objects.get().arxiv_id == "2410.23168"


@pytest.mark.django_db
def test_it_keeps_two_papers_that_share_a_title_but_not_an_id():
    apply_records([PaperRecord(title="Introduction", arxiv_id="2401.00001")])

    summary = apply_records([PaperRecord(title="Introduction", arxiv_id="2401.00002")])

    assert summary.created == 1
    assert Paper.objects.count() == 2


@pytest.mark.django_db
def test_it_does_not_merge_different_titles_written_without_latin_letters():
    summary = apply_records([PaperRecord(title="大模型的推理"), PaperRecord(title="扩散模型综述")])
    again = apply_records([PaperRecord(title="大模型的推理")])

    assert summary.created == 2
    assert (again.created, again.unchanged) == (0, 1)


@pytest.mark.django_db
def test_it_never_blanks_a_filled_field_and_updates_changing_ones():
    apply_records([PaperRecord(title="A Paper", arxiv_id="2401.00001", abstract="Full abstract.", upvotes=5,
                               code_url="https://github.com/a/b", listed_on=date(2024, 1, 2))])

    summary = apply_records([PaperRecord(title="A Paper", arxiv_id="2401.00001v2", upvotes=9,
                                         code_url="https://github.com/other/repo", listed_on=date(2024, 3, 4))])

    paper = Paper.objects.get()
    assert summary.updated == 1
    assert paper.abstract == "Full abstract."
    assert paper.upvotes == 9
    # The first listing day and the first links stay: a paper does not move or flip.
    assert paper.listed_on == date(2024, 1, 2)
    assert paper.code_url == "https://github.com/a/b"


@pytest.mark.django_db
def test_it_counts_a_paper_repeated_in_one_source_once_in_the_catalog():
    record = PaperRecord(title="A Paper", arxiv_id="2401.00001", upvotes=3)

    summary = apply_records([record, PaperRecord(title="A Paper", arxiv_id="2401.00001", upvotes=4)])

    assert (summary.created, summary.updated) == (1, 1)
    assert Paper.objects.get().upvotes == 4


@pytest.mark.django_db
def test_it_never_changes_curator_flags_of_an_existing_paper():
    Paper.objects.create(title="A Paper", arxiv_id="2401.00001", is_featured=True, is_hidden=False)

    apply_records([PaperRecord(title="A Paper", arxiv_id="2401.00001", is_featured=False, is_hidden=True)])

    paper = Paper.objects.get()
    assert (paper.is_featured, paper.is_hidden) == (True, False)


@pytest.mark.django_db
def test_it_looks_up_and_writes_a_whole_listing_in_a_handful_of_queries():
    items = parse_source(SAMPLE_LISTING.read_bytes()).items
    apply_records(items[:100])

    # Lookups, one bulk insert and one bulk update, whatever the number of papers (and
    # the public pages' cache told the catalog changed).
    with CaptureQueriesContext(connection) as queries:
        summary = apply_records(
            [PaperRecord(title=record.title, upvotes=7) for record in records_of(items)]
        )
    assert len(queries_beyond_the_cache(queries)) <= 8

    assert (summary.created, summary.updated) == (102, 100)
