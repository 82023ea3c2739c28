"""Builders and fixtures for the digest-sending tests: a small catalog whose matches are
obvious to any sensible matcher, readers in different time zones, a real SMTP server,
and the environment a subprocess (worker, manage.py) needs to use the test database."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import sys
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils.text import slugify

from digest.models import Paper, Topic
from subscriptions.models import Subscriber

BASE_DIR = Path(__file__).resolve().parents[2]
PYTHON = Path(sys.executable)
# A Thursday; 12:00 UTC is 21:00 in Tokyo and 04:00 in Los Angeles.
LISTING_DAY = dt.date(2025, 11, 27)
NOON_UTC = dt.datetime(2025, 11, 27, 12, 0, tzinfo=dt.timezone.utc)


def at_utc(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=dt.timezone.utc)


def topic(name: str, *keywords: str) -> Topic:
    """The topic called `name` with exactly these phrases (the default topics from the data
    migration are reused by slug, their phrases replaced, so tests don't depend on them)."""
    found = Topic.objects.filter(Q(slug=slugify(name)) | Q(name__iexact=name)).first() or Topic(slug=slugify(name))
    found.name = name
    found.keywords = "\n".join(keywords or (name.lower(),))
    found.save()
    return found


def paper(title: str, abstract: str = "", *, listed_on: dt.date = LISTING_DAY, **fields) -> Paper:
    return Paper.objects.create(title=title, abstract=abstract, listed_on=listed_on, **fields)


def subscriber(email: str, *, topics=(), **fields) -> Subscriber:
    fields.setdefault("status", Subscriber.Status.ACTIVE)
    fields.setdefault("timezone", "UTC")
    reader = Subscriber.objects.create(email=email, **fields)
    reader.topics.set(topics)
    return reader


QUANTIZATION_PAPER = (
    "Low-bit quantization of large language model weights",
    "We study post-training quantization of transformer weights to four bits. Our "
    "quantization method keeps accuracy while the quantized model needs a quarter of the memory.",
)
MRI_PAPER = (
    "Fast MRI reconstruction for medical imaging",
    "Magnetic resonance imaging (MRI) scans are slow. We reconstruct MRI images from "
    "undersampled k-space for clinical medical imaging with a learned prior.",
)
# Papers about neither topic. There are many on purpose: the matcher weighs a phrase by
# how rare it is in the catalog, as in a real day's listing of a few dozen papers.
_SUBJECTS = [
    ("graph neural networks for molecule property prediction", "message passing on molecular graphs"),
    ("legged robot locomotion learned in simulation", "a quadruped walking over rough terrain"),
    ("speech recognition for low-resource languages", "transcribing spoken audio with little labelled data"),
    ("protein structure prediction with geometric learning", "folding amino acid chains into structures"),
    ("retrieval-augmented question answering", "fetching passages from a corpus before answering"),
    ("weather forecasting with neural operators", "predicting global atmospheric fields days ahead"),
    ("reinforcement learning for board games", "self-play agents that learn strategy from scratch"),
    ("code generation benchmarks", "measuring how often generated programs pass unit tests"),
    ("federated learning across hospitals", "training shared models without pooling patient records"),
    ("music generation with transformers", "composing melodies and accompaniment from text prompts"),
]
DISTRACTORS = [
    (f"{title.capitalize()}: {variant}", f"This work is about {title}, {detail}. {extra}")
    for title, detail in _SUBJECTS
    for variant, extra in [
        ("a new method", "We propose a method and report results on standard benchmarks."),
        ("an empirical study", "We run careful experiments and analyse what matters."),
        ("a survey", "We review the literature and outline open problems."),
    ]
]


@dataclass
class Catalog:
    quantization: Topic
    medical: Topic
    quant_paper: Paper
    mri_paper: Paper
    others: list[Paper] = field(default_factory=list)


def sample_catalog(day: dt.date = LISTING_DAY) -> Catalog:
    """Two topics, one paper each that plainly belongs to it, and papers about neither."""
    return Catalog(
        quantization=topic("Quantization", "quantization", "quantized", "low-bit"),
        medical=topic("Medical Imaging", "medical imaging", "MRI", "radiology"),
        quant_paper=paper(*QUANTIZATION_PAPER, listed_on=day),
        mri_paper=paper(*MRI_PAPER, listed_on=day),
        others=[paper(t, a, listed_on=day) for t, a in DISTRACTORS],
    )


@pytest.fixture
def outbox(settings, tmp_path) -> Path:
    """Send through the project's outbox backend (Django's test runner would otherwise
    swap in its in-memory one) into a temporary folder, and hand the folder over."""
    settings.EMAIL_BACKEND = "digest.mail_outbox.OutboxBackend"
    settings.OUTBOX_DIR = tmp_path / "outbox"
    return settings.OUTBOX_DIR


def parse_eml(data: bytes) -> EmailMessage:
    return message_from_bytes(data, policy=policy.default)


def outbox_messages(folder: Path) -> list[EmailMessage]:
    return [parse_eml(path.read_bytes()) for path in sorted(folder.glob("*.eml"))]


# --- A real SMTP server --------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RecordingHandler:
    """Keeps every message it accepts. After accepting `accept_first` more messages, it
    answers the next `refuse` DATA commands with `refuse_reply` (e.g. a 4xx "try again
    later") instead. RCPT for an address in `refuse_rcpt` gets its reply there (e.g. a 550
    "no such user"). The next `drop_at_rcpt` connections are cut at RCPT. The next `drop_after_data` messages are kept, then the connection is
    cut before the final reply (the sender cannot know they arrived); `reply_delay`
    seconds pass before each final reply."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list = []
        self.peers: list = []
        self.accept_first = 0
        self.refuse = 0
        self.refuse_reply = "451 4.3.0 Try again later"
        self.drop_after_data = 0
        self.drop_at_rcpt = 0
        self.refuse_rcpt: dict[str, str] = {}
        self.reply_delay = 0.0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if self.drop_at_rcpt:
            self.drop_at_rcpt -= 1
            server.transport.abort()
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.accept_first:
            self.accept_first -= 1
        elif self.refuse:
            self.refuse -= 1
            return self.refuse_reply
        self.envelopes.append(envelope)
        self.peers.append(session.peer)  # one client address and port per connection
        self.messages.append(parse_eml(envelope.original_content or envelope.content))
        if self.drop_after_data:
            self.drop_after_data -= 1
            server.transport.abort()
        if self.reply_delay:
            await asyncio.sleep(self.reply_delay)
        return "250 OK"


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on 127.0.0.1, and Django's SMTP backend pointing at it."""
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "digest.mail_smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    try:
        yield handler
    finally:
        controller.stop()


# --- Subprocesses on the test database -----------------------------------------------


def subprocess_database_url() -> str:
    """The URL of the database this test runs on, for worker and manage.py subprocesses."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    if connection.vendor == "postgresql":
        auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
        return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    raise RuntimeError(f"no subprocess URL for {connection.vendor}")


def subprocess_env(tmp_path: Path, *, redis_url: str | None = None) -> dict[str, str]:
    """Environment for a worker or manage.py: the test database, a private VAR_DIR (so
    the filesystem broker's folders are the test's own), the outbox in tmp_path."""
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "CELERY_BROKER_URL", "EMAIL_HOST"}}
    env.update(
        DATABASE_URL=subprocess_database_url(),
        VAR_DIR=str(tmp_path / "var"),
        OUTBOX_DIR=str(tmp_path / "outbox"),
        EMAIL_BACKEND="digest.mail_outbox.OutboxBackend",
        SECRET_KEY=settings.SECRET_KEY,
        SITE_URL=settings.SITE_URL,
        PYTHONUNBUFFERED="1",
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env
