"""The manage page behind the emailed link: preferences, pause, address change, data
export and deletion."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlsplit

import pytest
import time_machine
from django.contrib.admin.models import CHANGE, LogEntry
from django.test import Client
from django.utils import timezone

from digest.digest_email import view_token
from digest.models import Digest, DigestItem, Paper
from subscriptions.models import Counter, Subscriber
from subscriptions.tokens import make_token, subscriber_links

from .helpers import checked_values, field_error, input_value, signup_data, text_of

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def ada(make_subscriber, topics) -> Subscriber:
    subscriber = make_subscriber(
        "ada@example.org",
        keywords=["graphs", "Schrödinger"],
        authors=["Łukasz Kaiser"],
        timezone="Asia/Tokyo",
        signup_ip="203.0.113.7",
        signup_user_agent="Firefox",
        confirmed_at=timezone.now(),
        confirm_ip="203.0.113.8",
        consent_text="I want it.",
    )
    subscriber.topics.set([topics["Robotics"]])
    return subscriber


def manage_path(subscriber: Subscriber) -> str:
    return f"/manage/{make_token(subscriber, 'manage')}/"


def preferences(**overrides) -> dict:
    data = signup_data(**overrides)
    data.pop("email")
    data.pop("website")
    return data


def test_the_manage_page_shows_the_current_choices(client, ada):
    response = client.get(manage_path(ada))
    assert response.status_code == 200
    assert input_value(response, "keywords") == "graphs, Schrödinger"
    assert input_value(response, "authors") == "Łukasz Kaiser"
    html = response.content.decode()
    assert '<option value="Asia/Tokyo" selected>' in html
    assert checked_values(response, "topics") == ["robotics"]
    assert checked_values(response, "frequency") == ["daily"]
    assert "Active. Digests go to ada@example.org" in text_of(response)


def test_the_manage_page_is_never_cached_nor_sends_its_link_to_other_sites(client, ada):
    response = client.get(manage_path(ada))
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "same-origin"
    assert "noindex" in response["X-Robots-Tag"]


def test_saving_the_manage_form_updates_every_preference(client, ada, topics):
    path = manage_path(ada)
    response = client.post(
        path,
        preferences(
            topics=["large-language-models", "diffusion-models"],
            keywords="LoRA",
            authors="李飞飞",
            excluded_keywords="survey",
            include_featured=None,
            frequency="weekly",
            weekday="2",
            delivery_time="18:15",
            timezone="America/New_York",
            max_papers="25",
            send_when_empty="on",
            email_format="text",
        ),
        follow=True,
    )
    assert "Your choices are saved." in text_of(response)
    ada.refresh_from_db()
    assert sorted(t.slug for t in ada.topics.all()) == ["diffusion-models", "large-language-models"]
    assert ada.keywords == ["LoRA"]
    assert ada.authors == ["李飞飞"]
    assert ada.excluded_keywords == ["survey"]
    assert ada.include_featured is False
    assert (ada.frequency, ada.weekday) == ("weekly", 2)
    assert ada.delivery_time == dt.time(18, 15)
    assert ada.timezone == "America/New_York"
    assert ada.max_papers == 25
    assert ada.send_when_empty is True
    assert ada.email_format == "text"


def test_an_invalid_manage_form_keeps_the_old_choices_and_shows_the_error(client, ada):
    response = client.post(manage_path(ada), preferences(keywords="ok", timezone="Atlantis/Capital"))
    assert response.status_code == 400
    assert "is not a time zone we know" in field_error(response, "timezone")
    assert input_value(response, "keywords") == "ok"
    ada.refresh_from_db()
    assert ada.timezone == "Asia/Tokyo"
    assert ada.keywords == ["graphs", "Schrödinger"]


def test_clearing_every_topic_keyword_and_author_on_the_manage_page_is_refused(client, ada):
    response = client.post(manage_path(ada), preferences(keywords="", authors=""))

    assert response.status_code == 400
    assert "Choose at least one topic, keyword or author" in field_error(response, "topics")
    ada.refresh_from_db()
    assert ada.keywords == ["graphs", "Schrödinger"]
    assert [t.slug for t in ada.topics.all()] == ["robotics"]


def test_the_manage_page_opens_with_what_the_reader_gets_and_their_last_digest(client, ada, clock_held):
    # The clock held: the digest link's signature carries the second it was made in, and a
    # run where the page and the test signed in different seconds failed (CI, 2026-11-30).
    before = text_of(client.get(manage_path(ada)))
    assert "What you get Topics Robotics Keywords graphs, Schrödinger Authors Łukasz Kaiser" in before
    assert "Schedule Daily at 07:00 Asia/Tokyo time, up to 10 papers, HTML; editors' picks first" in before
    assert "Last digest None yet" in before
    Subscriber.objects.filter(pk=ada.pk).update(timezone="UTC")
    # The folded schedule form's summary and the page's own line say it the same way.
    assert text_of(client.get(manage_path(ada))).count("Daily at 07:00 UTC, up to 10 papers, HTML") == 2

    Digest.objects.create(subscriber=ada, period=dt.date(2026, 11, 27), status=Digest.Status.FAILED, paper_count=3)
    sent = Digest.objects.create(
        subscriber=ada, period=dt.date(2026, 11, 26), status=Digest.Status.SENT, paper_count=8, match_count=42
    )
    html = client.get(manage_path(ada)).content.decode()
    assert "Last digest Thursday 26 November 2026: 8 papers of 42 matches · read it on the web" in text_of(html)
    assert f'href="/digests/{view_token(sent)}/"' in html
    # The summary comes first, the form after it.
    assert html.index("What you get") < html.index('id="preferences-form"')


def test_pausing_without_a_date_stops_digests_until_resumed(client, ada):
    response = client.post(manage_path(ada) + "pause/", {"until": ""}, follow=True)
    assert "Paused. No digests until you resume." in text_of(response)
    ada.refresh_from_db()
    assert ada.status == Subscriber.Status.PAUSED
    assert ada not in Subscriber.objects.receiving_digests(dt.date.today() + dt.timedelta(days=365))

    response = client.post(manage_path(ada) + "resume/", follow=True)
    assert "Welcome back." in text_of(response)
    ada.refresh_from_db()
    assert ada.status == Subscriber.Status.ACTIVE


def test_pausing_until_a_date_resumes_digests_on_that_date(client, ada):
    back_on = timezone.localdate() + dt.timedelta(days=14)
    response = client.post(manage_path(ada) + "pause/", {"until": back_on.isoformat()}, follow=True)
    assert f"Digests start again on {back_on:%A} {back_on.day} {back_on:%B %Y}" in text_of(response)
    ada.refresh_from_db()
    assert ada.paused_until == back_on
    assert ada not in Subscriber.objects.receiving_digests(back_on - dt.timedelta(days=1))
    assert ada in Subscriber.objects.receiving_digests(back_on)
    assert ada.next_delivery_after(timezone.now()).date() >= back_on


def test_the_hourly_task_turns_ended_pauses_back_to_active(ada):
    from subscriptions.tasks import resume_ended_pauses

    Subscriber.objects.filter(pk=ada.pk).update(status="paused", paused_until=dt.date.today())
    assert resume_ended_pauses.delay().get() == 1
    ada.refresh_from_db()
    assert ada.status == Subscriber.Status.ACTIVE
    assert ada.paused_until is None


def test_a_pause_date_in_the_past_is_refused(client, ada):
    response = client.post(manage_path(ada) + "pause/", {"until": "2001-01-01"})
    assert response.status_code == 400
    assert field_error(response, "until") == "Choose a date after today."
    ada.refresh_from_db()
    assert ada.status == Subscriber.Status.ACTIVE


def test_changing_the_address_mails_the_new_address_and_changes_nothing_until_confirmed(client, ada, mailbox):
    response = client.post(manage_path(ada) + "address/", {"new_email": "Ada.New@Example.org"}, follow=True)
    assert "We've sent a link to ada.new@example.org" in text_of(response)
    ada.refresh_from_db()
    assert ada.email == "ada@example.org"
    assert ada.pending_email == "ada.new@example.org"

    mail = mailbox.only("ada.new@example.org")
    assert mail.subject == "Confirm your new address for Daily Papers Digest"
    assert mailbox.to("ada@example.org") == []

    old_manage = manage_path(ada)
    old_feed = f"/feed/{ada.feed_token}.atom"
    assert client.get(old_feed).status_code == 200
    confirm_path = mail.path_of("/confirm-new-address/")
    assert client.get(confirm_path).status_code == 200
    ada.refresh_from_db()
    assert ada.email == "ada@example.org"

    response = client.post(confirm_path, REMOTE_ADDR="198.51.100.4", follow=True)
    assert "Done: your digests now go to ada.new@example.org." in text_of(response)
    ada.refresh_from_db()
    assert ada.email == "ada.new@example.org"
    assert ada.pending_email == ""
    assert ada.confirm_ip == "198.51.100.4"
    # Links that went to the old mailbox no longer work, the private feed's address too
    # (its digests' pages would show the new address).
    assert client.get(old_manage).status_code == 400
    assert client.get(old_feed).status_code == 404
    assert client.get(f"/feed/{ada.feed_token}.atom").status_code == 200


def _move(client, ada, mailbox, new_address: str) -> None:
    client.post(manage_path(ada) + "address/", {"new_email": new_address})
    client.post(mailbox.only(new_address).path_of("/confirm-new-address/"))
    ada.refresh_from_db()
    assert ada.email == new_address


def test_the_old_address_is_told_of_the_move_without_learning_the_new_one(client, ada, mailbox):
    _move(client, ada, mailbox, "ada.new@elsewhere.org")
    [notice] = mailbox.to("ada@example.org")
    assert notice.subject == "Your Daily Papers Digest subscription has moved to another address"
    assert "now goes to another address (…@elsewhere.org)" in notice.text
    assert "ada.new" not in notice.text and "ada.new" not in notice.html
    assert "/manage/" not in notice.text and "/unsubscribe/" not in notice.text  # it owns nothing now
    assert "keeps working for 60 days" in notice.text


def test_after_a_move_the_old_emails_unsubscribe_links_still_work_without_showing_the_new_address(client, ada, mailbox):
    old_links = subscriber_links(ada)
    _move(client, ada, mailbox, "ada.new@example.org")

    client = Client()  # whoever holds the old mailbox, not the browser that moved it
    page = text_of(client.get(urlsplit(old_links["unsubscribe"]).path))
    assert "Stop all emails of the subscription this link came from?" in page
    assert "ada.new@example.org" not in page
    asked = text_of(client.get(urlsplit(old_links["unsubscribe"]).path + "manage-link/"))
    assert "the subscription's current address" in asked and "ada.new@example.org" not in asked

    response = client.post(urlsplit(old_links["one_click"]).path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    ada.refresh_from_db()
    assert ada.status == Subscriber.Status.UNSUBSCRIBED
    assert "ada.new@example.org" not in text_of(client.get(urlsplit(old_links["unsubscribe"]).path))


def test_a_link_from_before_a_resubscription_and_a_move_never_shows_the_new_address(client, ada, mailbox):
    from subscriptions import services
    from subscriptions.services import Evidence, Preferences

    old_unsubscribe = urlsplit(subscriber_links(ada)["unsubscribe"]).path
    services.unsubscribe(ada)
    services.subscribe("ada@example.org", Preferences(keywords=("graphs",)), Evidence(ip="203.0.113.7", user_agent="t"))
    client.post(mailbox.to("ada@example.org")[-1].path_of("/confirm/"))
    ada.refresh_from_db()
    assert ada.status == Subscriber.Status.ACTIVE
    # Still the address it was sent to: its page may say so.
    assert "ada@example.org" in text_of(Client().get(old_unsubscribe))
    _move(client, ada, mailbox, "ada.new@example.org")
    page = text_of(Client().get(old_unsubscribe))
    assert "Stop all emails of the subscription this link came from?" in page and "ada.new@" not in page


def test_the_old_emails_unsubscribe_links_stop_working_sixty_days_after_the_move(client, ada, mailbox):
    old_unsubscribe = urlsplit(subscriber_links(ada)["unsubscribe"]).path
    _move(client, ada, mailbox, "ada.new@example.org")
    with time_machine.travel(timezone.now() + dt.timedelta(days=59)):
        assert client.get(old_unsubscribe).status_code == 200
    with time_machine.travel(timezone.now() + dt.timedelta(days=62)):
        assert client.get(old_unsubscribe).status_code == 400
        # The links sent since work as ever.
        assert client.get(urlsplit(subscriber_links(ada)["unsubscribe"]).path).status_code == 200


def test_revoking_every_link_also_revokes_the_old_emails_unsubscribe_links(client, ada, mailbox, admin_user):
    old_unsubscribe = urlsplit(subscriber_links(ada)["unsubscribe"]).path
    _move(client, ada, mailbox, "ada.new@example.org")
    client.force_login(admin_user)
    client.post("/admin/subscriptions/subscriber/", {"action": "revoke_links", "_selected_action": [ada.pk]})
    client.logout()
    assert client.get(old_unsubscribe).status_code == 400


def test_asking_for_a_second_address_change_voids_the_first_link(client, ada, mailbox):
    client.post(manage_path(ada) + "address/", {"new_email": "first@example.org"})
    first_link = mailbox.only("first@example.org").path_of("/confirm-new-address/")
    client.post(manage_path(ada) + "address/", {"new_email": "second@example.org"})

    assert client.post(first_link).status_code == 400
    ada.refresh_from_db()
    assert ada.email == "ada@example.org"


def test_moving_to_an_address_that_has_its_own_subscription_reveals_nothing(client, ada, mailbox, make_subscriber):
    make_subscriber("grace@example.org")
    taken = client.post(manage_path(ada) + "address/", {"new_email": "grace@example.org"}, follow=True)
    free = client.post(manage_path(ada) + "address/", {"new_email": "free@example.org"}, follow=True)
    assert text_of(taken).replace("grace@example.org", "X") == text_of(free).replace("free@example.org", "X")

    grace_mail = mailbox.only("grace@example.org")
    assert grace_mail.subject == "You already have a subscription to Daily Papers Digest"
    assert "/confirm-new-address/" not in grace_mail.text
    ada.refresh_from_db()
    assert ada.pending_email == "free@example.org"


def test_the_same_address_is_not_a_change(client, ada, mailbox):
    response = client.post(manage_path(ada) + "address/", {"new_email": "ADA@example.org"})
    assert response.status_code == 400
    assert field_error(response, "new_email") == "That is already your address."
    assert mailbox.all() == []


def test_download_my_data_gives_everything_stored_as_json(client, ada):
    paper = Paper.objects.create(title="A paper about robots", listed_on=dt.date.today(), arxiv_id="2401.00001")
    digest = Digest.objects.create(subscriber=ada, period=dt.date.today(), status="sent", subject="3 new papers")
    DigestItem.objects.create(digest=digest, paper=paper, rank=1, matched=["topic Robotics: 'robot'"])

    response = client.get(manage_path(ada) + "my-data.json")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["email"] == "ada@example.org"
    assert data["preferences"]["topics"] == ["Robotics"]
    assert data["preferences"]["keywords"] == ["graphs", "Schrödinger"]
    assert data["preferences"]["authors"] == ["Łukasz Kaiser"]
    assert data["preferences"]["timezone"] == "Asia/Tokyo"
    assert data["consent"]["signup_ip"] == "203.0.113.7"
    assert data["consent"]["signup_user_agent"] == "Firefox"
    assert data["consent"]["confirm_ip"] == "203.0.113.8"
    assert data["consent"]["statement"] == "I want it."
    assert data["digests"][0]["subject"] == "3 new papers"
    assert data["digests"][0]["papers"][0]["title"] == "A paper about robots"
    assert data["digests"][0]["papers"][0]["why"] == ["topic Robotics: 'robot'"]
    stored = {f.name for f in Digest._meta.concrete_fields} - {"id", "subscriber"}
    assert stored <= set(data["digests"][0]), "every stored digest field is in the export"
    assert "token_secret" not in json.dumps(data)
    assert ada.token_secret not in response.content.decode()


def test_delete_asks_first_and_then_removes_everything_but_anonymous_counts(client, ada, mailbox):
    Counter.increment("unsubscribes", 5)
    Digest.objects.create(subscriber=ada, period=dt.date.today(), status="sent", subject="Your papers")
    path = manage_path(ada)

    page = client.get(path + "delete/")
    assert "Delete everything" in text_of(page)
    assert Subscriber.objects.filter(pk=ada.pk).exists()

    response = client.post(path + "delete/", follow=True)
    assert "Your data is deleted" in text_of(response)
    assert not Subscriber.objects.filter(email="ada@example.org").exists()
    assert not Digest.objects.exists()
    assert Counter.objects.get(name="deletions").value == 1
    assert Counter.objects.get(name="unsubscribes").value == 5
    assert client.get(path).status_code == 400
    assert mailbox.all() == []


def test_delete_also_removes_the_admins_history_that_names_the_address(client, ada, admin_user):
    LogEntry.objects.log_actions(
        admin_user.pk, [ada], CHANGE, change_message="Changed timezone."
    )
    client.post(manage_path(ada) + "delete/")
    assert not LogEntry.objects.filter(object_repr__contains="ada@example.org").exists()


def test_an_unsubscribed_person_can_subscribe_again_from_the_manage_page(client, ada, mailbox):
    Subscriber.objects.filter(pk=ada.pk).update(status="unsubscribed")
    page = client.get(manage_path(ada))
    assert "Unsubscribed. Nothing is sent to ada@example.org" in text_of(page)

    response = client.post(manage_path(ada) + "resubscribe/")
    assert response["Location"] == "/subscribe/check-your-inbox/"
    ada.refresh_from_db()
    assert ada.status == Subscriber.Status.PENDING
    assert ada.keywords == ["graphs", "Schrödinger"]
    mail = mailbox.only("ada@example.org")
    client.post(mail.path_of("/confirm/"))
    ada.refresh_from_db()
    assert ada.status == Subscriber.Status.ACTIVE


def test_lost_link_form_answers_the_same_for_known_and_unknown_addresses(client, ada, mailbox):
    known = client.post("/manage/", {"email": "ADA@example.org"})
    unknown = client.post("/manage/", {"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"] == "/manage/link-sent/"

    mail = mailbox.only()
    assert mail.to == "ada@example.org"
    assert mail.subject == "Your link to manage Daily Papers Digest"
    assert client.get(mail.path_of("/manage/")).status_code == 200


def test_lost_link_form_resends_the_confirmation_to_a_pending_address(client, make_subscriber, mailbox):
    make_subscriber("pending@example.org", status=Subscriber.Status.PENDING)
    client.post("/manage/", {"email": "pending@example.org"})
    mail = mailbox.only("pending@example.org")
    assert mail.subject == "Confirm your subscription to Daily Papers Digest"


def test_lost_link_form_rejects_a_bad_address_with_a_400(client, mailbox):
    response = client.post("/manage/", {"email": "nope"})
    assert response.status_code == 400
    assert field_error(response, "email") == "Enter an email address like name@example.org."
    assert mailbox.all() == []
