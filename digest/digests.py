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
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.db.models import F, Q, prefetch_related_objects
from django.utils import timezone

from subscriptions.feedback import feedback_for
from subscriptions.models import Subscriber

from .digest_email import Entry, digest_context, digest_entries, digest_message, view_digest_url
from .emails import is_transient, render_email, send_email
from .matching import Interest, Match, PaperIndex, latest_listing_day
from .models import Digest, DigestItem, Paper, Topic
from .picks import match_with_picks

logger = logging.getLogger(__name__)

# A subscriber back after a long break gets the latest listing day, not a month of papers.
LOOKBACK_DAYS = 7
# A claim older than this belongs to a worker that died mid-send (a send takes seconds,
# EMAIL_TIMEOUT bounds it), so another worker may take the digest over.
STALE_CLAIM_AFTER = dt.timedelta(minutes=30)
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
    """Confirmed and not paused on their local date. As in
    `SubscriberQuerySet.receiving_digests`, digests resume ON `paused_until`."""
    Status = Subscriber.Status
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


def due_targets(
    now: dt.datetime,
    *,
    force: bool = False,
    email: str | None = None,
    next_checks: dict[Subscriber, dt.datetime | None] | None = None,
) -> list[Target]:
    """Subscribers due at `now` (aware) without a Digest for their period.

    Without `force`, subscribers whose `next_check_at` lies ahead are not even loaded,
    so a tick reads the few who may be due, not everyone. When `next_checks` is given,
    it is filled with when each subscriber found not due needs looking at again."""
    # Everyone who may be receiving on some local date; the exact date is checked per
    # subscriber below, in their own time zone.
    subscribers = Subscriber.objects.filter(
        Q(status=Subscriber.Status.ACTIVE)
        | Q(status=Subscriber.Status.PAUSED, paused_until__isnull=False)
    )
    if not force:
        subscribers = subscribers.filter(Q(next_check_at__isnull=True) | Q(next_check_at__lte=now))
    if email is not None:
        subscribers = subscribers.filter(email__iexact=email.strip())
    remember = next_checks is not None and not force
    candidates: list[tuple[Subscriber, dt.date, dt.date]] = []
    for subscriber in subscribers.iterator(chunk_size=2000):
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
    prefetch_related_objects([s for s, _, _ in due_now], "topics")
    votes = feedback_for([s.pk for s, _, _ in due_now])
    targets = []
    for s, period, today in due_now:
        with _skipping_broken(s):
            targets.append(Target(s, Interest.from_subscriber(s, votes.get(s.pk)), period, today, limit=s.max_papers))
    return targets


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
    # Every paper that matched; `matches` holds the top `target.limit` of them.
    match_count: int = 0

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


def build_drafts(targets: list[Target]) -> list[Draft]:
    """Match every target against one index built over the widest window."""
    if not targets:
        return []
    history = _History()
    _load_last_digests(targets, history)
    windows = _windows(targets, history)
    starts = [start for start, _ in windows if start]
    if not starts:
        return [Draft(t, [], has_new_papers=False) for t in targets]
    _load_sent_papers(targets, history, min(starts))
    papers = list(
        Paper.objects.filter(is_hidden=False, listed_on__gte=min(starts), listed_on__lte=max(t.today for t in targets))
    )
    index = PaperIndex.build(papers)
    # Every keyword's stored vector in one query, so matching each reader asks nothing.
    index.prefetch_keywords(k for t in targets for k in t.interest.keywords)
    by_day: dict[dt.date, list[Paper]] = defaultdict(list)
    for paper in papers:
        by_day[paper.listed_on].append(paper)
    drafts = []
    for target, window in zip(targets, windows, strict=True):
        with _skipping_broken(target.subscriber):
            drafts.append(_draft(target, window, history, index, by_day))
    return drafts


Window = tuple[dt.date | None, dt.date]  # (first listing day, last listing day); None: no listing yet


def _draft(
    target: Target, window: Window, history: _History, index: PaperIndex, by_day: dict[dt.date, list[Paper]]
) -> Draft:
    start, end = window
    if start is None:
        return Draft(target, [], has_new_papers=False)
    exclude = set(history.sent.get(target.subscriber.pk, ()))
    last = history.last.get(target.subscriber.pk)
    if target.since is None and last and last.period == start:
        # The last digest already considered that day's papers that were in the catalog.
        exclude.update(p.pk for p in by_day.get(start, ()) if p.created_at <= last.created_at)
    new = any(
        p.pk not in exclude
        for day in _days(start, end)
        for p in by_day.get(day, ())
    )
    if not new:
        return Draft(target, [], has_new_papers=False)
    # Uncapped, so the email can say "Top 8 of 42"; the order is the same whether or not
    # the matcher is asked to stop at the cap. Picks (capped already) come first.
    found = match_with_picks(index, target.interest, listed_from=start, listed_to=end, exclude_ids=exclude)
    picks = [m for m in found if m.featured]
    rest = [m for m in found if not m.featured]
    matches = picks + (rest[: target.limit] if target.limit else rest)
    return Draft(target, matches, True, len(found))


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
        rows = Digest.objects.filter(subscriber_id__in=ids, period__gte=earliest).values_list(
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
        ).values_list("digest__subscriber_id", "digest__period", "paper_id")
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


def plan_digests(
    now: dt.datetime, *, force: bool = False, email: str | None = None, resume_after: dt.timedelta = STALE_CLAIM_AFTER
) -> PlanResult:
    """Steps 1-3: the Digest rows of everyone due at `now`, ready to send, plus the
    recent digests an earlier run planned but never sent (see `unsent_digest_ids`)."""
    started = timezone.now()
    next_checks: dict[Subscriber, dt.datetime | None] = {}
    targets = due_targets(now, force=force, email=email, next_checks=next_checks)
    drafts = build_drafts(targets)
    saved = save_drafts(drafts)
    if not force:
        # Due, but nothing new was listed: no digest yet; look again a little later.
        next_checks.update((d.subscriber, no_listing_recheck(d.subscriber, now)) for d in drafts if not d.has_new_papers)
        save_next_checks(next_checks, unchanged_since=started)
    planned = [d.pk for d in saved if d.status == Digest.Status.PENDING]
    just_planned = set(planned)
    resumed = [pk for pk in unsent_digest_ids(now, older_than=resume_after, email=email) if pk not in just_planned]
    return PlanResult(
        due=len(targets),
        pending_ids=planned + resumed,
        empty=sum(1 for d in saved if d.status == Digest.Status.EMPTY),
        no_listing=sum(1 for d in drafts if not d.has_new_papers),
        resumed=len(resumed),
    )


# Digests of older periods are not resumed: their papers are old news by now.
RESUME_PERIODS_DAYS = 2


def unsent_digest_ids(now: dt.datetime, *, older_than: dt.timedelta, email: str | None = None) -> list[int]:
    """Recent digests that were planned but never sent: the broker was down when their ids
    were queued, or the worker holding them died. A row stops a subscriber from being due
    again for its period, so without this they would never go out. Handing an id out twice
    is harmless: only one caller can claim it (`claim_digest`)."""
    rows = Digest.objects.filter(
        Q(status=Digest.Status.PENDING, created_at__lte=now - older_than)
        | Q(status=Digest.Status.SENDING, claimed_at__lt=now - STALE_CLAIM_AFTER),
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
            DigestItem.objects.bulk_create(
                [item for digest, draft in zip(digests, drafts, strict=True) for item in _items(digest, draft, topic_ids)],
                batch_size=1000,
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
            DigestItem.objects.bulk_create(_items(digest, draft, topic_ids))
            return digest
    except IntegrityError:
        return None


def _digest_row(draft: Draft) -> Digest:
    status = Digest.Status.PENDING if draft.sends_email else Digest.Status.EMPTY
    return Digest(
        subscriber=draft.subscriber,
        period=draft.target.period,
        status=status,
        paper_count=len(draft.matches),
        match_count=draft.match_count,
    )


def _items(digest: Digest, draft: Draft, topic_ids: dict[str, int]) -> list[DigestItem]:
    return [
        DigestItem(
            digest=digest,
            paper=match.paper,
            rank=rank,
            score=match.score,
            topic_id=topic_ids.get(match.topic.slug) if match.topic else None,
            matched=list(match.reasons),
        )
        for rank, match in enumerate(draft.matches, start=1)
    ]


# --- 4. The email (content in digest/digest_email.py) --------------------------------


def draft_entries(draft: Draft) -> list[Entry]:
    return [Entry.from_match(m, rank) for rank, m in enumerate(draft.matches, start=1)]


def draft_message(draft: Draft) -> EmailMultiAlternatives:
    """The email a draft would become (dry run): same context and templates, no row."""
    target = draft.target
    return digest_message(
        target.subscriber, target.period, draft_entries(draft), interest=target.interest, match_count=draft.match_count
    )


def render_draft(draft: Draft) -> tuple[str, str, str]:
    """(subject, text, html) of a draft, HTML even for plain-text readers (preview)."""
    target = draft.target
    context = digest_context(
        target.subscriber, target.period, draft_entries(draft), interest=target.interest, match_count=draft.match_count
    )
    return render_email("digest", context)


# --- 5. Sending ----------------------------------------------------------------------


def claim_digest(digest_id: int, now: dt.datetime) -> bool:
    """Take the digest for this worker. Only one UPDATE can change the row from pending
    to sending, so two workers never send the same digest; a claim left by a worker that
    died mid-send becomes claimable again after STALE_CLAIM_AFTER."""
    claimable = Q(status=Digest.Status.PENDING) | Q(
        status=Digest.Status.SENDING, claimed_at__lt=now - STALE_CLAIM_AFTER
    )
    changed = Digest.objects.filter(claimable, pk=digest_id).update(
        status=Digest.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1
    )
    return changed == 1


class SendOutcome(enum.StrEnum):
    SENT = "sent"
    SKIPPED = "skipped"  # not ours to send: already sent, being sent, or not pending
    FAILED = "failed"
    EMPTY = "empty"


def send_digest(
    digest_id: int,
    *,
    now: dt.datetime | None = None,
    connection=None,
    retry_transient: bool = False,
) -> SendOutcome:
    """Send one planned digest, at most once. Returns a SendOutcome value.

    With `retry_transient`, a temporary SMTP failure puts the digest back to pending and
    re-raises, so the caller (a Celery task) retries it later; otherwise it is recorded
    as failed.
    """
    now = now or timezone.now()
    if not claim_digest(digest_id, now):
        return SendOutcome.SKIPPED
    digest = Digest.objects.select_related("subscriber").get(pk=digest_id)
    if not is_receiving(digest.subscriber, digest.period):
        # Unsubscribed or paused between planning and sending.
        _finish(digest, Digest.Status.FAILED, last_error="Not sent: the subscriber no longer receives digests.")
        return SendOutcome.FAILED
    try:
        entries = digest_entries(digest)
        if not entries and not digest.subscriber.send_when_empty:
            _finish(digest, Digest.Status.EMPTY)
            return SendOutcome.EMPTY
        message = digest_message(
            digest.subscriber, digest.period, entries, view_url=view_digest_url(digest), match_count=digest.match_count
        )
        send_email(message, connection)
    except Exception as exc:
        if retry_transient and is_transient(exc):
            _finish(digest, Digest.Status.PENDING, last_error=_describe(exc))
            raise
        logger.exception("digest %s could not be sent", digest_id)
        _finish(digest, Digest.Status.FAILED, last_error=_describe(exc))
        return SendOutcome.FAILED
    _finish(
        digest,
        Digest.Status.SENT,
        sent_at=timezone.now(),
        subject=message.subject[:300],
        message_id=message.extra_headers.get("Message-ID", "")[:200],
        last_error="",
    )
    return SendOutcome.SENT


def requeue_failed(digest_ids: Iterable[int]) -> list[int]:
    """Put failed digests back to pending and return their ids, for the send tasks to
    claim like any other. Only rows still failed change (locked first), so retrying the
    same digest twice (a double click, two curators) hands it out once; and a digest
    handed out twice is still claimed, hence sent, once (`claim_digest`)."""
    with transaction.atomic():
        ids = list(
            Digest.objects.select_for_update()
            .filter(pk__in=list(digest_ids), status=Digest.Status.FAILED)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        Digest.objects.filter(pk__in=ids, status=Digest.Status.FAILED).update(status=Digest.Status.PENDING)
    return ids


class BatchInterrupted(Exception):
    """A transient SMTP error stopped a batch: `remaining` are the ids not yet sent."""

    def __init__(self, remaining: list[int], cause: BaseException):
        super().__init__(f"{len(remaining)} digests left after {cause!r}")
        self.remaining = remaining
        self.cause = cause


def send_batch(digest_ids: list[int], *, final_attempt: bool) -> None:
    """Send each digest (claimed one by one, so a redelivered batch never double-sends)
    over one SMTP connection. Before the final attempt a transient error stops the batch
    with BatchInterrupted, so the caller can retry the rest later; on the final attempt
    every message gets its own connection and each failure is recorded on its digest
    instead of one dead connection failing the whole batch."""
    connection = None if final_attempt else get_connection()
    position = 0
    try:
        if connection is not None:
            connection.open()
        for position, digest_id in enumerate(digest_ids):
            send_digest(digest_id, connection=connection, retry_transient=not final_attempt)
    except Exception as exc:
        if final_attempt or not is_transient(exc):
            raise
        raise BatchInterrupted(list(digest_ids[position:]), exc) from exc
    finally:
        if connection is not None:
            connection.close()


def _finish(digest: Digest, status: str, **fields) -> None:
    # Only the claimant (status still "sending") may record the outcome.
    Digest.objects.filter(pk=digest.pk, status=Digest.Status.SENDING).update(status=status, **fields)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]
