"""Who gets a digest now, what is in it, and sending it.

The pipeline, one plain function per step (the beat task, `send_digests` and
`preview_digest` all go through it):

1. `due_targets(now)`: active subscribers whose local delivery time has passed today
   (in their own time zone) and who have no Digest for their current period.
2. `build_drafts(targets)`: each subscriber's candidate window, ONE paper index over the
   widest window, matches scored in memory. Bulk queries only: the number of queries
   does not grow with the number of subscribers or papers.
3. `save_drafts(drafts)`: Digest + DigestItem rows. The Digest (unique per subscriber and
   period) is the never-resend ledger.
4. `send_digest(digest_id)`: claim the row with a conditional UPDATE, render, send
   through `digest.emails`, record the outcome.

Candidate window: papers listed from the period of the subscriber's last digest up to
their local today, minus every paper already in one of their digests, minus papers of
that last day which were already in the catalog when the last digest was made. The last
day is included on purpose: a reader in Tokyo gets their 07:00 digest before that day's
listing is published in UTC, so the listing would otherwise never reach them. A first
digest (or one after a long break) gets the latest listing day. If nothing new was
listed since the last digest (weekends, holidays), there is no digest at all: no email,
no quiet-day email, no row.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import logging
import random
import smtplib
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db import connection as db_connection
from django.db.models import Count, F, Q
from django.utils import timezone

from subscriptions.feedback import feedback_for
from subscriptions.models import Subscriber
from subscriptions.suppression import suppress_refused_address

from .digest_email import (
    Entry,
    batch_entries,
    digest_context,
    digest_entries,
    digest_message,
    in_passing_pairs,
    section_tag,
    view_digest_url,
)
from .emails import is_address_refusal, is_transient, render_email, send_email, sender_domain
from .mail_smtp import DeliveryUncertain, message_budget_seconds
from .matching import Interest, Match, PaperIndex, TopicTerms, latest_listing_day
from .models import Digest, DigestItem, Paper, Topic
from .picks import match_with_picks
from .queries import id_ranges

logger = logging.getLogger(__name__)

# A subscriber back after a long break gets the latest listing day, not a month of papers.
LOOKBACK_DAYS = 7
# Ids per `IN (...)` query: below SQLite's oldest variable limit (999), one query for
# any ordinary run.
QUERY_CHUNK = 900
# The tick skips subscribers whose `next_check_at` lies ahead. Those instants are lower
# bounds: a local time in a daylight-saving gap or overlap is read at its earlier UTC
# instant (see `earliest_utc`), and this margin covers what that cannot foresee (a zone
# whose rules change in a tzdata update).
RECHECK_MARGIN = dt.timedelta(hours=1)
# Due, but nothing was listed since their last digest (weekends, or a feed not yet
# imported): look again after this long rather than at every tick.
NO_LISTING_RECHECK = dt.timedelta(minutes=30)


# --- 1. Who is due -------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One reader and the period a digest would be for."""

    subscriber: Subscriber
    interest: Interest
    period: dt.date
    today: dt.date  # the reader's local date: the newest listing day considered
    limit: int | None  # None: every paper that clears the threshold
    since: dt.date | None = None  # an explicit window start (preview --since)


def subscriber_zone(subscriber: Subscriber) -> dt.tzinfo:
    try:
        return ZoneInfo(subscriber.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        # Validated on the form; a bad value in the database must not stop everyone's run.
        logger.warning("subscriber %s has unknown time zone %r; using UTC", subscriber.pk, subscriber.timezone)
        return dt.timezone.utc


def local_now(subscriber: Subscriber, now: dt.datetime) -> dt.datetime:
    return now.astimezone(subscriber_zone(subscriber))


def period_for(subscriber: Subscriber, local_date: dt.date) -> dt.date:
    """Daily: the local date. Weekly: the local date of the latest chosen weekday."""
    if subscriber.frequency == Subscriber.Frequency.WEEKLY:
        return local_date - dt.timedelta(days=(local_date.weekday() - subscriber.weekday) % 7)
    return local_date


def is_receiving(subscriber: Subscriber, local_date: dt.date) -> bool:
    """Confirmed, not suppressed and not paused on their local date. As in
    `SubscriberQuerySet.receiving_digests`, digests resume ON `paused_until`."""
    Status = Subscriber.Status
    if subscriber.suppressed:
        return False
    if subscriber.status == Status.PAUSED:
        return subscriber.paused_until is not None and subscriber.paused_until <= local_date
    if subscriber.status != Status.ACTIVE:
        return False
    return subscriber.paused_until is None or subscriber.paused_until <= local_date


def due_period(subscriber: Subscriber, now: dt.datetime, *, force: bool = False) -> tuple[dt.date, dt.date] | None:
    """(period, local today) when a digest is due now, else None. `force` skips only the
    clock (delivery time and weekday), never the pause or the one-per-period rule."""
    local = local_now(subscriber, now)
    today = local.date()
    if not is_receiving(subscriber, today):
        return None
    period = period_for(subscriber, today)
    if not force and (period != today or local.time() < subscriber.delivery_time):
        return None
    return period, today


def earliest_utc(day: dt.date, time: dt.time, zone: dt.tzinfo) -> dt.datetime:
    """The earlier UTC reading of a local time. In a gap (Antarctica/Troll jumps two
    hours) the local time never shows, and the reader becomes due when the clock jumps
    past it, which is no later than its reading with the offset after the jump (fold=1);
    in an overlap the first occurrence (fold=0) comes first."""
    return min(
        dt.datetime.combine(day, time, tzinfo=zone).replace(fold=fold).astimezone(dt.UTC) for fold in (0, 1)
    )


def next_check(subscriber: Subscriber, now: dt.datetime, *, done_today: bool = False) -> dt.datetime | None:
    """The earliest instant after `now` at which the subscriber can become due, less
    RECHECK_MARGIN; None when that cannot be told (not receiving: look every tick)."""
    zone = subscriber_zone(subscriber)
    local = now.astimezone(zone)
    today = local.date()
    if not is_receiving(subscriber, today):
        return None
    if not done_today and period_for(subscriber, today) == today and local.time() < subscriber.delivery_time:
        instant = earliest_utc(today, subscriber.delivery_time, zone)
    else:
        # Nothing more today: the next chance is on a later local date.
        instant = earliest_utc(today + dt.timedelta(days=1), dt.time(0, 0), zone)
    return instant - RECHECK_MARGIN


def no_listing_recheck(subscriber: Subscriber, now: dt.datetime) -> dt.datetime:
    """When to look again at a reader who is due but had nothing new listed: after
    NO_LISTING_RECHECK, but never so late that no tick is left in their local day. Past
    local midnight the period is the next day, and a listing that arrived late in the
    evening would wait a whole day for the next digest."""
    zone = subscriber_zone(subscriber)
    tomorrow = now.astimezone(zone).date() + dt.timedelta(days=1)
    last_tick_today = earliest_utc(tomorrow, dt.time(0, 0), zone) - dt.timedelta(seconds=settings.DIGEST_TICK_SECONDS)
    return max(now, min(now + NO_LISTING_RECHECK, last_tick_today))


# Subscribers read, matched and stored at a time: memory stays flat however many are
# due (100,000 at once took 3 GB when planned in one piece), and the first digests go
# to the send queue while later ones are still being planned. The tick hands each chunk
# after its first to a planning task (digest.tasks.plan_digest_chunk).
PLAN_CHUNK = settings.DIGEST_PLAN_CHUNK


def due_targets(
    now: dt.datetime,
    *,
    force: bool = False,
    email: str | None = None,
    next_checks: dict[Subscriber, dt.datetime | None] | None = None,
) -> list[Target]:
    """Subscribers due at `now` (aware) without a Digest for their period (all of them:
    `due_target_chunks` is the streaming form)."""
    return [
        target
        for chunk in due_target_chunks(now, force=force, email=email, next_checks=next_checks)
        for target in chunk
    ]


def due_target_chunks(
    now: dt.datetime,
    *,
    force: bool = False,
    email: str | None = None,
    next_checks: dict[Subscriber, dt.datetime | None] | None = None,
    size: int | None = None,
    subscriber_ids: Sequence[int] | None = None,
) -> Iterator[list[Target]]:
    """The due targets, `size` subscribers read at a time (by primary key), one list per
    read (possibly empty).

    Without `force`, subscribers whose `next_check_at` lies ahead are not even loaded,
    so a tick reads the few who may be due, not everyone. When `next_checks` is given,
    it is filled with when each subscriber found not due needs looking at again. With
    `subscriber_ids` (a chunk the tick handed out: see `hand_out_chunks`), only those
    are read, whatever their `next_check_at`."""
    subscribers = may_be_due(now, force=force or subscriber_ids is not None, email=email)
    if subscriber_ids is not None:
        subscribers = subscribers.filter(pk__in=list(subscriber_ids))
    size = size or PLAN_CHUNK
    last_pk = 0
    topic_terms: dict[int, tuple[int, TopicTerms]] = {}
    while page := list(subscribers.filter(pk__gt=last_pk).order_by("pk")[:size]):
        last_pk = page[-1].pk
        yield _due_among(page, now, force=force, next_checks=next_checks, topic_terms=topic_terms)


def may_be_due(now: dt.datetime, *, force: bool = False, email: str | None = None):
    """Everyone who may be receiving on some local date (the exact date is checked per
    subscriber, in their own time zone), less, without `force`, those whose
    `next_check_at` lies ahead."""
    subscribers = Subscriber.objects.filter(
        Q(status=Subscriber.Status.ACTIVE)
        | Q(status=Subscriber.Status.PAUSED, paused_until__isnull=False),
        suppressed="",
    )
    if not force:
        subscribers = subscribers.filter(Q(next_check_at__isnull=True) | Q(next_check_at__lte=now))
    if email is not None:
        subscribers = subscribers.filter(email__iexact=email.strip())
    return subscribers


def planning_lease() -> dt.timedelta:
    """How long a chunk handed to a planning task is left to it: the ticks in between
    do not hand the same readers out again. Two ticks: a big run's chunks wait in the
    queue behind each other for minutes. A chunk whose task was lost (a worker killed,
    the broker restarted empty) is handed out again once this has passed."""
    return dt.timedelta(seconds=2 * settings.DIGEST_TICK_SECONDS)


def hand_out_chunks(now: dt.datetime, *, size: int | None = None) -> Iterator[list[int]]:
    """The ids of the readers who may be due at `now` (their `next_check_at` has come),
    `size` at a time by primary key, each chunk marked as being planned (its
    `next_check_at` moved a `planning_lease` ahead) before it is yielded. Ids only: a
    chunk of 2,000 is 2,000 integers, whoever plans it reads the rows."""
    subscribers = may_be_due(now).order_by("pk").values_list("pk", flat=True)
    held_until = now + planning_lease()
    size = size or PLAN_CHUNK
    last_pk = 0
    while ids := list(subscribers.filter(pk__gt=last_pk)[:size]):
        last_pk = ids[-1]
        Subscriber.objects.filter(pk__in=ids).update(next_check_at=held_until)
        yield ids


def _due_among(
    page: list[Subscriber], now: dt.datetime, *, force: bool, next_checks: dict[Subscriber, dt.datetime | None] | None,
    topic_terms: dict[int, tuple[int, TopicTerms]] | None = None,
) -> list[Target]:
    remember = next_checks is not None and not force
    candidates: list[tuple[Subscriber, dt.date, dt.date]] = []
    for subscriber in page:
        if due := due_period(subscriber, now, force=force):
            candidates.append((subscriber, *due))
        elif remember:
            next_checks[subscriber] = next_check(subscriber, now)
    done = _existing_periods([s.pk for s, _, _ in candidates], {period for _, period, _ in candidates})
    due_now = [(s, period, today) for s, period, today in candidates if (s.pk, period) not in done]
    if remember:
        next_checks.update(
            (s, next_check(s, now, done_today=True)) for s, period, _ in candidates if (s.pk, period) in done
        )
    ids = [s.pk for s, _, _ in due_now]
    topics = topics_of(ids, topic_terms if topic_terms is not None else {})
    votes = feedback_for(ids)
    targets = []
    for s, period, today in due_now:
        with _skipping_broken(s):
            interest = Interest.from_subscriber(s, votes.get(s.pk), topics=topics.get(s.pk, ()))
            targets.append(Target(s, interest, period, today, limit=s.max_papers))
    return targets


def topics_of(subscriber_ids: list[int], known: dict[int, tuple[int, TopicTerms]]) -> dict[int, list[TopicTerms]]:
    """Each reader's topics in the order `subscriber.topics.all()` gives them (by name, in
    the database's collation), from the link table's ids: one TopicTerms per topic, shared
    by every reader who follows it, instead of a Topic object per reader and topic.
    `known` (topic id: (position, terms)) carries the topics over from chunk to chunk."""
    links: list[tuple[int, int]] = []
    through = Subscriber.topics.through
    for ids in chunked(subscriber_ids, QUERY_CHUNK):
        links += through.objects.filter(subscriber_id__in=ids).values_list("subscriber_id", "topic_id")
    if any(topic_id not in known for _, topic_id in links):
        # A few dozen topics: read them all, in their order, when one is new to this run.
        known.clear()
        known.update(
            (topic.pk, (position, TopicTerms.from_topic(topic))) for position, topic in enumerate(Topic.objects.all())
        )
    followed: dict[int, list[tuple[int, TopicTerms]]] = defaultdict(list)
    for subscriber_id, topic_id in links:
        followed[subscriber_id].append(known[topic_id])
    return {subscriber_id: [terms for _, terms in sorted(pairs)] for subscriber_id, pairs in followed.items()}


@contextmanager
def _skipping_broken(subscriber: Subscriber) -> Iterator[None]:
    """One subscriber's bad data (say, keywords stored by hand as numbers) must not stop
    everyone else's digest: log it loudly and leave that subscriber for the next tick."""
    try:
        yield
    except Exception:
        logger.exception("subscriber %s skipped: their preferences could not be used", subscriber.pk)


def save_next_checks(next_checks: dict[Subscriber, dt.datetime | None], *, unchanged_since: dt.datetime) -> None:
    """Store when each subscriber needs looking at again. A subscriber saved since the
    tick read them (new schedule) keeps the None their save wrote."""
    # Readers in one time zone with one delivery time share an instant: one UPDATE per
    # instant (a few hundred) is far cheaper than a CASE per row.
    by_instant: dict[dt.datetime, list[int]] = defaultdict(list)
    as_read: dict[int, dt.datetime] = {}
    for subscriber, when in next_checks.items():
        if when is not None and when != subscriber.next_check_at:
            by_instant[when].append(subscriber.pk)
            as_read[subscriber.pk] = subscriber.updated_at
    unchanged = Subscriber.objects.filter(updated_at__lt=unchanged_since)
    for when, ids in by_instant.items():
        for chunk in chunked(ids, QUERY_CHUNK):
            unchanged.filter(pk__in=chunk).update(next_check_at=when)
    # A save stamps `updated_at` before its transaction commits: one that began before
    # the tick and committed after the tick read the row looks older than the tick, and
    # the UPDATE above may have replaced the None it wrote. Such a row's `updated_at` is
    # no longer the one the tick read; it gets its None back. (A save committing later
    # writes None itself.)
    for chunk in chunked(list(as_read), QUERY_CHUNK):
        rows = Subscriber.objects.filter(pk__in=chunk).values_list("pk", "updated_at")
        saved_since = [pk for pk, updated_at in rows if updated_at != as_read[pk]]
        if saved_since:
            Subscriber.objects.filter(pk__in=saved_since).update(next_check_at=None)


def _existing_periods(subscriber_ids: list[int], periods: set[dt.date]) -> set[tuple[int, dt.date]]:
    found: set[tuple[int, dt.date]] = set()
    for ids in chunked(subscriber_ids, QUERY_CHUNK):
        rows = Digest.objects.filter(subscriber_id__in=ids, period__in=periods)
        found.update(rows.values_list("subscriber_id", "period"))
    return found


def chunked(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# --- 2. What is in it ----------------------------------------------------------------


@dataclass(frozen=True)
class LastDigest:
    period: dt.date
    created_at: dt.datetime


@dataclass
class Draft:
    """A digest before it is saved: what `save_drafts` stores and a dry run renders."""

    target: Target
    matches: list[Match]
    # False when nothing was listed since the last digest: then there is no digest at all.
    has_new_papers: bool
    # Every paper that matched; `matches` holds the top `target.limit` of them (and picks).
    match_count: int = 0
    # The ids of the matches past the cut, best first (the digest's web page lists them).
    more_ids: list[int] = field(default_factory=list)
    # ... and their tags on that page, by position.
    more_tags: list[str] = field(default_factory=list)
    # Papers that only mention one of the reader's keywords in passing: (paper id, keyword).
    in_passing: list[tuple[int, str]] = field(default_factory=list)

    @property
    def subscriber(self) -> Subscriber:
        return self.target.subscriber

    @property
    def sends_email(self) -> bool:
        return self.has_new_papers and (bool(self.matches) or self.subscriber.send_when_empty)


@dataclass
class _History:
    last: dict[int, LastDigest] = field(default_factory=dict)
    sent: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))


@dataclass
class Catalog:
    """The papers of a window, indexed once and shared by the chunks of one planning run
    (they nearly always ask for the same window)."""

    window: tuple[dt.date, dt.date]
    index: PaperIndex
    by_day: dict[dt.date, list[Paper]]  # newest in the catalog first
    listed: dict[int, tuple[dt.date, dt.datetime]]  # paper id: (listed on, added to the catalog)

    @classmethod
    def load(cls, first: dt.date, last: dt.date) -> Catalog:
        papers = list(Paper.objects.filter(is_hidden=False, listed_on__gte=first, listed_on__lte=last))
        by_day: dict[dt.date, list[Paper]] = defaultdict(list)
        for paper in sorted(papers, key=lambda p: p.created_at, reverse=True):
            by_day[paper.listed_on].append(paper)
        listed = {p.pk: (p.listed_on, p.created_at) for p in papers}
        return cls((first, last), PaperIndex.build(papers), by_day, listed)

    def has_new(self, start: dt.date, end: dt.date, sent: Container[int], seen_before: dt.datetime | None) -> bool:
        """Whether a paper listed in [start, end] is neither in `sent` nor, listed on
        `start`, already in the catalog at `seen_before`. Usually the first paper looked
        at says so: not a pass over the day's papers for every reader."""
        for day in _days(start, end):
            for paper in self.by_day.get(day, ()):
                if day == start and seen_before is not None and paper.created_at <= seen_before:
                    break  # this one and every older one of that day were seen
                if paper.pk not in sent:
                    return True
        return False


@dataclass(frozen=True)
class _Seen:
    """A reader's papers not to offer again: those in their earlier digests, and those of
    their last digest's day that were in the catalog when it was made. Asked only about
    the reader's candidates, rather than built as a set of the day's papers per reader."""

    sent: Container[int]
    day: dt.date
    before: dt.datetime
    listed: dict[int, tuple[dt.date, dt.datetime]]

    def __contains__(self, pk: object) -> bool:
        if pk in self.sent:
            return True
        listed = self.listed.get(pk)  # type: ignore[call-overload]
        return listed is not None and listed[0] == self.day and listed[1] <= self.before


# The catalogs of the run this process is planning chunks of (see `run_catalogs`).
_run_catalogs: tuple[dt.datetime | None, dict[tuple, Catalog]] = (None, {})


def run_catalogs(run: dt.datetime) -> dict[tuple, Catalog]:
    """The catalogs (paper index) of the tick that started at `run`, kept in this process
    from one of its chunks to the next: building the index costs seconds, a chunk's
    readers milliseconds each. Only the latest run's are kept."""
    global _run_catalogs
    if _run_catalogs[0] != run:
        _run_catalogs = (run, {})
    return _run_catalogs[1]


def build_drafts(targets: list[Target], *, catalogs: dict[tuple, Catalog] | None = None) -> list[Draft]:
    """Match every target against one index built over the widest window (taken from
    `catalogs` when an earlier chunk of the same run built it)."""
    if not targets:
        return []
    history = _History()
    _load_last_digests(targets, history)
    windows = _windows(targets, history)
    starts = [start for start, _ in windows if start]
    if not starts:
        return [Draft(t, [], has_new_papers=False) for t in targets]
    _load_sent_papers(targets, history, min(starts))
    window = (min(starts), max(t.today for t in targets))
    catalog = catalogs.get(window) if catalogs is not None else None
    if catalog is None:
        catalog = Catalog.load(*window)
        if catalogs is not None:
            catalogs.clear()  # one window at a time: memory stays flat
            catalogs[window] = catalog
    # Every keyword's stored vector in one query, so matching each reader asks nothing.
    catalog.index.prefetch_keywords(k for t in targets for k in t.interest.keywords)
    drafts = []
    for target, window in zip(targets, windows, strict=True):
        with _skipping_broken(target.subscriber):
            drafts.append(_draft(target, window, history, catalog))
    return drafts


Window = tuple[dt.date | None, dt.date]  # (first listing day, last listing day); None: no listing yet


def _draft(target: Target, window: Window, history: _History, catalog: Catalog) -> Draft:
    start, end = window
    if start is None:
        return Draft(target, [], has_new_papers=False)
    sent: Container[int] = history.sent.get(target.subscriber.pk) or frozenset()
    last = history.last.get(target.subscriber.pk)
    # The last digest already considered that day's papers that were in the catalog.
    seen_before = last.created_at if target.since is None and last and last.period == start else None
    if not catalog.has_new(start, end, sent, seen_before):
        return Draft(target, [], has_new_papers=False)
    exclude = sent if seen_before is None else _Seen(sent, start, seen_before, catalog.listed)
    matches = match_with_picks(
        catalog.index, target.interest, listed_from=start, listed_to=end, exclude_ids=exclude, limit=target.limit
    )
    return Draft(
        target, list(matches), has_new_papers=True, match_count=matches.total, more_ids=matches.more_ids,
        more_tags=[section_tag(topic, [reason]) for topic, reason in matches.more_sections],
        in_passing=matches.in_passing,
    )


def _days(start: dt.date, end: dt.date) -> Iterator[dt.date]:
    day = start
    while day <= end:
        yield day
        day += dt.timedelta(days=1)


def _windows(targets: list[Target], history: _History) -> list[Window]:
    first_days: dict[dt.date, dt.date | None] = {}
    windows = []
    for target in targets:
        last = history.last.get(target.subscriber.pk)
        if target.since is not None:
            start = target.since
        elif last is not None:
            start = last.period
        else:
            if target.today not in first_days:
                # At most one query per distinct local date (two or three per run).
                first_days[target.today] = latest_listing_day(target.today)
            start = first_days[target.today]
        windows.append((start, target.today))
    return windows


def _load_last_digests(targets: list[Target], history: _History) -> None:
    """The latest digest before each target's period, within the look-back."""
    saved = [t for t in targets if t.subscriber.pk]
    if not saved:
        return
    period_of = {t.subscriber.pk: t.period for t in saved}
    earliest = min(t.today for t in saved) - dt.timedelta(days=LOOKBACK_DAYS)
    for ids in chunked(list(period_of), QUERY_CHUNK):
        rows = Digest.objects.filter(subscriber_id__in=ids, period__gte=earliest).order_by().values_list(
            "subscriber_id", "period", "created_at"
        )
        for subscriber_id, period, created_at in rows:
            if period >= period_of[subscriber_id]:
                continue
            known = history.last.get(subscriber_id)
            if known is None or period > known.period:
                history.last[subscriber_id] = LastDigest(period, created_at)


def _load_sent_papers(targets: list[Target], history: _History, listed_from: dt.date) -> None:
    """Papers of the window already in one of the reader's digests: never sent twice."""
    period_of = {t.subscriber.pk: t.period for t in targets if t.subscriber.pk}
    for ids in chunked(list(period_of), QUERY_CHUNK):
        rows = DigestItem.objects.filter(
            digest__subscriber_id__in=ids, paper__listed_on__gte=listed_from
        ).order_by().values_list("digest__subscriber_id", "digest__period", "paper_id")
        for subscriber_id, period, paper_id in rows:
            if period < period_of[subscriber_id]:
                history.sent[subscriber_id].add(paper_id)


# --- 3. The ledger -------------------------------------------------------------------


@dataclass
class PlanResult:
    due: int = 0
    pending_ids: list[int] = field(default_factory=list)  # to send (with papers, or quiet-day)
    empty: int = 0  # no match, no quiet-day email wanted: recorded, nothing sent
    no_listing: int = 0  # nothing new listed since the last digest: nothing at all
    resumed: int = 0  # of pending_ids: planned by an earlier run but never sent
    planned: int = 0  # digests to send that this run stored


def plan_digests(
    now: dt.datetime, *, force: bool = False, email: str | None = None, resume: bool = False,
    on_planned: Callable[[list[int]], object] | None = None, subscriber_ids: Sequence[int] | None = None,
    catalogs: dict[tuple, Catalog] | None = None,
) -> PlanResult:
    """Steps 1-3: the Digest rows of everyone due at `now`, ready to send; with `resume`
    (an operator's run) also every recent digest planned but not sent yet (see
    `unsent_digest_ids`). The beat tick leaves those to the sweeper. With
    `subscriber_ids`, only those readers (a chunk the tick handed out).

    Planned in chunks of PLAN_CHUNK subscribers, each committed on its own. With
    `on_planned`, each chunk's ids to send are handed to it as soon as they are stored
    (the tick queues them), and not collected in `pending_ids`. `catalogs` carries the
    paper index over from one call to the next of the same run (the chunks of a tick)."""
    started = timezone.now()
    result = PlanResult()
    catalogs = {} if catalogs is None else catalogs
    next_checks: dict[Subscriber, dt.datetime | None] = {}
    chunks = due_target_chunks(now, force=force, email=email, next_checks=next_checks, subscriber_ids=subscriber_ids)
    for targets in chunks:
        drafts = build_drafts(targets, catalogs=catalogs)
        saved = save_drafts(drafts)
        if not force:
            # Due, but nothing new was listed: no digest yet; look again a little later.
            next_checks.update(
                (d.subscriber, no_listing_recheck(d.subscriber, now)) for d in drafts if not d.has_new_papers
            )
            save_next_checks(next_checks, unchanged_since=started)
        next_checks.clear()
        planned = [d.pk for d in saved if d.status == Digest.Status.PENDING]
        result.due += len(targets)
        result.planned += len(planned)
        result.empty += sum(1 for d in saved if d.status == Digest.Status.EMPTY)
        result.no_listing += sum(1 for d in drafts if not d.has_new_papers)
        if on_planned is not None:
            on_planned(planned)
        else:
            result.pending_ids += planned
    if resume:
        if on_planned is not None:
            raise ValueError("resume collects the ids it hands out: no on_planned with it")
        just_planned = set(result.pending_ids)
        resumed = [pk for pk in unsent_digest_ids(now, email=email) if pk not in just_planned]
        result.resumed = len(resumed)
        if on_planned is not None:
            on_planned(resumed)
        else:
            result.pending_ids += resumed
    return result


# Digests of older periods are not resumed: their papers are old news by now.
RESUME_PERIODS_DAYS = 2


def unsent_digest_ids(now: dt.datetime, *, email: str | None = None) -> list[int]:
    """Recent digests that were planned but not sent yet: the broker was down when their
    ids were queued, the worker holding them died, or a retry is waiting. A row stops a
    subscriber from being due again for its period, so without this they would never go
    out. Handing an id out twice is harmless: only one caller can claim it
    (`claim_digest`)."""
    rows = Digest.objects.filter(
        Q(status=Digest.Status.PENDING)
        | Q(status=Digest.Status.SENDING, claimed_at__lt=now - claim_lease()),
        period__gte=now.date() - dt.timedelta(days=RESUME_PERIODS_DAYS),
    )
    if email is not None:
        rows = rows.filter(subscriber__email__iexact=email.strip())
    return list(rows.order_by("pk").values_list("pk", flat=True))


def save_drafts(drafts: Iterable[Draft]) -> list[Digest]:
    """Store drafts that have new papers; a period someone else stored first is skipped."""
    drafts = [d for d in drafts if d.has_new_papers]
    if not drafts:
        return []
    topic_ids = dict(Topic.objects.values_list("slug", "id"))
    try:
        with transaction.atomic():
            digests = Digest.objects.bulk_create([_digest_row(d) for d in drafts])
            _store_items(
                row for digest, draft in zip(digests, drafts, strict=True) for row in _items(digest, draft, topic_ids)
            )
            return digests
    except IntegrityError:
        # Another run (a beat tick, a manual send) stored some of these periods at the
        # same moment: go one by one and keep only the ones that are ours.
        return [digest for draft in drafts if (digest := _save_one(draft, topic_ids))]


def _save_one(draft: Draft, topic_ids: dict[str, int]) -> Digest | None:
    try:
        with transaction.atomic():
            digest = _digest_row(draft)
            digest.save()
            _store_items(_items(digest, draft, topic_ids))
            return digest
    except IntegrityError:
        return None


def _digest_row(draft: Draft) -> Digest:
    if not draft.sends_email:
        return Digest(
            subscriber=draft.subscriber, period=draft.target.period, status=Digest.Status.EMPTY,
            paper_count=len(draft.matches), match_count=draft.match_count, more_paper_ids=draft.more_ids,
            more_paper_tags=draft.more_tags,
        )
    return Digest(
        subscriber=draft.subscriber, period=draft.target.period, status=Digest.Status.PENDING,
        paper_count=len(draft.matches), match_count=draft.match_count, more_paper_ids=draft.more_ids,
        more_paper_tags=draft.more_tags, in_passing=[list(pair) for pair in draft.in_passing],
        message_id=new_message_id(), next_attempt_at=timezone.now(),
    )


# A DigestItem row as `_store_items` takes it: (digest id, paper id, rank, score, topic id, why-lines).
ItemRow = tuple[int, int, int, float, int | None, list[str]]
ITEM_FIELDS = ("digest", "paper", "rank", "score", "topic", "matched")


def _items(digest: Digest, draft: Draft, topic_ids: dict[str, int]) -> Iterator[ItemRow]:
    for rank, match in enumerate(draft.matches, start=1):
        topic_id = topic_ids.get(match.topic.slug) if match.topic else None
        yield digest.pk, match.paper.pk, rank, match.score, topic_id, match.reasons


def _store_items(rows: Iterable[ItemRow]) -> None:
    """Write DigestItem rows: about nineteen a digest, 1.9 million for 100,000 readers. On
    PostgreSQL they are streamed with COPY as plain tuples: no model instance, no
    multi-row INSERT of six parameters a row to build (or for the server to parse);
    elsewhere (SQLite) bulk_create."""
    if db_connection.vendor != "postgresql":
        DigestItem.objects.bulk_create(
            [
                DigestItem(digest_id=digest_id, paper_id=paper_id, rank=rank, score=score, topic_id=topic_id,
                           matched=list(matched))
                for digest_id, paper_id, rank, score, topic_id, matched in rows
            ],
            batch_size=1000,
        )
        return
    quote = db_connection.ops.quote_name
    meta = DigestItem._meta
    columns = ", ".join(quote(meta.get_field(name).column) for name in ITEM_FIELDS)
    with db_connection.cursor() as cursor, db_connection.wrap_database_errors:
        with cursor.cursor.copy(f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN") as copy:
            for digest_id, paper_id, rank, score, topic_id, matched in rows:
                copy.write_row((digest_id, paper_id, rank, score, topic_id, json.dumps(list(matched))))


# --- 4. The email (content in digest/digest_email.py) --------------------------------


def draft_entries(draft: Draft) -> list[Entry]:
    return [Entry.from_match(m, rank) for rank, m in enumerate(draft.matches, start=1)]


def draft_message(draft: Draft) -> EmailMultiAlternatives:
    """The email a draft would become (dry run): same context and templates, no row."""
    target = draft.target
    return digest_message(
        target.subscriber, target.period, draft_entries(draft), interest=target.interest, match_count=draft.match_count
    )


def render_draft(draft: Draft, *, signed: bool = True) -> tuple[str, str, str]:
    """(subject, text, html) of a draft, HTML even for plain-text readers (preview).
    `signed=False`: placeholders for the reader's personal links (the admin's preview)."""
    target = draft.target
    context = digest_context(
        target.subscriber, target.period, draft_entries(draft), interest=target.interest,
        match_count=draft.match_count, signed=signed,
    )
    return render_email("digest", context)


# --- 5. Sending ----------------------------------------------------------------------
#
# Each digest is sent on its own terms: claimed by a conditional UPDATE (only one caller
# can take it), sent with the Message-ID stored on it when it was planned, and its
# outcome recorded on it alone:
#
# - sent: the server answered 250.
# - a temporary failure (4xx, connection refused or lost before the message data went
#   out, timeout): pending again, retried at `next_attempt_at` (backoff with jitter);
#   failed ("gave up") after DIGEST_MAX_ATTEMPTS attempts.
# - a permanent refusal (5xx): failed at once, as bounced.
# - uncertain: the message data went out and the connection was lost before the final
#   reply, or a worker's claim ran past its lease. The server may have it. It is resent
#   once (same Message-ID), flagged; a second uncertain outcome is final, never a loop.


class SendOutcome(enum.StrEnum):
    SENT = "sent"
    SKIPPED = "skipped"  # not ours to send: already sent, being sent, or not pending
    RETRY = "retry"  # a temporary failure: pending again until `next_attempt_at`
    FAILED = "failed"
    UNCERTAIN = "uncertain"  # may have arrived; already resent once, so not again
    EMPTY = "empty"


DATABASE_ERRORS = (OperationalError, InterfaceError)


def claim_lease() -> dt.timedelta:
    """How long a claim holds. One message cannot take longer to send (digest.mail_smtp
    bounds it from EMAIL_TIMEOUT), so a claim older than this belongs to a worker that
    died or lost its database mid-send."""
    return dt.timedelta(seconds=message_budget_seconds(settings.EMAIL_TIMEOUT))


def retry_delay(attempts: int) -> float:
    """Seconds before the next attempt after `attempts` attempts: doubling from
    DIGEST_RETRY_SECONDS up to DIGEST_RETRY_MAX_SECONDS, each drawn from the upper half
    of its step so retries of many digests spread out instead of arriving together."""
    step = min(settings.DIGEST_RETRY_SECONDS * 2 ** max(attempts - 1, 0), settings.DIGEST_RETRY_MAX_SECONDS)
    return random.uniform(step / 2, step)


def new_message_id() -> str:
    return f"<{uuid.uuid4().hex}.digest@{sender_domain()}>"


# What a claim changes or a concurrent sender may have changed since a batch was loaded.
CLAIM_STATE = ("status", "claimed_at", "attempts", "attempts_at_retry", "uncertain", "message_id", "last_error")


def claim_digest(digest_id: int, now: dt.datetime) -> bool:
    """Take the digest for this caller (see `claim_with_state`)."""
    return claim_with_state(digest_id, now) is not None


def claim_with_state(digest_id: int, now: dt.datetime) -> dict | None:
    """Take the digest for this caller and return its CLAIM_STATE as the claim left it,
    or None when it is not ours to send. Only one UPDATE can change the row from pending
    to sending, so two workers never send the same digest at once; a claim past its
    lease is taken over once, as uncertain (see above)."""
    state = _claim_pending(digest_id, now)
    if state is not None:
        return state
    expired = Digest.objects.filter(pk=digest_id, status=Digest.Status.SENDING, claimed_at__lt=now - claim_lease())
    if expired.filter(uncertain=False).update(
        status=Digest.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1, uncertain=True,
        last_error="Uncertain: an attempt did not finish within its lease (worker stopped?)",
    ):
        return Digest.objects.filter(pk=digest_id, claimed_at=now).values(*CLAIM_STATE).first()
    expired.filter(uncertain=True).update(
        status=Digest.Status.UNCERTAIN,
        last_error="Uncertain: the resend of an uncertain digest did not finish within its lease either",
    )
    return None


def _claim_pending(digest_id: int, now: dt.datetime) -> dict | None:
    """The usual claim, pending to sending, and the row's state read by the same
    statement (UPDATE ... RETURNING, on PostgreSQL and SQLite alike): one round trip a
    digest instead of two, which the ORM's update() cannot do."""
    meta = Digest._meta
    quote = db_connection.ops.quote_name
    column = {name: quote(meta.get_field(name).column) for name in (*CLAIM_STATE, "id")}
    returned = [name for name in CLAIM_STATE if name not in ("status", "claimed_at")]
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {column['status']} = %s, {column['claimed_at']} = %s, "
        f"{column['attempts']} = {column['attempts']} + 1 WHERE {column['id']} = %s AND {column['status']} = %s "
        f"RETURNING {', '.join(column[name] for name in returned)}"
    )
    with db_connection.cursor() as cursor:
        cursor.execute(sql, [
            Digest.Status.SENDING.value, db_connection.ops.adapt_datetimefield_value(now), digest_id,
            Digest.Status.PENDING.value,
        ])
        row = cursor.fetchone()
    if row is None:
        return None
    state = dict(zip(returned, row, strict=True))
    state["uncertain"] = bool(state["uncertain"])  # SQLite returns 0 or 1
    return {"status": Digest.Status.SENDING, "claimed_at": now, **state}


# Columns a send never reads: not loading them halves the cost of loading a batch
# (reading one anyway would cost a query per digest, which the query-count test catches).
UNUSED_WHEN_SENDING = (
    "more_paper_ids", "more_paper_tags", "created_at", "sent_at", "next_attempt_at",
    *(f"subscriber__{name}" for name in (
        "consent_text", "signup_ip", "signup_user_agent", "confirm_ip", "confirm_user_agent", "signed_up_at",
        "confirmed_at", "unsubscribed_at", "next_check_at", "updated_at", "feed_token", "pending_email",
        "excluded_keywords", "unexpanded_keywords", "keywords_without_related", "left_out_terms", "delivery_time",
        "timezone", "weekday",
    )),
)


@dataclass
class BatchData:
    """Everything a batch's messages are built from, loaded up front in a few queries
    whatever the batch size (see `load_batch`)."""

    digests: dict[int, Digest]
    entries: dict[int, list[Entry]]
    # Subscriber id -> the names of their topics (the footer says what they follow).
    topic_names: dict[int, list[str]] = field(default_factory=dict)


def load_batch(digest_ids: Sequence[int], *, unsent_only: bool = True) -> BatchData:
    """The batch's digests that are still to send, with their subscribers (and topics)
    and papers. Loaded before any claim: a subscriber who unsubscribes while the batch
    runs (seconds) still gets this one digest, as one who unsubscribes while it is being
    sent would."""
    digests: dict[int, Digest] = {}
    for chunk in chunked(list(digest_ids), QUERY_CHUNK):
        rows = Digest.objects.filter(id_ranges(chunk)).select_related("subscriber").defer(*UNUSED_WHEN_SENDING)
        if unsent_only:
            rows = rows.filter(status__in=(Digest.Status.PENDING, Digest.Status.SENDING))
        digests.update((d.pk, d) for d in rows)
    return BatchData(digests, batch_entries(list(digests.values())), _topic_names(digests.values()))


def _topic_names(digests: Iterable[Digest]) -> dict[int, list[str]]:
    """The names of the digests' subscribers' topics, in the order the preview and the
    web copy show them, in two queries (`topics_of`): prefetching them built a queryset
    and model objects per subscriber (a twentieth of a digest's cost)."""
    readers = list({digest.subscriber_id for digest in digests})
    followed = topics_of(readers, {})
    # A reader who follows no topic gets an empty list, not None: the footer would query.
    return {reader: [terms.name for terms in followed.get(reader, ())] for reader in readers}


@dataclass
class Attempt:
    outcome: SendOutcome
    retry_at: dt.datetime | None = None  # when outcome is RETRY


class Sender:
    """Sends digests one by one over one connection of the configured backend. The
    connection is opened before a digest is claimed (so a claim's lease covers only
    building and sending one message) and dropped after an error that may have broken
    it. Once it cannot be opened, the server is taken as unreachable for the rest of
    this sender's digests: each is recorded as a temporary failure without waiting for
    another connect timeout."""

    def __init__(self, connection=None) -> None:
        self.connection = connection or get_connection()
        self.is_open = False
        self.unreachable: BaseException | None = None

    def close(self) -> None:
        if self.is_open:
            with suppress(Exception):
                self.connection.close()
        self.is_open = False

    def _open(self) -> None:
        if self.is_open or self.unreachable is not None:
            return
        try:
            self.connection.open()
            self.is_open = True
        except Exception as exc:
            logger.warning("mail server unreachable: %s", _describe(exc))
            self.unreachable = exc
            self._drop()

    def _drop(self) -> None:
        # A timed-out or half-closed SMTP session cannot be quit politely (QUIT would wait
        # for another timeout): close the socket.
        smtp = getattr(self.connection, "connection", None)
        if smtp is not None:
            with suppress(Exception):
                smtp.close()
            self.connection.connection = None
        self.is_open = False

    def send(self, digest_id: int, *, now: dt.datetime | None = None, batch: BatchData | None = None) -> Attempt:
        """Claim, build, send and record one digest. With `batch` (loaded for many digests
        at once), nothing is read here but what the claim itself returns."""
        self._open()
        now = now or timezone.now()
        try:
            state = claim_with_state(digest_id, now)
        except DATABASE_ERRORS:
            # The claim may have committed without our hearing back: give it back, or it
            # would sit until its lease ran out and then be resent as uncertain.
            _release(digest_id, now)
            raise
        if state is None:
            return Attempt(SendOutcome.SKIPPED)
        try:
            if batch is not None and digest_id in batch.digests:
                digest = batch.digests[digest_id]
                for name, value in state.items():
                    setattr(digest, name, value)
                entries = batch.entries[digest_id]
                topic_names = batch.topic_names.get(digest.subscriber_id)
            else:
                digest = Digest.objects.select_related("subscriber").get(pk=digest_id, claimed_at=now)
                entries = topic_names = None
        except Digest.DoesNotExist:
            return Attempt(SendOutcome.SKIPPED)  # deleted (subscriber erased) meanwhile
        except DATABASE_ERRORS:
            _release(digest_id, now)
            raise
        return self._attempt(digest, now, entries, topic_names)

    def _attempt(
        self, digest: Digest, claimed_at: dt.datetime, entries: list[Entry] | None = None,
        topic_names: list[str] | None = None,
    ) -> Attempt:
        finish = partial(_finish, digest.pk, claimed_at)
        if not is_receiving(digest.subscriber, digest.period):
            # Unsubscribed or paused between planning and sending.
            finish(Digest.Status.FAILED, failure=Digest.Failure.NOT_RECEIVING,
                   last_error="Not sent: the subscriber no longer receives digests.")
            return Attempt(SendOutcome.FAILED)
        if self.unreachable is not None:
            return self._failed(digest, finish, self.unreachable, connecting=True)
        try:
            if entries is None:
                entries = digest_entries(digest)
            if not entries and not digest.subscriber.send_when_empty:
                finish(Digest.Status.EMPTY)
                return Attempt(SendOutcome.EMPTY)
            if not digest.message_id:
                # Planned before Message-IDs were stored: store one before the first attempt.
                digest.message_id = new_message_id()
                Digest.objects.filter(pk=digest.pk, claimed_at=claimed_at).update(message_id=digest.message_id)
            message = digest_message(
                digest.subscriber, digest.period, entries,
                view_url=view_digest_url(digest), message_id=digest.message_id, match_count=digest.match_count,
                mentions_in_passing=bool(in_passing_pairs(digest.in_passing)), topic_names=topic_names,
            )
        except (*DATABASE_ERRORS, SoftTimeLimitExceeded):
            _release(digest.pk, claimed_at)
            raise
        except Exception as exc:
            logger.exception("digest %s could not be built", digest.pk)
            finish(Digest.Status.FAILED, failure=Digest.Failure.ERROR, last_error=_describe(exc))
            return Attempt(SendOutcome.FAILED)
        try:
            send_email(message, self.connection)
        except SoftTimeLimitExceeded:
            # Not the message's fault, and it may be half sent: its claim runs out and
            # it is resent once, as uncertain. (The batch budget keeps this rare.)
            raise
        except Exception as exc:
            if not isinstance(exc, (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused)):
                self._drop()
            return self._failed(digest, finish, exc)
        finish(Digest.Status.SENT, sent_at=timezone.now(), subject=message.subject[:300], last_error="",
               failure="")
        return Attempt(SendOutcome.SENT)

    def _failed(self, digest: Digest, finish, exc: BaseException, *, connecting: bool = False) -> Attempt:
        error = _describe(exc)
        if isinstance(exc, DeliveryUncertain):
            if digest.uncertain:
                finish(Digest.Status.UNCERTAIN, last_error=f"Uncertain again, not resent: {error}")
                return Attempt(SendOutcome.UNCERTAIN)
            return self._retry(digest, finish, f"Uncertain, resending once: {error}", uncertain=True)
        if is_transient(exc):
            round_attempts = digest.attempts - digest.attempts_at_retry
            if round_attempts >= settings.DIGEST_MAX_ATTEMPTS:
                finish(Digest.Status.FAILED, failure=Digest.Failure.GAVE_UP,
                       last_error=f"Gave up after {round_attempts} attempts: {error}")
                return Attempt(SendOutcome.FAILED)
            return self._retry(digest, finish, error)
        if not connecting and _is_refusal(exc):
            if is_address_refusal(exc):
                finish(Digest.Status.FAILED, failure=Digest.Failure.BOUNCED, last_error=f"Bounced: {error}")
                suppress_refused_address(digest.subscriber, exc, error)
            else:
                finish(Digest.Status.FAILED, failure=Digest.Failure.REFUSED, last_error=f"Refused (policy): {error}")
            return Attempt(SendOutcome.FAILED)
        logger.error("digest %s could not be sent: %s", digest.pk, error)
        finish(Digest.Status.FAILED, failure=Digest.Failure.ERROR, last_error=error)
        return Attempt(SendOutcome.FAILED)

    def _retry(self, digest: Digest, finish, error: str, *, uncertain: bool = False) -> Attempt:
        retry_at = timezone.now() + dt.timedelta(seconds=retry_delay(digest.attempts))
        fields = {"uncertain": True} if uncertain else {}
        finish(Digest.Status.PENDING, next_attempt_at=retry_at, last_error=error, **fields)
        return Attempt(SendOutcome.RETRY, retry_at)


def _is_refusal(exc: BaseException) -> bool:
    """The server refused this message or recipient for good (5xx)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return True
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500


def send_digest(digest_id: int, *, now: dt.datetime | None = None, connection=None) -> SendOutcome:
    """Send one planned digest, at most once, over `connection` or one of its own."""
    sender = Sender(connection)
    try:
        return sender.send(digest_id, now=now).outcome
    finally:
        sender.close()


@dataclass
class BatchResult:
    retries: dict[int, dt.datetime] = field(default_factory=dict)  # digest id: when to try again
    outcomes: Counter = field(default_factory=Counter)
    remaining: list[int] = field(default_factory=list)  # not started: the batch's time ran out


class BatchInterrupted(Exception):
    """The database failed in the middle of a batch: `remaining` were not attempted;
    `result` holds what the attempted ones came to (their retries still need queueing)."""

    def __init__(self, remaining: list[int], result: BatchResult, cause: BaseException):
        super().__init__(f"{len(remaining)} digests left after {cause!r}")
        self.remaining = remaining
        self.result = result
        self.cause = cause


def send_batch(digest_ids: Sequence[int], *, budget: float | None = None) -> BatchResult:
    """Send each digest over one connection; one digest's failure never holds back the
    others. Returns the retries to schedule. A database error stops the batch with
    BatchInterrupted, so the caller can try the rest again once the database is back.

    With `budget` (seconds), no digest is started after it is spent (the first always
    is): the rest is returned in `remaining`, for another task. A slow mail server then
    spreads a batch over several tasks instead of running into the task time limit
    in the middle of a message."""
    result = BatchResult()
    sender = Sender()
    started = time.monotonic()
    try:
        try:
            batch = load_batch(digest_ids)
        except DATABASE_ERRORS as exc:
            raise BatchInterrupted(list(digest_ids), result, exc) from exc
        for position, digest_id in enumerate(digest_ids):
            if position and budget is not None and time.monotonic() - started > budget:
                result.remaining = list(digest_ids[position:])
                break
            try:
                attempt = sender.send(digest_id, batch=batch)
            except DATABASE_ERRORS as exc:
                raise BatchInterrupted(list(digest_ids[position:]), result, exc) from exc
            result.outcomes[attempt.outcome] += 1
            if attempt.retry_at is not None:
                result.retries[digest_id] = attempt.retry_at
    finally:
        sender.close()
    return result


def send_until_settled(
    digest_ids: Sequence[int], *, on_progress: Callable[[int], None] = lambda done: None,
    sleep: Callable[[float], None] = time.sleep, timeout: float | None = None,
) -> list[int]:
    """Send in this process (`send_digests --inline`) and retry temporary failures on
    the same schedule as the workers, until every digest has a final outcome, or until
    `timeout` seconds have passed: then the ones still waiting for a retry are returned,
    pending as they are (a later run, or the workers' sweeper, sends them)."""
    waiting: dict[int, dt.datetime] = dict.fromkeys(digest_ids, timezone.now())
    deadline = None if timeout is None else timezone.now() + dt.timedelta(seconds=timeout)
    while waiting:
        now = timezone.now()
        due = sorted(pk for pk, at in waiting.items() if at <= now)
        if not due:
            next_retry = min(waiting.values())
            if deadline is not None and next_retry > deadline:
                return sorted(waiting)  # a mail server that stays down must not hold a cron job for an hour
            sleep(max((next_retry - now).total_seconds(), 0.05))
            continue
        for pk in due:
            del waiting[pk]
        result = send_batch(due)
        waiting.update(result.retries)
        on_progress(len(digest_ids) - len(waiting))
    return []


def _finish(digest_id: int, claimed_at: dt.datetime, status: str, **fields) -> None:
    """Record the outcome of the claim made at `claimed_at`. Only that claim may (a
    claim taken over after its lease has another time). The database may be briefly
    unreachable: the outcome of a send that happened must not be lost, so the write is
    tried again for up to a lease."""
    _write_with_retries(
        lambda: Digest.objects.filter(pk=digest_id, status=Digest.Status.SENDING, claimed_at=claimed_at).update(
            status=status, **fields
        )
    )


def _release(digest_id: int, claimed_at: dt.datetime) -> None:
    """Give a claim back (nothing was sent): the digest is pending again, not stuck."""
    with suppress(*DATABASE_ERRORS):
        _write_with_retries(
            lambda: Digest.objects.filter(pk=digest_id, status=Digest.Status.SENDING, claimed_at=claimed_at).update(
                status=Digest.Status.PENDING, attempts=F("attempts") - 1, next_attempt_at=timezone.now()
            )
        )


def _write_with_retries(write: Callable[[], int]) -> int:
    deadline = time.monotonic() + claim_lease().total_seconds()
    pause = 0.5
    while True:
        try:
            return write()
        except DATABASE_ERRORS as exc:
            if time.monotonic() + pause > deadline or db_connection.in_atomic_block:
                raise
            logger.warning("database unreachable while recording a digest (%s); trying again", exc)
            # A connection that failed once stays broken: start a new one.
            db_connection.close()
            time.sleep(pause)
            pause = min(pause * 2, 10)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


# --- 6. Stranded digests -------------------------------------------------------------


def stranded_after() -> dt.timedelta:
    """A pending digest not attempted this long after it was queued (or its retry came
    due) has lost its queue message: the broker restarted empty, or the worker holding
    it died. Two sweeps: short enough to recover in minutes, long enough that a healthy
    queue rarely gets a second copy (a second copy is harmless: only one claim wins)."""
    return dt.timedelta(seconds=2 * settings.DIGEST_SWEEP_SECONDS)


def sweep_stranded(now: dt.datetime, *, pending: bool = True) -> list[int]:
    """Ids of recent digests to queue again: claims past their lease, and (with
    `pending`: the caller saw no backlog in the queue) pending ones past
    `stranded_after`. Those pending rows are marked as queued now, so the next sweep
    leaves them alone while the queue works through them."""
    recent = Digest.objects.filter(period__gte=now.date() - dt.timedelta(days=RESUME_PERIODS_DAYS))
    late = now - stranded_after()
    ids: list[int] = []
    if pending:
        rows = recent.filter(
            Q(next_attempt_at__lt=late) | Q(next_attempt_at__isnull=True, created_at__lt=late),
            status=Digest.Status.PENDING,
        )
        ids = list(rows.order_by("pk").values_list("pk", flat=True))
    for chunk in chunked(ids, QUERY_CHUNK):
        Digest.objects.filter(pk__in=chunk, status=Digest.Status.PENDING).update(next_attempt_at=now)
    expired = recent.filter(status=Digest.Status.SENDING, claimed_at__lt=now - claim_lease())
    return sorted(ids + list(expired.values_list("pk", flat=True)))


@dataclass
class DeliveryState:
    pending: int = 0
    in_flight: int = 0
    stuck: int = 0  # claims past their lease
    uncertain: int = 0  # flagged: a copy may have arrived before the (re)send
    failed: int = 0

    def line(self) -> str:
        return (
            f"{self.pending} pending, {self.in_flight} in flight, {self.stuck} stuck past their lease, "
            f"{self.uncertain} uncertain, {self.failed} failed"
        )


def delivery_state(now: dt.datetime, *, since: dt.date | None = None) -> DeliveryState:
    """Counts of the digests of recent periods (those the sweeper still looks after)."""
    since = since or now.date() - dt.timedelta(days=RESUME_PERIODS_DAYS)
    rows = Digest.objects.filter(period__gte=since)
    lease_start = now - claim_lease()
    counts = rows.aggregate(
        pending=Count("pk", filter=Q(status=Digest.Status.PENDING)),
        in_flight=Count("pk", filter=Q(status=Digest.Status.SENDING, claimed_at__gte=lease_start)),
        stuck=Count("pk", filter=Q(status=Digest.Status.SENDING, claimed_at__lt=lease_start)),
        uncertain=Count("pk", filter=Q(uncertain=True) | Q(status=Digest.Status.UNCERTAIN)),
        failed=Count("pk", filter=Q(status=Digest.Status.FAILED)),
    )
    return DeliveryState(**counts)


def failed_digest_ids(*, period: dt.date | None, now: dt.datetime) -> list[int]:
    """Failed digests of `period`, else of the recent periods the sweeper looks after."""
    rows = Digest.objects.filter(status=Digest.Status.FAILED)
    if period is not None:
        rows = rows.filter(period=period)
    else:
        rows = rows.filter(period__gte=now.date() - dt.timedelta(days=RESUME_PERIODS_DAYS))
    return list(rows.order_by("pk").values_list("pk", flat=True))


def requeue_failed(digest_ids: Iterable[int]) -> list[int]:
    """Put failed digests back to pending, with a fresh round of attempts, and return
    their ids, for the send tasks to claim like any other. Only rows still failed change
    (locked first), so retrying the same digest twice (a double click, two curators)
    hands it out once; and a digest handed out twice is still claimed, hence sent, once
    (`claim_digest`)."""
    with transaction.atomic():
        ids = list(
            Digest.objects.select_for_update()
            .filter(pk__in=list(digest_ids), status=Digest.Status.FAILED)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        Digest.objects.filter(pk__in=ids, status=Digest.Status.FAILED).update(
            status=Digest.Status.PENDING, attempts_at_retry=F("attempts"), failure="", next_attempt_at=timezone.now()
        )
    return ids
