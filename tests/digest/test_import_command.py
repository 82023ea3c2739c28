"""`manage.py import_papers`: what an operator sees and what ends up in the catalog."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from digest.models import Paper

from .feed_server import FIXTURES, SAMPLE_LISTING, feed_server  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
TOKENFORMER = "TokenFormer: Rethinking Transformer Scaling with Tokenized Model Parameters"


def import_papers(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_papers", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def database_url_of_this_test() -> str:
    """The URL of pytest-django's test database, for a command run in a subprocess."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def run_command(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url_of_this_test(), "FEED_TIMEOUT_SECONDS": "1"}
    return subprocess.run(
        [sys.executable, "manage.py", "import_papers", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )


@pytest.mark.django_db
def test_it_imports_the_sample_listing_twice_without_duplicating_a_paper():
    first, progress = import_papers(str(SAMPLE_LISTING))
    second, _ = import_papers(str(SAMPLE_LISTING))

    assert first.splitlines()[-1] == "created 202, updated 0, unchanged 0, rejected 0"
    assert second.splitlines()[-1] == "created 0, updated 0, unchanged 202, rejected 0"
    assert Paper.objects.count() == 202
    assert "202/202" in progress  # the progress bar, on stderr
    paper = Paper.objects.get(title=TOKENFORMER)
    assert paper.listed_on == timezone.localdate()
    assert paper.title_key == "tokenformer rethinking transformer scaling with tokenized model parameters"


@pytest.mark.django_db
def test_it_gives_listing_papers_the_day_named_with_listed_on():
    import_papers(str(SAMPLE_LISTING), "--listed-on", "2024-10-31")

    assert set(Paper.objects.values_list("listed_on", flat=True)) == {date(2024, 10, 31)}


@pytest.mark.django_db
def test_it_merges_one_paper_from_the_listing_hf_and_arxiv_as_it_gains_fields():
    import_papers(str(SAMPLE_LISTING), "--listed-on", "2024-10-31")
    listing_only = Paper.objects.get(title=TOKENFORMER)
    assert listing_only.arxiv_id is None and listing_only.authors == []

    hf, _ = import_papers(str(FIXTURES / "hf_daily_papers.json"))
    arxiv, _ = import_papers(str(FIXTURES / "arxiv_query.atom"))

    # The HF file holds 4 papers that are in the listing and 1 that is not (Attention);
    # the arXiv file then only adds to papers already in the catalog, except Maldacena.
    assert hf.splitlines()[-1] == "created 1, updated 4, unchanged 0, rejected 1"
    assert arxiv.splitlines()[-1] == "created 1, updated 3, unchanged 0, rejected 1"
    paper = Paper.objects.get(arxiv_id="2410.23168")
    assert paper.pk == listing_only.pk
    assert Paper.objects.filter(title_key=listing_only.title_key).count() == 1
    # From the listing:
    assert paper.listed_on == date(2024, 10, 31)
    # From HF:
    assert paper.upvotes == 24
    assert paper.authors[0] == "Haiyang Wang"
    assert paper.code_url == "https://github.com/Haiyang-W/TokenFormer"
    assert paper.page_url == "https://huggingface.co/papers/2410.23168"
    assert paper.organization == "Max Planck Institute for Informatics"
    assert paper.published_on == date(2024, 10, 30)
    # From arXiv:
    assert paper.pdf_url == "http://arxiv.org/pdf/2410.23168v2"
    assert paper.categories == ["cs.LG", "cs.CV", "cs.AI"]
    assert paper.comment.startswith("17 pages, 5 figures")


@pytest.mark.django_db
def test_it_keeps_curator_flags_set_in_the_admin_when_sources_are_imported_again():
    import_papers(str(SAMPLE_LISTING))
    Paper.objects.filter(title=TOKENFORMER).update(is_featured=True)
    Paper.objects.filter(title__startswith="PixArt-Σ").update(is_hidden=True)

    import_papers(str(SAMPLE_LISTING))
    import_papers(str(FIXTURES / "hf_daily_papers.json"))

    assert Paper.objects.get(title=TOKENFORMER).is_featured
    assert Paper.objects.get(arxiv_id="2403.04692").is_hidden
    assert Paper.objects.filter(is_featured=True).count() == 1


@pytest.mark.django_db
def test_it_lists_each_rejected_record_with_its_position_and_imports_the_rest(tmp_path):
    listing = tmp_path / "listing.txt"
    abstract = "An abstract long enough to be one, written as several sentences. " * 5
    listing.write_text(
        "Daily Papers\r\n\r\nGood Paper\r\n\r\n" + abstract + "\r\n\r\nOrphan Title\r\n\r\n"
        "Another Good Paper\r\n\r\n" + abstract + "\r\n",
        encoding="utf-8",
    )

    out, _ = import_papers(str(listing))

    assert out.splitlines() == [
        "embedded 2 papers",
        "rejected line 7: title 'Orphan Title' has no abstract (the next paragraph, line 9, is another title)",
        "created 2, updated 0, unchanged 0, rejected 1",
    ]
    assert set(Paper.objects.values_list("title", flat=True)) == {"Good Paper", "Another Good Paper"}


@pytest.mark.django_db
def test_a_source_whose_every_record_is_rejected_fails_so_that_cron_notices(tmp_path):
    source = tmp_path / "bad.json"
    source.write_text('[{"paper": {"id": "x", "title": "A paper", "summary": "An abstract."}}]')
    with pytest.raises(CommandError, match=r"nothing imported, all 1 records were rejected"):
        import_papers(str(source), "--format", "hf")
    assert not Paper.objects.exists()


@pytest.mark.django_db
def test_it_imports_from_a_url(feed_server):  # noqa: F811
    out, _ = import_papers(feed_server.url("/api/daily_papers?date=2024-10-31"))

    assert out.splitlines() == [
        "embedded 5 papers",
        "rejected entry 5 ('A Record Whose Id Is Not an arXiv Id', not-an-arxiv-id): "
        "paper.id 'not-an-arxiv-id' is not an arXiv id",
        "created 5, updated 0, unchanged 0, rejected 1",
    ]
    assert Paper.objects.get(arxiv_id="2410.23168").upvotes == 24
    assert "DailyPapersDigest/" in feed_server.hits[0].user_agent


@pytest.mark.django_db
def test_it_rejects_an_unknown_listed_on_date():
    with pytest.raises(CommandError, match="not a date"):
        import_papers(str(SAMPLE_LISTING), "--listed-on", "31/10/2024")


# --- Failures: one line, exit status 1, nothing written ---------------------------------
#
# These run the real command in a subprocess (exit status, stderr) against this test's
# database, which therefore has to be a committed one. serialized_rollback, as in the
# other transactional tests of the project, puts the migrations' data (content types,
# default topics) back the way the next transactional test expects it.
committed_db = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def assert_failed_cleanly(result: subprocess.CompletedProcess, message: str) -> None:
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(error_lines) == 1, result.stderr
    assert message in error_lines[0]
    assert result.stdout == ""


@pytest.mark.parametrize(
    "source, message",
    [
        (FIXTURES / "huggingface_papers_page.html", "a web page (HTML), not a feed"),
        (FIXTURES / "no_such_file.json", "cannot read the file: No such file or directory"),
    ],
)
@committed_db
def test_it_fails_with_one_line_on_a_wrong_or_missing_file_and_writes_nothing(source, message):
    Paper.objects.create(title="Already in the catalog")

    result = run_command(str(source))

    assert_failed_cleanly(result, f"{source}: {message}")
    assert list(Paper.objects.values_list("title", flat=True)) == ["Already in the catalog"]


@committed_db
def test_it_writes_nothing_from_a_file_cut_short_after_good_entries(tmp_path):
    atom = (FIXTURES / "arxiv_query.atom").read_text(encoding="utf-8")
    cut = tmp_path / "cut.atom"
    cut.write_text(atom[: atom.index("<entry>", atom.index("<entry>") + 1) + 200], encoding="utf-8")

    result = run_command(str(cut))

    assert_failed_cleanly(result, "not an arXiv Atom feed: the XML is not well-formed")
    assert Paper.objects.count() == 0


@committed_db
def test_it_fails_with_one_line_on_an_http_error_or_timeout(feed_server):  # noqa: F811
    server_error = run_command(feed_server.url("/error"))
    timeout = run_command(feed_server.url("/slow"))

    assert_failed_cleanly(server_error, "the server answered HTTP 500 Internal Server Error")
    assert_failed_cleanly(timeout, "timed out after 1s without an answer")
    assert Paper.objects.count() == 0
