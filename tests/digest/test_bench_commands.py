"""The benchmark commands print figures and leave the catalog and subscribers as they were."""

import json
import os
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from digest.models import Digest, Paper
from subscriptions.models import Subscriber

from .sending_helpers import paper

pytestmark = pytest.mark.django_db


committed_db = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@committed_db
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="bench_digests runs its workers on Redis")
def test_bench_digests_sends_every_digest_once_through_real_workers_and_keeps_nothing():
    today = timezone.now().date()
    paper("Quantization of large language models", "Post-training quantization for LLMs.", listed_on=today)
    paper("Diffusion models for video", "A video diffusion model.", listed_on=today)
    out = StringIO()

    call_command("bench_digests", "--subscribers", "12", "--papers", "5", "--workers", "1", "--json",
                 stdout=out, stderr=StringIO())

    report = json.loads(out.getvalue())
    assert report["subscribers"] == 12
    assert report["papers"] == 5
    assert report["sent"] == report["digests"].get("sent", 0) > 0
    assert report["missing"] == 0 and report["duplicates"] == 0
    assert report["ceiling_per_second"] > 0 and report["digests_per_second"] > 0
    assert {"worker-0", "sink", "bench command"} <= set(report["peak_rss_mb"])
    assert {"setup", "plan + render + send", "render (one process)"} <= set(report["stages"])
    # Planning is over when every reader's digest is stored, before the last one is sent.
    planned = report["stages"]["plan (every reader's digest stored; sends overlap)"]["seconds"]
    assert 0 < planned <= report["total_seconds"]
    assert report["machine_cpu_seconds"]["all"] >= sum(v for v in report["cpu_seconds"].values() if v) * 0.9
    for key in ("total_seconds", "ratio_to_ceiling", "render_per_second"):
        assert key in report
    # Its readers, their digests and the copied papers are gone; the catalog is not.
    assert Subscriber.objects.count() == 0
    assert Digest.objects.count() == 0
    assert Paper.objects.count() == 2


def test_bench_digests_refuses_a_database_with_real_subscribers():
    paper("Quantization of large language models", "Post-training quantization for LLMs.")
    Subscriber.objects.create(email="someone@example.org", status=Subscriber.Status.ACTIVE)

    with pytest.raises(CommandError, match="1 real subscriber"):
        call_command("bench_digests", "--subscribers", "3", stdout=StringIO(), stderr=StringIO())

    assert Subscriber.objects.count() == 1


def test_bench_admin_prints_each_changelist_and_keeps_nothing():
    for n in range(3):
        paper(f"Paper {n}", "An abstract.")
    out = StringIO()

    call_command("bench_admin", "--digests", "40", "--repeat", "1", stdout=out, stderr=StringIO())

    report = out.getvalue()
    assert "40 digests" in report
    assert "digests, failed" in report and "subscribers" in report and "queries" in report
    assert Digest.objects.count() == 0
    assert Subscriber.objects.count() == 0


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_bench_pages_loads_the_home_page_on_gunicorn_and_keeps_nothing(tmp_path, monkeypatch):
    import os
    import shutil

    from digest.models import Paper

    from .sending_helpers import subprocess_env

    assert shutil.which("wrk"), "needs wrk (Debian: apt-get install wrk)"
    # gunicorn runs in its own processes: on the test database.
    for name, value in subprocess_env(tmp_path, redis_url=os.environ.get("REDIS_URL")).items():
        monkeypatch.setenv(name, value)
    today = timezone.now().date()
    paper("Quantization of large language models", "Post-training quantization for LLMs.", listed_on=today, upvotes=3)
    out = StringIO()

    call_command(
        "bench_pages", "--papers", "40", "--duration", "1", "--connections", "2", stdout=out, stderr=StringIO()
    )

    report = out.getvalue()
    assert "41 listed" in report and "(HTTP 200)" in report
    assert "page weight" in report and "elements" in report
    assert "requests/s" in report and "p99" in report and "machine load" in report
    assert Paper.objects.count() == 1
