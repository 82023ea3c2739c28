"""What the mail provider reports back through django-anymail's tracking webhooks.

With EMAIL_BACKEND set to an anymail backend and its webhook routed (digest/urls.py),
anymail checks the webhook's authentication and sends its `tracking` signal for every
event; a permanent bounce, a spam complaint or an unsubscribe stops mail to that
address, like a 5xx from our own SMTP server does. Other events (delivered, opened,
a temporary "deferred") change nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from anymail.signals import AnymailTrackingEvent

from . import services
from .models import Subscriber, Suppression, normalise_email
from .suppression import suppress_address

logger = logging.getLogger(__name__)

REASONS = {
    "bounced": Suppression.Reason.BOUNCE,
    "complained": Suppression.Reason.COMPLAINT,
    "unsubscribed": Suppression.Reason.UNSUBSCRIBE,
}


def is_for_good(event: AnymailTrackingEvent) -> bool:
    """Postmark reports a soft bounce ("mailbox full") as "bounced" too; its `Inactive`
    flag says whether it stopped the address itself, and only then do we."""
    raw = event.esp_event
    if event.event_type == "bounced" and isinstance(raw, dict) and "Inactive" in raw:
        return bool(raw["Inactive"])
    return True


def handle_tracking_event(sender: Any, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any) -> None:
    reason = REASONS.get(event.event_type)
    if reason is None or not event.recipient or not is_for_good(event):
        return
    email = normalise_email(event.recipient)
    detail = " ".join(part for part in (event.description, event.mta_response) if part)
    suppress_address(email, reason, source=f"anymail:{esp_name.lower()}", detail=detail)
    if reason == Suppression.Reason.UNSUBSCRIBE:
        # Their unsubscribe, whichever button they pressed: the same as our one-click link.
        subscriber = Subscriber.objects.filter(email=email).first()
        if subscriber is not None:
            services.unsubscribe(subscriber)
