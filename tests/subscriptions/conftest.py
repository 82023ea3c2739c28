"""Fixtures for the subscription tests: a mailbox that reads what the outbox backend
wrote, Celery tasks run in-process as soon as the transaction commits, and rate limits
that start from zero in every test."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache

from digest.celery import app as celery_app
from digest.models import Paper, Topic
from subscriptions.models import Subscriber

URL_RE = re.compile(r"https?://[^\s<>\"']+")


@dataclass
class Mail:
    path: Path
    message: email.message.EmailMessage

    @property
    def to(self) -> str:
        return str(self.message["To"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        return self.message.get_body(("plain",)).get_content()

    @property
    def html(self) -> str | None:
        part = self.message.get_body(("html",))
        return part.get_content() if part is not None else None

    def links(self) -> list[str]:
        return URL_RE.findall(self.text)

    def link(self, containing: str) -> str:
        """The first link in the text part whose URL contains `containing`."""
        for url in self.links():
            if containing in url:
                return url
        raise AssertionError(f"no link containing {containing!r} in:\n{self.text}")

    def path_of(self, containing: str) -> str:
        """The same link as a path, for the test client."""
        return urlsplit(self.link(containing)).path


class Mailbox:
    def __init__(self, folder: Path):
        self.folder = folder

    def all(self) -> list[Mail]:
        if not self.folder.exists():
            return []
        return [
            Mail(path, email.message_from_bytes(path.read_bytes(), policy=email.policy.default))
            for path in sorted(self.folder.glob("*.eml"))
        ]

    def to(self, address: str) -> list[Mail]:
        return [mail for mail in self.all() if address in mail.to]

    def only(self, address: str | None = None) -> Mail:
        mails = self.to(address) if address else self.all()
        assert len(mails) == 1, f"expected one email{' to ' + address if address else ''}, got {[m.subject for m in mails]}"
        return mails[0]

    def clear(self) -> None:
        for path in self.folder.glob("*"):
            path.unlink()


@pytest.fixture(autouse=True)
def mailbox(outbox_dir, settings) -> Mailbox:
    """The outbox backend, as on a machine without EMAIL_HOST, writing to a temporary
    folder (pytest-django would otherwise swap in its in-memory backend)."""
    settings.EMAIL_BACKEND = "digest.mail_outbox.OutboxBackend"
    return Mailbox(outbox_dir)


@pytest.fixture(autouse=True)
def tasks_run_on_commit():
    """Tasks queued with delay_on_commit run in this process when the transaction
    commits, exactly where a worker would pick them up."""
    saved = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = saved


@pytest.fixture(autouse=True)
def fresh_rate_limits(django_db_setup, django_db_blocker):
    """Rate-limit counters live in the shared cache: start every test from zero."""
    with django_db_blocker.unblock():
        cache.clear()
    yield


@pytest.fixture
def topics() -> dict[str, Topic]:
    """Three active topics (the default ones if the data migration made them) and one
    retired topic."""
    made = {}
    for name, slug, description, keywords in [
        ("Large language models", "large-language-models", "Training and evaluating LLMs", "large language model\nLLM"),
        ("Diffusion models", "diffusion-models", "Image and video generation", "diffusion\ndenoising"),
        ("Robotics", "robotics", "Robots that learn", "robot\nmanipulation"),
    ]:
        made[name], _ = Topic.objects.update_or_create(
            slug=slug, defaults={"name": name, "description": description, "keywords": keywords, "is_active": True}
        )
    Topic.objects.update_or_create(slug="retired-topic", defaults={"name": "Retired topic", "keywords": "old", "is_active": False})
    return made


@pytest.fixture
def listing() -> list[Paper]:
    """Two days of papers; the latest day has one fully described paper and two that
    came from a bare listing (title and abstract only)."""
    today = dt.date.today()
    older = Paper.objects.create(
        title="Yesterday's diffusion paper", abstract="A diffusion model.", listed_on=today - dt.timedelta(days=1), upvotes=500
    )
    full = Paper.objects.create(
        title="Scaling Large Language Models with Mixture of Experts",
        abstract="We train a large language model with sparse experts. " * 10,
        authors=["Ada Lovelace", "Łukasz Kaiser", "李飞飞"],
        arxiv_id="2410.00001",
        code_url="https://github.com/example/moe",
        upvotes=42,
        listed_on=today,
    )
    bare = Paper.objects.create(
        title="Denoising Diffusion for Robot Manipulation",
        abstract="A diffusion policy that lets a robot fold laundry.",
        listed_on=today,
    )
    hidden = Paper.objects.create(title="Hidden paper about LLM", abstract="LLM", listed_on=today, upvotes=999, is_hidden=True)
    return [full, bare, older, hidden]


@pytest.fixture
def make_subscriber():
    def make(email: str = "ada@example.org", status: str = Subscriber.Status.ACTIVE, **fields) -> Subscriber:
        return Subscriber.objects.create(email=email, status=status, **fields)

    return make


# The browser tests' Chromium and live server (test_browser.py, test_signup_browser.py).

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser(transactional_db, monkeypatch) -> Iterator:
    """Chromium, started after the test database is ready and stopped before it is
    cleaned up. While Playwright runs, this thread has a running event loop; Django's
    connections are then kept per context, and cleaning the database from there would
    not see the test's own connection."""
    from playwright.sync_api import sync_playwright

    # The test's own database calls between page actions are synchronous and safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()
        # Connections the test opened while Playwright's loop ran belong to this
        # context; close them here, or the test database cannot be dropped at the end.
        from django.db import connections

        connections.close_all()


@pytest.fixture
def site(live_server, settings) -> str:
    """The live server's address, also used for the links in emails."""
    settings.SITE_URL = live_server.url
    return live_server.url
