"""python manage.py preview_digest (--email ADDRESS | --topics ... --keywords ... --authors ...)
[--date YYYY-MM-DD] [--since YYYY-MM-DD] [--limit N | --all] [--json] [--html PATH] [--text]

What a digest would contain, through the same matching and rendering as the real send,
without storing or sending anything.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from django.core.management.base import CommandError
from django.utils import timezone

from digest import digests
from digest.management.cli import OperatorCommand, iso_date, positive_int
from digest.matching import Interest, TopicTerms
from digest.topics import UnknownTopic, topics_by_slugs
from digest.vectors import embed_keywords
from subscriptions.feedback import feedback_for
from subscriptions.models import Subscriber


def phrases(value: str | None, sep: str) -> list[str]:
    return [" ".join(p.split()) for p in (value or "").split(sep) if p.strip()]


class Command(OperatorCommand):
    help = (
        "Show what a digest would contain for a stored subscriber (--email) or an ad-hoc "
        "profile (--topics/--keywords/--authors), through the same matching and templates "
        "as the real send. Stores and sends nothing."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        who = parser.add_argument_group("whose digest")
        who.add_argument("--email", metavar="ADDRESS", help="a stored subscriber")
        who.add_argument("--topics", metavar="SLUG,SLUG", help="ad-hoc profile: topic slugs, comma-separated")
        who.add_argument("--keywords", metavar='"PHRASE; PHRASE"', help="ad-hoc profile: phrases, ;-separated")
        who.add_argument("--authors", metavar='"NAME; NAME"', help="ad-hoc profile: authors, ;-separated")
        when = parser.add_argument_group("which papers")
        when.add_argument("--date", type=iso_date, metavar="YYYY-MM-DD", help="the digest's day (default today)")
        when.add_argument(
            "--since", type=iso_date, metavar="YYYY-MM-DD",
            help="window start (default: the last digest's day, or the latest listing day)",
        )
        size = when.add_mutually_exclusive_group()
        size.add_argument("--limit", type=positive_int, metavar="N", help="at most N papers (default: the subscriber's)")
        size.add_argument("--all", action="store_true", help="every paper that clears the threshold")
        out = parser.add_argument_group("output (default: a ranked list)")
        out.add_argument("--html", metavar="PATH", type=Path, help="write the HTML email to PATH")
        # One printed at a time: JSON followed by the text email is no longer JSON.
        printed = out.add_mutually_exclusive_group()
        printed.add_argument("--json", action="store_true", help="subject and ranked papers as JSON")
        printed.add_argument("--text", action="store_true", help="print the plain-text email")

    def handle(self, *args, **options) -> None:
        target = self._target(options)
        draft = digests.build_drafts([target])[0]
        subject, text, html = digests.render_draft(draft)
        if options["json"]:
            self.stdout.write(json.dumps(self._as_json(subject, draft), ensure_ascii=False, indent=2))
        if options["html"]:
            try:
                options["html"].write_text(html, encoding="utf-8")
            except OSError as error:
                raise CommandError(f"cannot write {options['html']}: {error.strerror or error}") from None
            self.stderr.write(f"Wrote {options['html']}")
        if options["text"]:
            self.stdout.write(text)
        if not (options["json"] or options["html"] or options["text"]):
            self._print_ranked(subject, draft)

    # --- whose digest -----------------------------------------------------------------

    def _target(self, options) -> digests.Target:
        adhoc = any(options[name] for name in ("topics", "keywords", "authors"))
        if options["email"] and adhoc:
            raise CommandError("Give either --email or an ad-hoc profile (--topics/--keywords/--authors), not both.")
        if options["email"]:
            return self._subscriber_target(options)
        if adhoc:
            return self._adhoc_target(options)
        raise CommandError("Give --email ADDRESS or an ad-hoc profile with --topics, --keywords or --authors.")

    def _limit(self, options, default: int) -> int | None:
        return None if options["all"] else options["limit"] or default

    def _subscriber_target(self, options) -> digests.Target:
        subscriber = Subscriber.objects.filter(email__iexact=options["email"].strip()).first()
        if subscriber is None:
            raise CommandError(f"No subscriber with the address {options['email'].strip()!r}.")
        day = options["date"] or digests.local_now(subscriber, timezone.now()).date()
        return digests.Target(
            # With their votes, as the real send reads them: a preview that ignored
            # "less like this" showed papers their digest drops.
            subscriber, Interest.from_subscriber(subscriber, feedback_for([subscriber.pk]).get(subscriber.pk)),
            period=day, today=day,
            limit=self._limit(options, subscriber.max_papers), since=options["since"],
        )

    def _adhoc_target(self, options) -> digests.Target:
        slugs = phrases(options["topics"], ",")
        try:
            # Case-insensitive and each once: a topic named twice must not score twice.
            topics = topics_by_slugs(slugs)
        except UnknownTopic as error:
            raise CommandError(
                f"Unknown topic slug{'s' if len(error.unknown) > 1 else ''}: {', '.join(error.unknown)} "
                f"(known: {', '.join(error.valid) or 'none'})."
            ) from None
        keywords, authors = phrases(options["keywords"], ";"), phrases(options["authors"], ";")
        if not (topics or keywords or authors):
            raise CommandError("The ad-hoc profile is empty: give topic slugs, keyword phrases or author names.")
        # A keyword no reader has saved has no vector yet, and would be matched by its
        # words alone: not what a reader who saved it would get.
        # (Stored, as a reader's save would store it: keyword vectors are shared.)
        result = embed_keywords(keywords)
        if result.embedded:
            plural = "s" if result.embedded != 1 else ""
            self.stderr.write(f"Embedded {result.embedded} keyword{plural} no reader had saved yet.")
        elif result.skipped_reason:
            self.stderr.write(f"Keywords no reader has saved are matched by their words only: {result.skipped_reason}.")
        # An unsaved reader: the email renders with placeholder footer links.
        subscriber = Subscriber(email="preview@example.org", keywords=keywords, authors=authors)
        interest = Interest(
            topics=tuple(TopicTerms.from_topic(topic) for topic in topics),
            keywords=tuple(keywords), authors=tuple(authors), include_featured=subscriber.include_featured,
        )
        day = options["date"] or timezone.localdate()
        return digests.Target(
            subscriber, interest, period=day, today=day,
            limit=self._limit(options, subscriber.max_papers), since=options["since"],
        )

    # --- output -----------------------------------------------------------------------

    def _as_json(self, subject: str, draft: digests.Draft) -> dict:
        return {
            "subject": subject,
            "papers": [
                {
                    "arxiv_id": m.paper.arxiv_id or None,
                    "title": m.paper.title,
                    "score": round(float(m.score), 4),
                    "topic": m.topic.slug if m.topic else None,
                    "matched": list(m.reasons),
                }
                for m in draft.matches
            ],
        }

    def _print_ranked(self, subject: str, draft: digests.Draft) -> None:
        self.stdout.write(subject)
        if not draft.has_new_papers:
            self.stdout.write("Nothing new listed in the window: no digest would be sent.")
        for rank, match in enumerate(draft.matches, start=1):
            topic = match.topic.name if match.topic else ("editor's pick" if match.featured else "-")
            self.stdout.write(f"{rank:>3}. [{match.score:7.2f}] {' '.join(match.paper.title.split())}")
            self.stdout.write(f"       {topic}: {'; '.join(match.reasons)}")
