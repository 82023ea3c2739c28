"""A reader's "more like this" / "less like this" on papers they were sent.

Votes are stored per subscriber and paper (the last choice wins) and read back, with the
papers' stored vectors, when their next digest is planned: `digest.meaning.Feedback`
moves the ranking towards what they liked and away from what they did not.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction

from digest.meaning import Feedback
from digest.models import Paper

from .models import Subscriber, Vote

# The most recent votes of a reader that shape their ranking: enough to know their taste,
# few enough that an old burst of votes fades.
VOTES_USED = 100
CHOICES = {"more": Vote.Value.MORE, "less": Vote.Value.LESS}


class UnknownPaper(Exception):
    pass


def record_vote(subscriber: Subscriber, paper_id: int, value: int) -> Vote:
    if value not in (Vote.Value.MORE, Vote.Value.LESS):
        raise ValueError(f"a vote is +1 or -1, not {value!r}")
    if not Paper.objects.filter(pk=paper_id).exists():
        raise UnknownPaper(paper_id)
    with transaction.atomic():
        vote, _ = Vote.objects.update_or_create(subscriber=subscriber, paper_id=paper_id, defaults={"value": value})
    return vote


def clear_vote(subscriber: Subscriber, paper_id: int) -> None:
    Vote.objects.filter(subscriber=subscriber, paper_id=paper_id).delete()


def clear_votes(subscriber: Subscriber) -> int:
    deleted, _ = Vote.objects.filter(subscriber=subscriber).delete()
    return deleted


def current_vote(subscriber: Subscriber, paper_id: int) -> int | None:
    return Vote.objects.filter(subscriber=subscriber, paper_id=paper_id).values_list("value", flat=True).first()


@dataclass(frozen=True)
class VoteRow:
    paper_id: int
    title: str
    value: int


def votes_of(subscriber: Subscriber) -> list[VoteRow]:
    """What the reader liked and disliked, newest first (for the manage page)."""
    rows = (
        Vote.objects.filter(subscriber=subscriber)
        .order_by("-updated_at")
        .values_list("paper_id", "paper__title", "value")
    )
    return [VoteRow(*row) for row in rows]


def feedback_for(subscriber_ids: Iterable[int], chunk: int = 500) -> dict[int, Feedback]:
    """Each subscriber's recent votes with the voted papers' vectors, in a query per
    `chunk` subscribers (planning reads them for everyone due at once)."""
    ids = list(subscriber_ids)
    rows: dict[int, list[tuple[int, int, bytes | memoryview | None]]] = defaultdict(list)
    for start in range(0, len(ids), chunk):
        votes = (
            Vote.objects.filter(subscriber_id__in=ids[start : start + chunk])
            .order_by("subscriber_id", "-updated_at")
            .values_list("subscriber_id", "paper_id", "value", "paper__embedding")
        )
        for subscriber_id, paper_id, value, vector in votes.iterator(chunk_size=2000):
            if len(rows[subscriber_id]) < VOTES_USED:
                rows[subscriber_id].append((paper_id, value, vector))
    return {subscriber_id: Feedback.from_votes(votes) for subscriber_id, votes in rows.items()}
