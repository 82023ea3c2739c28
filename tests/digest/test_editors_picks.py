"""Editor's picks: a few per digest, in their own section, never crowding out matches."""

from __future__ import annotations

import dataclasses

import pytest

from digest.digests import plan_digests, send_digest
from digest.matching import Interest, PaperIndex, TopicTerms
from digest.models import Digest, Paper
from digest.picks import match_with_picks

from .sending_helpers import LISTING_DAY, NOON_UTC, outbox_messages, paper, sample_catalog, subscriber

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
    assert "Editor's picks (3)" in text
    assert text.index("Editor's picks (3)") < text.index("Quantization (5)")


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


def two_passes(index, interest, *, cap: int, limit: int | None, listed_from, listed_to):
    """How the picks were found before they took one pass: the matcher's best `cap`
    with the featured papers first, then the reader's own matches without those."""
    window = {"listed_from": listed_from, "listed_to": listed_to}
    picks = [m for m in index.match(interest, **window, limit=cap) if m.featured]
    rest = index.match(dataclasses.replace(interest, include_featured=False), **window,
                       exclude_ids={m.paper.pk for m in picks}, limit=limit)
    return [*picks, *rest], len(picks) + rest.total, rest.more_ids


def described(matches) -> list[tuple]:
    return [(m.paper.pk, m.score, m.reasons, m.featured, m.topic) for m in matches]


@pytest.mark.parametrize("cap", [1, 3, 20])
@pytest.mark.parametrize("limit", [None, 1, 5])
def test_the_picks_and_the_readers_papers_are_those_two_passes_of_the_matcher_found(crowded_day, settings, cap, limit):
    settings.EDITORS_PICKS_PER_DIGEST = cap
    graph_paper = next(p for p in crowded_day.others[:10] if "graph" in p.title.lower())  # featured, and it matches "graph"
    index = PaperIndex.build(Paper.objects.all())
    quantization = TopicTerms.from_topic(crowded_day.quantization)
    interests = [
        Interest(topics=(quantization,)),
        Interest(topics=(quantization,), keywords=("graph", "robot")),
        Interest(keywords=("graph",), excluded=("molecule",)),
        Interest(keywords=("speech", "weather", "protein")),
        Interest(),
    ]
    window = {"listed_from": LISTING_DAY, "listed_to": LISTING_DAY}
    for interest in interests:
        found = match_with_picks(index, interest, **window, limit=limit)
        expected, total, more_ids = two_passes(index, interest, cap=cap, limit=limit, **window)
        assert described(found) == described(expected), interest
        assert (found.total, found.more_ids) == (total, more_ids)
        # And what was excluded stays out, picks or not.
        seen = match_with_picks(index, interest, **window, limit=limit, exclude_ids={graph_paper.pk})
        assert graph_paper.pk not in {m.paper.pk for m in seen}
