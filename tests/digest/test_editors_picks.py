"""Editor's picks: a few per digest, in their own section, never crowding out matches."""

from __future__ import annotations

import pytest

from digest.digests import plan_digests, send_digest
from digest.models import Digest

from .sending_helpers import NOON_UTC, outbox_messages, paper, sample_catalog, subscriber

pytestmark = pytest.mark.django_db


def quantization_papers(count: int) -> list:
    return [
        paper(f"Quantization study {n}: low-bit quantization of language models",
              "We apply post-training quantization to weights; the quantized model keeps accuracy.")
        for n in range(count)
    ]


@pytest.fixture
def crowded_day():
    """Ten picks and six papers plainly about the reader's topic, on one listing day."""
    catalog = sample_catalog()
    for n, other in enumerate(catalog.others[:10]):
        other.is_featured = True
        other.upvotes = 100 + n
        other.save()
    quantization_papers(5)
    return catalog


def planned_digest(reader) -> Digest:
    result = plan_digests(NOON_UTC)
    assert result.pending_ids
    return Digest.objects.get(subscriber=reader)


def test_picks_are_capped_and_do_not_use_up_the_readers_papers(crowded_day, outbox):
    reader = subscriber("ada@example.org", topics=[crowded_day.quantization], max_papers=5)

    digest = planned_digest(reader)
    assert send_digest(digest.pk) == "sent", Digest.objects.get(pk=digest.pk).last_error

    items = list(digest.items.order_by("rank").select_related("paper"))
    picks = [i for i in items if i.paper.is_featured]
    matched = [i for i in items if not i.paper.is_featured]
    assert len(picks) == 3
    assert len(matched) == 5
    assert all("quantiz" in i.paper.title.lower() for i in matched)
    assert digest.paper_count == 8

    text = outbox_messages(outbox)[0].get_body(("plain",)).get_content()
    # Their own short section, above the reader's topic.
    assert "EDITOR'S PICKS (3)" in text
    assert text.index("EDITOR'S PICKS (3)") < text.index("QUANTIZATION (5)")


def test_the_cap_is_a_setting(crowded_day, settings):
    settings.EDITORS_PICKS_PER_DIGEST = 1
    reader = subscriber("ada@example.org", topics=[crowded_day.quantization], max_papers=5)

    digest = planned_digest(reader)

    featured = digest.items.filter(paper__is_featured=True)
    assert featured.count() == 1
    assert digest.items.count() == 6


def test_a_reader_who_wants_no_picks_gets_none(crowded_day):
    reader = subscriber("ada@example.org", topics=[crowded_day.quantization], max_papers=5, include_featured=False)

    digest = planned_digest(reader)

    assert not digest.items.filter(paper__is_featured=True).exists()
    assert digest.items.count() == 5
