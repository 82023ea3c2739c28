"""python manage.py seed_demo_subscribers: a few confirmed readers with different interests,
for `make demo` and for trying the service locally. Running it again updates them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from digest.models import Topic
from digest.vectors import embed_keywords
from subscriptions.models import Subscriber

# Time zones at or ahead of UTC on purpose: their local date is never behind the day the
# sample listing is imported for, so `make demo` gives every one of them an email at
# any hour. All daily, so `send_digests --now` writes each one's email on any weekday.
DEMO_SUBSCRIBERS: list[dict[str, Any]] = [
    {
        "email": "reasoning.demo@example.org",
        "topics": ["large-language-models", "reasoning"],
        "keywords": ["test-time compute"],
        "timezone": "Europe/London",
    },
    {
        "email": "efficiency.demo@example.org",
        "topics": ["quantization", "efficient-inference", "mixture-of-experts"],
        "timezone": "Europe/Berlin",
        "max_papers": 8,
    },
    {
        "email": "medical.demo@example.org",
        "topics": ["medical-imaging"],
        "keywords": ["MRI"],
        "timezone": "Asia/Tokyo",
        "send_when_empty": True,
    },
    {
        "email": "vision.demo@example.org",
        "topics": ["diffusion-models", "3d-vision"],
        "timezone": "Australia/Sydney",
    },
    {
        # Typed keywords only, as a new reader types them (the matching issue's examples).
        "email": "keywords.demo@example.org",
        "topics": [],
        "keywords": ["LLM agents", "data curation", "RLHF", "privacy and security"],
        "timezone": "Europe/Paris",
    },
    {
        "email": "plaintext.demo@example.org",
        "topics": ["peft", "speech-audio"],
        "keywords": ["LoRA"],
        "timezone": "Asia/Kolkata",
        "email_format": Subscriber.Format.TEXT,
    },
]


class Command(BaseCommand):
    help = "Create (or update) the demo subscribers at example.org: confirmed, daily at 07:00 local time."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        topics = {t.slug: t for t in Topic.objects.all()}
        for spec in DEMO_SUBSCRIBERS:
            spec = dict(spec)
            email, slugs = spec.pop("email"), spec.pop("topics")
            missing = [slug for slug in slugs if slug not in topics]
            if missing:
                self.stderr.write(self.style.WARNING(f"{email}: no topic {', '.join(missing)}; skipped"))
            subscriber, created = Subscriber.objects.update_or_create(
                email=email, defaults=self._defaults(spec)
            )
            subscriber.topics.set([topics[slug] for slug in slugs if slug in topics])
            embed_keywords(subscriber.keywords)  # as saving them on the signup form does
            chosen = ", ".join(slug for slug in slugs if slug in topics) or "no topics"
            self.stdout.write(f"{'created' if created else 'updated'} {email} ({chosen}; {subscriber.timezone})")

    @staticmethod
    def _defaults(spec: dict[str, Any]) -> dict[str, Any]:
        return {
            "status": Subscriber.Status.ACTIVE,
            "frequency": Subscriber.Frequency.DAILY,
            "delivery_time": dt.time(7, 0),
            "keywords": [],
            "authors": [],
            "excluded_keywords": [],
            "send_when_empty": False,
            "email_format": Subscriber.Format.HTML,
            "max_papers": 10,
            "paused_until": None,
            "confirmed_at": timezone.now(),
            "consent_text": "Demo subscriber created by seed_demo_subscribers.",
            **spec,
        }
