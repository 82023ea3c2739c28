"""`preview_digest`: what a digest would hold, through the same code as the real send."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import subprocess

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from digest.models import Digest

from .sending_helpers import (
    BASE_DIR, LISTING_DAY, PYTHON, outbox_messages, paper, sample_catalog, subprocess_env, subscriber,
)

pytestmark = pytest.mark.django_db
DAY = LISTING_DAY.isoformat()


def preview(*args: str) -> str:
    out = io.StringIO()
    call_command("preview_digest", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def preview_json(*args: str) -> dict:
    return json.loads(preview(*args, "--json"))


@pytest.fixture
def catalog():
    found = sample_catalog()
    found.quant_paper.arxiv_id = "2411.00001"
    found.quant_paper.upvotes = 7
    found.quant_paper.save()
    paper("Quantized diffusion samplers", "We apply low-bit quantization to diffusion models.")
    return found


def test_json_has_the_documented_shape_and_lists_papers_in_rank_order(catalog):
    result = preview_json("--topics", "quantization,medical-imaging", "--keywords", "molecule; robot", "--date", DAY)

    assert set(result) == {"subject", "papers"}
    assert " more · " in result["subject"] and result["subject"].endswith("Medical Imaging")
    assert len(result["papers"]) >= 3
    for item in result["papers"]:
        assert set(item) == {"arxiv_id", "title", "score", "topic", "matched"}
        assert isinstance(item["score"], float) and isinstance(item["title"], str)
        assert item["topic"] in {"quantization", "medical-imaging", None}
        assert item["matched"] and all(isinstance(reason, str) for reason in item["matched"])
    scores = [item["score"] for item in result["papers"]]
    assert scores == sorted(scores, reverse=True)
    by_title = {item["title"]: item for item in result["papers"]}
    assert by_title[catalog.quant_paper.title]["arxiv_id"] == "2411.00001"
    assert by_title[catalog.quant_paper.title]["topic"] == "quantization"
    assert by_title[catalog.mri_paper.title]["arxiv_id"] is None
    assert by_title[catalog.mri_paper.title]["topic"] == "medical-imaging"


def test_limit_caps_the_papers_and_all_lifts_the_cap(catalog):
    reader = subscriber("quant@example.org", topics=[catalog.quantization], max_papers=1)

    assert len(preview_json("--email", reader.email, "--date", DAY)["papers"]) == 1
    assert len(preview_json("--email", reader.email, "--date", DAY, "--all")["papers"]) == 2
    assert len(preview_json("--topics", "quantization", "--date", DAY, "--limit", "1")["papers"]) == 1


def test_since_widens_the_window_to_earlier_listings(catalog):
    older = paper("Quantization from three days ago", "Old quantization work.", listed_on=LISTING_DAY - dt.timedelta(days=3))

    default = {p["title"] for p in preview_json("--topics", "quantization", "--date", DAY, "--all")["papers"]}
    since = (LISTING_DAY - dt.timedelta(days=3)).isoformat()
    wider = {p["title"] for p in preview_json("--topics", "quantization", "--date", DAY, "--since", since, "--all")["papers"]}

    assert older.title not in default and older.title in wider


def test_a_preview_shows_what_the_real_send_then_sends(catalog, outbox, tmp_path):
    reader = subscriber("quant@example.org", topics=[catalog.quantization], keywords=["diffusion"])
    today = dt.date.today().isoformat()
    # The real send uses today's date: list the catalog today too.
    from digest.models import Paper
    Paper.objects.update(listed_on=dt.date.today())

    previewed = preview_json("--email", reader.email, "--date", today)
    call_command("send_digests", "--inline", "--now", "--email", reader.email, stdout=io.StringIO(), stderr=io.StringIO())

    [message] = outbox_messages(outbox)
    # (A long encoded subject is folded right after "Subject:"; unfolded it is the same.)
    assert message["Subject"].strip() == previewed["subject"]
    digest = Digest.objects.get(subscriber=reader)
    assert [i.paper.title for i in digest.items.order_by("rank")] == [p["title"] for p in previewed["papers"]]
    # After the send, previewing the same day still shows that day's digest.
    assert preview_json("--email", reader.email, "--date", today) == previewed


def test_html_writes_the_rendered_email_and_text_prints_it(catalog, tmp_path):
    target = tmp_path / "preview.html"

    printed = preview("--topics", "quantization", "--date", DAY, "--html", str(target), "--text")

    html = target.read_text()
    assert html.lower().startswith("<!doctype html>") and catalog.quant_paper.title in html
    assert catalog.quant_paper.title in printed and "Unsubscribe:" in printed


def test_the_default_output_is_a_ranked_list(catalog):
    printed = preview("--topics", "quantization", "--date", DAY).splitlines()
    assert printed[0].startswith("Low-bit quantization of large language model… and 1 more · Quantization")
    assert re.match(r"  1\. \[ *\d+\.\d\d\] Low-bit quantization of large language model weights$", printed[1])
    assert printed[2].strip().startswith("Quantization: topic Quantization: ")
    assert printed[3].startswith("  2. [")


def test_a_plain_text_reader_still_gets_an_html_preview_file(catalog, tmp_path):
    reader = subscriber("plain@example.org", topics=[catalog.quantization], email_format="text")
    target = tmp_path / "plain.html"
    preview("--email", reader.email, "--date", DAY, "--html", str(target))
    assert catalog.quant_paper.title in target.read_text()


def test_unknown_topic_slugs_and_addresses_are_one_clear_error(catalog, tmp_path):
    with pytest.raises(CommandError, match=r"^Unknown topic slugs: quantisation, nope \(known: .*quantization.*\)\.$"):
        preview("--topics", "quantisation,quantization,nope")
    with pytest.raises(CommandError, match=r"^No subscriber with the address 'nobody@example.org'\.$"):
        preview("--email", "nobody@example.org")
    with pytest.raises(CommandError, match="Give --email ADDRESS or an ad-hoc profile"):
        preview()

    done = subprocess.run(
        [PYTHON, "manage.py", "preview_digest", "--topics", "no-such-topic", "--json"],
        cwd=BASE_DIR, env=subprocess_env(tmp_path), capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 1 and done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("CommandError: Unknown topic slug: no-such-topic (known: ")


def test_an_unwritable_html_path_is_one_clear_error(catalog, tmp_path):
    with pytest.raises(CommandError, match=r"^cannot write .*missing/preview\.html: No such file or directory$"):
        preview("--topics", "quantization", "--date", DAY, "--html", str(tmp_path / "missing" / "preview.html"))
    with pytest.raises(CommandError, match=r"^cannot write .*: Is a directory$"):
        preview("--topics", "quantization", "--date", DAY, "--html", str(tmp_path))


def test_an_ad_hoc_profile_of_only_separators_is_an_error_not_an_empty_digest(catalog):
    with pytest.raises(CommandError, match="The ad-hoc profile is empty"):
        preview("--topics", " , ", "--keywords", ";;")


def test_topic_slugs_are_read_like_the_forms_read_them_and_a_repeated_one_counts_once(catalog):
    once = preview_json("--topics", "quantization", "--date", DAY)

    assert preview_json("--topics", "Quantization, quantization", "--date", DAY) == once


def test_a_preview_reads_the_readers_votes_as_the_real_send_does(catalog, outbox):
    import numpy as np

    from digest import semantic
    from digest.models import Paper
    from subscriptions.models import Vote

    reader = subscriber("voter@example.org", keywords=["diffusion"])
    today = dt.date.today().isoformat()
    Paper.objects.update(listed_on=dt.date.today())
    one_way, other_way = np.eye(semantic.DIMENSIONS, dtype=np.float32)[:2]
    Paper.objects.update(embedding=semantic.to_bytes(other_way))
    disliked = paper("Diffusion for audio", "A diffusion model for sound.", listed_on=dt.date.today())
    twin = paper("Diffusion for speech", "A diffusion model for voices.", listed_on=dt.date.today())
    Paper.objects.filter(pk__in=[disliked.pk, twin.pk]).update(embedding=semantic.to_bytes(one_way))
    assert {"Diffusion for audio", "Diffusion for speech"} <= {p["title"] for p in preview_json("--email", reader.email, "--date", today)["papers"]}

    Vote.objects.create(subscriber=reader, paper=disliked, value=Vote.Value.LESS)
    previewed = preview_json("--email", reader.email, "--date", today)
    # "Less like this" drops the paper and its near-duplicate from the digest: the
    # preview says so, as the send then does.
    assert not {"Diffusion for audio", "Diffusion for speech"} & {p["title"] for p in previewed["papers"]}
    call_command("send_digests", "--inline", "--now", "--email", reader.email, stdout=io.StringIO(), stderr=io.StringIO())
    digest = Digest.objects.get(subscriber=reader)
    assert [i.paper.title for i in digest.items.order_by("rank")] == [p["title"] for p in previewed["papers"]]
