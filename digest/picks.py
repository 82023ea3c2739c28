"""Editor's picks in a digest: at most a few (EDITORS_PICKS_PER_DIGEST), in their own
section at the top, on top of the reader's own papers rather than instead of them.

The matcher ranks every featured paper first and counts it against the reader's limit,
so ten picks on a busy day made a digest of picks only. Here the picks are chosen first
(the matcher's best few) and the reader's limit is then filled without them."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Container

from django.conf import settings

from .matching import Interest, Matches, PaperIndex


def match_with_picks(
    index: PaperIndex,
    interest: Interest,
    *,
    listed_from: dt.date | None = None,
    listed_to: dt.date | None = None,
    exclude_ids: Container[int] = frozenset(),
    limit: int | None = None,
) -> Matches:
    """The capped picks (if the reader wants them), then up to `limit` matched papers;
    `.total` counts the picks and every matched paper before the cut."""
    cap = settings.EDITORS_PICKS_PER_DIGEST
    if interest.include_featured and cap > 0 and index.has_featured:
        # One pass: matching is most of what planning costs.
        return index.match(
            interest, listed_from=listed_from, listed_to=listed_to, exclude_ids=exclude_ids, limit=limit, picks=cap
        )
    # Without a featured paper in the index there is no pick to find.
    return index.match(
        dataclasses.replace(interest, include_featured=False),
        listed_from=listed_from,
        listed_to=listed_to,
        exclude_ids=exclude_ids,
        limit=limit,
    )
