"""Subscribers in the Django admin (staff only, like all of the admin).

The admin keeps the promises the subscriber's own pages keep: adding someone starts the
double opt-in (pending, confirmation email), a new address is confirmed from that
address, and status changes (pause, resume, unsubscribe) are actions that call the same
service functions. Consent evidence and the status are read-only: they record what
happened. The token secret is never shown; "revoke links" rotates it."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.decorators import method_decorator
from django.views.decorators.clickjacking import xframe_options_sameorigin

from digest.curation import last_digests, reader_preview
from digest.security import ADMIN_PREVIEW_CONTENT_SECURITY_POLICY

from . import services
from .forms import NormalisedEmailField, PreferencesForm
from .models import Counter, Subscriber, normalise_email

# What the consent evidence says of a subscription a curator started: the person still
# confirms it themselves, from the link emailed to them.
ADMIN_CONSENT_TEXT = (
    "Added in the admin by curator {user}; subscribed only once they confirmed from the link emailed to them."
)

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
    new_email = NormalisedEmailField(
        required=False,
        label="Move to a new address",
        help_text="A confirmation link goes to the new address; nothing changes until it is opened there.",
    )

    class Meta:
        model = Subscriber
        fields = "__all__"

    def clean_email(self) -> str:
        email = normalise_email(self.cleaned_data["email"])
        if Subscriber.objects.filter(email=email).exclude(pk=self.instance.pk).exists():
            raise ValidationError("This address already has a subscription.", code="taken")
        return email

    def clean_new_email(self) -> str:
        new_email = self.cleaned_data.get("new_email") or ""
        if not new_email or not self.instance.pk:
            return ""
        if new_email == self.instance.email:
            raise ValidationError("That is already their address.", code="same")
        if self.instance.status not in (Subscriber.Status.ACTIVE, Subscriber.Status.PAUSED):
            raise ValidationError("Only a confirmed subscription can move to another address.", code="state")
        return new_email


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
    actions = ["pause", "resume", "unsubscribe", "revoke_links"]
    preference_fieldsets = [
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
    ]
    add_fieldsets = [
        (
            None,
            {
                "fields": ["email"],
                "description": "They get a confirmation email and receive digests only once they confirm.",
            },
        ),
        *preference_fieldsets,
    ]
    fieldsets = [
        (None, {"fields": ["email", "new_email", "status", "pending_email", "paused_until"]}),
        *preference_fieldsets,
        (
            "Consent evidence",
            {"fields": CONSENT_EVIDENCE},
        ),
    ]

    change_form_template = "admin/subscriptions/subscriber/change_form_with_preview.html"

    def get_urls(self):
        view = self.admin_site.admin_view
        own = [
            path("<int:object_id>/preview/", view(self.preview_view), name="subscriptions_subscriber_preview"),
            path("<int:object_id>/preview/email.html", view(self.preview_html_view),
                 name="subscriptions_subscriber_preview_html"),
        ]
        return own + super().get_urls()

    def _viewable(self, request: HttpRequest, object_id: int) -> Subscriber:
        # The preview shows the reader's address, interests and papers: whoever may not
        # see the subscriber (Curators) may not see it either.
        if not self.has_view_permission(request):
            raise PermissionDenied
        subscriber = self.get_object(request, str(object_id))
        if subscriber is None:
            raise Http404("No such subscriber.")
        if not self.has_view_permission(request, subscriber):
            raise PermissionDenied
        return subscriber

    def preview_view(self, request: HttpRequest, object_id: int) -> TemplateResponse:
        """The email this reader would get if their digest were planned now (HTML in a
        sandboxed frame, and the text part), and their last digests."""
        subscriber = self._viewable(request, object_id)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "The email they would get now",
            "subtitle": subscriber.email,
            "original": subscriber,
            "preview": reader_preview(subscriber),
            "last_digests": last_digests(subscriber),
        }
        response = TemplateResponse(request, "admin/subscriptions/subscriber/preview.html", context)
        response["Cache-Control"] = "private, no-store"
        return response

    @method_decorator(xframe_options_sameorigin)
    def preview_html_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """The HTML part alone, for the preview's sandboxed iframe."""
        subscriber = self._viewable(request, object_id)
        preview = reader_preview(subscriber)
        if not preview.sends_email:
            raise Http404("No email would be sent now.")
        response = HttpResponse(preview.html)
        response["Content-Security-Policy"] = ADMIN_PREVIEW_CONTENT_SECURITY_POLICY
        response["Cache-Control"] = "private, no-store"
        response["Referrer-Policy"] = "no-referrer"
        return response

    def get_fieldsets(self, request: HttpRequest, obj: Subscriber | None = None):
        return self.add_fieldsets if obj is None else self.fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Subscriber | None = None) -> list[str]:
        if obj is None:
            return []
        # The address moves through "new address"; the status through the actions.
        return ["email", "status", "pending_email", "paused_until", *CONSENT_EVIDENCE]

    def save_model(self, request: HttpRequest, obj: Subscriber, form: forms.ModelForm, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            if form.cleaned_data.get("new_email"):
                services.request_email_change(obj, form.cleaned_data["new_email"])
            return
        # Added by a curator: the same double opt-in as the signup form.
        services.subscribe(
            form.cleaned_data["email"],
            services.Preferences.from_cleaned_data(form.cleaned_data),
            services.Evidence.from_request(request),
            consent_text=ADMIN_CONSENT_TEXT.format(user=request.user.get_username())[:500],
        )
        obj.pk = Subscriber.objects.get(email=form.cleaned_data["email"]).pk
        obj.refresh_from_db()

    def _change_each(
        self, request: HttpRequest, queryset: QuerySet[Subscriber], change: Callable[[Subscriber], object], done: str
    ) -> None:
        """Apply a service function to each selected subscriber; say which ones it does
        not apply to (a pending address cannot be paused) instead of failing them all."""
        changed = 0
        for subscriber in queryset:
            try:
                result = change(subscriber)
            except services.NotChangeable as refusal:
                self.message_user(request, f"Not changed: {subscriber.email} ({refusal}).", messages.WARNING)
                continue
            if result is False:
                self.message_user(request, f"Not changed: {subscriber.email} (already {done}).", messages.WARNING)
                continue
            changed += 1
        if changed:
            self.message_user(
                request, f"{changed} subscriber{'s' if changed != 1 else ''} {done}.", messages.SUCCESS
            )

    @admin.action(description="Pause the selected subscriptions (until resumed)")
    def pause(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> None:
        self._change_each(request, queryset, lambda s: services.pause(s, None), "paused")

    @admin.action(description="Resume the selected paused subscriptions")
    def resume(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> None:
        self._change_each(request, queryset, services.resume, "resumed")

    @admin.action(description="Unsubscribe the selected subscribers")
    def unsubscribe(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> None:
        self._change_each(request, queryset, services.unsubscribe, "unsubscribed")

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
