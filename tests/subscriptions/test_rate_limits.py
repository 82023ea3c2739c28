"""Rate limits per client IP and per recipient address: past them a friendly 429 and no
email, so the forms cannot be used to flood anyone's inbox."""

from __future__ import annotations

import pytest

from subscriptions.models import Subscriber
from subscriptions.tokens import make_token

from .helpers import signup_data, text_of

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("clock_held"),  # counts requests up to a rate limit
]


def test_the_fourth_signup_for_one_address_within_an_hour_gets_a_429_and_no_email(client, mailbox):
    for n in range(3):
        response = client.post("/subscribe/", signup_data(), REMOTE_ADDR=f"198.51.100.{n}")
        assert response.status_code == 302

    response = client.post("/subscribe/", signup_data(email="ADA@example.org"), REMOTE_ADDR="198.51.100.99")

    assert response.status_code == 429
    page = text_of(response)
    assert "Too many requests" in page
    assert "No email was sent." in page
    assert response["Retry-After"] == "3600"
    assert len(mailbox.to("ada@example.org")) == 3


def test_one_ip_cannot_sign_up_more_than_ten_addresses_an_hour(client, mailbox):
    for n in range(10):
        assert client.post("/subscribe/", signup_data(email=f"person{n}@example.org")).status_code == 302
    response = client.post("/subscribe/", signup_data(email="eleventh@example.org"))
    assert response.status_code == 429
    assert not Subscriber.objects.filter(email="eleventh@example.org").exists()
    assert mailbox.to("eleventh@example.org") == []
    assert len(mailbox.all()) == 10


def test_the_lost_link_form_shares_the_per_address_limit_with_signup(client, mailbox, make_subscriber):
    make_subscriber("ada@example.org")
    client.post("/subscribe/", signup_data(), REMOTE_ADDR="198.51.100.1")
    client.post("/manage/", {"email": "ada@example.org"}, REMOTE_ADDR="198.51.100.2")
    client.post("/manage/", {"email": "ada@example.org"}, REMOTE_ADDR="198.51.100.3")

    response = client.post("/manage/", {"email": "ada@example.org"}, REMOTE_ADDR="198.51.100.4")

    assert response.status_code == 429
    assert len(mailbox.to("ada@example.org")) == 3


def test_the_lost_link_form_is_limited_per_ip_even_for_unknown_addresses(client, settings):
    settings.SIGNUP_RATE_PER_IP = "2/h"
    assert client.post("/manage/", {"email": "a@example.org"}).status_code == 302
    assert client.post("/manage/", {"email": "b@example.org"}).status_code == 302
    assert client.post("/manage/", {"email": "c@example.org"}).status_code == 429


def test_address_changes_count_against_the_new_addresses_limit(client, mailbox, make_subscriber):
    ada = make_subscriber("ada@example.org")
    path = f"/manage/{make_token(ada, 'manage')}/address/"
    for n in range(3):
        client.post(path, {"new_email": "victim@example.org"}, REMOTE_ADDR=f"198.51.100.{n}")
    response = client.post(path, {"new_email": "victim@example.org"}, REMOTE_ADDR="198.51.100.50")
    assert response.status_code == 429
    assert len(mailbox.to("victim@example.org")) == 3


def test_fixing_typos_in_the_form_does_not_use_up_the_limit(client, mailbox):
    for _ in range(5):
        assert client.post("/subscribe/", signup_data(timezone="Not/AZone")).status_code == 400
    assert client.post("/subscribe/", signup_data()).status_code == 302
    assert len(mailbox.to("ada@example.org")) == 1


def test_the_limits_can_be_switched_off(client, settings, mailbox):
    settings.RATELIMIT_ENABLE = False
    for _ in range(5):
        assert client.post("/subscribe/", signup_data()).status_code == 302
    assert len(mailbox.to("ada@example.org")) == 5


def test_a_client_hammering_a_form_with_junk_is_stopped_too(client):
    for _ in range(120):
        assert client.post("/manage/", {"email": "junk"}).status_code == 400
    response = client.post("/manage/", {"email": "junk"})
    assert response.status_code == 429
    assert "Too many requests" in text_of(response)


def test_plus_addressing_shares_the_per_address_limit_but_mail_goes_to_the_address_as_typed(client, mailbox):
    for n, address in enumerate(["ada+1@example.org", "Ada+2@example.org", "ada@example.org"]):
        assert client.post("/subscribe/", signup_data(email=address), REMOTE_ADDR=f"198.51.100.{n}").status_code == 302
    assert len(mailbox.to("ada+1@example.org")) == 1

    response = client.post("/subscribe/", signup_data(email="ada+4@example.org"), REMOTE_ADDR="198.51.100.9")

    assert response.status_code == 429
    assert mailbox.to("ada+4@example.org") == []


def test_saving_preferences_is_limited_per_ip_too(client, make_subscriber):
    # A save embeds the keywords typed: a script with one manage link must not be able
    # to keep the model busy.
    reader = make_subscriber("ada@example.org")
    path = f"/manage/{make_token(reader, 'manage')}/"
    statuses = {client.post(path, {"keywords": "x" * 61}).status_code for _ in range(120)}
    assert statuses == {400}  # each refused for its too-long keyword, but counted
    assert client.post(path, {"keywords": "x" * 61}).status_code == 429
