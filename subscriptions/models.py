"""Subscribers: who wants which papers, when, and the evidence that they asked."""

from __future__ import annotations

import datetime as dt
import secrets

from django.db import models
from django.db.models.functions import Lower


def new_token_secret() -> str:
    return secrets.token_urlsafe(16)


def normalise_email(address: str) -> str:
    """Addresses are unique case-insensitively: compare and store them lower-cased."""
    return address.strip().lower()


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

    # When and how.
    frequency = models.CharField(max_length=6, choices=Frequency.choices, default=Frequency.DAILY)
    weekday = models.PositiveSmallIntegerField(default=0, help_text="Weekly digests: 0 is Monday.")
    delivery_time = models.TimeField(default=dt.time(7, 0), help_text="Local time.")
    timezone = models.CharField(max_length=64, default="UTC", help_text="IANA name, e.g. Europe/Berlin.")
    max_papers = models.PositiveSmallIntegerField(default=10)
    send_when_empty = models.BooleanField(default=False, help_text="Send a short email on days with no match.")
    email_format = models.CharField(max_length=4, choices=Format.choices, default=Format.HTML)
    paused_until = models.DateField(null=True, blank=True)

    # A new address waits here until it is confirmed; the old one keeps getting digests.
    pending_email = models.EmailField(max_length=254, blank=True)

    # Rotating this invalidates every link sent before.
    token_secret = models.CharField(max_length=64, default=new_token_secret)

    # Consent evidence.
    signed_up_at = models.DateTimeField(auto_now_add=True)
    signup_ip = models.GenericIPAddressField(null=True, blank=True)
    signup_user_agent = models.CharField(max_length=500, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirm_ip = models.GenericIPAddressField(null=True, blank=True)
    confirm_user_agent = models.CharField(max_length=500, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["email"]
        constraints = [models.UniqueConstraint(Lower("email"), name="unique_email_ci")]

    def __str__(self) -> str:
        return self.email

    def save(self, *args, **kwargs) -> None:
        self.email = normalise_email(self.email)
        super().save(*args, **kwargs)

    def rotate_token_secret(self) -> None:
        self.token_secret = new_token_secret()


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
