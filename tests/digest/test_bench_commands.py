"""The benchmark commands print figures and leave the catalog and subscribers as they were."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from digest.models import Digest
from subscriptions.models import Subscriber

from .sending_helpers import paper

pytestmark = pytest.mark.django_db


def test_bench_digests_prints_figures_and_keeps_nothing():
    today = timezone.now().date()
    paper("Quantization of large language models", "Post-training quantization for LLMs.", listed_on=today)
    paper("Diffusion models for video", "A video diffusion model.", listed_on=today)
    out = StringIO()

    call_command("bench_digests", "--subscribers", "30", stdout=out, stderr=StringIO())

    report = out.getvalue()
    assert "subscribers            30" in report
    assert "build + send" in report and "per digest" in report
    assert Subscriber.objects.count() == 0
    assert Digest.objects.count() == 0


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
