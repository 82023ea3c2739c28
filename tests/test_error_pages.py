"""Error pages are the site's own pages, not Django's bare defaults."""

import pytest
from django.template.loader import render_to_string
from django.test import Client

pytestmark = pytest.mark.django_db


def test_an_unknown_address_shows_a_friendly_not_found_page(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert "Page not found" in response.content.decode()
    assert "Today's papers" in response.content.decode()


def test_a_form_posted_without_its_csrf_token_explains_what_to_do():
    client = Client(enforce_csrf_checks=True)

    response = client.post("/subscribe/", {"email": "a@example.org"})

    assert response.status_code == 403
    assert "Please send the form again" in response.content.decode()


@pytest.mark.parametrize("name", ["400.html", "403.html", "500.html"])
def test_the_other_error_pages_render_without_a_request(name):
    html = render_to_string(name)

    assert "Daily Papers Digest" in html
    assert "<h1>" in html
