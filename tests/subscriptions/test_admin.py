"""The subscriber admin: personal data for staff only."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from subscriptions.models import Subscriber
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
