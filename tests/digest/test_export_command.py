"""`manage.py export_papers`: the catalog written out and read back by import_papers."""

from __future__ import annotations

import json
from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command

from digest.importers.catalog import EXPORT_FIELDS
from digest.models import Paper

from .feed_server import FIXTURES, SAMPLE_LISTING

pytestmark = pytest.mark.django_db

COMPARED_FIELDS = [name for name in EXPORT_FIELDS if name not in ("created_at", "updated_at")]


def catalog_snapshot() -> dict[str, dict]:
    return {
        paper.title: {name: getattr(paper, name) for name in COMPARED_FIELDS}
        for paper in Paper.objects.all()
    }


def fill_catalog() -> None:
    quiet = {"stdout": StringIO(), "stderr": StringIO()}
    call_command("import_papers", str(SAMPLE_LISTING), "--listed-on", "2024-10-31", **quiet)
    call_command("import_papers", str(FIXTURES / "hf_daily_papers.json"), **quiet)
    call_command("import_papers", str(FIXTURES / "arxiv_query.atom"), **quiet)
    Paper.objects.filter(arxiv_id="2410.23168").update(is_featured=True)
    Paper.objects.filter(arxiv_id="2403.04692").update(is_hidden=True, is_featured=True)


def test_it_round_trips_the_catalog_into_an_empty_database_with_curator_flags(tmp_path):
    fill_catalog()
    before = catalog_snapshot()
    export = tmp_path / "papers.json"
    err = StringIO()
    call_command("export_papers", "--output", str(export), stderr=err)
    Paper.objects.all().delete()

    out = StringIO()
    call_command("import_papers", str(export), stdout=out, stderr=StringIO())

    assert err.getvalue().strip() == f"exported 204 papers to {export}"
    assert out.getvalue().splitlines()[-1] == "created 204, updated 0, unchanged 0, rejected 0"
    assert catalog_snapshot() == before
    assert Paper.objects.get(arxiv_id="2403.04692").is_hidden
    assert set(Paper.objects.filter(is_featured=True).values_list("arxiv_id", flat=True)) == {
        "2410.23168", "2403.04692"
    }


def test_it_writes_the_export_to_standard_output_by_default():
    Paper.objects.create(
        title="PixArt-Σ", arxiv_id="2403.04692", authors=["Junsong Chen"],
        listed_on=date(2024, 3, 8), is_featured=True,
    )
    out = StringIO()

    call_command("export_papers", stdout=out, stderr=StringIO())

    export = json.loads(out.getvalue())
    assert (export["format"], export["version"]) == ("daily-papers-digest/papers", 1)
    [paper] = export["papers"]
    assert paper["title"] == "PixArt-Σ"  # unicode as such, not \u escapes
    assert "PixArt-Σ" in out.getvalue()
    assert paper["listed_on"] == "2024-03-08" and paper["is_featured"] is True


def test_it_reimports_its_own_export_as_unchanged(tmp_path):
    fill_catalog()
    export = tmp_path / "papers.json"
    call_command("export_papers", "-o", str(export), stderr=StringIO())

    out = StringIO()
    call_command("import_papers", str(export), stdout=out, stderr=StringIO())

    assert out.getvalue().splitlines()[-1] == "created 0, updated 0, unchanged 204, rejected 0"
