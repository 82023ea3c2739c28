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
