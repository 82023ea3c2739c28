"""The sends dashboard: per day what the ledger says (sent, failed, empty, quiet-day,
bounces), who subscribed and left, and the last runs of the tick; the charts drawn here
as SVG, so the page needs no script and nothing from elsewhere.

Every figure comes from a fixed number of aggregate queries, whatever the ledger's size."""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from subscriptions.models import Subscriber, Suppression, SuppressionReason
from subscriptions.suppression import redact_addresses

from .models import Digest, TickRun

DAYS_SHOWN = 14
RUNS_SHOWN = 20


@dataclass
class Day:
    day: dt.date
    sent: int = 0  # with papers
    quiet: int = 0  # sent with no paper: the quiet-day note a reader asked for
    failed: int = 0
    empty: int = 0  # no match, no quiet-day note wanted: recorded, nothing sent
    waiting: int = 0  # pending or sending: not final yet
    uncertain: int = 0  # final: the server never said whether it arrived
    bounced: int = 0  # of the failed: the address refused for good (it is stopped)
    refused: int = 0  # of the failed: refused as spam or by policy (about our sending)
    # None: not recorded yet. Complaints arrive through the ESP's webhooks (the
    # suppression list); `add_complaints` is the one place that fills them in.
    complaints: int | None = None
    active: int = 0
    signups: int = 0
    unsubscribes: int = 0


@dataclass
class FailureReason:
    label: str  # the failure kind, as the ledger names it
    count: int
    latest_error: str  # the most recent one's error, with every address blanked
    latest_period: dt.date | None  # the day of the latest one


@dataclass
class Dashboard:
    days: list[Day]
    runs: list[TickRun]
    active_now: int = 0
    failures: list[FailureReason] = field(default_factory=list)


def sends_dashboard(today: dt.date | None = None, days: int = DAYS_SHOWN) -> Dashboard:
    today = today or timezone.localdate()
    rows = {day: Day(day) for day in (today - dt.timedelta(days=n) for n in range(days))}
    first = min(rows)
    add_ledger(rows, first, today)
    add_complaints(rows, first, today)
    add_subscribers(rows, first, today)
    failures = failure_reasons(first, today)
    active_now = Subscriber.objects.receiving_digests(today).count()
    return Dashboard(
        days=sorted(rows.values(), key=lambda d: d.day), runs=last_runs(), active_now=active_now, failures=failures
    )


def failure_reasons(first: dt.date, last: dt.date) -> list[FailureReason]:
    """Why the period's digests failed, per kind, with the latest error of each: what a
    curator needs to tell a dead mailbox from a misconfigured server, without the
    readers' addresses (the error's quoted address is blanked)."""
    failed = Digest.objects.filter(period__gte=first, period__lte=last, status=Digest.Status.FAILED)
    labels = dict(Digest.Failure.choices)
    reasons = []
    for row in failed.values("failure").annotate(n=Count("pk")).order_by("-n", "failure"):
        latest = failed.filter(failure=row["failure"]).order_by("-period", "-pk").values("last_error", "period").first()
        reasons.append(
            FailureReason(
                label=labels.get(row["failure"], "Not recorded"),
                count=row["n"],
                latest_error=redact_addresses(latest["last_error"])[:300] if latest else "",
                latest_period=latest["period"] if latest else None,
            )
        )
    return reasons


def add_ledger(rows: dict[dt.date, Day], first: dt.date, last: dt.date) -> None:
    """Digests per period by status (one grouped query over an index-served range)."""
    S = Digest.Status
    ledger = (
        Digest.objects.filter(period__gte=first, period__lte=last)
        .values("period")
        .annotate(
            sent=Count("pk", filter=Q(status=S.SENT, paper_count__gt=0)),
            quiet=Count("pk", filter=Q(status=S.SENT, paper_count=0)),
            failed=Count("pk", filter=Q(status=S.FAILED)),
            empty=Count("pk", filter=Q(status=S.EMPTY)),
            waiting=Count("pk", filter=Q(status__in=[S.PENDING, S.SENDING])),
            uncertain=Count("pk", filter=Q(status=S.UNCERTAIN)),
            bounced=Count("pk", filter=Q(status=S.FAILED, failure=Digest.Failure.BOUNCED)),
            refused=Count("pk", filter=Q(status=S.FAILED, failure=Digest.Failure.REFUSED)),
        )
        .order_by()
    )
    for counts in ledger:
        row = rows[counts["period"]]
        for name, value in counts.items():
            if name != "period":
                setattr(row, name, value)


def add_complaints(rows: dict[dt.date, Day], first: dt.date, last: dt.date) -> None:
    """Spam complaints per day. They are known only from an ESP's tracking webhooks,
    which record them on the suppression list; without those (plain SMTP) the column
    says "not recorded" rather than a zero nobody measured."""
    if not settings.ESP_WEBHOOKS:
        return
    zone = timezone.get_current_timezone()
    start = dt.datetime.combine(first, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    for row in rows.values():
        row.complaints = 0
    per_day = (
        Suppression.objects.filter(reason=SuppressionReason.COMPLAINT, created_at__gte=start, created_at__lt=end)
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values("day")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for counts in per_day:
        if counts["day"] in rows:
            rows[counts["day"]].complaints = counts["n"]


def add_subscribers(rows: dict[dt.date, Day], first: dt.date, last: dt.date) -> None:
    """Signups and unsubscribes per day, and how many were subscribed at each day's end
    (confirmed by then and not unsubscribed by then). Deleted subscriptions are gone from
    every figure: only the anonymous counters remember them."""
    zone = timezone.get_current_timezone()
    ends = {day: dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone) for day in rows}
    receiving = [Subscriber.Status.ACTIVE, Subscriber.Status.PAUSED]
    actives = Subscriber.objects.aggregate(
        **{
            # Confirmed by then (or, for the rare subscription with no confirmation on
            # record, receiving now and signed up by then), and not unsubscribed by then.
            f"d{day:%Y%m%d}": Count(
                "pk",
                filter=(
                    Q(confirmed_at__lt=end) | Q(confirmed_at__isnull=True, status__in=receiving, signed_up_at__lt=end)
                )
                & (Q(unsubscribed_at__isnull=True) | Q(unsubscribed_at__gte=end)),
            )
            for day, end in ends.items()
        }
    )
    for day, row in rows.items():
        row.active = actives[f"d{day:%Y%m%d}"]
    start = ends[first] - dt.timedelta(days=1)
    for name, column in (("signups", "signed_up_at"), ("unsubscribes", "unsubscribed_at")):
        per_day = (
            Subscriber.objects.filter(**{f"{column}__gte": start, f"{column}__lt": ends[last]})
            .annotate(day=TruncDate(column, tzinfo=zone))
            .values("day")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for counts in per_day:
            if counts["day"] in rows:
                setattr(rows[counts["day"]], name, counts["n"])


def last_runs(limit: int = RUNS_SHOWN) -> list[TickRun]:
    """The latest runs of the tick, each with how its digests stand now, as `sent` and
    `failed`. Read from the ledger: the digests a run wrote are those created while it
    ran. Two queries: the runs, then the digests created in their span (bounded by
    period too, so the ledger's index serves it; a reader's local day is within a day
    of the UTC date)."""
    runs = list(TickRun.objects.order_by("-started_at")[:limit])
    for run in runs:
        run.sent = run.failed = 0  # type: ignore[attr-defined]
    if not runs:
        return runs
    first, last = min(r.started_at for r in runs), max(r.finished_at for r in runs)
    made = Digest.objects.filter(
        created_at__gte=first,
        created_at__lte=last,
        period__gte=first.date() - dt.timedelta(days=1),
        period__lte=last.date() + dt.timedelta(days=1),
        status__in=[Digest.Status.SENT, Digest.Status.FAILED],
    ).values_list("created_at", "status")
    by_start = sorted(runs, key=lambda r: r.started_at)
    starts = [r.started_at for r in by_start]
    for created_at, status in made.iterator(chunk_size=5000):
        run = by_start[bisect.bisect_right(starts, created_at) - 1]
        if run.started_at <= created_at <= run.finished_at:
            name = "sent" if status == Digest.Status.SENT else "failed"
            setattr(run, name, getattr(run, name) + 1)
    return runs


# --- Charts --------------------------------------------------------------------------

SERIES = (
    ("sent", "Sent", "#2e7d32"),
    ("quiet", "Quiet-day", "#81c784"),
    ("empty", "Empty", "#9e9e9e"),
    ("failed", "Failed", "#c62828"),
    ("uncertain", "Uncertain", "#8e24aa"),
    ("waiting", "Waiting", "#f9a825"),
)


def stacked_bars_svg(days: list[Day], *, width: int = 720, height: int = 220) -> SafeString:
    """Digests per day, stacked by outcome. The numbers are in the table beside it; the
    chart only shows their shape."""
    left, bottom, top = 40, 24, 10
    plot_h = height - bottom - top
    total = max((sum(getattr(d, name) for name, _, _ in SERIES) for d in days), default=0) or 1
    slot = (width - left) / max(len(days), 1)
    bar = max(slot * 0.7, 1)
    parts: list[SafeString] = []
    for n, day in enumerate(days):
        x = left + n * slot + (slot - bar) / 2
        y = top + plot_h
        for name, label, colour in SERIES:
            value = getattr(day, name)
            if not value:
                continue
            h = plot_h * value / total
            y -= h
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{} {}: {}</title></rect>',
                    _n(x),
                    _n(y),
                    _n(bar),
                    _n(h),
                    colour,
                    day.day.isoformat(),
                    label,
                    value,
                )
            )
        parts.append(
            format_html(
                '<text x="{}" y="{}" font-size="10" text-anchor="middle" fill="#333">{}</text>',
                _n(x + bar / 2),
                height - 8,
                f"{day.day:%d %b}",
            )
        )
    axis = format_html(
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#666"/>'
        '<text x="{}" y="{}" font-size="10" text-anchor="end" fill="#333">{}</text>'
        '<text x="{}" y="{}" font-size="10" text-anchor="end" fill="#333">0</text>',
        left,
        top + plot_h,
        width,
        top + plot_h,
        left - 4,
        top + 8,
        total,
        left - 4,
        top + plot_h,
    )
    return _svg("Digests per day by outcome", width, height, axis, parts)


def run_seconds_svg(runs: list[TickRun], *, width: int = 720, height: int = 160) -> SafeString:
    """How long the last runs of the tick took, oldest on the left."""
    left, bottom, top = 40, 16, 10
    plot_h = height - bottom - top
    ordered = list(reversed(runs))
    longest = max((r.seconds for r in ordered), default=0) or 1
    slot = (width - left) / max(len(ordered), RUNS_SHOWN)
    bar = max(slot * 0.7, 1)
    parts = [
        format_html(
            '<rect x="{}" y="{}" width="{}" height="{}" fill="#1565c0"><title>{}: {} s</title></rect>',
            _n(left + n * slot + (slot - bar) / 2),
            _n(top + plot_h - plot_h * run.seconds / longest),
            _n(bar),
            _n(plot_h * run.seconds / longest),
            f"{timezone.localtime(run.started_at):%d %b %H:%M}",
            f"{run.seconds:.2f}",
        )
        for n, run in enumerate(ordered)
    ]
    axis = format_html(
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#666"/>'
        '<text x="{}" y="{}" font-size="10" text-anchor="end" fill="#333">{} s</text>',
        left,
        top + plot_h,
        width,
        top + plot_h,
        left - 4,
        top + 8,
        f"{longest:.1f}",
    )
    return _svg("Seconds per run of the tick", width, height, axis, parts)


def _n(value: float) -> str:
    return f"{value:.1f}"


def _svg(title: str, width: int, height: int, axis: SafeString, parts: list[SafeString]) -> SafeString:
    body = format_html_join("", "{}", ((part,) for part in parts))
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="dashboard-chart" viewBox="0 0 {w} {h}" width="{w}" '
        'height="{h}" role="img" aria-label="{t}"><title>{t}</title>{axis}{body}</svg>',
        w=width,
        h=height,
        t=title,
        axis=axis,
        body=body,
    )


def legend() -> SafeString:
    return mark_safe(
        "".join(
            format_html(
                '<span class="legend-item"><svg width="10" height="10" aria-hidden="true">'
                '<rect width="10" height="10" fill="{}"/></svg> {}</span>',
                colour,
                label,
            )
            for _, label, colour in SERIES
        )
    )
