"""Real parts that can be broken on purpose, for the delivery fault tests and their
2,000-subscriber measurement: a private redis-server the test kills and restarts empty,
a TCP proxy in front of PostgreSQL whose connections the test cuts, an SMTP server
that refuses, bounces, drops and stalls on request, and Celery worker and beat
processes on all of them."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import select
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path

from aiosmtpd.controller import Controller
from django.db import connection
from django.utils import timezone

from digest.models import Digest, Topic
from subscriptions.models import Subscriber

from .sending_helpers import BASE_DIR, PYTHON, free_port, sample_catalog

CELERY = PYTHON.parent / "celery"
FINAL = (Digest.Status.SENT, Digest.Status.FAILED, Digest.Status.UNCERTAIN, Digest.Status.EMPTY)


# --- The mail server -----------------------------------------------------------------


@dataclass
class Received:
    to: str
    message_id: str


class FaultySMTPHandler:
    """Accepts everything unless told otherwise:

    - `refuse_rate`: that share of messages is answered "451 try again later";
    - `bounce`: addresses refused for good (550) at RCPT;
    - `drop_rate`: that share of messages is kept, then the connection is cut before the
      final reply (the sender cannot know it arrived);
    - `stall`: the next message is kept and its final reply held back `stall` seconds;
      `stalled` is set while it is held.
    """

    def __init__(self, seed: int = 12) -> None:
        self.received: list[Received] = []
        self.rng = random.Random(seed)
        self.refuse_rate = 0.0
        self.drop_rate = 0.0
        self.bounce: set[str] = set()
        self.stall = 0.0
        self.stalled = threading.Event()
        self.refused = 0
        self.dropped = 0
        self.dropped_ids: list[str] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address in self.bounce:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.refuse_rate and self.rng.random() < self.refuse_rate:
            self.refused += 1
            return "451 4.3.0 Try again later"
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        for to in envelope.rcpt_tos:
            self.received.append(Received(to, message["Message-ID"]))
        if self.drop_rate and self.rng.random() < self.drop_rate:
            self.dropped += 1
            self.dropped_ids.append(message["Message-ID"])
            server.transport.abort()
            return "250 OK"  # never reaches the sender
        if self.stall:
            delay, self.stall = self.stall, 0.0
            self.stalled.set()
            await asyncio.sleep(delay)
        return "250 OK"


class SMTPServer:
    def __init__(self, handler: FaultySMTPHandler, port: int | None = None) -> None:
        self.handler = handler
        self.controller = Controller(handler, hostname="127.0.0.1", port=port or free_port())

    def __enter__(self) -> SMTPServer:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    @property
    def port(self) -> int:
        return self.controller.port


# --- Redis ---------------------------------------------------------------------------


class RedisServer:
    """A redis-server of the test's own (the machine's Redis is shared): SIGKILL and a
    restart on the same port lose every queued message, as a crash without persistence
    does."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.kill()


# --- A TCP proxy in front of PostgreSQL ----------------------------------------------


class CuttableProxy:
    """Forwards connections to a server. `cut()` closes every open connection and, until
    `restore()`, closes new ones at once, as a network outage seen from the client."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.blocked = threading.Event()
        self.lock = threading.Lock()
        self.open: set[socket.socket] = set()
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> CuttableProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping = True
        self.listener.close()
        self.cut()

    def cut(self) -> None:
        self.blocked.set()
        with self.lock:
            for sock in self.open:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with suppress(OSError):
                    sock.close()
            self.open.clear()

    def restore(self) -> None:
        self.blocked.clear()

    def _accept(self) -> None:
        while not self.stopping:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.blocked.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                self.open.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 1.0)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (b if sock is a else a).sendall(data)
        except (OSError, ValueError):
            return
        finally:
            with self.lock:
                self.open.discard(a)
                self.open.discard(b)
            for sock in (a, b):
                with suppress(OSError):
                    sock.close()


# --- Celery processes ----------------------------------------------------------------


class Process:
    """A worker or beat process with its log; SIGKILL or stop, and start again."""

    def __init__(self, kind: str, env: dict[str, str], log: Path, ready: str) -> None:
        self.kind, self.env, self.log_path, self.ready = kind, env, log, ready
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def command(self) -> list[str]:
        if self.kind == "worker":
            return [str(CELERY), "-A", "digest", "worker", "--pool=solo", "--loglevel=INFO", "--without-gossip",
                    "--without-mingle", "--without-heartbeat", "--hostname", f"fault-{uuid.uuid4().hex[:8]}@%h"]
        schedule = Path(self.env["VAR_DIR"]) / f"beat-schedule-{uuid.uuid4().hex[:6]}"
        return [str(CELERY), "-A", "digest", "beat", "--loglevel=INFO", "-s", str(schedule)]

    def start(self, wait: bool = True) -> None:
        self.starts += 1
        log = self.log_path.with_name(f"{self.log_path.stem}-{self.starts}.log")
        self.current_log = log
        with log.open("w") as out:
            self.process = subprocess.Popen(self.command(), cwd=BASE_DIR, env=self.env, stdout=out,
                                            stderr=subprocess.STDOUT)
        if not wait:
            return
        deadline = time.monotonic() + 60
        while self.ready not in log.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.kind} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


# --- The run --------------------------------------------------------------------------


def due_readers(count: int) -> list[Subscriber]:
    """`count` readers due now (delivery at midnight UTC), each with one matching paper."""
    catalog = sample_catalog(timezone.localdate())
    readers = Subscriber.objects.bulk_create(
        Subscriber(email=f"reader{n:05d}@example.org", status=Subscriber.Status.ACTIVE, timezone="UTC",
                   delivery_time=dt.time(0, 0))
        for n in range(count)
    )
    through = Subscriber.topics.through
    topic: Topic = catalog.quantization
    through.objects.bulk_create(through(subscriber_id=r.pk, topic_id=topic.pk) for r in readers)
    return readers


def database_url(port: int | None = None) -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    host = "127.0.0.1" if port else (db["HOST"] or "127.0.0.1")
    return f"postgres://{auth}@{host}:{port or db['PORT'] or 5432}/{db['NAME']}"


def stack_env(base: dict[str, str], *, redis: RedisServer, smtp: SMTPServer, db_port: int | None) -> dict[str, str]:
    env = dict(base)
    env.update(
        REDIS_URL=redis.url,
        DATABASE_URL=database_url(db_port),
        EMAIL_BACKEND="digest.mail_smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp.port),
        DIGEST_TICK_SECONDS="2",
    )
    if not production_timings():
        env.update(
            # Short, so a claim's lease (4 x EMAIL_TIMEOUT) and the sweeps come round
            # within seconds; the rules are the same as with production's minutes.
            EMAIL_TIMEOUT="3",
            DIGEST_RETRY_SECONDS="1",
            DIGEST_RETRY_MAX_SECONDS="4",
            DIGEST_MAX_ATTEMPTS="12",
            DIGEST_SWEEP_SECONDS="2",
        )
    return env


def production_timings() -> bool:
    """Measure with the default EMAIL_TIMEOUT, retry schedule and sweep interval (minutes,
    not seconds): `DELIVERY_FAULT_PRODUCTION_TIMINGS=1`."""
    return os.environ.get("DELIVERY_FAULT_PRODUCTION_TIMINGS") == "1"


@dataclass
class Ledger:
    readers: int
    delivered: int  # readers with at least one copy
    missing: list[str]
    duplicates: dict[str, int]  # address: copies, for readers with more than one
    statuses: Counter
    problems: list[str] = field(default_factory=list)


def settled(expected: int) -> bool:
    rows = Digest.objects.all()
    return rows.count() >= expected and not rows.exclude(status__in=FINAL).exists()


def wait_until_settled(expected: int, *, timeout: float) -> float:
    """Seconds until every expected digest has a final outcome; raises after `timeout`."""
    started = time.monotonic()
    while not settled(expected):
        if time.monotonic() - started > timeout:
            state = Counter(Digest.objects.values_list("status", flat=True))
            raise AssertionError(f"not settled after {timeout:.0f}s: {dict(state)}")
        time.sleep(0.25)
    return time.monotonic() - started


def ledger(handler: FaultySMTPHandler, readers: list[Subscriber], *, bounced: set[str] = frozenset()) -> Ledger:
    """What the server received against what the ledger says."""
    copies: dict[str, list[str]] = {}
    for item in handler.received:
        copies.setdefault(item.to, []).append(item.message_id)
    digests = {d.subscriber.email: d for d in Digest.objects.select_related("subscriber")}
    problems = []
    for email, digest in digests.items():
        got = copies.get(email, [])
        if any(mid != digest.message_id for mid in got):
            problems.append(f"{email}: a copy with another Message-ID than the digest's")
        if len(got) > 1 and not digest.uncertain:
            problems.append(f"{email}: {len(got)} copies of a digest never uncertain")
        if len(got) > 2:
            problems.append(f"{email}: {len(got)} copies (at most one resend)")
        if digest.status == Digest.Status.SENT and not got:
            problems.append(f"{email}: marked sent, never received")
        if got and digest.status not in (Digest.Status.SENT, Digest.Status.UNCERTAIN):
            problems.append(f"{email}: received, but the ledger says {digest.status}")
        if email in bounced and digest.failure != Digest.Failure.BOUNCED:
            problems.append(f"{email}: refused for good, but not recorded as bounced ({digest.status})")
    for email in copies:
        if email not in digests:
            problems.append(f"{email}: received without a digest")
    expected = [r.email for r in readers if r.email not in bounced]
    missing = [email for email in expected if not copies.get(email)]
    return Ledger(
        readers=len(expected),
        delivered=len(expected) - len(missing),
        missing=missing,
        duplicates={email: len(got) for email, got in copies.items() if len(got) > 1},
        statuses=Counter(d.status for d in digests.values()),
        problems=problems,
    )


def wait_for(condition, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def subscribers_count() -> int:
    return int(os.environ.get("DELIVERY_FAULT_SUBSCRIBERS", "300"))
