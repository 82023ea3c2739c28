"""What the curator's console pages show: a listing day with the topics each paper
matches and the readers it would reach, what a change to a topic's phrases would add and
drop, and the email a reader would get now. Plain functions over bulk queries: the cost
of a page grows with the papers of a day, never with papers times readers."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from subscriptions.feedback import feedback_for
from subscriptions.models import Subscriber

from . import digests
from .digest_email import snippet
from .matching import Interest, PaperIndex, TopicTerms, latest_listing_day
from .models import Digest, Paper, Topic

# The window "try this change" looks at: a week of listings.
TRY_DAYS = 7


# --- A listing day -------------------------------------------------------------------


@dataclass
class ListedPaper:
    paper: Paper
    snippet: str
    topics: list[Topic] = field(default_factory=list)
    reach: int = 0  # receiving readers who follow one of `topics`


@dataclass
class ListingDay:
    day: dt.date | None
    papers: list[ListedPaper]
    receiving: int  # readers who get digests on that day
    take_picks: int  # of them, who take editor's picks
    digests_planned: int  # digests for that day (their local day) in the ledger
    digests_sent: int  # of them, sent (with papers or the quiet-day note)
    previous_day: dt.date | None = None
    next_day: dt.date | None = None

    @property
    def still_to_go(self) -> int:
        # A planned digest has its papers chosen, sent or not (a failed one, a retry):
        # only readers with no digest for the day yet can still get a change.
        return max(self.receiving - self.digests_planned, 0)


def listing_day(day: dt.date | None = None) -> ListingDay:
    """The papers listed on `day` (default: the latest listing day), best first, each with
    the active topics it matches and how many receiving readers follow one of those."""
    today = timezone.localdate()
    day = day or latest_listing_day(today) or today
    papers = list(Paper.objects.filter(listed_on=day).order_by("-upvotes", "title"))
    topics = list(Topic.objects.filter(is_active=True))
    receiving = Subscriber.objects.receiving_digests(day)
    matched = topics_matched(papers, topics)
    followers = follower_sets(receiving)
    listed = []
    for paper in papers:
        mine = matched.get(paper.pk, [])
        ids = {t.pk for t in mine}
        reach = sum(n for followed, n in followers.items() if followed & ids)
        listed.append(ListedPaper(paper, snippet(paper.abstract), mine, reach))
    counts = receiving.aggregate(all=Count("pk"), picks=Count("pk", filter=Q(include_featured=True)))
    ledger = Digest.objects.filter(period=day).aggregate(
        planned=Count("pk"),
        sent=Count("pk", filter=Q(status=Digest.Status.SENT)),
    )
    return ListingDay(
        day=day,
        papers=listed,
        receiving=counts["all"],
        take_picks=counts["picks"],
        digests_planned=ledger["planned"],
        digests_sent=ledger["sent"],
        previous_day=Paper.objects.filter(listed_on__lt=day)
        .order_by("-listed_on")
        .values_list("listed_on", flat=True)
        .first(),
        next_day=Paper.objects.filter(listed_on__gt=day)
        .order_by("listed_on")
        .values_list("listed_on", flat=True)
        .first(),
    )


def topics_matched(papers: list[Paper], topics: list[Topic]) -> dict[int, list[Topic]]:
    """Paper id → the topics it matches, through the same matcher as the digests (one
    index over the papers; hidden papers match nothing)."""
    if not papers or not topics:
        return {}
    index = PaperIndex.build(papers)
    found: dict[int, list[Topic]] = {}
    for topic in topics:
        interest = Interest(topics=(TopicTerms.from_topic(topic),), include_featured=False)
        for match in index.match(interest):
            found.setdefault(match.paper.pk, []).append(topic)
    return found


def follower_sets(readers) -> Counter[frozenset[int]]:
    """How many readers follow each combination of topics (one query). Readers share a
    handful of combinations, so a paper's reach is a sum over those, not over readers."""
    through = Subscriber.topics.through
    chosen: dict[int, set[int]] = {}
    rows = through.objects.filter(subscriber__in=readers.values("pk")).values_list("subscriber_id", "topic_id")
    for subscriber_id, topic_id in rows:
        chosen.setdefault(subscriber_id, set()).add(topic_id)
    return Counter(frozenset(ids) for ids in chosen.values())


# --- Trying a change to a topic ------------------------------------------------------


@dataclass
class TopicChange:
    added: list[Paper]
    dropped: list[Paper]
    kept: int
    followers: int  # receiving readers who follow the topic
    since: dt.date


def try_topic_phrases(topic: Topic, phrases: list[str], *, today: dt.date | None = None) -> TopicChange:
    """The papers of the last TRY_DAYS listing days the topic would gain and lose with
    `phrases` instead of its saved ones. Nothing is saved."""
    today = today or timezone.localdate()
    since = today - dt.timedelta(days=TRY_DAYS - 1)
    papers = list(Paper.objects.filter(listed_on__gte=since, listed_on__lte=today, is_hidden=False))
    before: set[int] = set()
    after: set[int] = set()
    if papers:
        index = PaperIndex.build(papers)
        saved = TopicTerms.from_topic(topic)
        edited = TopicTerms(slug=saved.slug, name=saved.name, phrases=tuple(phrases))
        before = {m.paper.pk for m in index.match(Interest(topics=(saved,), include_featured=False))}
        after = {m.paper.pk for m in index.match(Interest(topics=(edited,), include_featured=False))}
    by_id = {p.pk: p for p in papers}

    def ranked(ids: set[int]) -> list[Paper]:
        return sorted((by_id[pk] for pk in ids), key=lambda p: (-p.upvotes, p.title))

    followers = topic.subscribers.receiving_digests(today).count() if topic.pk else 0
    return TopicChange(
        added=ranked(after - before),
        dropped=ranked(before - after),
        kept=len(before & after),
        followers=followers,
        since=since,
    )


# --- The email a reader would get now ------------------------------------------------


@dataclass
class ReaderPreview:
    receiving: bool
    period: dt.date
    already: Digest | None  # their digest for this period, when one was planned
    has_new_papers: bool
    sends_email: bool
    subject: str = ""
    text: str = ""
    html: str = ""
    papers: int = 0
    plain_text_only: bool = False


def reader_preview(subscriber: Subscriber, now: dt.datetime | None = None) -> ReaderPreview:
    """What the next digest would be if it were planned now: the same window, history,
    matching, picks and templates as the tick. Stores and sends nothing. Its manage,
    unsubscribe and feedback links are placeholders: whoever reads the preview must not
    hold the reader's working links."""
    now = now or timezone.now()
    local_day = digests.local_now(subscriber, now).date()
    period = digests.period_for(subscriber, local_day)
    interest = Interest.from_subscriber(subscriber, feedback_for([subscriber.pk]).get(subscriber.pk))
    target = digests.Target(subscriber, interest, period=period, today=local_day, limit=subscriber.max_papers)
    draft = digests.build_drafts([target])[0]
    preview = ReaderPreview(
        receiving=digests.is_receiving(subscriber, local_day),
        period=period,
        already=subscriber.digests.filter(period=period).first(),
        has_new_papers=draft.has_new_papers,
        sends_email=draft.sends_email,
        papers=len(draft.matches),
        plain_text_only=subscriber.email_format == Subscriber.Format.TEXT,
    )
    if draft.sends_email:
        preview.subject, preview.text, preview.html = digests.render_draft(draft, signed=False)
    return preview


def last_digests(subscriber: Subscriber, count: int = 10) -> list[Digest]:
    return list(subscriber.digests.order_by("-period")[:count])


def picks_cap() -> int:
    return settings.EDITORS_PICKS_PER_DIGEST
