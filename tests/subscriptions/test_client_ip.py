"""Behind reverse proxies the client IP is read TRUSTED_PROXY_COUNT hops from the right
of X-Forwarded-For: what the rate limits count and the consent evidence stores. A header
the client made up changes nothing, and no header shape ends in an error page."""

from __future__ import annotations

import pytest

from subscriptions.models import Subscriber

from .helpers import signup_data

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("clock_held"),  # counts requests up to a rate limit
]

PROXY = "10.0.0.2"


def sign_up(client, n: int, **headers):
    return client.post("/subscribe/", signup_data(email=f"person{n}@example.org"), **headers)


def test_without_a_trusted_proxy_a_changing_header_buys_no_extra_signups(client, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    statuses = [
        sign_up(client, n, REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code
        for n in range(11)
    ]
    assert statuses == [302] * 10 + [429]
    assert set(Subscriber.objects.values_list("signup_ip", flat=True)) == {"203.0.113.7"}


def test_behind_one_proxy_the_client_is_the_last_entry_and_a_spoofed_prefix_is_ignored(client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    statuses = [
        # The client sent "X-Forwarded-For: 192.0.2.<n>"; our proxy appended the real address.
        sign_up(client, n, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.7").status_code
        for n in range(11)
    ]
    assert statuses == [302] * 10 + [429]
    assert set(Subscriber.objects.values_list("signup_ip", flat=True)) == {"203.0.113.7"}


def test_behind_one_proxy_different_clients_have_their_own_budgets(client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for n in range(10):
        assert sign_up(client, n, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 302
    assert sign_up(client, 10, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.8").status_code == 302
    assert Subscriber.objects.get(email="person10@example.org").signup_ip == "203.0.113.8"


def test_behind_two_proxies_the_client_is_the_second_entry_from_the_right(client, settings):
    settings.TRUSTED_PROXY_COUNT = 2
    response = sign_up(client, 1, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="6.6.6.6, 2001:db8::7, 10.0.0.1")
    assert response.status_code == 302
    assert Subscriber.objects.get().signup_ip == "2001:db8::7"


@pytest.mark.parametrize("count", [0, 1, 2])
@pytest.mark.parametrize(
    "header", [None, "", "not an address", " , ,", "203.0.113.7,,", "1.2.3.4, 5.6.7.8, 9.9.9.9, 10.0.0.1"]
)
def test_no_header_shape_gives_an_error_page(client, settings, count, header):
    settings.TRUSTED_PROXY_COUNT = count
    headers = {"REMOTE_ADDR": PROXY}
    if header is not None:
        headers["HTTP_X_FORWARDED_FOR"] = header
    assert sign_up(client, 1, **headers).status_code == 302
    assert Subscriber.objects.get().signup_ip is not None


def test_a_unix_socket_without_an_address_still_gets_an_answer(client, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert sign_up(client, 1, REMOTE_ADDR="").status_code == 302
    assert Subscriber.objects.get().signup_ip is None


def test_the_old_proxy_setting_is_refused_with_what_to_set_instead(tmp_path):
    import os
    import subprocess
    import sys

    from django.conf import settings as django_settings

    env = os.environ | {"RATELIMIT_IP_META_KEY": "HTTP_X_FORWARDED_FOR", "VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "set TRUSTED_PROXY_COUNT" in result.stderr
