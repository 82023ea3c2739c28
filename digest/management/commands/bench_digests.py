"""Time the whole digest pipeline end to end on synthetic readers:

    python manage.py bench_digests --subscribers N [--papers P] [--sink smtp|outbox|none]
                                   [--workers W] [--threads T] [--json] [--keep] [--seed S]

Creates N confirmed readers on `example.invalid` (all due now) and P papers listed on the
latest listing day, starts an SMTP sink in its own process and W real Celery workers,
queues the beat's tick, and waits until every digest has an outcome. Then, against the
same sink with a sample of the same messages, it measures what raw smtplib gets through
(the transport ceiling) and how fast one process renders. It refuses to run on a
database with real subscribers and deletes what it created unless `--keep`.

A benchmark, not a test: the figures depend on the machine and its load.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import signal
import tempfile
import time
from collections import Counter
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError
from django.db.models import Count, Q, Sum
from django.utils import timezone
from tqdm import tqdm

from digest import bench, digests
from digest.digest_email import digest_message, view_digest_url
from digest.management.cli import OperatorCommand, positive_int
from digest.models import Digest, Paper, TickRun
from digest.tasks import send_due_digests
from subscriptions.models import Subscriber

CEILING_SAMPLE = 1000  # messages rendered in this process and sent by raw smtplib (~50 MB held)
POLL_SECONDS = 1.0


class Command(OperatorCommand):
    help = "Plan, render and send digests to synthetic readers through real workers into a local sink; print figures."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--subscribers", type=positive_int, default=2000, help="synthetic readers (default 2000)")
        parser.add_argument("--papers", type=positive_int, default=1000,
                            help="papers listed on the listing day (the listing repeated as needed; default 1000)")
        parser.add_argument("--sink", choices=["smtp", "outbox", "none"], default="smtp",
                            help="smtp: an SMTP server on loopback in its own process; outbox: .eml files; "
                            "none: build every message and drop it (default smtp)")
        parser.add_argument("--workers", type=positive_int, default=2, help="Celery worker processes (default 2)")
        parser.add_argument("--threads", type=positive_int, default=1,
                            help="threads per worker process (default 1: the solo pool)")
        parser.add_argument("--json", action="store_true", help="print one JSON object instead of lines")
        parser.add_argument("--keep", action="store_true", help="keep the synthetic readers, digests and papers")
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument("--timeout", type=positive_int, default=3600, help="seconds to wait (default 3600)")

    def handle(self, *args, subscribers: int, papers: int, sink: str, workers: int, threads: int, json: bool,
               keep: bool, seed: int, timeout: int, verbosity: int, **options) -> None:
        self._check_preconditions()
        # Stopped from outside (SIGTERM, or Ctrl-C), it still stops its workers and sink
        # and deletes its data: the finally blocks below run.
        signal.signal(signal.SIGTERM, _exit_on_signal)
        signal.signal(signal.SIGINT, _exit_on_signal)
        bench.delete_synthetic()  # a run with --keep leaves some behind
        bench.vacuum_ledger()  # and every run leaves dead rows: each starts on clean tables
        folder = Path(tempfile.mkdtemp(prefix="bench-digests-"))
        try:
            report = self._run(subscribers, papers, sink, workers, threads, seed, timeout, folder,
                               quiet=verbosity == 0)
        finally:
            if not keep:
                bench.delete_synthetic()
                bench.vacuum_ledger()
                shutil.rmtree(folder, ignore_errors=True)
        self.stdout.write(_json_dump(report) if json else self._lines(report))

    def _check_preconditions(self) -> None:
        if not Paper.objects.filter(is_hidden=False).exists():
            raise CommandError(
                "The catalog is empty: import papers first, e.g. "
                "`python manage.py import_papers digest/sample_data/daily_papers_listing.txt`."
            )
        if real := bench.real_subscriber_count():
            raise CommandError(
                f"This database holds {real} real subscriber(s): bench_digests runs only on a database whose "
                f"subscribers are all synthetic (@{bench.SYNTHETIC_DOMAIN}). Use a database of its own."
            )
        if not settings.REDIS_URL:
            raise CommandError("bench_digests needs REDIS_URL: its workers take their tasks from Redis.")

    def _run(self, count: int, paper_count: int, sink_kind: str, worker_count: int, threads: int, seed: int,
             timeout: int, folder: Path, *, quiet: bool) -> dict:
        stages: dict[str, dict] = {}
        started = time.perf_counter()
        now = timezone.now()
        day = bench.listing_day()
        added = bench.ensure_papers(paper_count, day)
        bench.create_subscribers(count, random.Random(seed), bench.zones_on_or_after(day, now))
        stages["setup"] = {"seconds": round(time.perf_counter() - started, 2), "papers_added": added}

        cpu_at_start = time.process_time()
        machine_at_start = bench.machine_busy_seconds()
        env = self._worker_env(sink_kind, folder)
        sink = bench.Sink(folder) if sink_kind == "smtp" else None
        if sink:
            env.update(EMAIL_BACKEND="digest.mail_smtp.EmailBackend", EMAIL_HOST="127.0.0.1",
                       EMAIL_PORT=str(sink.port), EMAIL_USE_TLS="0", EMAIL_USE_SSL="0")
        workers = bench.Workers(worker_count, env, folder, threads=threads)
        try:
            self._wait_until_ready(workers, timeout=120)
            pipeline = self._pipeline(workers, timeout, expected=count, quiet=quiet)
            stages.update(pipeline["stages"])
            peak = {f"worker-{n}": rss for n, rss in enumerate(workers.peak_rss())}
            cpu = {f"worker-{n}": seconds for n, seconds in enumerate(workers.cpu_seconds())}
            if sink:
                cpu["sink"] = bench.cpu_seconds(sink.process.pid)
            cpu["bench command (waiting)"] = round(time.process_time() - cpu_at_start, 2)
            machine_busy = bench.machine_busy_seconds() - machine_at_start
            render = self._render_sample()
            stages["render (one process)"] = render["stage"]
            ceiling = bench.smtplib_ceiling(sink.port, render["messages"], worker_count) if sink else None
            if sink:
                peak["sink"] = bench.peak_rss_mb(sink.process.pid)
        finally:
            workers.stop()
            counts = sink.stop() if sink else None
        peak["bench command"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        missing, duplicates = self._missing_and_duplicates(counts, sink_kind, folder)
        rate = pipeline["sent"] / pipeline["seconds"] if pipeline["seconds"] else 0.0
        return {
            "subscribers": count,
            "papers": Paper.objects.filter(is_hidden=False, listed_on=day).count(),
            "sink": sink_kind,
            "workers": worker_count,
            "threads_per_worker": threads,
            "digests": pipeline["digests"],
            "sent": pipeline["sent"],
            "total_seconds": round(pipeline["seconds"], 2),
            "digests_per_second": round(rate, 1),
            "render_per_second": render["stage"]["digests_per_second"],
            "ceiling_per_second": round(ceiling, 1) if ceiling else None,
            "ratio_to_ceiling": round(rate / ceiling, 3) if ceiling else None,
            "peak_rss_mb": peak,
            # CPU of our processes up to the end of the pipeline (worker start-up included;
            # PostgreSQL and Redis not): what a digest costs, whatever else the machine does.
            "cpu_seconds": cpu,
            "cpu_ms_per_digest": round(
                sum(v for v in cpu.values() if v) * 1000 / max(pipeline["sent"], 1), 2
            ),
            # Every core's busy time over the same span: ours plus PostgreSQL, Redis and
            # whatever else runs (on a quiet machine, mostly the database).
            "machine_cpu_seconds": {
                "all": round(machine_busy, 1),
                "others (database, Redis, ...)": round(machine_busy - sum(v for v in cpu.values() if v), 1),
            },
            "missing": missing,
            "duplicates": duplicates,
            "stages": stages,
        }

    def _worker_env(self, sink_kind: str, folder: Path) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DATABASE_URL=bench.database_url(), SECRET_KEY=settings.SECRET_KEY, SITE_URL=settings.SITE_URL,
            DEBUG="0", VAR_DIR=str(folder / "var"), PYTHONUNBUFFERED="1",
        )
        if sink_kind == "outbox":
            env.update(EMAIL_BACKEND="digest.mail_outbox.OutboxBackend", OUTBOX_DIR=str(folder / "outbox"))
        elif sink_kind == "none":
            env.update(EMAIL_BACKEND="digest.bench.SerialiseOnlyBackend")
        (folder / "var").mkdir(exist_ok=True)
        return env

    def _wait_until_ready(self, workers: bench.Workers, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not all("ready" in log.read_text() for log in workers.logs):
            workers.check()
            if time.monotonic() > deadline:
                raise CommandError(f"the workers did not start within {timeout:.0f} s; see {workers.logs[0]}")
            time.sleep(0.2)

    def _pipeline(self, workers: bench.Workers, timeout: int, *, expected: int, quiet: bool) -> dict:
        """Queue the tick and wait until it has planned everyone and every digest has an
        outcome. Progress is read as counts (one query a poll), never as a list of ids."""
        started = time.perf_counter()
        now = timezone.now()
        send_due_digests.delay()
        planned_at = first_sent_at = None
        deadline = time.monotonic() + timeout
        bar = tqdm(total=expected, desc="sent", unit=" digests", file=self.stderr._out, disable=quiet)
        while True:
            time.sleep(POLL_SECONDS)
            workers.check()
            counts = Digest.objects.aggregate(
                total=Count("pk"),
                waiting=Count("pk", filter=Q(status__in=(Digest.Status.PENDING, Digest.Status.SENDING))),
                sent=Count("pk", filter=Q(status=Digest.Status.SENT)),
            )
            bar.update(counts["sent"] - bar.n)
            elapsed = time.perf_counter() - started
            if first_sent_at is None and counts["sent"]:
                first_sent_at = elapsed
            # The tick hands chunks of readers to planning tasks: planning is over when the
            # run's record counts every reader (due ones are counted once planned).
            if planned_at is None and (_readers_planned(since=now) or 0) >= expected:
                planned_at = elapsed
            if planned_at is not None and not counts["waiting"]:
                break
            if time.monotonic() > deadline:
                raise CommandError(f"not done within {timeout} s: {counts}")
        seconds = time.perf_counter() - started
        bar.close()
        by_status = dict(Digest.objects.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
        sent = by_status.get(Digest.Status.SENT, 0)
        return {
            "seconds": seconds,
            "sent": sent,
            "digests": by_status,
            "stages": {
                "plan (every reader's digest stored; sends overlap)": {"seconds": round(planned_at, 2)},
                "first message accepted": {"seconds": round(first_sent_at or 0, 2)},
                "plan + render + send": {"seconds": round(seconds, 2), "digests_per_second": round(sent / seconds, 1)},
            },
        }

    def _render_sample(self) -> dict:
        """Build (render and serialise) a sample of the sent digests again in this process,
        as a worker would: the render-only rate, and the bytes for the ceiling."""
        ids = list(Digest.objects.filter(status=Digest.Status.SENT).order_by("pk").values_list("pk", flat=True)
                   [:CEILING_SAMPLE])
        started, cpu_started = time.perf_counter(), time.process_time()
        batch = digests.load_batch(ids, unsent_only=False)
        messages = []
        for digest_id in ids:
            digest = batch.digests[digest_id]
            message = digest_message(
                digest.subscriber, digest.period, batch.entries[digest_id], view_url=view_digest_url(digest),
                message_id=digest.message_id, match_count=digest.match_count,
                topic_names=batch.topic_names.get(digest.subscriber_id),
            )
            messages.append(message.message().as_bytes(linesep="\r\n"))
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        return {
            "messages": messages,
            "stage": {
                "digests": len(ids), "seconds": round(seconds, 2),
                "digests_per_second": round(len(ids) / seconds, 1) if seconds else None,
                # This process's CPU alone: on a shared machine the wall clock also
                # counts the time other processes held the cores.
                "cpu_ms_per_digest": round(cpu * 1000 / max(len(ids), 1), 3),
                "mean_message_kb": round(sum(map(len, messages)) / max(len(messages), 1) / 1024, 1),
            },
        }

    def _missing_and_duplicates(self, counts: Counter | None, sink_kind: str, folder: Path) -> tuple[int, int]:
        """Against what the sink holds: readers whose planned digest never arrived, and
        copies beyond the first. Without a sink that counts, the ledger says."""
        expected = set(
            Subscriber.objects.filter(digests__in=Digest.objects.exclude(status=Digest.Status.EMPTY))
            .values_list("email", flat=True)
        )
        expected = {e.lower() for e in expected}
        if counts is None and sink_kind == "outbox":
            counts = Counter()
            # File names are "<stamp>-<recipient>-<n>.eml".
            for path in (folder / "outbox").glob("*.eml"):
                counts[path.stem.split("-", 1)[1].rsplit("-", 1)[0].lower()] += 1
        if counts is None:
            unsent = Digest.objects.exclude(status__in=(Digest.Status.SENT, Digest.Status.EMPTY)).count()
            return unsent, 0
        ours = {address: n for address, n in counts.items() if address.endswith("@" + bench.SYNTHETIC_DOMAIN)}
        missing = sum(1 for address in expected if not ours.get(address))
        duplicates = sum(n - 1 for n in ours.values() if n > 1) + sum(1 for a in ours if a not in expected)
        return missing, duplicates

    def _lines(self, report: dict) -> str:
        lines = [
            f"subscribers            {report['subscribers']} ({report['papers']} papers listed, sink {report['sink']}, "
            f"{report['workers']} workers x {report['threads_per_worker']} threads)",
            f"digests                {report['digests']}",
        ]
        for name, stage in report["stages"].items():
            figures = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in stage.items())
            lines.append(f"stage: {name:32} {figures}")
        lines += [
            f"total                  {report['total_seconds']} s, {report['digests_per_second']} digests/s "
            f"(render alone, one process: {report['render_per_second']}/s)",
            f"raw smtplib ceiling    {report['ceiling_per_second']} messages/s; ratio {report['ratio_to_ceiling']}",
            f"peak RSS (MB)          {report['peak_rss_mb']}",
            f"CPU seconds            {report['cpu_seconds']} ({report['cpu_ms_per_digest']} ms a digest)",
            f"machine CPU seconds    {report['machine_cpu_seconds']}",
            f"missing                {report['missing']}",
            f"duplicates             {report['duplicates']}",
        ]
        return "\n".join(lines)


def _readers_planned(*, since) -> int | None:
    return TickRun.objects.filter(started_at__gte=since).aggregate(n=Sum("due"))["n"]


def _exit_on_signal(signum, _frame) -> None:
    raise SystemExit(f"stopped by signal {signum}")


def _json_dump(report: dict) -> str:
    return json.dumps(report, default=str)
