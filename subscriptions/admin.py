"""Subscribers in the Django admin (staff only, like all of the admin).

Consent evidence is read-only: it records what happened and must not be edited. The
token secret is never shown; "revoke links" rotates it."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from .forms import PreferencesForm
from .models import Counter, Subscriber

# Recorded by the signup and confirmation views; never edited by hand.
CONSENT_EVIDENCE = [
    "consent_text",
    "signed_up_at",
    "signup_ip",
    "signup_user_agent",
    "confirmed_at",
    "confirm_ip",
    "confirm_user_agent",
    "unsubscribed_at",
    "updated_at",
]


class SubscriberAdminForm(forms.ModelForm):
    """The subscriber's own rules in the admin too: phrases as a comma-separated list
    (never arbitrary JSON the matcher cannot read) and a time zone from the list."""

    keywords = PreferencesForm.base_fields["keywords"]
    authors = PreferencesForm.base_fields["authors"]
    excluded_keywords = PreferencesForm.base_fields["excluded_keywords"]
    timezone = PreferencesForm.base_fields["timezone"]

    class Meta:
        model = Subscriber
        fields = "__all__"


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    form = SubscriberAdminForm
    list_display = ["email", "status", "frequency", "timezone", "confirmed_at", "signed_up_at"]
    list_filter = ["status", "frequency", "email_format", "send_when_empty", "topics"]
    search_fields = ["email", "pending_email"]
    date_hierarchy = "signed_up_at"
    ordering = ["-signed_up_at"]
    filter_horizontal = ["topics"]
    list_per_page = 50
    show_full_result_count = False
    actions = ["revoke_links"]
    readonly_fields = CONSENT_EVIDENCE
    fieldsets = [
        (None, {"fields": ["email", "status", "pending_email", "paused_until"]}),
        (
            "What they want",
            {"fields": ["topics", "keywords", "authors", "excluded_keywords", "include_featured"]},
        ),
        (
            "When and how",
            {
                "fields": [
                    "frequency",
                    "weekday",
                    "delivery_time",
                    "timezone",
                    "max_papers",
                    "send_when_empty",
                    "email_format",
                ]
            },
        ),
        (
            "Consent evidence",
            {"fields": CONSENT_EVIDENCE},
        ),
    ]

    @admin.action(description="Revoke every link sent to the selected subscribers")
    def revoke_links(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> None:
        for subscriber in queryset:
            subscriber.rotate_token_secret()
            subscriber.save(update_fields=["token_secret", "updated_at"])
        self.message_user(request, f"Links revoked for {queryset.count()} subscriber(s).", messages.SUCCESS)


@admin.register(Counter)
class CounterAdmin(admin.ModelAdmin):
    list_display = ["name", "value"]
    readonly_fields = ["name", "value"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Counter | None = None) -> bool:
        return False
