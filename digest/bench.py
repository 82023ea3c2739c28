"""The parts of `bench_digests` that are not the pipeline itself: synthetic readers and
papers, an SMTP sink in its own process that counts messages per recipient, the worker
processes, peak memory of a process, and the raw-smtplib ceiling.

Synthetic readers live on the reserved domain `example.invalid` (RFC 2606): nothing
addressed to them can ever leave the machine, and they are told apart from real
subscribers by their address alone.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import random
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection
from django.db.models import Max

from subscriptions.models import Subscriber

from .models import Digest, DigestItem, Paper, Topic, title_key

SYNTHETIC_DOMAIN = "example.invalid"
ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Australia/Sydney",
    "America/Los_Angeles",
    "Europe/London",
]
KEYWORDS = [
    "LoRA",
    "diffusion",
    "reasoning",
    "KV cache",
    "benchmark",
    "robot",
    "MRI",
    "speech",
    "agents",
    "quantization",
    "retrieval",
    "video",
    "alignment",
    "graph",
    "protein",
]
AUTHORS = ["Yann LeCun", "Percy Liang", "Chelsea Finn", "Sergey Levine", "Song Han", "Tri Dao"]
COPY_MARK = " [bench copy "  # in the title of a paper copied by the benchmark


class SerialiseOnlyBackend(BaseEmailBackend):
    """`--sink none`: every message is built to its bytes (the whole MIME cost) and dropped."""

    def send_messages(self, email_messages) -> int:
        for message in email_messages:
            message.message().as_bytes()
        return len(email_messages)


# --- Synthetic data ------------------------------------------------------------------


def real_subscriber_count() -> int:
    return Subscriber.objects.exclude(email__iendswith="@" + SYNTHETIC_DOMAIN).count()


def delete_synthetic() -> tuple[int, int]:
    """Remove every synthetic reader (their digests go with them) and copied paper."""
    readers = 0
    while ids := list(
        Subscriber.objects.filter(email__iendswith="@" + SYNTHETIC_DOMAIN).values_list("pk", flat=True)[:5000]
    ):
        Subscriber.objects.filter(pk__in=ids).delete()
        readers += len(ids)
    papers, _ = Paper.objects.filter(title__contains=COPY_MARK).delete()
    return readers, papers


def vacuum_ledger() -> None:
    """VACUUM (ANALYZE) the tables a run filled and emptied, on PostgreSQL. With autovacuum
    off or behind (it is off on the machine these figures come from), the dead rows of
    earlier runs stay in the tables and their indexes: a 100,000-reader run on top of
    two earlier ones cost the database twice the CPU a digest. Not FULL: no exclusive lock."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return  # VACUUM cannot run in a transaction (a test's)
    filled = (Digest, DigestItem, Subscriber, Subscriber.topics.through)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) " + ", ".join(connection.ops.quote_name(m._meta.db_table) for m in filled))


def listing_day() -> dt.date | None:
    return Paper.objects.filter(is_hidden=False).aggregate(day=Max("listed_on"))["day"]


def ensure_papers(count: int, day: dt.date) -> int:
    """At least `count` visible papers listed on `day`: the listing repeated with new
    titles (and the same text and embeddings) as needed. Returns how many were added."""
    listed = list(Paper.objects.filter(is_hidden=False, listed_on=day).order_by("pk"))
    missing = count - len(listed)
    if missing <= 0 or not listed:
        return 0
    copies = []
    for n in range(missing):
        source = listed[n % len(listed)]
        title = f"{source.title}{COPY_MARK}{n // len(listed) + 1}]"
        copies.append(
            Paper(
                title=title,
                title_key=title_key(title),
                abstract=source.abstract,
                authors=source.authors,
                published_on=source.published_on,
                listed_on=day,
                page_url=source.page_url,
                code_url=source.code_url,
                project_url=source.project_url,
                upvotes=source.upvotes,
                ai_summary=source.ai_summary,
                ai_keywords=source.ai_keywords,
                categories=source.categories,
                embedding=source.embedding,
            )
        )
    Paper.objects.bulk_create(copies, batch_size=1000)
    return missing


def zones_on_or_after(day: dt.date, now: dt.datetime) -> list[str]:
    """The bench zones whose local date has reached the listing day (else a reader there
    would have nothing listed yet)."""
    return [z for z in ZONES if now.astimezone(ZoneInfo(z)).date() >= day] or ["Pacific/Kiritimati"]


def create_subscribers(count: int, rng: random.Random, zones: Sequence[str]) -> None:
    """`count` confirmed readers with varied interests, all due now: their delivery time
    is local midnight."""
    topics = list(Topic.objects.filter(is_active=True))
    through = Subscriber.topics.through
    for start in range(0, count, 5000):
        rows = []
        for n in range(start, min(start + 5000, count)):
            rows.append(
                Subscriber(
                    email=f"reader-{n}@{SYNTHETIC_DOMAIN}",
                    status=Subscriber.Status.ACTIVE,
                    timezone=rng.choice(zones),
                    delivery_time=dt.time(0, 0),
                    keywords=rng.sample(KEYWORDS, rng.randint(1, 5)),
                    authors=rng.sample(AUTHORS, 1) if rng.random() < 0.2 else [],
                    max_papers=rng.choice([5, 10, 20, 20, 30]),
                    include_featured=rng.random() < 0.7,
                    email_format=Subscriber.Format.TEXT if rng.random() < 0.15 else Subscriber.Format.HTML,
                )
            )
        created = Subscriber.objects.bulk_create(rows)
        if topics:
            links = [
                through(subscriber_id=s.pk, topic_id=t.pk)
                for s in created
                for t in rng.sample(topics, rng.randint(0, min(3, len(topics))))
            ]
            through.objects.bulk_create(links, batch_size=5000)


# --- Processes -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident memory (VmHWM), while it runs."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def machine_busy_seconds() -> float:
    """CPU seconds all cores have spent busy since boot (/proc/stat: everything but idle
    and I/O wait), to tell what the database and the rest cost next to our processes."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time the process has used so far: unlike wall-clock time, it
    means something on a machine shared with other work."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_url() -> str:
    """This process's database, for the worker processes."""
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
        return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    raise RuntimeError(f"no database URL for {connection.vendor}")


class Sink:
    """An aiosmtpd server in its own process that counts messages per recipient; the
    counts are read when it stops."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.counts_path = folder / "sink-counts.json"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "digest.bench_sink", str(self.port), str(self.counts_path)],
            cwd=settings.BASE_DIR,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        self.process.kill()
        raise RuntimeError("the SMTP sink did not start")

    def stop(self) -> Counter:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)
        return Counter(json.loads(self.counts_path.read_text()))


class Workers:
    """W Celery worker processes, each with the solo pool (one task at a time) or, with
    `threads` > 1, that many threads: one process each either way, so their memory is
    theirs, and while one thread waits on the database or the SMTP server another builds
    a message."""

    def __init__(self, count: int, env: dict[str, str], folder: Path, *, threads: int = 1) -> None:
        pool = ["--pool", "threads", "--concurrency", str(threads)] if threads > 1 else ["--pool", "solo"]
        celery = str(Path(sys.executable).parent / "celery")
        self.logs = [folder / f"worker-{n}.log" for n in range(count)]
        self.processes = []
        for n, log in enumerate(self.logs):
            with log.open("w") as out:
                self.processes.append(
                    subprocess.Popen(
                        [
                            celery,
                            "-A",
                            "digest",
                            "worker",
                            *pool,
                            "--loglevel",
                            "INFO",
                            "-Q",
                            "celery,mail,planning",
                            "-n",
                            f"bench{n}-{os.getpid()}@%h",
                            "--without-heartbeat",
                            "--without-gossip",
                            "--without-mingle",
                        ],
                        cwd=settings.BASE_DIR,
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )

    def check(self) -> None:
        for process, log in zip(self.processes, self.logs, strict=True):
            if process.poll() is not None:
                raise RuntimeError(f"a worker exited ({process.returncode}); see {log}")

    def peak_rss(self) -> list[float | None]:
        return [peak_rss_mb(p.pid) for p in self.processes]

    def cpu_seconds(self) -> list[float | None]:
        return [cpu_seconds(p.pid) for p in self.processes]

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


# --- The transport ceiling -----------------------------------------------------------


def _send_raw(args: tuple[int, list[bytes], str]) -> int:
    port, messages, sender = args
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for n, data in enumerate(messages):
            smtp.sendmail(sender, [f"ceiling-{n}@ceiling.invalid"], data)
    return len(messages)


def smtplib_ceiling(port: int, messages: list[bytes], processes: int) -> float:
    """Messages per second that raw smtplib gets into the sink: the same bytes, one reused
    connection in each of `processes` processes (as many as the workers)."""
    if not messages:
        return 0.0
    shares = [messages[n::processes] for n in range(processes)]
    shares = [s for s in shares if s]
    sender = settings.DEFAULT_FROM_EMAIL
    with multiprocessing.get_context("fork").Pool(len(shares)) as pool:
        started = time.perf_counter()
        sent = sum(pool.map(_send_raw, [(port, share, sender) for share in shares]))
        return sent / (time.perf_counter() - started)
