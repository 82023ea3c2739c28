"""Suppressions in the admin, by role. Anonymous visitors and non-staff users get the
login page; staff without the permission get 403; curators see and clear suppressions
with a reason but never whose they are (the address's domain only, server replies with
addresses blanked); superusers see everything. Clearing lets mail go again."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from subscriptions.models import Subscriber, Suppression
from subscriptions.suppression import suppress_address

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:subscriptions_suppression_changelist")
SUBSCRIBERS = reverse("admin:subscriptions_subscriber_changelist")
REPLY = "550 5.1.1 <ada@example.org>: Recipient address rejected: User unknown"


@pytest.fixture
def bounced() -> Suppression:
    ada = Subscriber.objects.create(email="ada@example.org", status=Subscriber.Status.ACTIVE)
    Subscriber.objects.create(email="grace@example.org", status=Subscriber.Status.ACTIVE)
    return suppress_address(ada.email, Suppression.Reason.BOUNCE, source="smtp", detail=REPLY, subscriber=ada)


def login(role: str) -> tuple[Client, User | None]:
    client, user = Client(), None
    if role == "non-staff":
        user = User.objects.create_user("reader", password="x")
    elif role == "staff":
        user = User.objects.create_user("helper", password="x", is_staff=True)
    elif role == "curator":
        user = User.objects.create_user("cura", password="x", is_staff=True)
        user.groups.add(Group.objects.get(name="Curators"))
    elif role == "superuser":
        user = User.objects.create_superuser("root", "root@example.org", "x")
    if user is not None:
        client.force_login(user)
    return client, user


def clear(client: Client, suppression: Suppression, *, follow: bool = False, **data):
    return client.post(CHANGELIST, {"action": "clear", "_selected_action": [suppression.pk], **data}, follow=follow)


def still_stopped(suppression: Suppression) -> bool:
    suppression.refresh_from_db()
    return suppression.cleared_at is None and Subscriber.objects.get(email="ada@example.org").suppressed != ""


@pytest.mark.parametrize("role", ["anonymous", "non-staff"])
def test_outsiders_get_the_login_page_and_clear_nothing(bounced, role):
    client, _ = login(role)

    for url in [CHANGELIST, reverse("admin:subscriptions_suppression_change", args=[bounced.pk])]:
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url
    response = clear(client, bounced, apply="1", reason="Let me in")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert still_stopped(bounced)


def test_staff_without_the_permission_are_refused(bounced):
    client, _ = login("staff")

    assert client.get(CHANGELIST).status_code == 403
    assert clear(client, bounced, apply="1", reason="Let me in").status_code == 403
    assert still_stopped(bounced)


def test_curators_see_suppressions_without_the_address(bounced):
    client, _ = login("curator")

    listing = client.get(CHANGELIST)
    detail = client.get(reverse("admin:subscriptions_suppression_change", args=[bounced.pk]))
    searched = client.get(CHANGELIST, {"q": "ada@example.org"})

    assert listing.status_code == detail.status_code == searched.status_code == 200
    for page in (listing, detail):
        html = page.content.decode()
        assert "ada@example.org" not in html and "…@example.org" in html
    assert "Bounced (refused for good)" in listing.content.decode()
    assert "Recipient address rejected: User unknown" in detail.content.decode()
    assert 'name="q"' not in listing.content.decode()  # no search by address
    assert "[address]" in detail.content.decode()
    # And still nothing of the subscribers themselves.
    assert client.get(SUBSCRIBERS).status_code == 403


@pytest.mark.parametrize(
    "lookup",
    [
        {"email__startswith": "a"},  # one letter at a time spells the address
        {"email": "ada@example.org"},  # is this one stopped?
        {"email__iexact": "ADA@example.org"},
        {"detail__contains": "ada"},  # the server's reply names the address
        {"subscriber__email__startswith": "a"},
        {"subscriber": "1"},
    ],
    ids=lambda lookup: next(iter(lookup)),
)
def test_curators_cannot_filter_suppressions_by_address_in_the_url(bounced, lookup):
    client, _ = login("curator")
    response = client.get(CHANGELIST, lookup)
    # Django's admin answers a refused lookup with 400, whatever the filter would find.
    assert response.status_code == 400
    assert "ada@example.org" not in response.content.decode()
    # Superusers see addresses anyway, and may filter by them.
    root, _ = login("superuser")
    assert root.get(CHANGELIST, {"email__startswith": "a"}).status_code == 200


def test_a_curator_clears_a_suppression_with_a_reason_and_mail_goes_again(bounced):
    client, curator = login("curator")

    asked = clear(client, bounced)
    refused = clear(client, bounced, apply="1", reason="   ")
    done = clear(client, bounced, apply="1", reason="They fixed their mailbox and wrote to us.")

    assert asked.status_code == 200 and "Why mail may go to them again" in asked.content.decode()
    assert "ada@example.org" not in asked.content.decode() and "…@example.org" in asked.content.decode()
    assert refused.status_code == 200 and "This field is required." in refused.content.decode()
    assert done.status_code == 302
    bounced.refresh_from_db()
    assert bounced.cleared_by == curator and bounced.cleared_reason == "They fixed their mailbox and wrote to us."
    ada = Subscriber.objects.get(email="ada@example.org")
    assert ada.suppressed == "" and ada in Subscriber.objects.receiving_digests(dt.date.today())


def test_clearing_twice_clears_once(bounced):
    client, _ = login("superuser")
    clear(client, bounced, apply="1", reason="First")

    response = clear(client, bounced, apply="1", reason="Second", follow=True)

    bounced.refresh_from_db()
    assert bounced.cleared_reason == "First"
    assert "None of the selected suppressions is stopping mail." in response.content.decode()


def test_superusers_see_the_address_and_the_servers_reply(bounced):
    client, _ = login("superuser")

    listing = client.get(CHANGELIST, {"q": "ada@"}).content.decode()
    detail = client.get(reverse("admin:subscriptions_suppression_change", args=[bounced.pk])).content.decode()

    assert "ada@example.org" in listing
    assert "&lt;ada@example.org&gt;: Recipient address rejected" in detail


def test_the_subscriber_list_shows_and_filters_who_gets_no_mail(bounced):
    client, _ = login("superuser")

    everyone = client.get(SUBSCRIBERS)
    stopped = client.get(SUBSCRIBERS, {"suppressed__exact": "bounce"})
    page = client.get(reverse("admin:subscriptions_subscriber_change", args=[bounced.subscriber_id])).content.decode()

    assert "Mail stopped" in everyone.content.decode()
    assert [s.email for s in stopped.context["cl"].result_list] == ["ada@example.org"]
    assert "Bounced (refused for good)" in page and "Recipient address rejected" in page


def test_a_superuser_stops_mail_to_a_subscriber_by_hand(bounced):
    client, user = login("superuser")
    grace = Subscriber.objects.get(email="grace@example.org")

    client.post(SUBSCRIBERS, {"action": "suppress", "_selected_action": [grace.pk]})

    grace.refresh_from_db()
    made = Suppression.objects.get(subscriber=grace)
    assert (grace.suppressed, made.reason, made.source) == ("manual", "manual", "admin")
    assert made.detail == "Stopped in the admin by root."


def test_suppressions_are_not_added_edited_or_deleted_by_hand(bounced):
    client, _ = login("superuser")

    assert client.get(reverse("admin:subscriptions_suppression_add")).status_code == 403
    assert client.get(reverse("admin:subscriptions_suppression_delete", args=[bounced.pk])).status_code == 403
    client.post(reverse("admin:subscriptions_suppression_change", args=[bounced.pk]), {"reason": "manual"})
    assert still_stopped(bounced)
