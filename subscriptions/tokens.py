"""Signed links for subscribers: confirm, manage, unsubscribe, view a digest.

A token carries the subscriber's id and a fingerprint of their `token_secret`, signed
with SECRET_KEY and a salt per purpose: a manage token cannot be used to unsubscribe
someone else or to confirm, and rotating `token_secret` invalidates every link sent
before. The secret itself never appears in a link, only an HMAC of it.

One exception: when the secret rotates because the subscription moves to a new address
or starts again, the unsubscribe links of the emails already sent keep working for
`RETIRED_UNSUBSCRIBE_DAYS` (`rotate_keeping_unsubscribe_links`). An opt-out link must
work for at least 30 days after the email was sent (CAN-SPAM), and a mail client's
unsubscribe button that fails makes people press "report spam" instead.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from .models import Subscriber

PURPOSES = frozenset({"confirm", "manage", "unsubscribe", "view_digest", "email_change", "feedback", "digest_feedback"})


class BadToken(Exception):
    """The token is tampered with, expired, for another purpose, or its secret was rotated."""


def _salt(purpose: str) -> str:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}; expected one of {sorted(PURPOSES)}")
    return f"subscriptions.token.{purpose}"


def secret_fingerprint(subscriber: Subscriber, purpose: str) -> str:
    """An HMAC of the subscriber's token secret: changes when the secret is rotated."""
    return salted_hmac(_salt(purpose), subscriber.token_secret).hexdigest()[:16]


_fingerprint = secret_fingerprint  # the earlier private name, kept for code written against it


def make_token(subscriber: Subscriber, purpose: str) -> str:
    """A URL-safe signed token for `subscriber`, valid only for `purpose`."""
    payload = [subscriber.pk, secret_fingerprint(subscriber, purpose)]
    return signing.dumps(payload, salt=_salt(purpose))


def read_token(token: str, purpose: str, max_age: timedelta | None = None) -> Subscriber:
    """The subscriber a token was made for; raises BadToken for anything else."""
    try:
        subscriber_id, fingerprint = signing.loads(token, salt=_salt(purpose), max_age=max_age)
    except (signing.BadSignature, ValueError, TypeError):
        # SignatureExpired is a BadSignature; ValueError/TypeError: a valid signature
        # over an unexpected payload shape.
        raise BadToken(f"invalid or expired {purpose} link") from None
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is None or not constant_time_compare(fingerprint, secret_fingerprint(subscriber, purpose)):
        raise BadToken(f"invalid {purpose} link")
    return subscriber


RETIRED_UNSUBSCRIBE_DAYS = 60
_MAX_RETIRED = 10


def _retired_still_valid(subscriber: Subscriber, today: dt.date) -> list[list]:
    kept = []
    for entry in subscriber.retired_unsubscribe_links or []:
        try:
            retired_on = dt.date.fromisoformat(entry[1])
        except (IndexError, TypeError, ValueError):
            continue
        if (today - retired_on).days <= RETIRED_UNSUBSCRIBE_DAYS:
            kept.append(entry)
    return kept


def _sent_to_fingerprint(address: str) -> str:
    return salted_hmac("subscriptions.token.unsubscribe.sent_to", address.strip().lower()).hexdigest()[:16]


def rotate_keeping_unsubscribe_links(subscriber: Subscriber, *, sent_to: str) -> None:
    """Rotate the token secret (every earlier link stops working) except for the
    unsubscribe links already sent, which keep working for RETIRED_UNSUBSCRIBE_DAYS.
    `sent_to`: the address those links went to. Their page shows the subscription's
    address only while it is still that one: never the address it moved to, even after
    several rotations. The caller saves."""
    today = timezone.localdate()
    kept = _retired_still_valid(subscriber, today)
    kept.append([secret_fingerprint(subscriber, "unsubscribe"), today.isoformat(), _sent_to_fingerprint(sent_to)])
    subscriber.retired_unsubscribe_links = kept[-_MAX_RETIRED:]
    subscriber.rotate_token_secret()


def revoke_every_link(subscriber: Subscriber) -> None:
    """Rotate the token secret and forget the retired unsubscribe links too: nothing
    sent before works any more. The caller saves."""
    subscriber.retired_unsubscribe_links = []
    subscriber.rotate_token_secret()


@dataclass(frozen=True)
class UnsubscribeLink:
    subscriber: Subscriber
    # False for the link of an email sent to another address than the subscription's
    # now (it moved since): it still unsubscribes, but its page must not show where to.
    shows_address: bool

    @property
    def address(self) -> str:
        """The address its pages may show: "" when that would say where it moved."""
        return self.subscriber.email if self.shows_address else ""


def read_unsubscribe_token(token: str) -> UnsubscribeLink:
    """The subscription an unsubscribe link stops: one made with the current secret, or
    with a secret retired by `rotate_keeping_unsubscribe_links` not too long ago.
    Never expires otherwise (RFC 8058). BadToken for anything else."""
    try:
        subscriber_id, fingerprint = signing.loads(token, salt=_salt("unsubscribe"))
    except (signing.BadSignature, ValueError, TypeError):
        raise BadToken("invalid unsubscribe link") from None
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is None:
        raise BadToken("invalid unsubscribe link")
    if constant_time_compare(fingerprint, secret_fingerprint(subscriber, "unsubscribe")):
        return UnsubscribeLink(subscriber, shows_address=True)
    for entry in _retired_still_valid(subscriber, timezone.localdate()):
        if constant_time_compare(fingerprint, str(entry[0])):
            sent_to = str(entry[2]) if len(entry) > 2 else ""
            return UnsubscribeLink(
                subscriber, shows_address=constant_time_compare(sent_to, _sent_to_fingerprint(subscriber.email))
            )
    raise BadToken("invalid unsubscribe link")


def subscriber_links(subscriber: Subscriber) -> dict[str, str]:
    """Absolute URLs for the links every email footer carries.

    "one_click" is the RFC 8058 endpoint mail clients POST to (List-Unsubscribe header);
    "unsubscribe" is the page with one button, for people clicking the footer link.
    """
    manage = make_token(subscriber, "manage")
    unsubscribe = make_token(subscriber, "unsubscribe")
    return {
        "manage": f"{settings.SITE_URL}/manage/{manage}/",
        "unsubscribe": f"{settings.SITE_URL}/unsubscribe/{unsubscribe}/",
        "one_click": f"{settings.SITE_URL}/unsubscribe/{unsubscribe}/one-click/",
    }


def _address_fingerprint(address: str) -> str:
    return salted_hmac("subscriptions.token.email_change.address", address.lower()).hexdigest()[:16]


def make_email_change_token(subscriber: Subscriber, new_address: str) -> str:
    """A token that confirms moving `subscriber` to `new_address`, and only that address:
    asking for another change later makes this link stop working. The address is not
    readable from the link, only an HMAC of it."""
    payload = [subscriber.pk, secret_fingerprint(subscriber, "email_change"), _address_fingerprint(new_address)]
    return signing.dumps(payload, salt=_salt("email_change"))


def read_email_change_token(token: str, max_age: timedelta | None = None) -> Subscriber:
    """The subscriber whose pending address change the token confirms; BadToken when the
    token is bad, expired, revoked, or for an address they no longer want."""
    try:
        subscriber_id, fingerprint, address = signing.loads(token, salt=_salt("email_change"), max_age=max_age)
    except (signing.BadSignature, ValueError, TypeError):
        raise BadToken("invalid or expired address-change link") from None
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    if (
        subscriber is None
        or not subscriber.pending_email
        or not constant_time_compare(fingerprint, secret_fingerprint(subscriber, "email_change"))
        or not constant_time_compare(address, _address_fingerprint(subscriber.pending_email))
    ):
        raise BadToken("invalid address-change link")
    return subscriber


def make_feedback_token(subscriber: Subscriber, paper_id: int) -> str:
    """A token that lets its holder say "more / less like this" about one paper for one
    subscriber, and nothing else (it grants no view of their preferences). Digests sent
    before one token per digest (`make_digest_feedback_token`) carry these."""
    payload = [subscriber.pk, secret_fingerprint(subscriber, "feedback"), paper_id]
    return signing.dumps(payload, salt=_salt("feedback"), compress=True)


def read_feedback_token(token: str, max_age: timedelta | None = None) -> tuple[Subscriber, int]:
    """(subscriber, paper id) of a feedback token; BadToken for anything else."""
    try:
        subscriber_id, fingerprint, paper_id = signing.loads(token, salt=_salt("feedback"), max_age=max_age)
        paper_id = int(paper_id)
    except (signing.BadSignature, ValueError, TypeError):
        raise BadToken("invalid or expired feedback link") from None
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is None or not constant_time_compare(fingerprint, secret_fingerprint(subscriber, "feedback")):
        raise BadToken("invalid feedback link")
    return subscriber, paper_id


def make_digest_feedback_token(subscriber: Subscriber) -> str:
    """One token for all the "more / less like this" links of a digest: the paper's id
    follows it in the link, and is accepted only for a paper that was sent to this
    subscriber (the view checks). One signature a digest instead of one a paper."""
    payload = [subscriber.pk, secret_fingerprint(subscriber, "digest_feedback")]
    return signing.dumps(payload, salt=_salt("digest_feedback"))


def read_digest_feedback_token(token: str, max_age: timedelta | None = None) -> Subscriber:
    """The subscriber of a digest's feedback token; BadToken for anything else."""
    return read_token(token, "digest_feedback", max_age=max_age)
