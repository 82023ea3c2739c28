"""Guessing the admin password stops paying: past a budget of attempts per client IP
and per username, the login answers 429 without checking the password."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock_held")]


@pytest.fixture(autouse=True)
def curator(settings):
    cache.clear()
    settings.ADMIN_LOGIN_RATE_PER_IP = "20/h"
    settings.ADMIN_LOGIN_RATE_PER_USERNAME = "10/h"
    return User.objects.create_superuser("curator", "curator@example.org", "right-password-123")


def log_in(client, username="curator", password="wrong", ip="198.51.100.1"):
    return client.post(
        "/admin/login/?next=/admin/", {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def test_thirty_wrong_passwords_for_one_username_end_in_a_429_and_then_even_the_right_one_waits(client):
    statuses = [log_in(client, ip=f"198.51.100.{n}").status_code for n in range(30)]

    assert statuses[:10] == [200] * 10  # the form again, "Please enter the correct username and password"
    assert set(statuses[10:]) == {429}
    response = log_in(client, password="right-password-123", ip="203.0.113.9")
    assert response.status_code == 429
    assert "Too many login attempts" in response.content.decode()
    assert response["Retry-After"] == "3600"
    assert "_auth_user_id" not in client.session


def test_a_look_alike_spelling_of_the_username_shares_its_budget(client):
    # Django's login reads "ｃurator" (a full-width c) as "curator": it must not get a
    # fresh budget of guesses at the same account.
    for n in range(10):
        log_in(client, ip=f"198.51.100.{n}")
    for spelling in ("ｃurator", "CURATOR", "𝐜𝐮𝐫𝐚𝐭𝐨𝐫"):
        assert log_in(client, username=spelling, password="right-password-123", ip="203.0.113.7").status_code == 429
    assert "_auth_user_id" not in client.session


def test_one_ip_trying_many_usernames_is_stopped_too(client):
    statuses = [log_in(client, username=f"user{n}").status_code for n in range(25)]
    assert statuses[:20] == [200] * 20
    assert set(statuses[20:]) == {429}


def test_a_curator_within_the_budget_logs_in(client):
    log_in(client)
    response = log_in(client, password="right-password-123")
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(User.objects.get(username="curator").pk)


def test_the_login_page_itself_is_not_counted(client):
    for _ in range(30):
        assert client.get("/admin/login/").status_code == 200
    assert log_in(client, password="right-password-123").status_code == 302
