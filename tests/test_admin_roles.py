"""Who may do what in the admin: anonymous visitors and non-staff users nothing, the
Curators group the catalog (papers, topics) but nothing that names a subscriber,
superusers everything."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from digest.models import Digest, Paper, Topic
from subscriptions.models import Subscriber

pytestmark = pytest.mark.django_db

CATALOG_PAGES = [
    "/admin/digest/paper/",
    "/admin/digest/paper/add/",
    "/admin/digest/paper/{paper}/change/",
    "/admin/digest/topic/",
    "/admin/digest/topic/add/",
    "/admin/digest/topic/{topic}/change/",
    "/admin/digest/paper/listing/",
    "/admin/digest/tickrun/",
]
READER_PAGES = [
    "/admin/subscriptions/subscriber/",
    "/admin/subscriptions/subscriber/add/",
    "/admin/subscriptions/subscriber/{subscriber}/change/",
    "/admin/subscriptions/counter/",
    "/admin/digest/digest/",
    "/admin/digest/digest/{digest}/change/",
    "/admin/subscriptions/subscriber/{subscriber}/preview/",
]


@pytest.fixture
def objects() -> dict[str, int]:
    paper = Paper.objects.create(title="A paper", listed_on=dt.date(2025, 11, 27))
    topic = Topic.objects.create(name="Role topic", keywords="role")
    subscriber = Subscriber.objects.create(email="ada@example.org", status=Subscriber.Status.ACTIVE)
    digest = Digest.objects.create(subscriber=subscriber, period=dt.date(2025, 11, 27), status=Digest.Status.SENT)
    return {"paper": paper.pk, "topic": topic.pk, "subscriber": subscriber.pk, "digest": digest.pk}


def login(role: str) -> Client:
    client = Client()
    if role == "non-staff":
        client.force_login(User.objects.create_user("reader", password="x"))
    elif role == "curator":
        user = User.objects.create_user("cura", password="x", is_staff=True)
        user.groups.add(Group.objects.get(name="Curators"))
        client.force_login(user)
    elif role == "superuser":
        client.force_login(User.objects.create_superuser("root", "root@example.org", "x"))
    return client


def status(client: Client, url: str, **data) -> int:
    return (client.post(url, data) if data else client.get(url)).status_code


@pytest.mark.parametrize("role", ["anonymous", "non-staff"])
def test_outsiders_are_sent_to_the_login_page_everywhere(objects, role):
    client = login(role)
    for url in ["/admin/", *CATALOG_PAGES, *READER_PAGES]:
        response = client.get(url.format(**objects))
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url
    assert status(client, "/admin/digest/paper/", action="feature", _selected_action=objects["paper"]) == 302
    assert not Paper.objects.filter(is_featured=True).exists()


def test_curators_manage_the_catalog_but_never_see_a_subscriber(objects):
    client = login("curator")
    index = client.get("/admin/").content.decode()
    assert "Papers" in index and "Topics" in index
    assert "Subscribers" not in index and "Digests" not in index
    for url in CATALOG_PAGES:
        assert status(client, url.format(**objects)) == 200, url
    for url in READER_PAGES:
        assert status(client, url.format(**objects)) == 403, url

    client.post("/admin/digest/paper/", {"action": "feature", "_selected_action": [objects["paper"]]})
    assert Paper.objects.get(pk=objects["paper"]).is_featured
    assert status(client, "/admin/subscriptions/subscriber/", action="unsubscribe",
                  _selected_action=objects["subscriber"]) == 403
    assert Subscriber.objects.get(pk=objects["subscriber"]).status == Subscriber.Status.ACTIVE
    assert status(client, "/admin/digest/digest/", action="retry_failed", _selected_action=objects["digest"]) == 403


def test_superusers_see_everything(objects):
    client = login("superuser")
    for url in ["/admin/", *CATALOG_PAGES, *READER_PAGES]:
        assert status(client, url.format(**objects)) == 200, url
