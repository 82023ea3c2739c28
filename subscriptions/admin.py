"""Subscribers in the Django admin (staff only, like all of the admin).

The admin keeps the promises the subscriber's own pages keep: adding someone starts the
double opt-in (pending, confirmation email), a new address is confirmed from that
address, and status changes (pause, resume, unsubscribe) are actions that call the same
service functions. Consent evidence and the status are read-only: they record what
happened. The token secret is never shown; "revoke links" rotates it.

Suppressed addresses (bounced for good, complained, unsubscribed at the mail provider,
stopped by hand) get no mail until someone allowed to clear them does so with a reason.
Curators may see and clear suppressions, never whose: they see the address's domain
only, and server replies with addresses blanked."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.views.decorators.clickjacking import xframe_options_sameorigin

from digest.curation import last_digests, reader_preview
from digest.security import ADMIN_PREVIEW_CONTENT_SECURITY_POLICY

from . import services
from .forms import NormalisedEmailField, PreferencesForm
from .models import Counter, Subscriber, Suppression, normalise_email
from .suppression import clear_suppression, masked_address, redact_addresses, suppress_address
from .tokens import revoke_every_link

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


def _cleared_note(row: Suppression) -> str:
    if row.cleared_at is None:
        return ""
    return f", cleared by {row.cleared_by or 'their own signup'}: {row.cleared_reason}"


def sees_addresses(request: HttpRequest) -> bool:
    """Only those who may see subscribers see addresses (not the Curators group)."""
    return request.user.has_perm("subscriptions.view_subscriber")


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    form = SubscriberAdminForm
    list_display = ["email", "status", "suppressed", "frequency", "timezone", "confirmed_at", "signed_up_at"]
    list_filter = ["status", "suppressed", "frequency", "email_format", "send_when_empty", "topics"]
    search_fields = ["email", "pending_email"]
    date_hierarchy = "signed_up_at"
    ordering = ["-signed_up_at"]
    filter_horizontal = ["topics"]
    list_per_page = 50
    show_full_result_count = False
    actions = ["pause", "resume", "unsubscribe", "suppress", "revoke_links"]
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
        (
            None,
            {
                "fields": [
                    "email", "new_email", "status", "suppressed", "suppression_history",
                    "pending_email", "paused_until",
                ]
            },
        ),
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

    @admin.display(description="why mail stopped")
    def suppression_history(self, obj: Subscriber) -> str:
        """Their suppressions, newest first, each linking to its page (where it is cleared)."""
        rows = obj.suppressions.select_related("cleared_by").order_by("-created_at", "-pk")
        if not rows:
            return "Never stopped."
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                '<li><a href="{}">{}</a>: {} ({}){}</li>',
                (
                    (
                        reverse("admin:subscriptions_suppression_change", args=[row.pk]),
                        row.get_reason_display(),
                        row.detail or "no detail",
                        row.source,
                        _cleared_note(row),
                    )
                    for row in rows
                ),
            ),
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Subscriber | None = None) -> list[str]:
        if obj is None:
            return []
        # The address moves through "new address"; the status through the actions.
        return [
            "email", "status", "suppressed", "suppression_history", "pending_email", "paused_until", *CONSENT_EVIDENCE
        ]

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

    @admin.action(description="Stop all mail to the selected addresses (suppress)")
    def suppress(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> None:
        detail = f"Stopped in the admin by {request.user.get_username()}."

        def stop(subscriber: Subscriber) -> bool:
            made = suppress_address(
                subscriber.email, Suppression.Reason.MANUAL, source="admin", detail=detail, subscriber=subscriber
            )
            return made is not None

        self._change_each(request, queryset, stop, "suppressed")

    @admin.action(description="Revoke every link sent to the selected subscribers")
    def revoke_links(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> None:
        for subscriber in queryset:
            revoke_every_link(subscriber)
            subscriber.rotate_feed_token()  # the feed's address is a link too
            subscriber.save(update_fields=["token_secret", "retired_unsubscribe_links", "feed_token", "updated_at"])
        self.message_user(request, f"Links revoked for {queryset.count()} subscriber(s).", messages.SUCCESS)


@admin.register(Counter)
class CounterAdmin(admin.ModelAdmin):
    list_display = ["name", "value"]
    readonly_fields = ["name", "value"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Counter | None = None) -> bool:
        return False


class SuppressionStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("active", "Stopping mail"), ("cleared", "Cleared")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Suppression]) -> QuerySet[Suppression]:
        if self.value() == "active":
            return queryset.filter(cleared_at__isnull=True)
        if self.value() == "cleared":
            return queryset.filter(cleared_at__isnull=False)
        return queryset


class ClearSuppressionForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        label="Why mail may go to them again",
        help_text="Kept with each suppression, with your name, e.g. “They fixed their mailbox and asked by email.”",
    )


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    """The record of stopped addresses. Nothing here is added, edited or deleted by hand:
    mail stops by the subscriber actions or by the mail server's and provider's reports,
    and starts again only through "clear", with a reason."""

    list_filter = [SuppressionStateFilter, "reason", "source", "created_at"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-pk"]
    list_per_page = 50
    show_full_result_count = False
    actions = ["clear"]
    list_select_related = ["cleared_by"]

    def get_list_display(self, request: HttpRequest) -> list[str]:
        address = "email" if sees_addresses(request) else "address_domain"
        return [address, "reason", "source", "created_at", "stopping_mail", "cleared_at", "cleared_by"]

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        # Searching by address would tell a curator who subscribes.
        return ["email"] if sees_addresses(request) else []

    # Filters typed into the URL would too: ?email__startswith=b, one letter at a time,
    # or ?detail__contains= over the server's reply, which names the address.
    _ADDRESS_FIELDS = frozenset({"email", "detail", "subscriber"})

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        if lookup.split("__")[0] in self._ADDRESS_FIELDS and (request is None or not sees_addresses(request)):
            return False
        return super().lookup_allowed(lookup, value, request)

    def get_fields(self, request: HttpRequest, obj: Suppression | None = None) -> list[str]:
        if sees_addresses(request):
            who = ["subscriber", "email", "reason", "source", "detail"]
        else:
            who = ["address_domain", "reason", "source", "detail_without_addresses"]
        return [*who, "created_at", "cleared_at", "cleared_by", "cleared_reason"]

    def get_readonly_fields(self, request: HttpRequest, obj: Suppression | None = None) -> list[str]:
        return self.get_fields(request, obj)

    @admin.display(description="address")
    def address_domain(self, obj: Suppression) -> str:
        return masked_address(obj.email)

    @admin.display(description="detail")
    def detail_without_addresses(self, obj: Suppression) -> str:
        return redact_addresses(obj.detail)

    @admin.display(description="stopping mail", boolean=True)
    def stopping_mail(self, obj: Suppression) -> bool:
        return obj.is_active

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Suppression | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Suppression | None = None) -> bool:
        return False

    def has_clear_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("subscriptions.clear_suppression")

    @admin.action(description="Clear the selected suppressions (mail goes to them again)…", permissions=["clear"])
    def clear(self, request: HttpRequest, queryset: QuerySet[Suppression]) -> TemplateResponse | None:
        """Asks for the reason first (an intermediate page), then clears each one still
        active, recording who and why."""
        active = list(queryset.filter(cleared_at__isnull=True).order_by("-created_at", "-pk"))
        if not active:
            self.message_user(request, "None of the selected suppressions is stopping mail.", messages.WARNING)
            return None
        form = ClearSuppressionForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            cleared = 0
            for item in active:
                if clear_suppression(item, by=request.user, reason=form.cleaned_data["reason"]):
                    cleared += 1
                    self.log_change(request, item, f"Cleared: {item.cleared_reason}")
            self.message_user(
                request,
                f"{cleared} suppression{'s' if cleared != 1 else ''} cleared: mail goes to them again.",
                messages.SUCCESS,
            )
            return None
        shown = sees_addresses(request)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Clear suppressions",
            "form": form,
            "rows": [
                {
                    "pk": item.pk,
                    "address": item.email if shown else masked_address(item.email),
                    "reason": item.get_reason_display(),
                    "source": item.source,
                    "created_at": item.created_at,
                }
                for item in active
            ],
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/subscriptions/suppression/clear.html", context)
