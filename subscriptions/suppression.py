"""Addresses nothing may be mailed to, and clearing them again.

A permanent refusal by the mail server (5xx at RCPT or DATA), a complaint or an
unsubscribe reported by the mail provider's webhook (django-anymail), or a curator's
action suppress an address: no digest and no subscription email goes to it until a
curator clears it, stating why. `Suppression` rows are the record (who reported what,
when, who cleared it and why); `Subscriber.suppressed` is the current state, kept here
so the digest tick and the admin read it without a join.
"""

from __future__ import annotations

import logging
import re

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from digest.emails import is_address_refusal

from .models import Subscriber, Suppression, normalise_email

logger = logging.getLogger(__name__)

DETAIL_MAX_LENGTH = 1000
CLEARED_REASON_MAX_LENGTH = 500
# Quoted local parts ("john secret"@) and apostrophes (o'brien@) are addresses too.
_ADDRESS = re.compile(r"(?:\"[^\"\r\n]*\"|[^\s<>()\[\]:;,\"]+)@[^\s<>()\[\]:;,\"']+")


def suppress_address(
    email: str,
    reason: str,
    *,
    source: str,
    detail: str = "",
    subscriber: Subscriber | None = None,
) -> Suppression | None:
    """Stop all mail to `email`. Returns the new Suppression, or None when the address
    was already suppressed for the same reason (a second bounce of the same address, a
    webhook delivered twice): one active row per address and reason."""
    email = normalise_email(email)
    if not email:
        return None
    with transaction.atomic():
        owner = subscriber or Subscriber.objects.filter(email=email).first()
        if Suppression.objects.filter(email=email, reason=reason, cleared_at__isnull=True).exists():
            return None
        try:
            with transaction.atomic():
                suppression = Suppression.objects.create(
                    subscriber=owner if owner is not None and owner.email == email else None,
                    email=email,
                    reason=reason,
                    source=source[:40],
                    detail=" ".join(detail.split())[:DETAIL_MAX_LENGTH],
                )
        except IntegrityError:
            return None  # the same report, stored by another request a moment ago
        sync_subscriber(email)
    logger.info("mail to subscriber %s stopped: %s (%s)", suppression.subscriber_id, reason, source)
    return suppression


def suppress_refused_address(subscriber: Subscriber, error: BaseException, description: str) -> None:
    """A message to `subscriber` was refused for good: if the refusal was of the
    address or the message (5xx at RCPT or DATA), nothing more goes to that address."""
    if is_address_refusal(error):
        suppress_address(
            subscriber.email, Suppression.Reason.BOUNCE, source="smtp", detail=description, subscriber=subscriber
        )


def clear_suppression(suppression: Suppression, *, by: AbstractBaseUser | AnonymousUser | None, reason: str) -> bool:
    """Let mail go to the address again, recording who cleared it and why. True only
    when this call cleared it (a double submit clears once)."""
    reason = " ".join(reason.split())[:CLEARED_REASON_MAX_LENGTH]
    if not reason:
        raise ValueError("a suppression is cleared with a reason")
    user = by if by is not None and by.is_authenticated else None
    with transaction.atomic():
        changed = Suppression.objects.filter(pk=suppression.pk, cleared_at__isnull=True).update(
            cleared_at=timezone.now(), cleared_by=user, cleared_reason=reason
        )
        if changed:
            sync_subscriber(suppression.email)
    suppression.refresh_from_db()
    return changed == 1


def is_suppressed(email: str) -> bool:
    return Suppression.objects.filter(email=normalise_email(email), cleared_at__isnull=True).exists()


def sync_subscriber(email: str) -> None:
    """Set `Subscriber.suppressed` of whoever has `email` now from its active
    suppressions (the latest one's reason, "" when none). Called after a suppression is
    made or cleared and after a subscription starts at, or moves to, an address."""
    if not email:
        return
    latest = (
        Suppression.objects.filter(email=email, cleared_at__isnull=True)
        .order_by("-created_at", "-pk")
        .values_list("reason", flat=True)
        .first()
    )
    # An UPDATE skips save(): reset next_check_at by hand, so a reader let through again
    # is looked at by the next digest tick.
    Subscriber.objects.filter(email=email).exclude(suppressed=latest or "").update(
        suppressed=latest or "", next_check_at=None
    )


def forget_addresses(subscriber: Subscriber) -> None:
    """The subscriber deletes their data: the suppressions of them and of their address
    (some came before they subscribed) keep only what counts (reason, source, dates),
    not the address or the server's words about it."""
    Suppression.objects.filter(Q(subscriber=subscriber) | Q(email=subscriber.email)).update(
        email="", detail="", subscriber=None
    )


def redact_addresses(text: str) -> str:
    """The text with every email address replaced (a server's reply often quotes it),
    for those who may not see subscribers' addresses."""
    return _ADDRESS.sub("[address]", text)


def masked_address(email: str) -> str:
    """Only the domain: enough to see a provider's outage, not who subscribes."""
    _, at, domain = email.rpartition("@")
    return f"…@{domain}" if at else "…"
