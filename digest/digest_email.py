"""The digest email's content: what each paper card shows, how papers are grouped, the
subject line, the footer reason, and the signed view-in-browser link.

Everything the templates (`templates/emails/digest.*`) need is computed here, so the
templates stay simple and the same context serves the email, the dry run, the preview
and the browser page. The message itself is built by `digest.emails.build_email`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse
from django.utils.crypto import constant_time_compare

from subscriptions.models import Subscriber
from subscriptions.tokens import make_feedback_token, secret_fingerprint, subscriber_links

from .emails import build_email, render_email
from .matching import Interest, Match
from .models import Digest, DigestItem, Paper
from .tex import readable

ABSTRACT_SNIPPET_CHARS = 300
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
    def from_match(cls, match: Match, rank: int) -> "Entry":
        topic = match.topic
        return cls(
            match.paper, rank, match.score, topic.slug if topic else None, topic.name if topic else None,
            list(match.reasons), match.featured,
        )

    @classmethod
    def from_item(cls, item: DigestItem, subscriber: Subscriber) -> "Entry":
        topic = item.topic
        # A pick is what planning chose as one (within the cap) and is still featured; a
        # featured paper that came in as a match stays with its topic.
        featured = item.paper.is_featured and subscriber.include_featured and "editor's pick" in (item.matched or ())
        return cls(
            item.paper, item.rank, item.score, topic.slug if topic else None, topic.name if topic else None,
            list(item.matched or ()), featured,
        )


def digest_entries(digest: Digest) -> list[Entry]:
    """The saved papers still visible (a curator may hide one between planning and sending)."""
    items = digest.items.select_related("paper", "topic").order_by("rank")
    return [Entry.from_item(i, digest.subscriber) for i in items if not i.paper.is_hidden]


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


def paper_links(paper: Paper) -> list[dict[str, str]]:
    """Links that are known, labelled; never a dead or guessed one."""
    candidates = [
        ("Paper page", paper.best_page_url),
        ("arXiv", paper.arxiv_url),
        ("PDF", paper.best_pdf_url),
        ("Code", paper.code_url),
        ("Project", paper.project_url),
    ]
    links: list[dict[str, str]] = []
    for label, href in candidates:
        if href and href not in {link["url"] for link in links}:
            links.append({"label": label, "url": href})
    return links


def matched_line(entry: Entry, group_title: str) -> str:
    """The short "matched: ..." line. What the section heading already says is left out:
    under "Quantization", "topic Quantization: 'INT4' in title" reads "'INT4' in title";
    another topic that also matched is named, not detailed."""
    parts: list[str] = []
    for reason in (" ".join(r.split()) for r in entry.reasons):
        topic_name, sep, detail = reason.partition(": ") if reason.startswith("topic ") else ("", "", "")
        if reason.lower() == "editor's pick" and group_title == "Editor's picks":
            continue
        if sep and topic_name[len("topic "):] == group_title:
            parts.append(detail)
        elif sep:
            parts.append(f"also {topic_name[len('topic '):]}")
        else:
            parts.append(reason)
    return " · ".join(parts[:REASONS_SHOWN]) or ("editor's pick" if entry.featured else "")


def feedback_urls(subscriber: Subscriber, paper: Paper) -> dict[str, str]:
    """The paper's "more like this" / "less like this" links for this reader (none for an
    ad-hoc preview, which has no reader to record them for)."""
    if not subscriber.pk or not paper.pk:
        return {}
    page = settings.SITE_URL + reverse("subscriptions:paper_feedback", args=[make_feedback_token(subscriber, paper.pk)])
    return {"page": page, "more": page + "?v=more", "less": page + "?v=less"}


def _card(entry: Entry, group_title: str, subscriber: Subscriber) -> dict:
    paper = entry.paper
    links = paper_links(paper)
    title = " ".join(readable(paper.title).split())
    return {
        "feedback": feedback_urls(subscriber, paper),
        "rank": entry.rank,
        "title": title,
        # With no known page the title searches arXiv, so every title leads somewhere.
        "url": links[0]["url"] if links else arxiv_search_url(title),
        "has_page": bool(links),
        "authors": short_authors(paper.authors),
        "snippet": snippet(readable(paper.abstract)),
        "links": links,
        "upvotes": paper.upvotes,
        "matched": matched_line(entry, group_title),
    }


_AUTHOR_REASON = re.compile(r"^\s*(followed\s+)?authors?\b", re.IGNORECASE)


def _is_author_match(entry: Entry, subscriber: Subscriber) -> bool:
    followed = [a.lower() for a in subscriber.authors or () if a.strip()]
    for reason in entry.reasons:
        if _AUTHOR_REASON.match(reason) or any(name in reason.lower() for name in followed):
            return True
    return False


def _matched_phrase(entry: Entry, phrases: Sequence[str]) -> str | None:
    text = " ".join(entry.reasons).lower()
    return next((p for p in phrases if p.strip() and p.lower() in text), None)


def _group_key(entry: Entry, subscriber: Subscriber) -> tuple[str, str]:
    if entry.featured:
        return ("featured", "Editor's picks")
    if entry.topic_slug:
        return (f"topic:{entry.topic_slug}", entry.topic_name or entry.topic_slug)
    if _is_author_match(entry, subscriber):
        return ("authors", "Authors you follow")
    return ("keywords", "Your keywords")


def group_entries(entries: list[Entry], subscriber: Subscriber) -> list[dict]:
    """Editor's picks first, then one group per topic in the order of its best paper;
    each paper once (under its best match, which the matcher chose)."""
    groups: dict[str, dict] = {}
    for entry in sorted(entries, key=lambda e: (not e.featured, e.rank)):
        key, title = _group_key(entry, subscriber)
        group = groups.setdefault(key, {"key": key, "title": title, "papers": []})
        group["papers"].append(_card(entry, title, subscriber))
    return [g for g in groups.values() if g["papers"]]


def lower_name(name: str) -> str:
    """'Mixture of Experts' -> 'mixture of experts', but 'LLM Reasoning' -> 'LLM reasoning'
    and '3D Vision' -> '3D vision': acronyms keep their case in a subject line."""
    return " ".join(w if any(c.isupper() for c in w[1:]) or not w[:1].isalpha() else w.lower() for w in name.split())


def subject_labels(entries: list[Entry], subscriber: Subscriber) -> list[str]:
    """What the papers are about, in the order of the papers, each label once."""
    labels: list[str] = []
    for entry in sorted(entries, key=lambda e: e.rank):
        if entry.topic_name:
            label = lower_name(entry.topic_name)
        elif entry.featured:
            label = "editor's picks"
        elif _is_author_match(entry, subscriber):
            label = _matched_phrase(entry, subscriber.authors or ()) or "authors you follow"
        else:
            label = _matched_phrase(entry, subscriber.keywords or ()) or "your keywords"
        label = " ".join(label.split())
        if label not in labels:
            labels.append(label)
    return labels


def summarise_labels(labels: list[str]) -> str:
    """'a', 'a and b', 'a, b and c', 'a, b and 2 more'."""
    if len(labels) <= 1:
        return "".join(labels)
    # "speech and audio and fine-tuning" reads as three things; "speech & audio and
    # fine-tuning" as the two it is.
    labels = [label.replace(" and ", " & ") for label in labels]
    if len(labels) <= 3:
        return ", ".join(labels[:-1]) + " and " + labels[-1]
    return f"{labels[0]}, {labels[1]} and {len(labels) - 2} more"


def footer_reason(subscriber: Subscriber, interest: Interest | None) -> str:
    """Why this reader gets this email, in their own terms (the footer says it)."""
    how = "weekly" if subscriber.frequency == Subscriber.Frequency.WEEKLY else "daily"
    reason = f"You get this {how} digest because you subscribed to {settings.EMAIL_FROM_NAME} as {subscriber.email}."
    follows = []
    if interest and interest.topics:
        follows.append(", ".join(t.name for t in interest.topics))
    if subscriber.keywords:
        follows.append("keywords " + ", ".join(f"“{k}”" for k in subscriber.keywords))
    if subscriber.authors:
        follows.append("authors " + ", ".join(subscriber.authors))
    if follows:
        reason += " You follow " + "; ".join(" ".join(f.split()) for f in follows) + "."
    return reason


def preheader(entries: list[Entry]) -> str:
    titles = [" ".join(readable(e.paper.title).split()) for e in sorted(entries, key=lambda e: e.rank)]
    if not titles:
        return "Nothing new matched your interests in the latest listing."
    text = titles[0] if len(titles) == 1 else f"{titles[0]} · {titles[1]}"
    return text + (f" and {len(titles) - 2} more" if len(titles) > 2 else "")


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
) -> dict:
    """Everything the three digest templates need, computed here so they stay simple."""
    if interest is None and subscriber.pk:
        interest = Interest.from_subscriber(subscriber)
    groups = group_entries(entries, subscriber)
    if links is None:
        links = subscriber_links(subscriber) if subscriber.pk else preview_links()
    weekly = subscriber.frequency == Subscriber.Frequency.WEEKLY
    topic_groups = [g for g in groups if g["key"].startswith("topic:")]
    return {
        "period": period,
        "date_long": f"{period:%A}, {period.day} {period:%B %Y}",
        "date_short": f"{period:%b} {period.day}",
        "weekly": weekly,
        "paper_count": len(entries),
        "topic_count": len(topic_groups),
        "groups": groups,
        "subject_topics": summarise_labels(subject_labels(entries, subscriber)),
        "preheader": preheader(entries),
        "view_url": view_url,
        "links": links,
        "reason": footer_reason(subscriber, interest),
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
) -> EmailMultiAlternatives:
    context = digest_context(subscriber, period, entries, interest=interest, view_url=view_url)
    return build_email(
        "digest",
        subscriber.email,
        context,
        unsubscribe_url=context["links"]["one_click"],
        text_only=subscriber.email_format == Subscriber.Format.TEXT,
        message_id=message_id,
    )


def view_token(digest: Digest) -> str:
    """Signed digest id plus the reader's secret fingerprint (rotating it revokes the link)."""
    return signing.dumps([digest.pk, secret_fingerprint(digest.subscriber, "view_digest")], salt=VIEW_DIGEST_SALT)


def view_digest_url(digest: Digest) -> str:
    return settings.SITE_URL + reverse("digest:view", args=[view_token(digest)])


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


def render_saved_digest_html(digest: Digest) -> str:
    """The HTML of a saved digest, as the email showed it, for the browser page."""
    context = digest_context(digest.subscriber, digest.period, digest_entries(digest), links=web_copy_links())
    return render_email("digest", context)[2]
