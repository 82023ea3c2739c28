"""The subscriber admin: personal data for staff only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from subscriptions.models import Counter, Subscriber
from subscriptions.tokens import make_token, read_token

from .helpers import text_of

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

LIST = "/admin/subscriptions/subscriber/"


@pytest.fixture
def subscribers(make_subscriber):
    make_subscriber("ada@example.org", status=Subscriber.Status.ACTIVE)
    make_subscriber("grace@example.org", status=Subscriber.Status.PENDING)


def test_anonymous_visitors_are_sent_to_the_login_page(client, subscribers):
    response = client.get(LIST)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_a_logged_in_non_staff_user_sees_no_subscriber(client, subscribers):
    client.force_login(User.objects.create_user("reader", password="x"))
    response = client.get(LIST)
    assert response.status_code == 302
    assert "ada@example.org" not in response.content.decode()


def test_staff_see_subscribers_with_status_and_can_search_and_filter(client, subscribers):
    client.force_login(User.objects.create_superuser("curator", "c@example.org", "x"))
    page = text_of(client.get(LIST))
    assert "ada@example.org" in page
    assert "grace@example.org" in page
    assert "Waiting for confirmation" in page

    searched = text_of(client.get(LIST, {"q": "ada"}))
    assert "ada@example.org" in searched
    assert "grace@example.org" not in searched

    filtered = text_of(client.get(LIST, {"status__exact": "pending"}))
    assert "grace@example.org" in filtered
    assert "ada@example.org" not in filtered


def test_staff_can_revoke_every_link_of_a_subscriber(client, subscribers):
    client.force_login(User.objects.create_superuser("curator", "c@example.org", "x"))
    ada = Subscriber.objects.get(email="ada@example.org")
    old = make_token(ada, "manage")
    client.post(LIST, {"action": "revoke_links", "_selected_action": [ada.pk]})
    assert client.get(f"/manage/{old}/").status_code == 400
    ada.refresh_from_db()
    assert read_token(make_token(ada, "manage"), "manage") == ada


def test_the_admin_cannot_store_a_weekday_or_paper_count_the_form_would_refuse():
    with pytest.raises(ValidationError) as refused:
        Subscriber(email="ada@example.org", weekday=9, max_papers=500).full_clean()
    assert set(refused.value.message_dict) == {"weekday", "max_papers"}


def test_staff_edit_phrases_as_a_list_and_cannot_store_what_the_matcher_cannot_read(client, subscribers):
    """A JSON box let `[1, 2]` or `{"a": 1}` through, and one such subscriber broke the
    whole digest tick (and their manage page); an unknown time zone went in as well."""
    client.force_login(User.objects.create_superuser("curator", "c@example.org", "x"))
    ada = Subscriber.objects.get(email="ada@example.org")
    url = f"{LIST}{ada.pk}/change/"
    form = client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update(topics=[], paused_until="", pending_email="")

    bad = dict(data, keywords="[1, 2]", timezone="Mars/Olympus", authors="x" * 101)
    response = client.post(url, bad)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"timezone", "authors"}

    good = dict(data, keywords="LoRA; speculative decoding, LoRA", authors="Zoë Ångström", timezone="Europe/Berlin")
    assert client.post(url, good).status_code == 302
    ada.refresh_from_db()
    assert ada.keywords == ["LoRA", "speculative decoding"]
    assert ada.authors == ["Zoë Ångström"]
    assert ada.timezone == "Europe/Berlin"
    assert "LoRA, speculative decoding" in client.get(url).content.decode()


# --- The admin keeps the service's promises (double opt-in, services, honest log) -------


@pytest.fixture
def curator(client):
    client.force_login(User.objects.create_superuser("curator", "c@example.org", "x"))
    return client


def add_data(**overrides) -> dict:
    data = {
        "email": "Newton@Example.org",
        "status": "active",  # sent by a forged form: must not matter
        "topics": [],
        "keywords": "LoRA",
        "authors": "",
        "excluded_keywords": "",
        "include_featured": "on",
        "frequency": "daily",
        "weekday": "0",
        "delivery_time": "07:00",
        "timezone": "Europe/Berlin",
        "max_papers": "10",
        "email_format": "html",
    }
    data.update(overrides)
    return data


def test_adding_a_subscriber_in_the_admin_starts_the_double_opt_in(curator, mailbox):
    response = curator.post(f"{LIST}add/", add_data())
    assert response.status_code == 302

    newton = Subscriber.objects.get(email="newton@example.org")
    assert newton.status == Subscriber.Status.PENDING
    assert newton.confirmed_at is None
    assert "curator" in newton.consent_text and "admin" in newton.consent_text
    assert newton.keywords == ["LoRA"]
    mail = mailbox.only("newton@example.org")
    assert mail.subject == "Confirm your subscription to Daily Papers Digest"
    # Until they click, nothing is sent.
    assert not Subscriber.objects.receiving_digests(dt.date.today()).filter(pk=newton.pk).exists()

    curator.get(mail.path_of("/confirm/"))
    curator.post(mail.path_of("/confirm/"))
    newton.refresh_from_db()
    assert newton.status == Subscriber.Status.ACTIVE and newton.confirmed_at is not None


def test_the_admin_refuses_an_address_that_is_already_subscribed(curator, subscribers, mailbox):
    response = curator.post(f"{LIST}add/", add_data(email="ADA@example.org"))
    assert response.status_code == 200
    assert "email" in response.context["adminform"].form.errors
    assert mailbox.all() == []


def change_data(client, subscriber: Subscriber, **overrides) -> dict:
    form = client.get(f"{LIST}{subscriber.pk}/change/").context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data["topics"] = [t.pk for t in subscriber.topics.all()]
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not False}


def test_changing_the_address_in_the_admin_mails_a_confirmation_to_the_new_address(curator, subscribers, mailbox):
    ada = Subscriber.objects.get(email="ada@example.org")
    response = curator.post(f"{LIST}{ada.pk}/change/", change_data(curator, ada, email="lovelace@example.org",
                                                                    new_email="lovelace@example.org"))
    assert response.status_code == 302

    ada.refresh_from_db()
    assert ada.email == "ada@example.org"
    assert ada.pending_email == "lovelace@example.org"
    assert mailbox.only("lovelace@example.org").subject == "Confirm your new address for Daily Papers Digest"


def test_the_status_cannot_be_set_by_hand(curator, subscribers):
    grace = Subscriber.objects.get(email="grace@example.org")
    response = curator.post(f"{LIST}{grace.pk}/change/", change_data(curator, grace, status="active"))
    assert response.status_code == 302
    grace.refresh_from_db()
    assert grace.status == Subscriber.Status.PENDING


def test_unsubscribing_from_the_admin_goes_through_the_service(curator, subscribers):
    ada = Subscriber.objects.get(email="ada@example.org")
    response = curator.post(LIST, {"action": "unsubscribe", "_selected_action": [ada.pk]}, follow=True)

    assert "1 subscriber unsubscribed" in text_of(response)
    ada.refresh_from_db()
    assert ada.status == Subscriber.Status.UNSUBSCRIBED
    assert ada.unsubscribed_at is not None
    assert Counter.objects.get(name="unsubscribes").value == 1


def test_pause_and_resume_from_the_admin_leave_a_pending_address_alone(curator, subscribers):
    ada = Subscriber.objects.get(email="ada@example.org")
    grace = Subscriber.objects.get(email="grace@example.org")

    response = curator.post(LIST, {"action": "pause", "_selected_action": [ada.pk, grace.pk]}, follow=True)
    page = text_of(response)
    assert "1 subscriber paused" in page
    assert "Not changed: grace@example.org (only a confirmed subscription can be paused)" in page
    ada.refresh_from_db()
    grace.refresh_from_db()
    assert ada.status == Subscriber.Status.PAUSED and ada.paused_until is None
    assert grace.status == Subscriber.Status.PENDING

    curator.post(LIST, {"action": "resume", "_selected_action": [ada.pk]})
    ada.refresh_from_db()
    assert ada.status == Subscriber.Status.ACTIVE


def test_the_history_names_only_the_fields_that_changed(curator, subscribers):
    ada = Subscriber.objects.get(email="ada@example.org")
    ada.keywords, ada.authors, ada.excluded_keywords = ["LoRA"], ["Yoshua Bengio"], ["survey"]
    ada.save()

    curator.post(f"{LIST}{ada.pk}/change/", change_data(curator, ada, max_papers="20"))

    entry = LogEntry.objects.get(object_id=str(ada.pk))
    assert entry.get_change_message() == "Changed Max papers."
