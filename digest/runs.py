"""A record of each digest tick, for the sends dashboard: one row per run, written after
the tick's own work so it never holds the tick up or stops it."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import DatabaseError
from django.utils import timezone

from .models import TickRun

logger = logging.getLogger(__name__)

# A month of ticks (about 8,600 rows at one every five minutes): the dashboard shows two
# weeks, and older runs say nothing the ledger does not.
RUN_RETENTION_DAYS = 30


def record_tick(
    started_at: dt.datetime, *, due: int, planned: int, empty: int = 0, no_listing: int = 0
) -> TickRun | None:
    """Store one run of the tick and forget runs past the retention. A failure to record
    is logged, never raised: the digests matter, the record of them less."""
    finished_at = timezone.now()
    try:
        run = TickRun.objects.create(
            started_at=started_at,
            finished_at=finished_at,
            seconds=(finished_at - started_at).total_seconds(),
            due=due,
            planned=planned,
            empty=empty,
            no_listing=no_listing,
        )
        TickRun.objects.filter(started_at__lt=finished_at - dt.timedelta(days=RUN_RETENTION_DAYS)).delete()
    except DatabaseError as error:
        logger.warning("could not record the digest tick: %s", error)
        return None
    return run
