"""The subscription emails (confirm, welcome, manage link, address change), built with
the one email module from the subscriber's current state, at send time."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from digest.emails import build_email, is_address_refusal, send_email

from . import suppression
from .forms import WEEKDAYS
from .models import SentEmail, Subscriber, Suppression
from .schedule import first_or_next, next_digest_text
from .tokens import RETIRED_UNSUBSCRIBE_DAYS, make_email_change_token, make_token, subscriber_links

KINDS = ("confirm", "welcome", "manage_link", "email_change", "address_moved")
# Emails to an address nobody has confirmed yet: a new signup, or the new address of an
# address change (the subscription stays on the old one until it is confirmed).
UNVERIFIED_RECIPIENT_KINDS = ("confirm", "email_change")

# Why someone got a "here is your manage link" email; the wording is in the template.
MANAGE_LINK_REASONS = ("signup_again", "requested", "email_change_taken")

FOOTER_REASONS = {
    "confirm": "You get this email because someone, hopefully you, asked to subscribe this "
    "address. If it wasn't you, ignore it: without a click on the link you will not hear from us again.",
    "welcome": "You get this email because you subscribed to {site} and confirmed your address.",
    "manage_link": "You get this email because this address has a subscription to {site} "
    "and someone, hopefully you, asked for its link.",
    "email_change": "You get this email because someone, hopefully you, asked to send {site} "
    "to this address. If it wasn't you, ignore it and nothing changes.",
    "address_moved": "You get this email because this address had a subscription to {site}, "
    "and it has just moved to another address. This is the last email it gets from us.",
}


def absolute(path: str) -> str:
    return settings.SITE_URL + path


def describe_schedule(subscriber: Subscriber) -> str:
    """"every day at 07:00 (Europe/Berlin)" or "every Monday at 07:00 (UTC)"."""
    at = subscriber.delivery_time.strftime("%H:%M")
    if subscriber.frequency == Subscriber.Frequency.WEEKLY:
        day = dict(WEEKDAYS).get(subscriber.weekday, "Monday")
        return f"every {day} at {at} ({subscriber.timezone})"
    return f"every day at {at} ({subscriber.timezone})"


def choices_context(subscriber: Subscriber) -> dict[str, Any]:
    return {
        "topics": [topic.name for topic in subscriber.topics.order_by("name")],
        "keywords": list(subscriber.keywords),
        "authors": list(subscriber.authors),
        "excluded_keywords": list(subscriber.excluded_keywords),
        "include_featured": subscriber.include_featured,
        "schedule": describe_schedule(subscriber),
        "max_papers": subscriber.max_papers,
        "send_when_empty": subscriber.send_when_empty,
        "plain_text": subscriber.email_format == Subscriber.Format.TEXT,
    }


def build_notification(kind: str, subscriber: Subscriber, reason: str = "", to: str = "") -> EmailMultiAlternatives:
    """`to`: the address of an "address_moved" notice (the one the subscription left)."""
    if kind not in KINDS:
        raise ValueError(f"unknown subscription email {kind!r}")
    site = settings.EMAIL_FROM_NAME
    # Nobody has shown they own the address a confirmation goes to (a typo is enough to
    # reach a stranger): those emails carry no link that manages, exports or deletes the
    # subscription, only the one that confirms.
    # The old address of a move owns nothing any more: no link that manages it either.
    links = None if kind in UNVERIFIED_RECIPIENT_KINDS or kind == "address_moved" else subscriber_links(subscriber)
    context: dict[str, Any] = {
        "site_name": site,
        "links": links,
        "reason": FOOTER_REASONS[kind].format(site=site),
        "choices": choices_context(subscriber),
        "max_age_days": settings.CONFIRMATION_MAX_AGE_DAYS,
    }
    to = to or subscriber.email
    unsubscribe_url: str | None = None
    if links is not None:
        context["manage_url"] = links["manage"]
        unsubscribe_url = links["one_click"]
    if kind == "confirm":
        context["confirm_url"] = absolute(reverse("subscriptions:confirm", args=[make_token(subscriber, "confirm")]))
    elif kind == "welcome":
        context["first_digest"] = next_digest_text(subscriber)
        context["first_or_next"] = first_or_next(subscriber)
    elif kind == "manage_link":
        context["why"] = reason if reason in MANAGE_LINK_REASONS else "requested"
        context["subscription_status"] = subscriber.get_status_display()
        context["is_unsubscribed"] = subscriber.status == Subscriber.Status.UNSUBSCRIBED
        if context["is_unsubscribed"]:
            unsubscribe_url = None
    elif kind == "address_moved":
        context["new_address"] = suppression.masked_address(subscriber.email)
        context["unsubscribe_days"] = RETIRED_UNSUBSCRIBE_DAYS
    elif kind == "email_change":
        to = subscriber.pending_email
        context["confirm_url"] = absolute(
            reverse("subscriptions:confirm_email_change", args=[make_email_change_token(subscriber, to)])
        )
    return build_email(
        kind,
        to,
        context,
        unsubscribe_url=unsubscribe_url,
        text_only=subscriber.email_format == Subscriber.Format.TEXT,
    )


# A claim older than this belongs to a worker that died mid-send (EMAIL_TIMEOUT bounds a
# send to seconds): the email may be sent again.
STALE_CLAIM_AFTER = dt.timedelta(minutes=10)


class ClaimedElsewhere(Exception):
    """Another delivery of the same task is sending this email right now."""


def send_notification(kind: str, subscriber_id: int, reason: str = "", *, key: str, to: str = "") -> bool:
    """Build and send one subscription email at most once per `key` (the task's id).
    True when this call sent it; False when there was nobody to write to or it was
    already sent. Raises ClaimedElsewhere while another delivery holds a fresh claim,
    and the mail error (with the claim released) when sending failed."""
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is None:
        # Deleted (or purged) since the email was queued: nobody to write to.
        return False
    to = to or (subscriber.pending_email if kind == "email_change" else subscriber.email)
    if not to or suppression.is_suppressed(to):
        # Refused for good, complained of, or stopped: another email would only bounce
        # again or annoy (and mail providers count both against us).
        return False
    SentEmail.objects.get_or_create(task_id=key, defaults={"subscriber": subscriber, "kind": kind})
    now = timezone.now()
    claimed = (
        SentEmail.objects.filter(task_id=key, sent_at__isnull=True)
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - STALE_CLAIM_AFTER))
        .update(claimed_at=now)
    )
    if not claimed:
        if SentEmail.objects.filter(task_id=key, sent_at__isnull=False).exists():
            return False
        raise ClaimedElsewhere(key)
    try:
        send_email(build_notification(kind, subscriber, reason, to=to))
    except Exception as error:
        SentEmail.objects.filter(task_id=key, sent_at__isnull=True).update(claimed_at=None)
        if is_address_refusal(error):
            suppression.suppress_address(
                to, Suppression.Reason.BOUNCE, source="smtp", detail=f"{kind} email: {error}",
                subscriber=subscriber if to == subscriber.email else None,
            )
        raise
    SentEmail.objects.filter(task_id=key).update(sent_at=timezone.now())
    return True
