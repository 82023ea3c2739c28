"""The "more like this" / "less like this" page a digest links to for every paper.

A GET never changes anything (mail scanners open every link in a message): it shows the
paper with the choice from the link pre-selected and one button. The button POSTs; with
JavaScript the page records the choice in place and offers to undo it.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django_ratelimit.decorators import ratelimit

from digest.models import Digest, DigestItem, Paper

from . import feedback
from .models import Subscriber, Vote
from .tokens import BadToken, read_digest_feedback_token, read_feedback_token
from .views import POST_CEILING, bad_link, page, with_manage_token

NOTED: dict[int | None, str] = {Vote.Value.MORE: "more like this", Vote.Value.LESS: "less like this"}


# A digest that may have reached the reader: its papers are theirs to rate.
DELIVERED = (Digest.Status.SENDING, Digest.Status.SENT, Digest.Status.UNCERTAIN)


def _read(token: str, paper_id: int | None) -> tuple[Subscriber, Paper] | None:
    """The reader and paper of a link: a digest's token with the paper's id after it
    (the paper must have been sent to that reader), or an older per-paper token."""
    max_age = dt.timedelta(days=settings.FEEDBACK_LINK_MAX_AGE_DAYS)
    try:
        if paper_id is None:
            subscriber, paper_id = read_feedback_token(token, max_age=max_age)
        else:
            subscriber = read_digest_feedback_token(token, max_age=max_age)
            sent = DigestItem.objects.filter(
                digest__subscriber=subscriber, digest__status__in=DELIVERED, paper_id=paper_id
            )
            if not sent.exists() and not _listed_past_the_cut(subscriber, paper_id, max_age):
                return None
    except BadToken:
        return None
    paper = Paper.objects.filter(pk=paper_id, is_hidden=False).first()
    if paper is None or subscriber.status == Subscriber.Status.PENDING:
        return None
    return subscriber, paper


def _listed_past_the_cut(subscriber: Subscriber, paper_id: int, max_age: dt.timedelta) -> bool:
    """Whether the paper matched one of the reader's recent digests past their limit:
    the digest's web page lists it, with these links. (In Python: a JSON "contains"
    lookup is not one every database has.)"""
    recent = Digest.objects.filter(
        subscriber=subscriber, status__in=DELIVERED, created_at__gte=timezone.now() - max_age
    ).values_list("more_paper_ids", flat=True)
    return any(paper_id in (ids or ()) for ids in recent.iterator(chunk_size=200))


@require_http_methods(["GET", "HEAD", "POST"])
@ratelimit(key="ip", rate=POST_CEILING, method="POST")
@ratelimit(key="ip", rate="600/h", method=["GET", "HEAD"], group="feedback-page")  # each reads recent digests
@page(private=True)
def paper_feedback(request: HttpRequest, token: str, paper_id: int | None = None) -> HttpResponse:
    found = _read(token, paper_id)
    if found is None:
        return bad_link(request, "feedback")
    subscriber, paper = found
    wants_json = "application/json" in request.headers.get("Accept", "")
    if request.method == "POST":
        choice = request.POST.get("choice", "")
        value: int | None
        if choice == "clear":
            feedback.clear_vote(subscriber, paper.pk)
            value = None
        elif choice in feedback.CHOICES:
            value = feedback.CHOICES[choice]
            feedback.record_vote(subscriber, paper.pk, value)
        else:
            if wants_json:
                return JsonResponse({"error": "Choose more or less like this."}, status=400)
            return _render(
                request, token, subscriber, paper, error="Choose “more like this” or “less like this”.", status=400
            )
        if wants_json:
            return JsonResponse({"choice": choice, "noted": NOTED.get(value, "")})
        return redirect(request.path + ("?noted=1" if value else "?cleared=1"))
    return _render(request, token, subscriber, paper)


def _render(
    request: HttpRequest, token: str, subscriber: Subscriber, paper: Paper, *, error: str = "", status: int = 200
) -> HttpResponse:
    current = feedback.current_vote(subscriber, paper.pk)
    asked = request.GET.get("v", "")
    previous = {1: "more", -1: "less"}.get(current) if current is not None else None
    # The text part's one "More or less like this?" link names no choice: nothing is
    # ticked then (a reader who wanted "less" and pressed Save would record "more").
    selected = asked if asked in feedback.CHOICES else previous
    context = {
        "paper": paper,
        # The form posts back to the link it came from, whichever of the two kinds.
        "action": request.path,
        "selected": selected,
        "current": NOTED.get(current, ""),
        "just_noted": request.GET.get("noted") == "1" and current is not None,
        "just_cleared": request.GET.get("cleared") == "1" and current is None,
        "error": error,
    }
    return render(request, "subscriptions/feedback.html", context, status=status)


@require_POST
@page(private=True)
@with_manage_token
def clear_feedback(request: HttpRequest, subscriber: Subscriber, token: str) -> HttpResponse:
    from django.contrib import messages

    cleared = feedback.clear_votes(subscriber)
    messages.success(request, f"Cleared {cleared} “more / less like this” choice{'s' if cleared != 1 else ''}.")
    return redirect("subscriptions:manage", token=token)
