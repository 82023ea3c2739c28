"""The curator's console in the admin: the listing day as a working view, trying a
topic's phrases before saving, a reader's email preview and the sends dashboard; who may
see each, and that their query counts do not grow with the rows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from digest.models import Digest, Paper, TickRun, Topic
from digest.tasks import send_due_digests
from subscriptions.models import Subscriber
from tests.test_admin_roles import login

from .sending_helpers import paper, sample_catalog, subscriber

pytestmark = pytest.mark.django_db


@pytest.fixture
def today() -> dt.date:
    return timezone.localdate()


@pytest.fixture
def catalog(today):
    return sample_catalog(today)


def page(client: Client, url: str, **data):
    return client.post(url, data) if data else client.get(url)


def queries(client: Client, url: str) -> int:
    # Once to warm the per-process caches (catalog statistics, topic vectors): they are
    # read again only when the catalog changes, which is not what is measured here.
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


# --- The listing day -------------------------------------------------------------------


def test_the_listing_shows_each_papers_topics_and_how_many_readers_it_reaches(catalog, today):
    for n in range(3):
        subscriber(f"q{n}@example.org", topics=[catalog.quantization])
    subscriber("both@example.org", topics=[catalog.quantization, catalog.medical])
    subscriber("mri@example.org", topics=[catalog.medical])
    subscriber("gone@example.org", topics=[catalog.quantization], status=Subscriber.Status.UNSUBSCRIBED)
    response = login("curator").get("/admin/digest/paper/listing/")
    assert response.status_code == 200
    rows = {row.paper.pk: row for row in response.context["listing"].papers}
    names = [t.name for t in rows[catalog.quant_paper.pk].topics]
    assert "Quantization" in names and "Medical Imaging" not in names
    assert rows[catalog.quant_paper.pk].reach == 4  # three, plus the reader of both; not the one who left
    assert rows[catalog.mri_paper.pk].reach == 2
    assert rows[catalog.others[0].pk].reach == 0
    html = response.content.decode()
    assert "Low-bit quantization of large language model weights" in html and "We study post-training" in html


def test_the_listing_says_how_many_of_the_days_digests_already_went_out(catalog, today):
    readers = [subscriber(f"r{n}@example.org") for n in range(4)]
    Digest.objects.create(subscriber=readers[0], period=today, status=Digest.Status.SENT)
    Digest.objects.create(subscriber=readers[1], period=today, status=Digest.Status.PENDING)
    response = login("curator").get(f"/admin/digest/paper/listing/?day={today:%Y-%m-%d}")
    text = " ".join(response.content.decode().split())
    assert "1 of 4</strong> receiving readers already had their digest for this day (2 planned" in text
    # The pending one has its papers chosen too: only the two with no digest yet can change.
    assert "reaches at most the other 2" in text


def test_curators_feature_and_hide_papers_in_bulk_from_the_listing(catalog, today):
    client = login("curator")
    url = f"/admin/digest/paper/listing/?day={today:%Y-%m-%d}"
    response = client.post(url, {"action": "feature", "paper": [catalog.quant_paper.pk, catalog.mri_paper.pk]})
    assert response.status_code == 302 and response["Location"] == url
    assert set(Paper.objects.filter(is_featured=True).values_list("pk", flat=True)) == {
        catalog.quant_paper.pk, catalog.mri_paper.pk,
    }
    assert "2 papers featured." in client.get(url).content.decode()
    client.post(url, {"action": "hide", "paper": [catalog.others[0].pk]})
    client.post(url, {"action": "unfeature", "paper": [catalog.mri_paper.pk]})
    assert Paper.objects.get(pk=catalog.others[0].pk).is_hidden
    assert not Paper.objects.get(pk=catalog.mri_paper.pk).is_featured
    client.post(url, {"action": "unhide", "paper": [catalog.others[0].pk]})
    assert not Paper.objects.get(pk=catalog.others[0].pk).is_hidden


def test_the_listing_answers_bad_input_with_a_message_not_an_error(catalog):
    client = login("curator")
    assert "not a date" in client.get("/admin/digest/paper/listing/?day=yesterday", follow=True).content.decode()
    response = client.post("/admin/digest/paper/listing/", {"action": "delete", "paper": [catalog.quant_paper.pk]},
                           follow=True)
    assert "Choose what to do" in response.content.decode()
    response = client.post("/admin/digest/paper/listing/", {"action": "feature"}, follow=True)
    assert "Select at least one paper" in response.content.decode()
    assert not Paper.objects.filter(is_featured=True).exists()


def test_the_listings_queries_do_not_grow_with_papers_or_readers(catalog, today):
    client = login("curator")
    url = f"/admin/digest/paper/listing/?day={today:%Y-%m-%d}"
    subscriber("one@example.org", topics=[catalog.quantization])
    few = queries(client, url)
    for n in range(30):
        paper(f"Quantized attention kernels, part {n}", "Low-bit quantization of attention.", listed_on=today)
        subscriber(f"more{n}@example.org", topics=[catalog.quantization, catalog.medical])
    assert queries(client, url) == few


# --- Trying a topic's phrases ----------------------------------------------------------


def topic_form(topic: Topic, keywords: str) -> dict:
    return {"name": topic.name, "slug": topic.slug, "description": topic.description, "keywords": keywords,
            "is_active": "on", "_try": "Try this change"}


def test_trying_a_change_lists_what_it_adds_and_drops_and_saves_nothing(catalog):
    subscriber("q@example.org", topics=[catalog.quantization])
    subscriber("paused@example.org", topics=[catalog.quantization], status=Subscriber.Status.PAUSED)
    topic = catalog.quantization
    saved_phrases = topic.keywords
    response = login("curator").post(f"/admin/digest/topic/{topic.pk}/change/",
                                     topic_form(topic, "MRI\nmedical imaging"))
    assert response.status_code == 200
    trial = response.context["trial"]
    assert [p.pk for p in trial.added] == [catalog.mri_paper.pk]
    assert [p.pk for p in trial.dropped] == [catalog.quant_paper.pk]
    assert trial.followers == 1  # the paused reader receives nothing
    html = response.content.decode()
    assert "Trying this change (nothing is saved)" in html and "Fast MRI reconstruction" in html
    assert "MRI\nmedical imaging</textarea>" in html  # the edits are still in the form
    topic.refresh_from_db()
    assert topic.keywords == saved_phrases


def test_trying_without_phrases_says_they_are_required(catalog):
    topic = catalog.quantization
    response = login("curator").post(f"/admin/digest/topic/{topic.pk}/change/", topic_form(topic, "  "))
    assert response.status_code == 200 and response.context["trial"] is None
    assert "This field is required." in response.content.decode()


def test_the_topic_page_offers_to_try_the_change(catalog):
    html = login("curator").get(f"/admin/digest/topic/{catalog.quantization.pk}/change/").content.decode()
    assert 'name="_try" value="Try this change"' in html


# --- A reader's email ------------------------------------------------------------------


def test_the_preview_is_the_email_they_would_get_now_with_the_pick_in_it(catalog, today, settings):
    reader = subscriber("ada@example.org", topics=[catalog.medical])
    Paper.objects.filter(pk=catalog.others[3].pk).update(is_featured=True)
    client = login("superuser")
    response = client.get(f"/admin/subscriptions/subscriber/{reader.pk}/preview/")
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert "Fast MRI reconstruction" in response.context["preview"].text
    assert catalog.others[3].title in response.context["preview"].text
    assert '<iframe id="preview-html" sandbox=""' in html
    framed = client.get(f"/admin/subscriptions/subscriber/{reader.pk}/preview/email.html")
    assert framed.status_code == 200
    assert "Editor" in framed.content.decode() and "Fast MRI reconstruction" in framed.content.decode()
    assert framed["X-Frame-Options"] == "SAMEORIGIN"
    policy = framed["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in policy and "script-src" not in policy and "default-src 'none'" in policy
    assert not Digest.objects.exists()  # a preview stores nothing
    # The reader's own links are never shown: placeholders stand in for every signed one.
    text = response.context["preview"].text + framed.content.decode()
    assert "/feedback/preview/?v=more" in text and "/manage/preview/" in text
    assert reader.token_secret not in text
    for path in ("/manage/", "/unsubscribe/", "/feedback/"):
        assert all(line.split(path, 1)[1].startswith("preview/") for line in text.split() if path in line), path


def test_the_preview_lists_their_last_digests_and_says_when_nothing_would_go(catalog, today):
    reader = subscriber("ada@example.org", topics=[catalog.medical])
    Digest.objects.create(subscriber=reader, period=today - dt.timedelta(days=1), status=Digest.Status.FAILED,
                          failure=Digest.Failure.BOUNCED, subject="Yesterday's digest")
    Paper.objects.update(is_hidden=True)
    client = login("superuser")
    html = client.get(f"/admin/subscriptions/subscriber/{reader.pk}/preview/").content.decode()
    assert "Yesterday&#x27;s digest" in html and "Bounced" in html
    assert "no email would be sent now" in html
    assert client.get(f"/admin/subscriptions/subscriber/{reader.pk}/preview/email.html").status_code == 404


def test_the_subscriber_page_links_to_the_preview(catalog):
    reader = subscriber("ada@example.org")
    html = login("superuser").get(f"/admin/subscriptions/subscriber/{reader.pk}/change/").content.decode()
    assert f"/admin/subscriptions/subscriber/{reader.pk}/preview/" in html


def test_the_previews_queries_do_not_grow_with_the_readers_history(catalog, today):
    reader = subscriber("ada@example.org", topics=[catalog.medical, catalog.quantization])
    client = login("superuser")
    url = f"/admin/subscriptions/subscriber/{reader.pk}/preview/"
    Digest.objects.create(subscriber=reader, period=today - dt.timedelta(days=30), status=Digest.Status.SENT)
    few = queries(client, url)
    for n in range(2, 20):
        Digest.objects.create(subscriber=reader, period=today - dt.timedelta(days=30 + n), status=Digest.Status.SENT)
    assert queries(client, url) == few


# --- The sends dashboard ---------------------------------------------------------------


def test_the_dashboard_counts_each_days_outcomes_and_subscriptions(today):
    yesterday = today - dt.timedelta(days=1)
    S = Digest.Status
    outcomes = [(S.SENT, 3, ""), (S.SENT, 3, ""), (S.SENT, 0, ""), (S.EMPTY, 0, ""),
                (S.FAILED, 2, Digest.Failure.BOUNCED), (S.FAILED, 2, Digest.Failure.GAVE_UP), (S.PENDING, 1, ""),
                (S.FAILED, 2, Digest.Failure.REFUSED), (S.UNCERTAIN, 2, "")]
    for n, (status, papers, failure) in enumerate(outcomes):
        Digest.objects.create(subscriber=subscriber(f"y{n}@example.org"), period=yesterday, status=status,
                              paper_count=papers, failure=failure)
    Digest.objects.create(subscriber=subscriber("t@example.org"), period=today, status=S.SENT, paper_count=1)
    now = timezone.now()
    Subscriber.objects.update(confirmed_at=now - dt.timedelta(days=20), signed_up_at=now - dt.timedelta(days=20))
    Subscriber.objects.filter(email="y0@example.org").update(
        status=Subscriber.Status.UNSUBSCRIBED, unsubscribed_at=now)
    Subscriber.objects.create(email="new@example.org", signed_up_at=now)
    response = login("curator").get("/admin/digest/tickrun/")
    assert response.status_code == 200
    days = {d.day: d for d in response.context["dashboard"].days}
    y = days[yesterday]
    # An uncertain digest is final, not waiting; a policy refusal is a failure, not a bounce.
    assert (y.sent, y.quiet, y.empty, y.failed, y.bounced, y.refused, y.uncertain, y.waiting) == (2, 1, 1, 3, 1, 1, 1, 1)
    assert y.complaints is None  # not recorded, not a made-up zero
    assert days[today].sent == 1
    assert (days[today].signups, days[today].unsubscribes) == (1, 1)
    assert (y.active, days[today].active) == (10, 9)  # the nine readers above, and the one since gone
    html = response.content.decode()
    assert "<svg" in html and "Digests per day by outcome" in html and "not recorded" in html
    assert "<script" not in html.split('id="content-main"')[1]


def test_the_dashboard_says_why_digests_failed_without_naming_a_reader(today):
    S = Digest.Status
    for n, (failure, error) in enumerate([
        (Digest.Failure.BOUNCED, "Bounced: (550, b'5.1.1 <gone@example.org>: Recipient address rejected')"),
        (Digest.Failure.BOUNCED, "Bounced: (550, b'5.1.1 <old@example.org>: User unknown')"),
        (Digest.Failure.REFUSED, "Refused (policy): (554, b'5.7.1 Message rejected as spam')"),
    ]):
        Digest.objects.create(subscriber=subscriber(f"f{n}@example.org"), period=today, status=S.FAILED,
                              failure=failure, last_error=error)
    response = login("curator").get("/admin/digest/tickrun/")
    reasons = [(r.label, r.count) for r in response.context["dashboard"].failures]
    assert reasons == [("Bounced (the mail server refused the address for good)", 2),
                       ("Refused as spam or by policy (not the address)", 1)]
    table = response.content.decode().split('id="failure-reasons"')[1].split("</table>")[0]
    assert "5.7.1 Message rejected as spam" in table and "Recipient address rejected" not in table  # the latest
    assert "User unknown" in table and "@example.org" not in table and "[address]" in table


def test_with_provider_webhooks_the_dashboard_counts_each_days_complaints(today, settings):
    from subscriptions.models import Suppression, SuppressionReason

    settings.ESP_WEBHOOKS = True
    Suppression.objects.create(email="a@example.org", reason=SuppressionReason.COMPLAINT, source="anymail:postmark")
    Suppression.objects.create(email="b@example.org", reason=SuppressionReason.BOUNCE, source="smtp")
    days = {d.day: d for d in login("curator").get("/admin/digest/tickrun/").context["dashboard"].days}
    assert days[today].complaints == 1
    assert days[today - dt.timedelta(days=1)].complaints == 0


def test_each_tick_leaves_a_run_record_for_the_dashboard(catalog, today):
    reader = subscriber("ada@example.org", topics=[catalog.medical], delivery_time=dt.time(0, 0))
    send_due_digests()
    run = TickRun.objects.get()
    assert (run.due, run.planned) == (1, 1)
    assert run.finished_at >= run.started_at and run.seconds >= 0
    Digest.objects.filter(subscriber=reader).update(status=Digest.Status.SENT)
    html = login("curator").get("/admin/digest/tickrun/").content.decode()
    row = html.split('id="tick-runs"')[1].split("</tr>")[1]
    assert "<td>1</td><td>1</td><td>0</td><td>0</td>\n        <td>1</td><td>0</td>" in row


def test_run_records_older_than_the_retention_are_forgotten():
    now = timezone.now()
    old = TickRun.objects.create(started_at=now - dt.timedelta(days=40), finished_at=now - dt.timedelta(days=40),
                                 seconds=1)
    send_due_digests()
    assert not TickRun.objects.filter(pk=old.pk).exists() and TickRun.objects.count() == 1


def test_the_dashboards_queries_do_not_grow_with_the_ledger(today):
    client = login("curator")
    now = timezone.now()
    TickRun.objects.create(started_at=now, finished_at=now, seconds=0.5, due=1, planned=1)
    few = queries(client, "/admin/digest/tickrun/")
    for n in range(25):
        reader = subscriber(f"r{n}@example.org", confirmed_at=now)
        Digest.objects.create(subscriber=reader, period=today - dt.timedelta(days=n % 10), status=Digest.Status.SENT)
        TickRun.objects.create(started_at=now - dt.timedelta(minutes=5 * n), finished_at=now, seconds=n, due=n)
    assert queries(client, "/admin/digest/tickrun/") == few


# --- Who may do what -------------------------------------------------------------------


@pytest.fixture
def pages(catalog) -> dict[str, str]:
    reader = subscriber("ada@example.org", topics=[catalog.medical])
    return {
        "listing": "/admin/digest/paper/listing/",
        "dashboard": "/admin/digest/tickrun/",
        "preview": f"/admin/subscriptions/subscriber/{reader.pk}/preview/",
        "preview_html": f"/admin/subscriptions/subscriber/{reader.pk}/preview/email.html",
        "topic": f"/admin/digest/topic/{catalog.quantization.pk}/change/",
    }


@pytest.mark.parametrize("role", ["anonymous", "non-staff"])
def test_outsiders_get_the_login_page_on_every_console_page_and_action(pages, catalog, role):
    client = login(role)
    for name in ("listing", "dashboard", "preview", "preview_html"):
        response = client.get(pages[name])
        assert response.status_code == 302 and "/admin/login/" in response["Location"], name
    assert page(client, pages["listing"], action="feature", paper=catalog.quant_paper.pk).status_code == 302
    response = client.post(pages["topic"], topic_form(catalog.quantization, "MRI"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not Paper.objects.filter(is_featured=True).exists()


def test_curators_use_the_listing_topics_and_dashboard_but_never_see_a_readers_email(pages, catalog):
    client = login("curator")
    assert client.get(pages["listing"]).status_code == 200
    assert client.get(pages["dashboard"]).status_code == 200
    assert client.post(pages["topic"], topic_form(catalog.quantization, "MRI")).status_code == 200
    # The preview names the reader and shows their interests: like the subscriber page, 403.
    assert client.get(pages["preview"]).status_code == 403
    assert client.get(pages["preview_html"]).status_code == 403
    index = client.get("/admin/").content.decode()
    assert "Sends dashboard" in index and "Subscribers" not in index


def test_staff_without_a_role_see_none_of_it(pages, catalog, django_user_model):
    client = Client()
    client.force_login(django_user_model.objects.create_user("staff", password="x", is_staff=True))
    for name in ("listing", "dashboard", "preview", "preview_html"):
        assert client.get(pages[name]).status_code == 403, name
    assert client.post(pages["listing"], {"action": "feature", "paper": catalog.quant_paper.pk}).status_code == 403
    assert not Paper.objects.filter(is_featured=True).exists()


def test_superusers_use_every_console_page(pages, catalog):
    client = login("superuser")
    for name in ("listing", "dashboard", "preview", "preview_html"):
        assert client.get(pages[name]).status_code == 200, name
    assert client.post(pages["listing"], {"action": "feature", "paper": catalog.quant_paper.pk}).status_code == 302
    assert Paper.objects.get(pk=catalog.quant_paper.pk).is_featured
