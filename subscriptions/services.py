"""What a person can do with their subscription, as plain functions the views call.

Every function that sends an email queues it after the transaction commits, so an email
never goes out for a change that was rolled back, and the page answers without waiting
for a mail server.
"""

from __future__ import annotations

import dataclasses

import datetime as dt
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from digest.keywords import did_you_mean
from digest.matching import (
    Interest,
    Match,
    PaperIndex,
    TopicTerms,
    latest_listing_day,
    left_out_pairs,
    stored_left_out,
)
from digest.meaning import Feedback, current_related_table
from digest.models import Digest, Paper, Topic
from digest.picks import match_with_picks
from digest.proxies import client_ip
from digest.vectors import embed_keywords

from . import suppression
from .housekeeping import purge_unconfirmed, resume_ended_pauses  # noqa: F401 (the operator jobs' old home)
from .models import Counter, Subscriber, Suppression
from .schedule import first_or_next, format_moment, next_digest_text  # noqa: F401 (what the pages show)
from .tasks import send_subscription_email
from .tokens import revoke_every_link, rotate_keeping_unsubscribe_links

USER_AGENT_MAX_LENGTH = 500
# Control characters in a header are junk at best, and PostgreSQL refuses to store NUL.
_CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f]")
CONSENT_TEXT = (
    "I want to receive the Daily Papers Digest at this address, with the papers I chose, "
    "and can unsubscribe from any email."
)


class AddressTaken(Exception):
    """The address someone wants to move to belongs to another subscription."""


class NotChangeable(Exception):
    """The subscription is in a state where this change makes no sense."""


@dataclass(frozen=True)
class Evidence:
    """Where a signup or confirmation came from: kept as consent evidence."""

    ip: str | None
    user_agent: str

    @classmethod
    def from_request(cls, request: HttpRequest) -> "Evidence":
        user_agent = _CONTROL_CHARACTERS.sub("", request.headers.get("User-Agent", ""))
        return cls(ip=client_ip(request), user_agent=user_agent[:USER_AGENT_MAX_LENGTH])


@dataclass(frozen=True)
class Preferences:
    topics: tuple[Topic, ...] = ()
    keywords: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    excluded_keywords: tuple[str, ...] = ()
    include_featured: bool = True
    unexpanded_keywords: tuple[str, ...] = ()  # keywords matched without their suggested topic
    keywords_without_related: tuple[str, ...] = ()  # keywords matched without their related terms
    left_out_terms: tuple[tuple[str, str], ...] = ()  # (keyword, one of its related terms) left out
    frequency: str = Subscriber.Frequency.DAILY
    weekday: int = 0
    delivery_time: dt.time = dt.time(7, 0)
    timezone: str = "UTC"
    max_papers: int = 10
    send_when_empty: bool = False
    email_format: str = Subscriber.Format.HTML

    @classmethod
    def from_cleaned_data(cls, data: dict[str, Any]) -> "Preferences":
        return cls(
            topics=tuple(data["topics"]),
            keywords=tuple(data["keywords"]),
            authors=tuple(data["authors"]),
            excluded_keywords=tuple(data["excluded_keywords"]),
            include_featured=data["include_featured"],
            unexpanded_keywords=tuple(data.get("unexpanded_keywords") or ()),
            keywords_without_related=tuple(data.get("keywords_without_related") or ()),
            left_out_terms=tuple(data.get("left_out_terms") or ()),
            frequency=data["frequency"],
            weekday=data["weekday"],
            delivery_time=data["delivery_time"],
            timezone=data["timezone"],
            max_papers=data["max_papers"],
            send_when_empty=data["send_when_empty"],
            email_format=data["email_format"],
        )

    @classmethod
    def of(cls, subscriber: Subscriber) -> "Preferences":
        return cls(
            topics=tuple(subscriber.topics.all()),
            keywords=tuple(subscriber.keywords),
            authors=tuple(subscriber.authors),
            excluded_keywords=tuple(subscriber.excluded_keywords),
            include_featured=subscriber.include_featured,
            unexpanded_keywords=tuple(subscriber.unexpanded_keywords or ()),
            keywords_without_related=tuple(subscriber.keywords_without_related or ()),
            left_out_terms=left_out_pairs(subscriber.left_out_terms),
            frequency=subscriber.frequency,
            weekday=subscriber.weekday,
            delivery_time=subscriber.delivery_time,
            timezone=subscriber.timezone,
            max_papers=subscriber.max_papers,
            send_when_empty=subscriber.send_when_empty,
            email_format=subscriber.email_format,
        )

    def as_initial(self) -> dict[str, Any]:
        """Values for a form showing these preferences."""
        return {
            "topics": [topic.slug for topic in self.topics],
            "keywords": list(self.keywords),
            "authors": list(self.authors),
            "excluded_keywords": list(self.excluded_keywords),
            "unexpanded_keywords": list(self.unexpanded_keywords),
            "keywords_without_related": list(self.keywords_without_related),
            "left_out_terms": list(self.left_out_terms),
            "include_featured": self.include_featured,
            "frequency": self.frequency,
            "weekday": self.weekday,
            "delivery_time": self.delivery_time,
            "timezone": self.timezone,
            "max_papers": self.max_papers,
            "send_when_empty": self.send_when_empty,
            "email_format": self.email_format,
        }

    def apply_to(self, subscriber: Subscriber) -> None:
        """Copy onto the subscriber; topics are set with `save_topics` once it has an id."""
        subscriber.keywords = list(self.keywords)
        subscriber.authors = list(self.authors)
        subscriber.excluded_keywords = list(self.excluded_keywords)
        subscriber.unexpanded_keywords = list(self.unexpanded_keywords)
        subscriber.keywords_without_related = list(self.keywords_without_related)
        subscriber.left_out_terms = stored_left_out(self.left_out_terms)
        subscriber.include_featured = self.include_featured
        subscriber.frequency = self.frequency
        subscriber.weekday = self.weekday
        subscriber.delivery_time = self.delivery_time
        subscriber.timezone = self.timezone
        subscriber.max_papers = self.max_papers
        subscriber.send_when_empty = self.send_when_empty
        subscriber.email_format = self.email_format

    def save_topics(self, subscriber: Subscriber) -> None:
        subscriber.topics.set(self.topics)

    def interest(self) -> Interest:
        return Interest(
            topics=tuple(TopicTerms.from_topic(topic) for topic in self.topics),
            keywords=self.keywords,
            authors=self.authors,
            excluded=self.excluded_keywords,
            include_featured=self.include_featured,
            unexpanded=self.unexpanded_keywords,
            without_related=self.keywords_without_related,
            left_out_terms=self.left_out_terms,
        )


def queue_email(kind: str, subscriber: Subscriber, reason: str = "", *, to: str = "") -> None:
    """Send one of the subscription emails once the current transaction commits."""
    send_subscription_email.delay_on_commit(kind, subscriber.pk, reason, to)


def _remind(subscriber: Subscriber, reason: str) -> None:
    """Someone typed an address we know: mail its owner what is useful to them, and
    nothing that tells the person who typed it whether the address was known."""
    if subscriber.status == Subscriber.Status.PENDING:
        queue_email("confirm", subscriber)
    else:
        queue_email("manage_link", subscriber, reason)


# Signing up and confirming.


def subscribe(
    email: str, preferences: Preferences, evidence: Evidence, *, consent_text: str = CONSENT_TEXT
) -> None:
    """Ask `email` to confirm a subscription with `preferences`.

    The caller shows the same page whatever happened here: a new address gets a
    confirmation link, an address already subscribed gets its manage link instead and
    keeps its preferences, and an unsubscribed or still pending address starts the
    double opt-in again with the new preferences.
    """
    with transaction.atomic():
        subscriber = Subscriber.objects.select_for_update().filter(email=email).first()
        if subscriber is None:
            subscriber = Subscriber(email=email)
            _start_opt_in(subscriber, preferences, evidence, consent_text)
            try:
                with transaction.atomic():
                    subscriber.save()
            except IntegrityError:
                # Another request created this address a moment ago: it is theirs.
                subscriber = Subscriber.objects.select_for_update().get(email=email)
                _remind(subscriber, "signup_again")
                return
            preferences.save_topics(subscriber)
            Counter.increment("signups")
            _asked_again(subscriber)
            queue_email("confirm", subscriber)
        elif subscriber.status in (Subscriber.Status.ACTIVE, Subscriber.Status.PAUSED):
            queue_email("manage_link", subscriber, "signup_again")
        else:
            if subscriber.status == Subscriber.Status.UNSUBSCRIBED:
                # Links from the old subscription must not act on the new one, except
                # unsubscribing: the same mailbox holds both, and a mail client's
                # unsubscribe button on an old email must not fail.
                rotate_keeping_unsubscribe_links(subscriber, sent_to=subscriber.email)
                subscriber.rotate_feed_token()
                Counter.increment("resubscribes")
            _start_opt_in(subscriber, preferences, evidence, consent_text)
            subscriber.save()
            preferences.save_topics(subscriber)
            _asked_again(subscriber)
            queue_email("confirm", subscriber)


def _asked_again(subscriber: Subscriber) -> None:
    """A signup on our own page outweighs an earlier unsubscribe at the mail provider
    (they still confirm from the email). A bounce or a spam complaint does not lift
    this way: a curator clears those."""
    for earlier in Suppression.objects.filter(
        email=subscriber.email, reason=Suppression.Reason.UNSUBSCRIBE, cleared_at__isnull=True
    ):
        suppression.clear_suppression(earlier, by=None, reason="Signed up again on the website.")
    suppression.sync_subscriber(subscriber.email)


def _start_opt_in(subscriber: Subscriber, preferences: Preferences, evidence: Evidence, consent_text: str) -> None:
    from digest import tasks  # the digest tasks import this app's models

    preferences.apply_to(subscriber)
    if preferences.keywords:
        # Queued, as the email to a known address is: embedding here would make a new
        # address's signup measurably slower than a known one's.
        tasks.embed_keywords.delay_on_commit(list(preferences.keywords))
    subscriber.status = Subscriber.Status.PENDING
    subscriber.signed_up_at = timezone.now()
    subscriber.signup_ip = evidence.ip
    subscriber.signup_user_agent = evidence.user_agent
    subscriber.consent_text = consent_text
    subscriber.confirmed_at = None
    subscriber.confirm_ip = None
    subscriber.confirm_user_agent = ""
    subscriber.paused_until = None
    subscriber.pending_email = ""


def confirm(subscriber: Subscriber, evidence: Evidence) -> bool:
    """Turn a pending subscription active; True only for the request that did it, so a
    double click sends one welcome email."""
    with transaction.atomic():
        now = timezone.now()
        changed = Subscriber.objects.filter(pk=subscriber.pk, status=Subscriber.Status.PENDING).update(
            status=Subscriber.Status.ACTIVE,
            confirmed_at=now,
            confirm_ip=evidence.ip,
            confirm_user_agent=evidence.user_agent,
            updated_at=now,
        )
        if changed != 1:
            return False
        subscriber.refresh_from_db()
        Counter.increment("confirmations")
        queue_email("welcome", subscriber)
        return True


def request_link(email: str) -> None:
    """The "email me my link" form: whoever owns a known address gets the link that
    helps them (confirmation if still pending, manage link otherwise). Unknown addresses
    get nothing, and the caller shows the same page either way."""
    subscriber = Subscriber.objects.filter(email=email).first()
    if subscriber is not None:
        _remind(subscriber, "requested")


# Managing a subscription.


def update_preferences(subscriber: Subscriber, preferences: Preferences) -> None:
    with transaction.atomic():
        preferences.apply_to(subscriber)
        embed_keywords(preferences.keywords)
        subscriber.save()
        preferences.save_topics(subscriber)


def pause(subscriber: Subscriber, until: dt.date | None) -> None:
    """No digests until `until` (the day they start again), or until resumed."""
    if subscriber.status not in (Subscriber.Status.ACTIVE, Subscriber.Status.PAUSED):
        raise NotChangeable("only a confirmed subscription can be paused")
    subscriber.status = Subscriber.Status.PAUSED
    subscriber.paused_until = until
    subscriber.save(update_fields=["status", "paused_until", "updated_at"])


def resume(subscriber: Subscriber) -> None:
    if subscriber.status != Subscriber.Status.PAUSED:
        raise NotChangeable("only a paused subscription can be resumed")
    subscriber.status = Subscriber.Status.ACTIVE
    subscriber.paused_until = None
    subscriber.save(update_fields=["status", "paused_until", "updated_at"])


def request_email_change(subscriber: Subscriber, new_email: str) -> None:
    """Mail a confirmation link to the new address; nothing changes until it is opened.

    If the new address has a subscription of its own, its owner gets their manage link
    instead, and the page shown is the same, so this cannot be used to find out who
    subscribes."""
    if subscriber.status not in (Subscriber.Status.ACTIVE, Subscriber.Status.PAUSED):
        raise NotChangeable("only a confirmed subscription can move to another address")
    with transaction.atomic():
        # Stored either way, so the manage page reads the same whether or not the
        # address was taken; only the email differs, and it goes to that address.
        subscriber.pending_email = new_email
        subscriber.save(update_fields=["pending_email", "updated_at"])
        owner = Subscriber.objects.filter(email=new_email).exclude(pk=subscriber.pk).first()
        if owner is not None:
            _remind(owner, "email_change_taken")
        else:
            queue_email("email_change", subscriber)


def confirm_email_change(subscriber: Subscriber, evidence: Evidence) -> None:
    """Move the subscription to the confirmed new address. Links sent to the old
    address stop working, since whoever reads that mailbox may no longer be them."""
    with transaction.atomic():
        locked = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
        if not locked.pending_email or locked.pending_email != subscriber.pending_email:
            raise NotChangeable("no address change is waiting")
        if Subscriber.objects.filter(email=locked.pending_email).exclude(pk=locked.pk).exists():
            raise AddressTaken(locked.pending_email)
        old_address = locked.email
        locked.email = locked.pending_email
        locked.pending_email = ""
        locked.confirmed_at = timezone.now()
        locked.confirm_ip = evidence.ip
        locked.confirm_user_agent = evidence.user_agent
        # The old address's emails may still unsubscribe, without showing the new address.
        rotate_keeping_unsubscribe_links(locked, sent_to=old_address)
        # The private feed's address is a link of the old mailbox's too; its digests
        # would show the new address.
        locked.rotate_feed_token()
        try:
            with transaction.atomic():
                locked.save()
        except IntegrityError:
            raise AddressTaken(locked.email) from None
        # The old address's suppression stays with that address; the new one may have its own.
        suppression.sync_subscriber(locked.email)
        Counter.increment("address_changes")
        # Whoever reads the old mailbox learns of the move (a manage link in the wrong
        # hands could make one), and where to, only as far as the domain.
        queue_email("address_moved", locked, to=old_address)
    subscriber.refresh_from_db()


def unsubscribe(subscriber: Subscriber) -> bool:
    """Stop every email at once. Idempotent: True only when this call unsubscribed."""
    now = timezone.now()
    changed = (
        Subscriber.objects.filter(pk=subscriber.pk)
        .exclude(status=Subscriber.Status.UNSUBSCRIBED)
        .update(
            status=Subscriber.Status.UNSUBSCRIBED,
            unsubscribed_at=now,
            paused_until=None,
            pending_email="",
            updated_at=now,
        )
    )
    if changed:
        Counter.increment("unsubscribes")
    subscriber.refresh_from_db()
    return changed == 1


def export_data(subscriber: Subscriber) -> dict[str, Any]:
    """Everything stored about this subscriber, for "download my data"."""

    def when(value: dt.datetime | dt.date | dt.time | None) -> str | None:
        return value.isoformat() if value is not None else None

    digests = []
    for digest in subscriber.digests.order_by("period").prefetch_related("items__paper", "items__topic"):
        digests.append(
            {
                "period": when(digest.period),
                "status": digest.status,
                "paper_count": digest.paper_count,
                "match_count": digest.match_count,
                "more_paper_ids": digest.more_paper_ids,
                "more_paper_tags": digest.more_paper_tags,
                "in_passing": digest.in_passing,
                "subject": digest.subject,
                "message_id": digest.message_id,
                "created_at": when(digest.created_at),
                "claimed_at": when(digest.claimed_at),
                "sent_at": when(digest.sent_at),
                "attempts": digest.attempts,
                "attempts_at_retry": digest.attempts_at_retry,
                "next_attempt_at": when(digest.next_attempt_at),
                "failure": digest.failure,
                "uncertain": digest.uncertain,
                # A mail server's refusal often quotes the address: it is theirs to see.
                "last_error": digest.last_error,
                "papers": [
                    {
                        "title": item.paper.title,
                        "arxiv_id": item.paper.arxiv_id,
                        "rank": item.rank,
                        "score": item.score,
                        "topic": item.topic.name if item.topic else None,
                        "why": item.matched,
                    }
                    for item in digest.items.all()
                ],
            }
        )
    return {
        "email": subscriber.email,
        "status": subscriber.status,
        "pending_new_email": subscriber.pending_email or None,
        "preferences": {
            "topics": [topic.name for topic in subscriber.topics.order_by("name")],
            "keywords": subscriber.keywords,
            "authors": subscriber.authors,
            "excluded_keywords": subscriber.excluded_keywords,
            "keywords_matched_only_as_typed": subscriber.unexpanded_keywords,
            "keywords_matched_without_related_terms": subscriber.keywords_without_related,
            "related_terms_left_out": subscriber.left_out_terms,
            "include_editors_picks": subscriber.include_featured,
            "frequency": subscriber.frequency,
            "weekday": subscriber.weekday,
            "delivery_time": when(subscriber.delivery_time),
            "timezone": subscriber.timezone,
            "papers_per_email": subscriber.max_papers,
            "email_on_days_without_matches": subscriber.send_when_empty,
            "email_format": subscriber.email_format,
            "paused_until": when(subscriber.paused_until),
        },
        "consent": {
            "statement": subscriber.consent_text,
            "signed_up_at": when(subscriber.signed_up_at),
            "signup_ip": subscriber.signup_ip,
            "signup_user_agent": subscriber.signup_user_agent,
            "confirmed_at": when(subscriber.confirmed_at),
            "confirm_ip": subscriber.confirm_ip,
            "confirm_user_agent": subscriber.confirm_user_agent,
            "unsubscribed_at": when(subscriber.unsubscribed_at),
        },
        "last_updated_at": when(subscriber.updated_at),
        "digests": digests,
        "more_or_less_like_this": [
            {"paper": title, "arxiv_id": arxiv_id, "choice": "more" if value > 0 else "less", "at": when(at)}
            for title, arxiv_id, value, at in subscriber.votes.order_by("updated_at").values_list(
                "paper__title", "paper__arxiv_id", "value", "updated_at"
            )
        ],
        "exported_at": when(timezone.now()),
    }


def delete_subscriber(subscriber: Subscriber) -> None:
    """Remove the subscriber and everything stored about them (their digests included).
    Only the anonymous counters keep a trace that someone was here."""
    with transaction.atomic():
        locked = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
        # Revoke every link first: a request reading a token mid-delete finds nothing.
        revoke_every_link(locked)
        locked.save(update_fields=["token_secret", "retired_unsubscribe_links"])
        # The admin's history names the subscriber by address (object_repr): it goes too.
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Subscriber), object_id=str(locked.pk)
        ).delete()
        suppression.forget_addresses(locked)
        locked.delete()
        Counter.increment("deletions")


# What the pages show.


@dataclass
class Listing:
    day: dt.date | None
    papers: list[Paper]


def new_feed_link(subscriber: Subscriber) -> None:
    """A new address for the personal feed; the old one stops working at once."""
    subscriber.rotate_feed_token()
    subscriber.save(update_fields=["feed_token", "updated_at"])


def latest_listing(today: dt.date | None = None) -> Listing:
    """The latest listing day's papers, most upvoted first."""
    day = latest_listing_day(today or timezone.localdate())
    if day is None:
        return Listing(day=None, papers=[])
    papers = list(Paper.objects.filter(listed_on=day, is_hidden=False).order_by("-upvotes", "title"))
    return Listing(day=day, papers=papers)


@dataclass(frozen=True)
class KeywordReading:
    """How a typed keyword is read beyond its own words, shown next to it with a box to
    remove each part: the curated topic it also matches through ("jailbreaks": AI safety
    and alignment) and the related terms it also looks for ("model compression":
    quantization, pruning...)."""

    keyword: str
    topic_name: str | None  # None: no topic suggested (or one the reader follows anyway)
    removed: bool  # the topic
    related: tuple[str, ...] = ()
    related_removed: bool = False
    left_out: tuple[str, ...] = ()  # related terms the reader left out of this keyword's


@dataclass
class Preview:
    day: dt.date | None
    papers_that_day: int
    matches: list[Match]
    asked_for_anything: bool
    readings: list[KeywordReading] = field(default_factory=list)
    # Every paper of the day that matched; `matches` stops at the reader's papers per email.
    match_count: int = 0
    # Typed keywords that find nothing that day on their own: a typo, or a word papers
    # do not use, is better caught now than after a week of empty digests.
    keywords_finding_nothing: list[str] = field(default_factory=list)
    # ... and, for those with a word the catalog never writes, the closest it does:
    # {"transfomer": "transformer"}.
    spelling_suggestions: dict[str, str] = field(default_factory=dict)

    def summary_line(self, today: dt.date | None = None) -> str:
        """One line for a phone, where the list itself is out of sight: "12 papers from
        yesterday's listing would match"."""
        if self.day is None:
            return "No papers have been listed yet."
        if not self.asked_for_anything:
            return "Choose a topic or a keyword to see what you would get."
        today = today or timezone.localdate()
        if self.day == today:
            when = "today's"
        elif self.day == today - dt.timedelta(days=1):
            when = "yesterday's"
        elif today - dt.timedelta(days=7) < self.day < today:
            when = f"{self.day:%A}'s"
        else:
            when = f"the {self.day.day} {self.day:%B}"
        count = "1 paper" if self.match_count == 1 else f"{self.match_count or 'No'} papers"
        return f"{count} from {when} listing would match."


_index_lock = threading.Lock()
_index_cache: dict[str, tuple[tuple, PaperIndex]] = {}


def listing_index(listing: Listing) -> PaperIndex:
    """The matcher's index over one listing day, built once per process while that day's
    papers and the curators' related terms are unchanged: building it is most of the
    work, matching is cheap, and the signup form's live preview asks again at every
    change."""
    fingerprint = (
        listing.day,
        len(listing.papers),
        max((p.pk for p in listing.papers), default=0),
        max((p.updated_at for p in listing.papers), default=None),
    )
    with _index_lock:
        cached = _index_cache.get("latest")
    if cached and cached[0] == fingerprint:
        context = cached[1].semantic
        # (The same table object while no curator's line changed: one aggregate query.)
        if context is None or context.related is current_related_table():
            return cached[1]
    # The preview shows keywords nobody has saved yet: this process may embed them.
    index = PaperIndex.build(listing.papers, embed_missing_keywords=True)
    with _index_lock:
        _index_cache["latest"] = (fingerprint, index)
    return index


def keyword_readings(
    keywords: tuple[str, ...],
    unexpanded: tuple[str, ...],
    index: PaperIndex | None = None,
    followed: Iterable[str] = (),
    without_related: tuple[str, ...] = (),
    left_out_terms: tuple[tuple[str, str], ...] = (),
) -> list[KeywordReading]:
    """Which typed keywords also match through a curated topic ("jailbreaks": AI safety
    and alignment) or look for related terms, and which of those the reader removed. A
    topic the reader follows (slugs in `followed`) is not offered again: its papers are
    theirs anyway. (A reading they removed is still shown, ticked: its box is what keeps
    the removal when they save.)"""
    if not keywords:
        return []
    index = index or listing_index(latest_listing())
    removed = {k.casefold() for k in unexpanded}
    unrelated = {k.casefold() for k in without_related}
    left_out: dict[str, set[str]] = {}
    for keyword, term in left_out_terms:
        left_out.setdefault(keyword.casefold(), set()).add(term.casefold())
    following = set(followed)
    readings = []
    for keyword in keywords:
        topic = index.expansion_topic(keyword)
        if topic is not None and topic.slug in following and keyword.casefold() not in removed:
            topic = None
        chosen = keyword.casefold() in unrelated or keyword.casefold() in left_out
        related = index.related_terms_read(keyword, even_without_vectors=chosen)
        if topic is None and not related:
            continue
        readings.append(
            KeywordReading(
                keyword,
                topic.name if topic is not None else None,
                keyword.casefold() in removed,
                related,
                keyword.casefold() in unrelated,
                tuple(term for term in related if term.casefold() in left_out.get(keyword.casefold(), ())),
            )
        )
    return readings


def preview(preferences: Preferences, today: dt.date | None = None, feedback: Feedback | None = None) -> Preview:
    """What the latest listing day would have brought with these choices, through the
    same matcher the digests use (with a subscriber's votes as `feedback`, as their
    digests read them)."""
    listing = latest_listing(today)
    interest = dataclasses.replace(preferences.interest(), feedback=feedback)
    asked = bool(interest.topics or interest.keywords or interest.authors)
    if listing.day is None:
        return Preview(day=None, papers_that_day=0, matches=[], asked_for_anything=asked)
    if not asked:
        # Votes or the editors' picks alone are no subscription (the form refuses to save
        # one): a list here would show papers the reader could never get.
        return Preview(day=listing.day, papers_that_day=len(listing.papers), matches=[], asked_for_anything=False)
    index = listing_index(listing)
    matches = match_with_picks(
        index, interest, listed_from=listing.day, listed_to=listing.day, limit=preferences.max_papers
    )
    readings = keyword_readings(
        preferences.keywords,
        preferences.unexpanded_keywords,
        index,
        followed=(t.slug for t in preferences.topics),
        without_related=preferences.keywords_without_related,
        left_out_terms=preferences.left_out_terms,
    )
    # Each keyword alone, read in the field of the others as the digest reads it.
    alone = dataclasses.replace(interest, topics=(), authors=(), include_featured=False, feedback=None,
                                field_keywords=tuple(preferences.keywords))
    finding_nothing = [
        keyword
        for keyword in preferences.keywords
        if not index.match(dataclasses.replace(alone, keywords=(keyword,)), listed_from=listing.day,
                           listed_to=listing.day, limit=1)
    ]
    suggestions = {
        keyword: suggestion for keyword in finding_nothing if (suggestion := did_you_mean(keyword, index.stats))
    }
    return Preview(
        day=listing.day, papers_that_day=len(listing.papers), matches=matches, asked_for_anything=asked,
        readings=readings, match_count=matches.total, keywords_finding_nothing=finding_nothing,
        spelling_suggestions=suggestions,
    )


# The manage page's summary.


@dataclass(frozen=True)
class LastSent:
    period: dt.date
    paper_count: int
    match_count: int | None
    digest: Digest


@dataclass(frozen=True)
class Summary:
    """What a subscriber gets, in a few lines, for the top of the manage page."""

    topics: list[str]
    keywords: list[str]
    authors: list[str]
    excluded_keywords: list[str]
    include_featured: bool
    schedule: str
    last_sent: LastSent | None


def schedule_text(subscriber: Subscriber) -> str:
    """ "Daily at 07:00 Asia/Tokyo time, up to 10 papers, HTML"."""
    if subscriber.frequency == Subscriber.Frequency.WEEKLY:
        when = f"Weekly on {subscriber.get_weekday_display()}"
    else:
        when = "Daily"
    email_format = "plain text" if subscriber.email_format == Subscriber.Format.TEXT else "HTML"
    zone = subscriber.timezone.replace("_", " ")
    zone_words = zone if zone == "UTC" else f"{zone} time"  # not "07:00 UTC time"
    return f"{when} at {subscriber.delivery_time:%H:%M} {zone_words}, up to {subscriber.max_papers} papers, {email_format}"


def summary_of(subscriber: Subscriber) -> Summary:
    last = (
        Digest.objects.filter(subscriber=subscriber, status=Digest.Status.SENT)
        .order_by("-period")
        .only("id", "period", "paper_count", "match_count", "subscriber_id")
        .first()
    )
    return Summary(
        topics=[topic.name for topic in subscriber.topics.order_by("name")],
        keywords=list(subscriber.keywords),
        authors=list(subscriber.authors),
        excluded_keywords=list(subscriber.excluded_keywords),
        include_featured=subscriber.include_featured,
        schedule=schedule_text(subscriber),
        last_sent=LastSent(last.period, last.paper_count, last.match_count, last) if last else None,
    )
