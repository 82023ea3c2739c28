"""Time the curators' changelists on a large synthetic ledger.

    python manage.py bench_admin [--digests N] [--items-per-digest K] [--repeat R]

Creates N digests (over N / 20 subscribers, 20 periods each, K items each, each reader
following three topics), a month of tick runs and a throwaway superuser, then asks each changelist through Django's test client (the whole
middleware and admin stack, no network) R times and prints the median time and the
number of queries. Everything runs in one transaction that is rolled back.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from digest.management.cli import OperatorCommand, positive_int
from digest.models import Digest, DigestItem, Paper, TickRun, Topic
from digest.runs import RUN_RETENTION_DAYS
from subscriptions.models import Subscriber

PERIODS = 20
STATUSES = [Digest.Status.SENT] * 16 + [Digest.Status.EMPTY] * 3 + [Digest.Status.FAILED]


class Rollback(Exception):
    pass


class Command(OperatorCommand):
    help = "Time the admin changelists over a large synthetic digest ledger (nothing is kept)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--digests", type=positive_int, default=100_000, help="Synthetic digests (default 100000).")
        parser.add_argument(
            "--items-per-digest", type=positive_int, default=3, help="Papers in each digest (default 3)."
        )
        parser.add_argument("--repeat", type=positive_int, default=5, help="Requests per page (default 5).")

    def handle(self, *args, digests: int, items_per_digest: int, repeat: int, **options) -> None:
        papers = list(Paper.objects.values_list("pk", flat=True)[:max(items_per_digest, 0)])
        if items_per_digest and len(papers) < items_per_digest:
            raise CommandError(
                "The catalog has too few papers: import some first, e.g. "
                "`python manage.py import_papers digest/sample_data/daily_papers_listing.txt`."
            )
        try:
            with transaction.atomic():
                self._run(digests, papers, repeat)
                raise Rollback
        except Rollback:
            pass

    def _run(self, count: int, paper_ids: list[int], repeat: int) -> None:
        started = time.perf_counter()
        self._create_ledger(count, paper_ids)
        if connection.vendor == "postgresql":
            # Fresh statistics, as the ledger of a running site has; inside the
            # transaction, ANALYZE sees the rows it has not committed.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        self.stderr.write(f"ledger of {count} digests created in {time.perf_counter() - started:.1f} s")
        reader = Subscriber.objects.filter(email="bench-0@bench.invalid").values_list("pk", flat=True).first()
        client = Client(HTTP_HOST=_host())
        client.force_login(User.objects.create_superuser("bench-admin", "bench@bench.invalid", None))
        today = timezone.localdate()
        pages = {
            "digests": "/admin/digest/digest/",
            "digests, failed": "/admin/digest/digest/?status__exact=failed",
            "digests, one day": f"/admin/digest/digest/?day={today.isoformat()}",
            "digests, search": "/admin/digest/digest/?q=bench-7",
            "digests, oldest first": "/admin/digest/digest/?o=2",
            "papers": "/admin/digest/paper/",
            "subscribers": "/admin/subscriptions/subscriber/",
            "listing day": "/admin/digest/paper/listing/",
            "sends dashboard": "/admin/digest/tickrun/",
            "reader's preview": f"/admin/subscriptions/subscriber/{reader}/preview/",
        }
        self.stdout.write(f"database {connection.vendor}; {count} digests, {len(paper_ids)} items each")
        for name, url in pages.items():
            times = []
            for _ in range(repeat):
                slowest = _SlowestQuery()
                with CaptureQueriesContext(connection) as queries, connection.execute_wrapper(slowest):
                    began = time.perf_counter()
                    response = client.get(url)
                    times.append(time.perf_counter() - began)
                if response.status_code != 200:
                    raise CommandError(f"{url} answered {response.status_code}")
            self.stdout.write(
                f"{name:<20} median {statistics.median(times) * 1000:7.1f} ms, max {max(times) * 1000:7.1f} ms, "
                f"{len(queries)} queries; slowest {slowest.seconds * 1000:.1f} ms: {slowest.sql[:90]}"
            )

    @staticmethod
    def _create_ledger(count: int, paper_ids: list[int]) -> None:
        readers = Subscriber.objects.bulk_create(
            [
                Subscriber(email=f"bench-{n}@bench.invalid", status=Subscriber.Status.ACTIVE)
                for n in range((count + PERIODS - 1) // PERIODS)
            ],
            batch_size=2000,
        )
        # Every reader follows three topics, so the listing day's reach has work to do.
        topics = list(Topic.objects.values_list("pk", flat=True))
        if topics:
            Subscriber.topics.through.objects.bulk_create(
                [
                    Subscriber.topics.through(subscriber_id=r.pk, topic_id=topics[(n + k) % len(topics)])
                    for n, r in enumerate(readers)
                    for k in range(min(3, len(topics)))
                ],
                batch_size=5000,
                ignore_conflicts=True,
            )
        today = timezone.localdate()
        now = timezone.now()
        # A month of ticks every five minutes: what the dashboard keeps (RUN_RETENTION_DAYS).
        TickRun.objects.bulk_create(
            [
                TickRun(started_at=now - dt.timedelta(minutes=5 * n), finished_at=now - dt.timedelta(minutes=5 * n),
                        seconds=1.0, due=10, planned=10)
                for n in range(RUN_RETENTION_DAYS * 288)
            ],
            batch_size=5000,
        )
        rows = (
            Digest(
                subscriber_id=readers[n // PERIODS].pk,
                period=today - dt.timedelta(days=n % PERIODS),
                status=STATUSES[n % len(STATUSES)],
                paper_count=len(paper_ids),
                sent_at=now,
            )
            for n in range(count)
        )
        batch: list[Digest] = []
        for row in rows:
            batch.append(row)
            if len(batch) == 5000:
                _save(batch, paper_ids)
                batch = []
        if batch:
            _save(batch, paper_ids)


def _save(batch: list[Digest], paper_ids: list[int]) -> None:
    saved = Digest.objects.bulk_create(batch)
    DigestItem.objects.bulk_create(
        [DigestItem(digest_id=d.pk, paper_id=p, rank=r) for d in saved for r, p in enumerate(paper_ids, start=1)],
        batch_size=5000,
    )


class _SlowestQuery:
    """An execute wrapper that remembers the slowest query of a request."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.sql = ""

    def __call__(self, execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            took = time.perf_counter() - began
            if took > self.seconds:
                self.seconds, self.sql = took, " ".join(sql.split())


def _host() -> str:
    """A host name the site answers to (the test client's own is not always allowed)."""
    for host in settings.ALLOWED_HOSTS:
        if host not in ("*",) and not host.startswith("."):
            return host if host != "[::1]" else "localhost"
    return "localhost"
