"""Time the whole digest pipeline on synthetic subscribers: plan (who is due, match,
write the ledger), then build and "send" every digest through the real code path.

    python manage.py bench_digests [--subscribers N] [--seed S]

Sending goes to a backend that serialises each message to bytes (the full MIME cost)
and drops it, so the figures are ours, not a mail server's. Everything runs in one
transaction that is rolled back: the catalog and subscribers are left as they were.
"""

from __future__ import annotations

import random
import resource
import statistics
import time

from django.core.mail.backends.base import BaseEmailBackend
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from tqdm import tqdm

from digest import digests
from digest.management.cli import OperatorCommand, positive_int
from digest.models import Paper, Topic
from subscriptions.models import Subscriber

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Asia/Kolkata", "Australia/Sydney"]
KEYWORDS = ["LoRA", "diffusion", "reasoning", "KV cache", "benchmark", "robot", "MRI", "speech", "agents"]


class SerialiseOnlyBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        for message in email_messages:
            message.message().as_bytes()
        return len(email_messages)


class Rollback(Exception):
    pass


class Command(OperatorCommand):
    help = "Time planning and building digests for synthetic subscribers (nothing is kept)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--subscribers", type=positive_int, default=2000, help="Synthetic subscribers (default 2000).")
        parser.add_argument("--seed", type=int, default=1, help="Random seed, for repeatable runs.")

    def handle(self, *args, subscribers: int, seed: int, **options) -> None:
        if not Paper.objects.filter(is_hidden=False).exists():
            raise CommandError(
                "The catalog is empty: import papers first, e.g. "
                "`python manage.py import_papers digest/sample_data/daily_papers_listing.txt`."
            )
        topics = list(Topic.objects.filter(is_active=True))
        if not topics:
            raise CommandError("No active topics: run `python manage.py migrate` for the default ones.")
        try:
            with transaction.atomic():
                self._run(subscribers, random.Random(seed), topics)
                raise Rollback
        except Rollback:
            pass

    def _run(self, count: int, rng: random.Random, topics: list[Topic]) -> None:
        self._create_subscribers(count, rng, topics)
        now = timezone.now()

        with CaptureQueriesContext(connection) as plan_queries:
            started = time.perf_counter()
            plan = digests.plan_digests(now, force=True)
            plan_seconds = time.perf_counter() - started

        backend = SerialiseOnlyBackend()
        per_digest: list[float] = []
        outcomes: dict[str, int] = {}
        with CaptureQueriesContext(connection) as send_queries:
            for digest_id in tqdm(plan.pending_ids, desc="building", unit="digest", file=self.stderr._out):
                started = time.perf_counter()
                outcome = digests.send_digest(digest_id, connection=backend)
                per_digest.append(time.perf_counter() - started)
                outcomes[str(outcome)] = outcomes.get(str(outcome), 0) + 1

        sent = len(per_digest)
        mean_ms = statistics.fmean(per_digest) * 1000 if per_digest else 0.0
        p95_ms = (statistics.quantiles(per_digest, n=20)[-1] * 1000) if len(per_digest) >= 20 else mean_ms
        plan_ms = plan_seconds * 1000 / count
        per_million_core_min = (plan_ms + mean_ms) * 1_000_000 / 1000 / 60
        rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        lines = [
            f"database               {connection.vendor}",
            f"subscribers            {count} (all due now: --now)",
            f"plan                   {plan_seconds:.2f} s ({plan_ms:.2f} ms per subscriber), {len(plan_queries)} queries",
            f"digests                {plan.due} due, {len(plan.pending_ids)} to send, {plan.empty} empty",
            f"build + send           mean {mean_ms:.2f} ms, p95 {p95_ms:.2f} ms per digest "
            f"({len(send_queries) / max(sent, 1):.1f} queries each); outcomes {outcomes}",
            f"1,000,000 subscribers  about {per_million_core_min:.0f} core-minutes of our own work",
            f"process max RSS        {rss_mib:.0f} MiB",
        ]
        self.stdout.write("\n".join(lines))

    @staticmethod
    def _create_subscribers(count: int, rng: random.Random, topics: list[Topic]) -> None:
        rows = [
            Subscriber(
                email=f"bench-{n}@bench.invalid",
                status=Subscriber.Status.ACTIVE,
                timezone=rng.choice(ZONES),
                keywords=rng.sample(KEYWORDS, rng.randint(0, 2)),
                max_papers=rng.choice([5, 10, 20]),
                email_format=rng.choice([Subscriber.Format.HTML] * 4 + [Subscriber.Format.TEXT]),
            )
            for n in range(count)
        ]
        created = Subscriber.objects.bulk_create(rows, batch_size=1000)
        through = Subscriber.topics.through
        links = [
            through(subscriber_id=s.pk, topic_id=t.pk)
            for s in created
            for t in rng.sample(topics, rng.randint(1, 3))
        ]
        through.objects.bulk_create(links, batch_size=5000)
