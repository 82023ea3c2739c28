"""Subscribers: who wants which papers, when, and the evidence that they asked."""

from __future__ import annotations

import datetime as dt
import secrets
import zoneinfo

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower


WEEKDAYS = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]


def new_token_secret() -> str:
    return secrets.token_urlsafe(16)


def new_feed_token() -> str:
    # 256 bits: the token is the only thing between a stranger and someone's reading list.
    return secrets.token_urlsafe(32)


def normalise_email(address: str) -> str:
    """Addresses are unique case-insensitively: compare and store them lower-cased, with
    an internationalised domain in its one canonical spelling (IDNA's, as the mail is
    sent). Mail to "ada@ｅxample.org" (a full-width e) goes to ada@example.org, so it
    must compare equal to it, or it would get past that address's suppression and limits."""
    local, at, domain = address.strip().rpartition("@")
    # Browsers send "Bücher.example" as "xn--bcher-kva.example": both are one spelling.
    if at and (not domain.isascii() or "xn--" in domain.lower()):
        try:
            domain = domain.encode("idna").decode("idna")  # "bücher.example" stays readable
        except UnicodeError:
            pass  # not a domain name at all: the form refuses it
    return f"{local}{at}{domain}".lower()


class SuppressionReason(models.TextChoices):
    BOUNCE = "bounce", "Bounced (refused for good)"
    COMPLAINT = "complaint", "Spam complaint"
    UNSUBSCRIBE = "unsubscribe", "Unsubscribed via the mail provider"
    MANUAL = "manual", "Stopped by hand"


class SubscriberQuerySet(models.QuerySet):
    def receiving_digests(self, on: dt.date) -> "SubscriberQuerySet":
        """Who gets digests on the (local) date `on`: confirmed and not paused, or paused
        only until a date that has come, and not suppressed. Pending and unsubscribed
        addresses never do."""
        return self.filter(
            Q(status=Subscriber.Status.ACTIVE)
            | Q(status=Subscriber.Status.PAUSED, paused_until__isnull=False, paused_until__lte=on),
            suppressed="",
        )


class Subscriber(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for confirmation"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"

    class Frequency(models.TextChoices):
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"

    class Format(models.TextChoices):
        HTML = "html", "HTML with a plain-text part"
        TEXT = "text", "Plain text only"

    email = models.EmailField(max_length=254)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True)

    # What they want.
    topics = models.ManyToManyField("digest.Topic", blank=True, related_name="subscribers")
    keywords = models.JSONField(default=list, blank=True, help_text="Free phrases to match.")
    excluded_keywords = models.JSONField(default=list, blank=True, help_text="Phrases that remove a paper.")
    authors = models.JSONField(default=list, blank=True, help_text="Authors to follow.")
    include_featured = models.BooleanField(default=True, help_text="Editor's picks open the email.")
    # Keywords the reader chose to match only as typed: no curated topic is added to them.
    unexpanded_keywords = models.JSONField(
        default=list, blank=True, help_text="Keywords whose suggested topic the reader removed."
    )
    # Keywords the reader chose to match without the related terms the service reads for
    # them ("model compression" also finding papers on quantization or pruning).
    keywords_without_related = models.JSONField(
        default=list, blank=True, help_text="Keywords whose related terms the reader removed."
    )
    # ... or only some of them: {"self-supervised learning": ["MAE"]}.
    left_out_terms = models.JSONField(
        default=dict, blank=True, help_text="Related terms the reader left out, by keyword."
    )

    # When and how.
    frequency = models.CharField(max_length=6, choices=Frequency.choices, default=Frequency.DAILY)
    # Choices and bounds also hold in the admin: a weekday of 9 would never come round.
    weekday = models.PositiveSmallIntegerField(
        default=0, choices=WEEKDAYS, help_text="Weekly digests."
    )
    delivery_time = models.TimeField(default=dt.time(7, 0), help_text="Local time.")
    timezone = models.CharField(max_length=64, default="UTC", help_text="IANA name, e.g. Europe/Berlin.")
    max_papers = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(5), MaxValueValidator(50)]
    )
    send_when_empty = models.BooleanField(default=False, help_text="Send a short email on days with no match.")
    email_format = models.CharField(max_length=4, choices=Format.choices, default=Format.HTML)
    paused_until = models.DateField(null=True, blank=True)
    # The digest tick need not look at this subscriber before this instant (a lower
    # bound it writes itself); None means "look at every tick". Any save resets it, so a
    # changed schedule is seen at once.
    next_check_at = models.DateTimeField(null=True, blank=True, db_index=True, editable=False)

    # Why nothing may be mailed to `email` ("" when mail may go): the reason of its
    # latest active Suppression, kept here by subscriptions.suppression so the tick and
    # the admin read it without a join.
    suppressed = models.CharField(
        max_length=12, choices=SuppressionReason.choices, blank=True, default="", db_index=True, editable=False,
        verbose_name="mail stopped",
    )

    # A new address waits here until it is confirmed; the old one keeps getting digests.
    pending_email = models.EmailField(max_length=254, blank=True)

    # Rotating this invalidates every link sent before ...
    token_secret = models.CharField(max_length=64, default=new_token_secret)
    # ... but the unsubscribe links of emails sent before a move to a new address or a
    # new subscription keep working for a while (subscriptions.tokens): an opt-out link
    # must work for at least 30 days after the email was sent. [[fingerprint of the old
    # secret, day it was retired, whether the address is still the same], ...]
    retired_unsubscribe_links = models.JSONField(default=list, blank=True, editable=False)
    # The secret in the address of their personal Atom feed (/feed/<token>.atom). Random,
    # not signed: a feed reader keeps the URL for years, and a new one replaces it (the
    # manage page's "new feed link") without touching their other links.
    feed_token = models.CharField(max_length=64, unique=True, default=new_feed_token, editable=False)

    # Consent evidence.
    consent_text = models.CharField(
        max_length=500, blank=True, help_text="The words next to the button they pressed to sign up."
    )
    signed_up_at = models.DateTimeField(auto_now_add=True)
    signup_ip = models.GenericIPAddressField(null=True, blank=True)
    signup_user_agent = models.CharField(max_length=500, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirm_ip = models.GenericIPAddressField(null=True, blank=True)
    confirm_user_agent = models.CharField(max_length=500, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SubscriberQuerySet.as_manager()

    class Meta:
        ordering = ["email"]
        constraints = [models.UniqueConstraint(Lower("email"), name="unique_email_ci")]

    def __str__(self) -> str:
        return self.email

    def save(self, *args, **kwargs) -> None:
        self.email = normalise_email(self.email)
        self.next_check_at = None
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "next_check_at"}
        super().save(*args, **kwargs)

    def rotate_token_secret(self) -> None:
        self.token_secret = new_token_secret()

    def rotate_feed_token(self) -> None:
        self.feed_token = new_feed_token()

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        try:
            return zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return zoneinfo.ZoneInfo("UTC")

    def next_delivery_after(self, moment: dt.datetime) -> dt.datetime:
        """When the next digest is due after `moment`, as an aware datetime in the
        subscriber's time zone: their delivery time on the next day (or chosen weekday)
        that has not passed yet, and not before a pause ends."""
        local = moment.astimezone(self.zone)
        day = local.date()
        if self.paused_until and self.paused_until > day:
            day = self.paused_until
        for _ in range(15):
            if self.frequency == self.Frequency.WEEKLY and day.weekday() != self.weekday:
                day += dt.timedelta(days=1)
                continue
            candidate = dt.datetime.combine(day, self.delivery_time, tzinfo=self.zone)
            if candidate > local:
                return candidate
            day += dt.timedelta(days=1)
        raise AssertionError("a daily or weekly schedule always has a slot within 15 days")


class Vote(models.Model):
    """A reader's "more like this" (+1) or "less like this" (-1) on a paper they were sent."""

    class Value(models.IntegerChoices):
        MORE = 1, "More like this"
        LESS = -1, "Less like this"

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="votes")
    paper = models.ForeignKey("digest.Paper", on_delete=models.CASCADE, related_name="votes")
    value = models.SmallIntegerField(choices=Value.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [models.UniqueConstraint(fields=["subscriber", "paper"], name="one_vote_per_paper")]

    def __str__(self) -> str:
        return f"{self.get_value_display()}: {self.paper_id}"


class Counter(models.Model):
    """Anonymous tallies that survive when a subscriber deletes their data."""

    name = models.CharField(max_length=64, unique=True)
    value = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}: {self.value}"

    @classmethod
    def increment(cls, name: str, by: int = 1) -> None:
        cls.objects.get_or_create(name=name)
        cls.objects.filter(name=name).update(value=models.F("value") + by)


class SentEmail(models.Model):
    """A subscription email (confirm, welcome, ...) claimed by the task that sends it,
    keyed by the task's id. Celery may deliver one task twice (a worker lost mid-send, a
    retry outliving the broker's visibility timeout); the second delivery finds the
    email sent, or claimed a moment ago, and does not send it again."""

    task_id = models.CharField(max_length=64, unique=True)
    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20)
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.kind} email for subscriber {self.subscriber_id}"


class Suppression(models.Model):
    """An address nothing may be mailed to: a mail server refused it for good, its owner
    complained of spam or unsubscribed at the mail provider, or someone stopped it by
    hand. It holds while `cleared_at` is empty; clearing records who and why, and the
    row stays, so the history of an address (and the sends dashboard's counts) remain."""

    Reason = SuppressionReason

    subscriber = models.ForeignKey(
        Subscriber, null=True, blank=True, on_delete=models.SET_NULL, related_name="suppressions"
    )
    # Blank once the subscriber deleted their data: the row then only counts.
    email = models.EmailField(max_length=254, blank=True, db_index=True)
    reason = models.CharField(max_length=12, choices=SuppressionReason.choices)
    source = models.CharField(max_length=40, help_text='Who reported it: "smtp", "anymail:postmark", "admin".')
    detail = models.CharField(
        max_length=1000, blank=True, help_text="The mail server's reply or the provider's description."
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    cleared_at = models.DateTimeField(null=True, blank=True)
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cleared_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("clear_suppression", "Can clear a suppression (mail the address again)")]
        constraints = [
            # A second report of the same thing (a webhook delivered twice) adds no row.
            models.UniqueConstraint(
                fields=["email", "reason"],
                condition=Q(cleared_at__isnull=True) & ~Q(email=""),
                name="one_active_suppression_per_reason",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} ({self.created_at:%Y-%m-%d})" if self.created_at else self.reason

    @property
    def is_active(self) -> bool:
        return self.cleared_at is None
