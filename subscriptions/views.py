"""Pages of the subscriptions app. Views are thin: a form checks the input, a function in
`services` does the work, a template shows the result."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_ratelimit import ALL
from django_ratelimit.core import is_ratelimited
from django_ratelimit.decorators import ratelimit
from django_ratelimit.exceptions import Ratelimited

from digest import pages
from digest.digest_email import view_token
from digest.meaning import Feedback
from digest.models import Topic
from digest.page_cache import public_page
from digest.security import CONTENT_SECURITY_POLICY

from . import feedback, services
from .forms import (
    MAX_KEYWORDS,
    ChangeEmailForm,
    LeftOutTermsField,
    PauseForm,
    PreferencesForm,
    RequestLinkForm,
    SubscribeForm,
    reject_control_characters,
    split_phrases,
)
from .models import Subscriber
from .services import Evidence, Preferences
from .tokens import BadToken, UnsubscribeLink, make_token, read_email_change_token, read_token, read_unsubscribe_token

SIGNUP_ADDRESS_SESSION_KEY = "subscriptions.last_address"
# More than any paper belongs to; a longer query string is someone else's idea.
MAX_PREFILLED_TOPICS = 20


def page(*, private: bool = False) -> Callable:
    """Security headers for a page; `private` pages carry a secret link in their URL, so
    they are never cached or indexed, and their address is never sent to another site.
    (Not "no-referrer": browsers then send "Origin: null" with the page's own forms, and
    the CSRF check rightly refuses those.)"""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            response = view(request, *args, **kwargs)
            response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
            if private:
                response.headers["Cache-Control"] = "no-store, private"
                response.headers["Referrer-Policy"] = "same-origin"
                response.headers["X-Robots-Tag"] = "noindex, nofollow"
            return response

        return wrapped

    return decorator


def mailbox_key(address: str) -> str:
    """The mailbox an address delivers to, for counting: x+1@ and X+2@ reach the same
    inbox as x@, so they share one budget. Mail still goes to the address as typed."""
    local, _, domain = address.strip().rpartition("@")
    return f"{local.partition('+')[0]}@{domain}".casefold()


def limit_outgoing_mail(request: HttpRequest, address: str) -> None:
    """Count one email about to be sent because of this request; beyond the limits per
    client IP or per recipient address, raise Ratelimited (the 429 page) before anything
    is stored or sent.

    Counted here, after the form is valid, rather than with the decorator on every POST:
    a person fixing typos in the form must not run into the limit, and every form that
    sends email (signup, lost link, address change) shares the same two budgets, so
    switching forms does not buy anyone more emails to a stranger's inbox."""
    limited_by_ip = is_ratelimited(
        request,
        group="subscriptions.mail-per-ip",
        key="ip",
        rate=lambda group, request: settings.SIGNUP_RATE_PER_IP,
        method=ALL,
        increment=True,
    )
    limited_by_address = is_ratelimited(
        request,
        group="subscriptions.mail-per-address",
        key=lambda group, request: mailbox_key(address),
        rate=lambda group, request: settings.SIGNUP_RATE_PER_ADDRESS,
        method=ALL,
        increment=True,
    )
    if limited_by_ip or limited_by_address:
        raise Ratelimited()


def rate_limited(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Shown instead of the form when someone submits it too often."""
    response = render(request, "subscriptions/rate_limited.html", status=429)
    response.headers["Retry-After"] = "3600"
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


def bad_link(request: HttpRequest, what: str) -> HttpResponse:
    return render(
        request,
        "subscriptions/link_invalid.html",
        {"what": what, "request_form": RequestLinkForm(), "max_age_days": settings.CONFIRMATION_MAX_AGE_DAYS},
        status=400,
    )


def _form_context(form: PreferencesForm) -> dict[str, Any]:
    groups = form.topic_groups()
    return {
        "form": form,
        "topics": [topic for _, topics in groups for topic in topics],
        "topic_groups": groups,
        "consent_text": services.CONSENT_TEXT,
    }


# Home, signup, preview.


@require_safe
@public_page
@page()
def home(request: HttpRequest) -> HttpResponse:
    """The latest listing day, a page of it: the same for every visitor, so cached."""
    day = pages.latest_day()
    listing = pages.listing_day(day) if day else None
    # No flash messages here (`public_page`): they would make the page differ per visitor.
    return render(request, "subscriptions/home.html", {"listing": listing, "public_page": True})


# A ceiling on every POST from one client, valid or not, so junk submissions cannot keep
# the server busy. The limits that protect inboxes count emails (limit_outgoing_mail).
POST_CEILING = "120/h"


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=POST_CEILING, method="POST")
@page()
def subscribe(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = SubscribeForm(request.POST)
        if not form.is_valid():
            # With the preview, whose "remove" boxes (ticked as sent) belong to the form:
            # without them, the signup after fixing a typo would lose the removals.
            context = _form_context(form) | {
                "preview": services.preview(_preview_preferences(form)),
                "preview_problems": _preview_problems(form),
            }
            return render(request, "subscriptions/subscribe.html", context, status=400)
        if not form.is_bot:
            address = form.cleaned_data["email"]
            limit_outgoing_mail(request, address)
            services.subscribe(
                address,
                Preferences.from_cleaned_data(form.cleaned_data),
                Evidence.from_request(request),
            )
        request.session[SIGNUP_ADDRESS_SESSION_KEY] = form.cleaned_data["email"]
        return redirect("subscriptions:check_inbox")
    form = SubscribeForm(initial=_prefill(request))
    return render(request, "subscriptions/subscribe.html", _form_context(form) | {"preview": None})


def _prefill(request: HttpRequest) -> dict[str, Any]:
    """The home page's box sends the address along in the query string, and a paper's
    "subscribe to papers like this" its topics (`?topic=<slug>`, repeatable). Unknown or
    retired topics are left out: a stale link still opens the form."""
    initial: dict[str, Any] = {}
    slugs = request.GET.getlist("topic")[:MAX_PREFILLED_TOPICS]
    if slugs:
        initial["topics"] = list(
            Topic.objects.filter(is_active=True, slug__in=[s for s in slugs if len(s) <= 100]).values_list("slug", flat=True)
        )
    email = request.GET.get("email", "")
    try:
        reject_control_characters(email)
    except ValidationError:
        email = ""
    if email and len(email) <= 254:
        initial["email"] = email.strip()
    return initial


def _preview_preferences(form: SubscribeForm) -> Preferences:
    """Preferences from whatever part of the form is valid; the rest takes defaults."""
    form.is_valid()
    data = form.cleaned_data
    defaults = Preferences()
    return Preferences(
        topics=tuple(data.get("topics") or ()),
        keywords=tuple(data.get("keywords") or ()),
        authors=tuple(data.get("authors") or ()),
        excluded_keywords=tuple(data.get("excluded_keywords") or ()),
        unexpanded_keywords=tuple(data.get("unexpanded_keywords") or ()),
        keywords_without_related=tuple(data.get("keywords_without_related") or ()),
        left_out_terms=tuple(data.get("left_out_terms") or ()),
        include_featured=data.get("include_featured", defaults.include_featured),
        max_papers=data.get("max_papers") or defaults.max_papers,
    )


@require_POST
@ratelimit(key="ip", rate=POST_CEILING, method=ALL)
@page()
def preview(request: HttpRequest) -> HttpResponse:
    """"See what you would get" without JavaScript: the form again, values kept, with
    the preview under it. Nothing is stored."""
    form = SubscribeForm(request.POST, lenient=True)
    result = services.preview(_preview_preferences(form))
    status = 400 if form.errors else 200
    context = _form_context(form) | {"preview": result, "preview_problems": _preview_problems(form)}
    return render(request, "subscriptions/subscribe.html", context, status=status)


# The fields whose errors leave them out of the preview (the address is not in it).
_PREVIEWED_FIELDS = ("topics", "keywords", "authors", "excluded_keywords")


def _preview_problems(form: SubscribeForm) -> list[str]:
    """Why part of what was typed is not in the preview ("At most 20 keywords ..."):
    without this the preview quietly shows the rest, or nothing."""
    form.is_valid()
    return [
        f"{form.fields[name].label}: {message}"
        for name in _PREVIEWED_FIELDS
        for message in form.errors.get(name, [])
    ]


@require_POST
@ratelimit(key="ip", rate="600/h", method=ALL)
@page()
def preview_fragment(request: HttpRequest) -> HttpResponse:
    """The preview alone, for the form's script to show as choices change. POST only,
    with the form's CSRF token: it embeds the keywords it is sent, and another site's
    page must not be able to make its visitors' browsers do that."""
    form = SubscribeForm(request.POST, lenient=True)
    result = services.preview(_preview_preferences(form), feedback=_votes_of_previewer(request))
    if "keywords" in form.errors:
        # The page's script replaces its list of "remove" boxes with the preview's: while
        # the keywords field has an error (21 keywords, say), they come from what was
        # typed, ticked as they were, or the save after the fix would drop the removals.
        result.readings = _keyword_readings(form)
    context = {"preview": result, "preview_problems": _preview_problems(form)}
    return render(request, "subscriptions/_preview.html", context)


def _votes_of_previewer(request: HttpRequest) -> Feedback | None:
    """The manage page's preview sends its manage token: that reader's votes shape what
    it shows, as they shape their digests ("less like this" drops near-duplicates)."""
    token = request.POST.get("preview_for", "")
    if not token:
        return None
    try:
        subscriber = _manage_subscriber(token)
    except BadToken:
        return None
    return feedback.feedback_for([subscriber.pk]).get(subscriber.pk)


@require_safe
@page(private=True)  # shows the address just typed: not for a shared cache
def check_inbox(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "subscriptions/check_inbox.html",
        {
            "address": request.session.get(SIGNUP_ADDRESS_SESSION_KEY, ""),
            "max_age_days": settings.CONFIRMATION_MAX_AGE_DAYS,
        },
    )


@require_http_methods(["GET", "POST"])
@page(private=True)
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button and POST confirms: mail scanners open links, and a scanner
    must not be the one giving consent."""
    try:
        subscriber = read_token(token, "confirm", max_age=dt.timedelta(days=settings.CONFIRMATION_MAX_AGE_DAYS))
    except BadToken:
        return bad_link(request, "confirm")
    if subscriber.status == Subscriber.Status.UNSUBSCRIBED:
        return bad_link(request, "confirm")
    if subscriber.status == Subscriber.Status.PENDING and request.method == "POST":
        if services.confirm(subscriber, Evidence.from_request(request)):
            subscriber.refresh_from_db()
            first = services.next_digest_text(subscriber)
            which = services.first_or_next(subscriber)
            messages.success(request, f"You're subscribed. Your {which} digest arrives {first}.")
            return redirect("subscriptions:manage", token=make_token(subscriber, "manage"))
        subscriber.refresh_from_db()
    if subscriber.status != Subscriber.Status.PENDING:
        # A used confirmation link stays in a mailbox for days: it must not keep opening
        # the manage page. Whoever owns the address can have the manage link mailed.
        return render(
            request, "subscriptions/already_confirmed.html", {"request_form": RequestLinkForm()}
        )
    return render(request, "subscriptions/confirm.html", {"subscriber": subscriber})


# Lost link.


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=POST_CEILING, method="POST")
@page()
def request_link(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = RequestLinkForm(request.POST)
        if not form.is_valid():
            return render(request, "subscriptions/request_link.html", {"form": form}, status=400)
        if not form.is_bot:
            limit_outgoing_mail(request, form.cleaned_data["email"])
            services.request_link(form.cleaned_data["email"])
        request.session[SIGNUP_ADDRESS_SESSION_KEY] = form.cleaned_data["email"]
        return redirect("subscriptions:link_sent")
    return render(request, "subscriptions/request_link.html", {"form": RequestLinkForm()})


@require_safe
@page(private=True)  # shows the address just typed: not for a shared cache
def link_sent(request: HttpRequest) -> HttpResponse:
    return render(
        request, "subscriptions/link_sent.html", {"address": request.session.get(SIGNUP_ADDRESS_SESSION_KEY, "")}
    )


# Managing a subscription with the emailed link.


def _manage_subscriber(token: str) -> Subscriber:
    return read_token(token, "manage", max_age=dt.timedelta(days=settings.MANAGE_LINK_MAX_AGE_DAYS))


def _render_manage(
    request: HttpRequest,
    subscriber: Subscriber,
    token: str,
    *,
    form: PreferencesForm | None = None,
    pause_form: PauseForm | None = None,
    email_form: ChangeEmailForm | None = None,
    status: int = 200,
) -> HttpResponse:
    form = form or PreferencesForm(initial=Preferences.of(subscriber).as_initial())
    summary = services.summary_of(subscriber)
    context = _form_context(form) | {
        "subscriber": subscriber,
        "token": token,
        "pause_form": pause_form or PauseForm(),
        "email_form": email_form or ChangeEmailForm(current=subscriber.email),
        "unsubscribe_token": make_token(subscriber, "unsubscribe"),
        "readings": _keyword_readings(form),
        "votes": feedback.votes_of(subscriber),
        "summary": summary,
        "last_digest_token": view_token(summary.last_sent.digest) if summary.last_sent else "",
        "next_digest": services.next_digest_text(subscriber)
        if subscriber.status in (Subscriber.Status.ACTIVE, Subscriber.Status.PAUSED)
        else "",
    }
    return render(request, "subscriptions/manage.html", context, status=status)


def _keyword_readings(form: PreferencesForm) -> list[services.KeywordReading]:
    """The topics the form's keywords also match through, from what was typed (a bound
    form) or what is saved."""
    if form.is_bound:
        form.is_valid()
        values = dict(form.cleaned_data)
        # A page showing an error (21 keywords, say) must still show the removals ticked:
        # without their boxes, the save after the fix would drop them. From what was typed.
        if "keywords" not in values:
            values["keywords"] = split_phrases(form.data.get("keywords", ""))[:MAX_KEYWORDS]
            # (The form's own list of them was filtered against no keywords at all.)
            values["unexpanded_keywords"] = form.data.getlist("unexpanded_keywords")
            values["keywords_without_related"] = form.data.getlist("keywords_without_related")
            try:
                values["left_out_terms"] = LeftOutTermsField().clean(form.data.getlist("left_out_terms"))
            except ValidationError:
                values["left_out_terms"] = []
    else:
        values = form.initial
    followed = [getattr(topic, "slug", topic) for topic in values.get("topics") or ()]  # Topics, or slugs
    return services.keyword_readings(
        tuple(values.get("keywords") or ()),
        tuple(values.get("unexpanded_keywords") or ()),
        followed=followed,
        without_related=tuple(values.get("keywords_without_related") or ()),
        left_out_terms=tuple(values.get("left_out_terms") or ()),
    )


def with_manage_token(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Reads the manage link's token; a bad or expired one gets a page offering a new link."""

    @wraps(view)
    def wrapped(request: HttpRequest, token: str) -> HttpResponse:
        try:
            subscriber = _manage_subscriber(token)
        except BadToken:
            return bad_link(request, "manage")
        return view(request, subscriber, token)

    return wrapped


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=POST_CEILING, method="POST")  # a save embeds the keywords typed
@page(private=True)
@with_manage_token
def manage(request: HttpRequest, subscriber: Subscriber, token: str) -> HttpResponse:
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if not form.is_valid():
            return _render_manage(request, subscriber, token, form=form, status=400)
        services.update_preferences(subscriber, Preferences.from_cleaned_data(form.cleaned_data))
        messages.success(request, "Your choices are saved.")
        return redirect("subscriptions:manage", token=token)
    return _render_manage(request, subscriber, token)


@require_POST
@page(private=True)
@with_manage_token
def pause(request: HttpRequest, subscriber: Subscriber, token: str) -> HttpResponse:
    form = PauseForm(request.POST)
    if not form.is_valid():
        return _render_manage(request, subscriber, token, pause_form=form, status=400)
    try:
        services.pause(subscriber, form.cleaned_data["until"])
    except services.NotChangeable:
        messages.error(request, "Only a confirmed subscription can be paused.")
        return redirect("subscriptions:manage", token=token)
    until = form.cleaned_data["until"]
    if until:
        messages.success(request, f"Paused. Digests start again on {until:%A} {until.day} {until:%B %Y}.")
    else:
        messages.success(request, "Paused. No digests until you resume.")
    return redirect("subscriptions:manage", token=token)


@require_POST
@page(private=True)
@with_manage_token
def new_feed_link(request: HttpRequest, subscriber: Subscriber, token: str) -> HttpResponse:
    services.new_feed_link(subscriber)
    messages.success(request, "Your feed has a new address. The old one no longer works: update your feed reader.")
    return redirect("subscriptions:manage", token=token)


@require_POST
@page(private=True)
@with_manage_token
def resume(request: HttpRequest, subscriber: Subscriber, token: str) -> HttpResponse:
    try:
        services.resume(subscriber)
    except services.NotChangeable:
        return redirect("subscriptions:manage", token=token)
    messages.success(request, f"Welcome back. Your next digest arrives {services.next_digest_text(subscriber)}.")
    return redirect("subscriptions:manage", token=token)


@require_POST
@page(private=True)
@with_manage_token
def change_email(request: HttpRequest, subscriber: Subscriber, token: str) -> HttpResponse:
    form = ChangeEmailForm(request.POST, current=subscriber.email)
    if not form.is_valid():
        return _render_manage(request, subscriber, token, email_form=form, status=400)
    new_email = form.cleaned_data["new_email"]
    limit_outgoing_mail(request, new_email)
    try:
        services.request_email_change(subscriber, new_email)
    except services.NotChangeable:
        messages.error(request, "Only a confirmed subscription can move to another address.")
        return redirect("subscriptions:manage", token=token)
    messages.success(
        request,
        f"We've sent a link to {new_email}. Your digests move there once you open it; "
        f"until then they keep coming to {subscriber.email}.",
    )
    return redirect("subscriptions:manage", token=token)


@require_POST
@page(private=True)
@with_manage_token
def resubscribe(request: HttpRequest, subscriber: Subscriber, token: str) -> HttpResponse:
    if subscriber.status != Subscriber.Status.UNSUBSCRIBED:
        return redirect("subscriptions:manage", token=token)
    limit_outgoing_mail(request, subscriber.email)
    services.subscribe(subscriber.email, Preferences.of(subscriber), Evidence.from_request(request))
    request.session[SIGNUP_ADDRESS_SESSION_KEY] = subscriber.email
    return redirect("subscriptions:check_inbox")


@require_safe
@page(private=True)
@with_manage_token
def export(request: HttpRequest, subscriber: Subscriber, token: str) -> HttpResponse:
    data = services.export_data(subscriber)
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False), content_type="application/json; charset=utf-8"
    )
    response.headers["Content-Disposition"] = 'attachment; filename="daily-papers-digest-my-data.json"'
    return response


@require_http_methods(["GET", "POST"])
@page(private=True)
@with_manage_token
def delete(request: HttpRequest, subscriber: Subscriber, token: str) -> HttpResponse:
    if request.method == "POST":
        services.delete_subscriber(subscriber)
        request.session.pop(SIGNUP_ADDRESS_SESSION_KEY, None)
        return redirect("subscriptions:deleted")
    return render(request, "subscriptions/delete.html", {"subscriber": subscriber, "token": token})


@require_safe
@page()
def deleted(request: HttpRequest) -> HttpResponse:
    return render(request, "subscriptions/deleted.html")


@require_http_methods(["GET", "POST"])
@page(private=True)
def confirm_email_change(request: HttpRequest, token: str) -> HttpResponse:
    try:
        subscriber = read_email_change_token(
            token, max_age=dt.timedelta(days=settings.CONFIRMATION_MAX_AGE_DAYS)
        )
    except BadToken:
        return bad_link(request, "email_change")
    if request.method == "POST":
        try:
            services.confirm_email_change(subscriber, Evidence.from_request(request))
        except services.AddressTaken:
            return render(request, "subscriptions/email_taken.html", status=409)
        except services.NotChangeable:
            return bad_link(request, "email_change")
        messages.success(request, f"Done: your digests now go to {subscriber.email}.")
        return redirect("subscriptions:manage", token=make_token(subscriber, "manage"))
    return render(request, "subscriptions/confirm_email_change.html", {"subscriber": subscriber})


# Unsubscribing.


def _unsubscribe_page(request: HttpRequest, link: UnsubscribeLink, token: str) -> HttpResponse:
    # An unsubscribe link grants only unsubscribing: the page offers to mail the manage
    # link to the address instead of showing one, and shows the address only to a link
    # sent to it (not one from before the subscription moved to another address).
    subscriber = link.subscriber
    return render(
        request,
        "subscriptions/unsubscribe.html",
        {
            "address": link.address,
            "token": token,
            "done": subscriber.status == Subscriber.Status.UNSUBSCRIBED,
        },
    )


@require_http_methods(["GET", "POST"])
@page(private=True)
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """The footer link: a page with one button. GET never unsubscribes (mail scanners
    follow links); the button POSTs, and the page then says it is done."""
    try:
        link = read_unsubscribe_token(token)
    except BadToken:
        return bad_link(request, "unsubscribe")
    if request.method == "POST":
        services.unsubscribe(link.subscriber)
        return redirect("subscriptions:unsubscribe", token=token)
    return _unsubscribe_page(request, link, token)


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=POST_CEILING, method="POST")
@page(private=True)
def unsubscribe_manage_link(request: HttpRequest, token: str) -> HttpResponse:
    """"Email me my manage link" from the unsubscribe page: the link goes to the
    subscription's own address, never to the browser holding the unsubscribe link.
    GET shows the button; POST sends, since mail scanners open links."""
    try:
        link = read_unsubscribe_token(token)
    except BadToken:
        return bad_link(request, "unsubscribe")
    subscriber, address = link.subscriber, link.address
    if request.method == "POST":
        limit_outgoing_mail(request, subscriber.email)
        services.request_link(subscriber.email)
        request.session[SIGNUP_ADDRESS_SESSION_KEY] = address
        return redirect("subscriptions:link_sent")
    return render(request, "subscriptions/unsubscribe_manage_link.html", {"address": address, "token": token})


@csrf_exempt
@require_http_methods(["GET", "POST"])
@page(private=True)
def one_click(request: HttpRequest, token: str) -> HttpResponse:
    """RFC 8058: a mail client POSTs `List-Unsubscribe=One-Click` here. The signed token
    is the only credential (no cookie, no CSRF token, no login); the answer is a plain 200,
    never a redirect, and repeating it changes nothing. A GET (a person or a scanner
    following the link) gets the page with the button."""
    try:
        link = read_unsubscribe_token(token)
    except BadToken:
        if request.method == "POST":
            return HttpResponseBadRequest("This unsubscribe link is not valid.\n", content_type="text/plain")
        return bad_link(request, "unsubscribe")
    subscriber = link.subscriber
    if request.method == "GET":
        return _unsubscribe_page(request, link, token)
    if request.POST.get("List-Unsubscribe") != "One-Click":
        return HttpResponseBadRequest(
            "A one-click unsubscribe is a POST with the body List-Unsubscribe=One-Click.\n",
            content_type="text/plain",
        )
    services.unsubscribe(subscriber)
    return HttpResponse("You are unsubscribed. No more digests will be sent.\n", content_type="text/plain")


@require_safe
@page()
def privacy(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "subscriptions/privacy.html",
        {"confirmation_days": settings.CONFIRMATION_MAX_AGE_DAYS, "manage_days": settings.MANAGE_LINK_MAX_AGE_DAYS},
    )
