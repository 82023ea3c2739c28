"""A record of each digest tick, for the sends dashboard: one row per run, to which each
chunk of the run adds its counts once planned. Recording never holds the tick up or
stops it."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import DatabaseError
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from .models import TickRun

logger = logging.getLogger(__name__)

# A month of ticks (about 8,600 rows at one every five minutes): the dashboard shows two
# weeks, and older runs say nothing the ledger does not.
RUN_RETENTION_DAYS = 30


def start_tick(started_at: dt.datetime) -> int | None:
    """Store a run of the tick, with nothing counted yet (its chunks add to it: see
    `count_in_tick`), and forget runs past the retention. A failure to record is
    logged, never raised: the digests matter, the record of them less."""
    try:
        run = TickRun.objects.create(started_at=started_at, finished_at=started_at, seconds=0)
        TickRun.objects.filter(started_at__lt=started_at - dt.timedelta(days=RUN_RETENTION_DAYS)).delete()
    except DatabaseError as error:
        logger.warning("could not record the digest tick: %s", error)
        return None
    return run.pk


def count_in_tick(
    run_id: int | None, started_at: dt.datetime, *, due: int, planned: int, empty: int = 0, no_listing: int = 0
) -> None:
    """Add what one chunk of the run planned to its record; the run lasts until its last
    chunk is done (the dashboard counts the digests created in that span as the run's).
    One UPDATE, so chunks planned at once by several workers never lose a count."""
    if run_id is None:
        return
    finished_at = timezone.now()
    try:
        TickRun.objects.filter(pk=run_id).update(
            due=F("due") + due,
            planned=F("planned") + planned,
            empty=F("empty") + empty,
            no_listing=F("no_listing") + no_listing,
            finished_at=Greatest("finished_at", Value(finished_at)),
            seconds=Greatest("seconds", Value((finished_at - started_at).total_seconds())),
        )
    except DatabaseError as error:
        logger.warning("could not record a chunk of the digest tick: %s", error)
