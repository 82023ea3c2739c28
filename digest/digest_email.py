"""The digest email's content: what each paper card shows, how papers are grouped, the
subject line, the footer reason, and the signed view-in-browser link.

Everything the templates (`templates/emails/digest.*`) need is computed here, so the
templates stay simple and the same context serves the email, the dry run, the preview
and the browser page. The message itself is built by `digest.emails.build_email`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from subscriptions.models import Subscriber
from subscriptions.tokens import make_digest_feedback_token, secret_fingerprint, subscriber_links

from .digest_html import DigestPages, NeedsReference
from .emails import build_email, render_email, render_html
from .jinja2 import text_environment
from .matching import FEEDBACK_REASON, IN_PASSING, Interest, Match
from .models import Digest, DigestItem, Paper, Topic
from .queries import id_ranges
from .tex import readable, readable_start

logger = logging.getLogger(__name__)

# About two lines of a desktop card; the full abstract is one tap away (the title).
ABSTRACT_SNIPPET_CHARS = 150
AUTHORS_SHOWN = 3
REASONS_SHOWN = 3
VIEW_DIGEST_SALT = "view_digest"


@dataclass
class Entry:
    """One paper as the email shows it, from a match (preview, dry run) or a saved item."""

    paper: Paper
    rank: int
    score: float
    topic_slug: str | None
    topic_name: str | None
    reasons: list[str]
    featured: bool

    @classmethod
    def from_match(cls, match: Match, rank: int) -> Entry:
        topic = match.topic
        return cls(
            match.paper, rank, match.score, topic.slug if topic else None, topic.name if topic else None,
            list(match.reasons), match.featured,
        )

    @classmethod
    def from_item(cls, item: DigestItem, subscriber: Subscriber) -> Entry:
        topic = item.topic
        reasons = list(item.matched or ())
        return cls(
            item.paper, item.rank, item.score, topic.slug if topic else None, topic.name if topic else None,
            reasons, _is_pick(item.paper, subscriber, reasons),
        )


def _is_pick(paper: Paper, subscriber: Subscriber, reasons: list[str]) -> bool:
    # A pick is what planning chose as one (within the cap) and is still featured; a
    # featured paper that came in as a match stays with its topic.
    return paper.is_featured and subscriber.include_featured and "editor's pick" in reasons


def digest_entries(digest: Digest) -> list[Entry]:
    """The saved papers still visible (a curator may hide one between planning and sending)."""
    items = digest.items.select_related("paper", "topic").order_by("rank")
    return [Entry.from_item(i, digest.subscriber) for i in items if not i.paper.is_hidden]


def batch_entries(digests: Sequence[Digest]) -> dict[int, list[Entry]]:
    """`digest_entries` of many digests in three queries, whatever their number: items as
    plain rows, each paper and topic loaded once however many digests name it."""
    by_digest: dict[int, list[tuple]] = {d.pk: [] for d in digests}
    for chunk in _chunks(list(by_digest), 900):
        for row in _item_rows(chunk):
            by_digest[row[0]].append(row)
    paper_ids = {row[1] for rows in by_digest.values() for row in rows}
    papers = {
        p.pk: p
        for chunk in _chunks(list(paper_ids), 900)
        for p in Paper.objects.filter(id_ranges(chunk)).defer("embedding")
    }
    topics = {t.pk: t for t in Topic.objects.all()}
    entries: dict[int, list[Entry]] = {}
    for digest in digests:
        listed = []
        subscriber = digest.subscriber
        for _, paper_id, rank, score, topic_id, matched in sorted(by_digest[digest.pk], key=lambda r: r[2]):
            paper = papers.get(paper_id)
            if paper is None or paper.is_hidden:
                continue
            topic = topics.get(topic_id)
            reasons = _reasons(matched)
            listed.append(Entry(
                paper, rank, score, topic.slug if topic else None, topic.name if topic else None,
                reasons, _is_pick(paper, subscriber, reasons),
            ))
        entries[digest.pk] = listed
    return entries


def _item_rows(digest_ids: list[int]) -> list[tuple]:
    """(digest id, paper id, rank, score, topic id, matched as JSON text) of the digests'
    items. Read straight from the cursor: a send batch reads some 20 rows a digest, and
    Django's per-row conversion was most of the time loading a batch took."""
    query = DigestItem.objects.filter(id_ranges(digest_ids, "digest__id")).order_by().values_list(
        "digest_id", "paper_id", "rank", "score", "topic_id", "matched"
    )
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@lru_cache(maxsize=20_000)
def _parsed_reasons(matched: str | None) -> tuple[str, ...]:
    return tuple(json.loads(matched) or ()) if matched else ()


def _reasons(matched) -> list[str]:
    # The same few why-lines recur across a run's items: each is parsed once.
    if matched is None or isinstance(matched, str):
        return list(_parsed_reasons(matched))
    return list(matched)


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def short_authors(authors: Sequence[str]) -> str:
    names = [" ".join(str(a).split()) for a in authors or () if str(a).strip()]
    if len(names) > AUTHORS_SHOWN:
        return ", ".join(names[:AUTHORS_SHOWN]) + " et al."
    return ", ".join(names)


def snippet(text: str, limit: int = ABSTRACT_SNIPPET_CHARS) -> str:
    """The start of an abstract, cut at a word boundary near `limit` characters."""
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    cut = text[:limit + 1].rsplit(" ", 1)[0] if " " in text[:limit + 1] else text[:limit]
    return cut.rstrip(" ,;:.-–—") + "…"


def arxiv_search_url(title: str) -> str:
    return "https://arxiv.org/search/?" + urlencode({"query": title, "searchtype": "title"})


def title_link(paper: Paper) -> tuple[str, str]:
    """(where the title leads, what the text part prints for it). The arXiv abstract page
    when an id is known, else the paper's page on this site (full abstract, links, its
    topics): both short and stable, so the text part prints them too. A paper that was
    never saved (an ad-hoc preview) has no page: an arXiv title search, in the HTML
    only, since its 100-200 characters would wrap over lines of the text part."""
    if paper.arxiv_id:
        return paper.arxiv_url, paper.arxiv_url
    if paper.pk:
        before, after = _paper_path()
        url = f"{settings.SITE_URL}{before}{paper.pk}{after}"  # paper.get_absolute_url(), resolved once
        return url, url
    return arxiv_search_url(" ".join(readable(paper.title).split())), ""


_ID_SLOT = 987654321


@cache
def _paper_path() -> tuple[str, str]:
    before, after = reverse("digest:paper", args=[_ID_SLOT]).split(str(_ID_SLOT))
    return before, after


def paper_links(paper: Paper, title_url: str | None = None) -> list[dict[str, str]]:
    """The links beside the title that are known, labelled; never a dead or guessed one."""
    if title_url is None:
        title_url = title_link(paper)[0]
    candidates = [
        ("PDF", paper.best_pdf_url),
        ("Code", paper.code_url),
        ("Project", paper.project_url),
    ]
    links: list[dict[str, str]] = []
    for label, href in candidates:
        if href and href != title_url and href not in {link["url"] for link in links}:
            links.append({"label": label, "url": href})
    return links


_AUTHOR_REASON = re.compile(r"^\s*(?:followed\s+)?authors?\s+(.+)$", re.IGNORECASE)
# The reader's own word in the matcher's why-lines: "keyword 'LoRA' in title",
# "keyword 'LoRA': 'adapters' in abstract", "'LoRA' → topic Fine-tuning: ...",
# "close in meaning to 'LoRA'".
_KEYWORD_REASON = re.compile(r"^(?:keyword '(.+?)'(?: in |: |$)|'(.+?)' → topic ([^:]+)|close in meaning to '(.+)'$)")
# The words a keyword was found as, when they are not the keyword as typed: an
# acronym's long form, one of its alternatives, or a looser reading ("agents" for "LLM
# agents"): "keyword 'LLM agents': 'agents' in abstract".
_FOUND_AS = re.compile(r"^keyword '.+?': '(.+?)' in ")
EDITORS_PICK = "Editor's pick"


def _reason_author(reason: str) -> str | None:
    found = _AUTHOR_REASON.match(reason)
    return " ".join(found.group(1).split()) if found else None


def _reason_keyword(reason: str) -> str | None:
    found = _KEYWORD_REASON.match(reason)
    if not found:
        return None
    keyword = found.group(1) or found.group(2) or found.group(4)
    return " ".join(keyword.split())


def _keyword_lead(reason: str) -> str:
    """How a keyword brought the paper: its words, the topic it suggested, or meaning."""
    found = _KEYWORD_REASON.match(reason)
    if found and found.group(2):
        return f"Topic {' '.join(found.group(3).split())}, from your keyword "
    if found and found.group(4):
        return "Close in meaning to your keyword "
    return "Your keyword "


def entry_tag(entry: Entry) -> str:
    """The one thing that brought this paper, as a small tag: the editors, its topic, the
    reader's followed author or keyword."""
    return section_tag(entry.topic_name, entry.reasons, entry.featured)


def section_tag(topic_name: str | None, reasons: Sequence[str], featured: bool = False) -> str:
    """`entry_tag` of a paper known by its section's topic and its reasons: also that of
    a match past the reader's cut, from `Matches.more_sections`."""
    if featured or (reasons and reasons[0] == "editor's pick"):
        return EDITORS_PICK
    if topic_name:
        return " ".join(topic_name.split())
    for reason in (" ".join(r.split()) for r in reasons):
        if reason.endswith(IN_PASSING):
            continue  # a mention brought nothing: it names no section
        found = _reason_author(reason) or _reason_keyword(reason)
        if found:
            return found
    if FEEDBACK_REASON in reasons:
        return "Like papers you liked"
    return "Your interests"


def why_parts(entry: Entry, tag: str) -> list[dict[str, str]]:
    """What the reader asked for that the tag does not already say, as ("lead", "bold")
    pieces: their own keyword or author in bold, an editor's pick, a feedback raise. The
    topic's own evidence and the other topics that also matched are left out."""
    parts: list[dict[str, str]] = []
    for reason in (" ".join(r.split()) for r in entry.reasons):
        if reason.lower() == "editor's pick":
            part = {"lead": "Editor's pick", "bold": ""} if tag != EDITORS_PICK else None
        elif reason == FEEDBACK_REASON:
            part = {"lead": "Raised: like papers you marked “more like this”", "bold": ""}
        elif (author := _reason_author(reason)) is not None:
            part = {"lead": "Author you follow: ", "bold": author} if author != tag else None
        elif (keyword := _reason_keyword(reason)) is not None and reason.endswith(IN_PASSING):
            # What the paper wrote, when it is not the keyword as typed ("agents" for
            # "LLM agents"): the mention is of that word, not of the reader's phrase.
            found_as = _FOUND_AS.match(reason)
            if found_as is not None:
                part = {"lead": "Also mentions ", "bold": found_as.group(1)}
            else:
                part = {"lead": "Also mentions your keyword ", "bold": keyword}
        elif (keyword := _reason_keyword(reason)) is not None:
            lead = _keyword_lead(reason)
            if keyword.lower() != tag.lower() or lead != "Your keyword ":
                part = {"lead": lead, "bold": keyword}
            else:
                part = None
            # What the paper wrote, when it is not what was typed: the reader can judge
            # a loose reading ("agents" for "LLM agents") at a glance.
            if (found_as := _FOUND_AS.match(reason)) is not None:
                if part and part not in parts:
                    parts.append(part)
                part = {"lead": "Matched on ", "bold": found_as.group(1)}
        else:
            part = None
        if part and part not in parts:
            parts.append(part)
    return parts[:REASONS_SHOWN]


def why_text(parts: list[dict[str, str]]) -> str:
    """The why-line of the text part, where bold is a pair of quotes."""
    return " · ".join(p["lead"] + (f"“{p['bold']}”" if p["bold"] else "") for p in parts)


_TOKEN_SLOT = "0token0"


@cache
def _feedback_path() -> tuple[str, str]:
    # Resolved once per process and filled in per paper: twenty reverse() calls a digest
    # were a tenth of its cost. Signed tokens hold only URL-safe characters.
    path = reverse("subscriptions:digest_feedback", args=[_TOKEN_SLOT, 1])
    before, after = path.split(_TOKEN_SLOT)
    assert after == "/1/", path
    return before, "/"


def feedback_base(subscriber: Subscriber, *, signed: bool = True) -> str | None:
    """The start of this digest's "more / less like this" links, which the paper's id
    ends: one signed token a digest. None for an ad-hoc preview (no reader to record
    them for); a placeholder when not `signed` (a curator's preview of a real reader's
    email must not carry working links)."""
    if not subscriber.pk:
        return None
    if not signed:
        return f"{settings.SITE_URL}/feedback/preview/"
    before, after = _feedback_path()
    return f"{settings.SITE_URL}{before}{make_digest_feedback_token(subscriber)}{after}"


def feedback_urls(base: str | None, paper_id: int | None, *, signed: bool = True) -> dict[str, str]:
    """A paper's "more like this" / "less like this" links (`base` from `feedback_base`,
    made once a digest); none without a base (no reader, or no links wanted)."""
    if base is None or not paper_id:
        return {}
    page = base if not signed else f"{base}{paper_id}/"
    return {"page": page, "more": page + "?v=more", "less": page + "?v=less"}


@dataclass(frozen=True)
class PaperCard:
    """What a paper's card shows to every reader alike. Working it out (LaTeX to text
    above all) is most of a card's cost, so it is done once per paper and process
    (`paper_card`) and each digest adds only its reader's parts (tag, why-line,
    feedback links)."""

    title: str
    url: str
    text_url: str
    authors: str
    snippet: str
    links: list[dict[str, str]]
    upvotes: int
    # The start of the line under the abstract: the links and upvotes, the same for all.
    meta: tuple[dict[str, str], ...]
    # The text part's wrapped lines of title, authors and snippet (wrapping is costly).
    text_title: str
    text_authors: str
    text_snippet: str


# The text part's wrapping, as the template would write it: `v|wordwrap(width,
# break_on_hyphens=False)|indent(indent)`, by the same two Jinja filters.
_WRAP = {"title": (70, 2), "glance": (66, 4), "why": (68, 4)}


def wrapped(text: str, kind: str = "title") -> str:
    if not text:
        return ""
    width, indent = _WRAP[kind]
    if len(text) <= width and text == " ".join(text.split()):
        return text  # one short line: wrapping and indenting leave it as it is
    env = text_environment()
    lines = env.call_filter("wordwrap", text, [width], {"break_on_hyphens": False})
    return str(env.call_filter("indent", lines, [indent]))


_NO_BREAK = "\xa0"


@lru_cache(maxsize=50_000)
def glance_line(title: str, tag: str) -> str:
    """A title and its tag in the text part's at-a-glance list, wrapped: the same few
    (paper, tag) pairs recur in every digest of a run."""
    # The tag moves to the next line whole ("[Medical imaging]", not "[Medical" and
    # "imaging]"): wrapping never breaks at a no-break space, put back to a space after.
    return wrapped(f"{title} [{tag.replace(' ', _NO_BREAK)}]", "glance").replace(_NO_BREAK, " ")


# Papers per process whose cards are kept: a few days' listings.
PAPER_CARDS_KEPT = 5000
_paper_cards: dict[tuple[int | None, object], PaperCard] = {}
# How many cards were worked out in this process (tests check a card is made once).
paper_cards_built = 0


def paper_card(paper: Paper) -> PaperCard:
    """The paper's card, worked out once per version of the paper (a curator's edit
    changes `updated_at`, hence the card)."""
    global paper_cards_built
    key = (paper.id, paper.updated_at)
    card = _paper_cards.get(key) if key[0] else None
    if card is not None:
        return card
    url, text_url = title_link(paper)
    links = paper_links(paper, url)
    meta = [{"kind": "link", **link} for link in links]
    if not text_url:
        meta.insert(0, {"kind": "link", "label": "Find on arXiv", "url": url})
    if paper.upvotes > 0:
        label = f"▲ {paper.upvotes} upvote{'s' if paper.upvotes != 1 else ''}"
        meta.append({"kind": "upvotes", "label": label, "url": ""})
    card = PaperCard(
        title=" ".join(readable(paper.title).split()),
        url=url,
        text_url=text_url,
        authors=short_authors(paper.authors),
        snippet=snippet(readable_start(paper.abstract, ABSTRACT_SNIPPET_CHARS + 1)),
        links=links,
        upvotes=paper.upvotes,
        meta=tuple(meta),
        text_title="", text_authors="", text_snippet="",
    )
    card = dataclasses.replace(
        card, text_title=wrapped(card.title), text_authors=wrapped(card.authors), text_snippet=wrapped(card.snippet)
    )
    paper_cards_built += 1
    if paper.pk:
        if len(_paper_cards) >= PAPER_CARDS_KEPT:
            _paper_cards.clear()
        _paper_cards[key] = card
    return card


@lru_cache(maxsize=20_000)
def _why(
    reasons: tuple[str, ...], featured: bool, topic_name: str | None
) -> tuple[str, list[dict[str, str]], str, str]:
    """(tag, why-line parts, why-line text, its wrapped text-part lines): the same few
    reasons recur across a run's digests."""
    entry = Entry(None, 0, 0.0, None, topic_name, list(reasons), featured)  # type: ignore[arg-type]
    tag = entry_tag(entry)
    why = why_parts(entry, tag)
    text = why_text(why)
    return tag, why, text, wrapped(text, "why")


def _card(entry: Entry, tag: str, signed: bool = True, feedback_base: str | None = None) -> dict:
    paper = entry.paper
    card = paper_card(paper)
    _, why, why_line, text_why = _why(tuple(entry.reasons), entry.featured, entry.topic_name)
    feedback = feedback_urls(feedback_base, paper.id, signed=signed)
    # One line under the abstract: links, upvotes, then the reader's feedback.
    meta = list(card.meta)
    if feedback:
        meta += [
            {"kind": "feedback", "label": "More like this", "url": feedback["more"]},
            {"kind": "feedback", "label": "Less like this", "url": feedback["less"]},
        ]
    return {
        "feedback": feedback,
        "meta": meta,
        "rank": entry.rank,
        "tag": tag,
        "title": card.title,
        "text_title": card.text_title,
        "text_authors": card.text_authors,
        "text_snippet": card.text_snippet,
        "text_glance": glance_line(card.title, tag),
        "url": card.url,
        "text_url": card.text_url,
        "authors": card.authors,
        "snippet": card.snippet,
        "links": card.links,
        "upvotes": card.upvotes,
        "why": why,
        "why_text": why_line,
        "text_why": text_why,
    }


def group_entries(
    entries: list[Entry], subscriber: Subscriber, *, signed: bool = True, with_feedback: bool = True
) -> list[dict]:
    """One section per tag (the reader's topic, keyword or author that brought the
    papers), its papers in rank order; sections in the order of their best paper. In
    rank order alone, a digest whose interests take turns had a heading above nearly
    every paper ("Reasoning" five times in ten)."""
    groups: list[dict] = []
    by_tag: dict[str, dict] = {}
    base = feedback_base(subscriber, signed=signed) if entries and with_feedback else None
    for entry in sorted(entries, key=lambda e: e.rank):
        tag = _why(tuple(entry.reasons), entry.featured, entry.topic_name)[0]
        if (group := by_tag.get(tag)) is None:
            title = "Editor's picks" if tag == EDITORS_PICK else tag
            group = by_tag[tag] = {"tag": tag, "title": title, "featured": tag == EDITORS_PICK, "papers": []}
            groups.append(group)
        group["papers"].append(_card(entry, tag, signed, base))
    return groups


SUBJECT_TITLE_CHARS = 48
SUBJECT_TAGS = 2


def shorten(text: str, limit: int) -> str:
    """`text` cut at a word boundary to at most `limit` characters, with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[: limit - 1]
    return cut.rstrip(" ,;:.-–—") + "…"


def digest_subject(cards: list[dict]) -> str:
    """The top paper, how many more, and what they are about, from the cards in rank
    order: "Scaling test-time compute… and 9 more · Reasoning, LLMs"."""
    title = shorten(cards[0]["title"], SUBJECT_TITLE_CHARS)
    more = f" and {len(cards) - 1} more" if len(cards) > 1 else ""
    tags = list(dict.fromkeys(card["tag"] for card in cards))[:SUBJECT_TAGS]
    return f"{title}{more} · {', '.join(tags)}"


def _counted(noun: str, items: list[str]) -> str:
    return noun if len(items) == 1 else noun + "s"


def footer_reason(subscriber: Subscriber, interest: Interest | None, topic_names: list[str] | None = None) -> str:
    """Why this reader gets this email, in their own terms (the footer says it)."""
    how = "weekly" if subscriber.frequency == Subscriber.Frequency.WEEKLY else "daily"
    reason = f"You get this {how} digest because you subscribed to {settings.EMAIL_FROM_NAME} as {subscriber.email}."
    follows = []
    # The reader's topics, from their interest when the caller has one (a preview's
    # may differ from what is saved), else as saved (loaded for a whole send batch).
    if interest:
        topic_names = [t.name for t in interest.topics]
    elif topic_names is None:
        topic_names = [t.name for t in subscriber.topics.all()] if subscriber.pk else []
    if topic_names:
        follows.append(", ".join(topic_names))
    if subscriber.keywords:
        follows.append(_counted("keyword", subscriber.keywords) + " " + ", ".join(f"“{k}”" for k in subscriber.keywords))
    if subscriber.authors:
        follows.append(_counted("author", subscriber.authors) + " " + ", ".join(subscriber.authors))
    if follows:
        reason += " You follow " + "; ".join(" ".join(f.split()) for f in follows) + "."
    return reason


def preheader(cards: list[dict]) -> str:
    """The line inboxes show after the subject, which already names the top paper (the
    cards in rank order)."""
    titles = [card["title"] for card in cards]
    if not titles:
        return "Nothing new matched your interests in the latest listing."
    if len(titles) == 1:
        return titles[0]
    text = "Also: " + " · ".join(titles[1:3])
    return text + (f" and {len(titles) - 3} more" if len(titles) > 3 else "")


def preview_links() -> dict[str, str]:
    """Footer links for an ad-hoc preview profile, which has no subscriber to sign for."""
    return {
        "manage": f"{settings.SITE_URL}/manage/preview/",
        "unsubscribe": f"{settings.SITE_URL}/unsubscribe/preview/",
        "one_click": f"{settings.SITE_URL}/unsubscribe/preview/one-click/",
    }


def web_copy_links() -> dict[str, str]:
    """Footer links of a digest shown in the browser. Its link never expires and grants
    reading that digest only, so the page names no manage or unsubscribe link: each
    leads to the page that emails the manage link to the subscriber's address."""
    request_link = settings.SITE_URL + reverse("subscriptions:request_link")
    return {"manage": request_link, "unsubscribe": request_link, "one_click": request_link}


def digest_context(
    subscriber: Subscriber,
    period: dt.date,
    entries: list[Entry],
    *,
    interest: Interest | None = None,
    view_url: str | None = None,
    links: dict[str, str] | None = None,
    match_count: int | None = None,
    mentions_in_passing: bool = False,
    signed: bool = True,
    topic_names: list[str] | None = None,
    with_feedback: bool = True,
) -> dict:
    """Everything the three digest templates need, computed here so they stay simple.
    With `signed` off, every personal link (footer, feedback) is a placeholder; with
    `with_feedback` off, there are no "more / less like this" links."""
    groups = group_entries(entries, subscriber, signed=signed, with_feedback=with_feedback)
    if links is None:
        links = subscriber_links(subscriber) if subscriber.pk and signed else preview_links()
    weekly = subscriber.frequency == Subscriber.Frequency.WEEKLY
    glance = [paper for group in groups for paper in group["papers"]]  # the cards' order
    return {
        "period": period,
        "date_long": f"{period:%A}, {period.day} {period:%B %Y}",
        "date_short": f"{period:%b} {period.day}",
        "weekly": weekly,
        "paper_count": len(entries),
        "max_papers": subscriber.max_papers,
        # None for a digest planned before matches were counted: then only what is in it.
        "match_count": max(match_count or 0, len(entries)),
        # Papers wrote one of the reader's keywords only in passing: the web page lists them.
        "mentions_in_passing": mentions_in_passing,
        "groups": groups,
        "glance": glance,
        "subject": digest_subject(glance) if glance else "",
        "preheader": preheader(glance),
        "view_url": view_url,
        "links": links,
        "reason": footer_reason(subscriber, interest, topic_names),
        "email": subscriber.email,
    }


def digest_message(
    subscriber: Subscriber,
    period: dt.date,
    entries: list[Entry],
    *,
    interest: Interest | None = None,
    view_url: str | None = None,
    message_id: str | None = None,
    match_count: int | None = None,
    mentions_in_passing: bool = False,
    topic_names: list[str] | None = None,
) -> EmailMultiAlternatives:
    context = digest_context(
        subscriber, period, entries, interest=interest, view_url=view_url, match_count=match_count,
        mentions_in_passing=mentions_in_passing, topic_names=topic_names,
    )
    return build_email(
        "digest",
        subscriber.email,
        context,
        unsubscribe_url=context["links"]["one_click"],
        text_only=subscriber.email_format == Subscriber.Format.TEXT,
        message_id=message_id,
        html_renderer=digest_html,
    )


_pages = DigestPages(lambda context: render_html("digest", context))


def digest_html(context: dict) -> str:
    """The digest's HTML part, assembled from pieces learnt once per process; the same
    page `render_html("digest", context)` makes (tests compare the two)."""
    try:
        return _pages.render(context)
    except NeedsReference:
        return render_html("digest", context)
    except Exception:
        # A fault in the fast path must not cost the reader their digest.
        logger.exception("digest HTML pieces failed; rendered the whole page instead")
        return render_html("digest", context)


def view_token(digest: Digest) -> str:
    """Signed digest id plus the reader's secret fingerprint (rotating it revokes the link)."""
    return signing.dumps([digest.pk, secret_fingerprint(digest.subscriber, "view_digest")], salt=VIEW_DIGEST_SALT)


def view_digest_url(digest: Digest) -> str:
    before, after = _view_path()
    return f"{settings.SITE_URL}{before}{view_token(digest)}{after}"


@cache
def _view_path() -> tuple[str, str]:
    # Resolved once per process, like the feedback links' path.
    before, after = reverse("digest:view", args=[_TOKEN_SLOT]).split(_TOKEN_SLOT)
    return before, after


def read_view_token(token: str) -> Digest | None:
    """The digest a view-in-browser token names, or None for anything else."""
    try:
        digest_id, fingerprint = signing.loads(token, salt=VIEW_DIGEST_SALT)
        digest = Digest.objects.select_related("subscriber").filter(pk=int(digest_id)).first()
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if digest is None or not constant_time_compare(
        str(fingerprint), secret_fingerprint(digest.subscriber, "view_digest")
    ):
        return None
    return digest


def _listed_papers(ids: list[int]) -> dict[int, dict]:
    """Title, link and authors of the papers still shown, by id, as the web page's lists
    show them: one query however many there are."""
    if not ids:
        return {}
    papers = Paper.objects.filter(is_hidden=False).only("id", "title", "arxiv_id", "page_url", "authors").in_bulk(ids)
    return {
        pk: {
            "title": " ".join(readable(paper.title).split()),
            "url": title_link(paper)[0],
            "authors": short_authors(paper.authors),
        }
        for pk, paper in papers.items()
    }


def all_matches(digest: Digest, glance: list[dict], feedback_base: str | None = None) -> list[dict]:
    """Every match of the digest's listing for its web page: the papers the email had,
    as its at-a-glance list showed them, then those past the reader's cut, best first,
    each with its "more / less like this" links (with `feedback_base`): a paper on this
    page is one the reader can steer by as much as one in the email."""
    stored = digest.more_paper_ids if isinstance(digest.more_paper_ids, list) else []
    tags = digest.more_paper_tags if isinstance(digest.more_paper_tags, list) else []
    # The tags stand by position with the ids (none for digests made before they were kept).
    tagged = [
        (pk, tags[n] if n < len(tags) and isinstance(tags[n], str) else "")
        for n, pk in enumerate(stored)
        if isinstance(pk, int)
    ]
    listed = _listed_papers([pk for pk, _ in tagged])
    more = [
        {**listed[pk], "tag": tag, "sent": False, "feedback": feedback_urls(feedback_base, pk)}
        for pk, tag in tagged
        if pk in listed
    ]
    return [{**paper, "sent": True} for paper in glance] + more


def in_passing_pairs(stored: object) -> list[tuple[int, str]]:
    """`Digest.in_passing` as (paper id, keyword) pairs; anything else in it is ignored."""
    if not isinstance(stored, list):
        return []
    return [
        (pair[0], pair[1])
        for pair in stored
        if isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], int) and isinstance(pair[1], str)
    ]


def mentioned_in_passing(digest: Digest) -> list[dict]:
    """The papers that wrote one of the reader's keywords only in passing, best first,
    each with that keyword."""
    pairs = in_passing_pairs(digest.in_passing)
    listed = _listed_papers([pk for pk, _ in pairs])
    return [{**listed[pk], "keyword": keyword} for pk, keyword in pairs if pk in listed]


def render_saved_digest_html(digest: Digest) -> str:
    """The HTML of a saved digest, as the email showed it, for the browser page, with
    every match of that listing under it (the email says "Top 8 of 42"), then the papers
    that only mentioned one of the reader's keywords in passing."""
    # A view link does not expire (it is the reader's archive), but feedback links made
    # from it would outlive their own limit: an old digest's page offers none.
    # (By when it was made, as the feedback page counts: a link shown must work there.)
    recent = timezone.now() - digest.created_at < dt.timedelta(days=settings.FEEDBACK_LINK_MAX_AGE_DAYS)
    context = digest_context(
        digest.subscriber,
        digest.period,
        digest_entries(digest),
        links=web_copy_links(),
        match_count=digest.match_count,
        with_feedback=recent,
    )
    rows = all_matches(digest, context["glance"], feedback_base(digest.subscriber) if recent else None)
    context["web_page"] = True
    context["all_matches"] = rows if any(not row["sent"] for row in rows) else []
    context["in_passing"] = mentioned_in_passing(digest)
    return render_email("digest", context)[2]
