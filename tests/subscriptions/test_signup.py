"""Signing up: the form, double opt-in, consent evidence, and no enumeration."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone

from digest.models import Digest, Topic
from subscriptions.models import Counter, Subscriber
from subscriptions.tokens import make_token

from .helpers import checked_values, signup_data, text_of

# Transactions really commit, so emails go out on commit as in production; the data
# migrations' rows are put back after each test for the tests that come later.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) TestBrowser/1.0"


def sign_up(client, **overrides):
    return client.post(
        "/subscribe/", signup_data(**overrides), HTTP_USER_AGENT=BROWSER, REMOTE_ADDR="203.0.113.7"
    )


def test_the_signup_form_offers_active_topics_only(client, topics):
    page = client.get("/subscribe/").content.decode()
    assert "Large language models" in page
    assert "Robotics" in page
    assert "Retired topic" not in page


def test_the_signup_form_works_without_any_topics(client):
    Topic.objects.all().delete()
    response = client.get("/subscribe/")
    assert response.status_code == 200
    assert "There are no curated topics yet" in text_of(response)


def test_the_home_page_box_prefills_the_address_on_the_full_form(client):
    page = client.get("/subscribe/", {"email": "ada@example.org"}).content.decode()
    assert 'value="ada@example.org"' in page


def test_topic_links_tick_their_topics_and_ignore_unknown_or_retired_ones(client, topics):
    response = client.get(
        "/subscribe/", {"topic": ["robotics", "diffusion-models", "retired-topic", "no-such-topic", "x" * 500]}
    )
    assert response.status_code == 200
    assert sorted(checked_values(response, "topics")) == ["diffusion-models", "robotics"]


def test_the_signup_form_lists_topics_under_their_groups(client):
    html = client.get("/subscribe/").content.decode()
    groups = re.findall(r'<legend class="topic-group__name">([^<]+)</legend>', html)
    assert groups == ["Language", "Vision and robotics", "Learning methods", "Systems and efficiency", "Science and health", "Safety"]
    language = html[html.index(">Language<"):html.index(">Vision and robotics<")]
    assert "Large language models" in language and "Diffusion models" not in language


def test_a_new_address_is_pending_until_confirmed_and_gets_a_confirmation_link(client, mailbox, topics):
    response = sign_up(client, email="  Ada@Example.ORG ", topics=["large-language-models"])

    assert response.status_code == 302
    assert response["Location"] == "/subscribe/check-your-inbox/"
    subscriber = Subscriber.objects.get()
    assert subscriber.email == "ada@example.org"
    assert subscriber.status == Subscriber.Status.PENDING
    assert [t.name for t in subscriber.topics.all()] == ["Large language models"]
    assert subscriber.keywords == ["LoRA", "protein folding"]
    assert subscriber.delivery_time == dt.time(7, 30)
    assert subscriber.timezone == "Europe/Berlin"

    mail = mailbox.only("ada@example.org")
    assert mail.subject == "Confirm your subscription to Daily Papers Digest"
    assert "/confirm/" in mail.link("/confirm/")
    assert "Large language models" in mail.text
    assert "LoRA, protein folding" in mail.text
    assert "Confirm my subscription" in mail.html


def test_the_check_your_inbox_page_names_the_address(client):
    sign_up(client)
    page = text_of(client.get("/subscribe/check-your-inbox/"))
    assert "We've sent an email to ada@example.org" in page
    assert "Check your inbox" in page


def test_signup_records_consent_evidence(client):
    before = timezone.now()
    sign_up(client)
    subscriber = Subscriber.objects.get()
    assert subscriber.signup_ip == "203.0.113.7"
    assert subscriber.signup_user_agent == BROWSER
    assert subscriber.signed_up_at >= before
    assert "can unsubscribe from any email" in subscriber.consent_text
    assert subscriber.confirmed_at is None


def test_a_user_agent_with_control_characters_is_stored_without_them(client):
    # PostgreSQL refuses NUL in text: this used to be a 500 there.
    client.post("/subscribe/", signup_data(), HTTP_USER_AGENT="Bot\x00/1.0\r\nX-Evil: 1")
    assert Subscriber.objects.get().signup_user_agent == "Bot/1.0X-Evil: 1"


def test_opening_the_confirmation_link_shows_a_button_and_confirms_nothing(client, mailbox):
    sign_up(client)
    response = client.get(mailbox.only().path_of("/confirm/"))
    assert response.status_code == 200
    assert "Yes, subscribe me" in text_of(response)
    assert Subscriber.objects.get().status == Subscriber.Status.PENDING


def test_pressing_the_confirm_button_activates_records_evidence_and_sends_a_welcome(client, mailbox):
    import time_machine

    # 05:00 in Berlin: before the 07:30 delivery time, so the first digest is today's.
    with time_machine.travel(dt.datetime(2026, 11, 27, 4, 0, tzinfo=dt.UTC)):
        sign_up(client)
        confirm_path = mailbox.only().path_of("/confirm/")
        mailbox.clear()

        response = client.post(
            confirm_path, HTTP_USER_AGENT="PhoneMail/2.0", REMOTE_ADDR="2001:db8::1", follow=True
        )

    subscriber = Subscriber.objects.get()
    assert subscriber.status == Subscriber.Status.ACTIVE
    assert subscriber.confirm_ip == "2001:db8::1"
    assert subscriber.confirm_user_agent == "PhoneMail/2.0"
    assert subscriber.confirmed_at is not None
    page = text_of(response)
    assert "You're subscribed. Your first digest arrives on Friday 27 November 2026 at 07:30" in page
    assert "Your subscription" in page

    welcome = mailbox.only("ada@example.org")
    assert welcome.subject == "You're subscribed to Daily Papers Digest"
    assert "Your first digest arrives on Friday 27 November 2026 at 07:30" in " ".join(welcome.text.split())
    assert "07:30 (Europe/Berlin)" in welcome.text
    assert "/manage/" in welcome.link("/manage/")
    assert Counter.objects.get(name="confirmations").value == 1


def test_confirming_after_todays_delivery_time_says_the_first_digest_comes_now_as_it_does(
    client, mailbox
):
    """The beat tick sends a digest to whoever's delivery time has passed today without one,
    so someone confirming at 13:00 for 07:30 gets it within minutes: the pages and the
    welcome must not promise tomorrow."""
    import time_machine

    from digest.digests import due_targets
    from digest.models import Digest

    afternoon = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)  # 13:00 in Berlin
    with time_machine.travel(afternoon):
        sign_up(client)
        confirm_path = mailbox.only().path_of("/confirm/")
        mailbox.clear()
        page = text_of(client.post(confirm_path, follow=True))
        assert "Your first digest arrives today, within a few minutes." in page
        assert "Next one today, within a few minutes." in page
        welcome = mailbox.only("ada@example.org")
        assert "Your first digest arrives today, within a few minutes." in " ".join(welcome.text.split())

        subscriber = Subscriber.objects.get()
        assert [t.subscriber for t in due_targets(timezone.now())] == [subscriber]

        # Once today's digest exists, the next one is tomorrow at their time.
        Digest.objects.create(subscriber=subscriber, period=dt.date(2026, 11, 27))
        manage = text_of(client.get(welcome.path_of("/manage/")))
        assert "Next one on Saturday 28 November 2026 at 07:30 (Europe/Berlin)." in manage


def test_confirming_twice_sends_one_welcome_email(client, mailbox):
    sign_up(client)
    confirm_path = mailbox.only().path_of("/confirm/")
    mailbox.clear()
    client.post(confirm_path)
    client.post(confirm_path)
    assert len(mailbox.all()) == 1


def test_a_confirmation_link_expires_after_seven_days(client, mailbox, make_subscriber):
    import time_machine

    subscriber = make_subscriber(status=Subscriber.Status.PENDING)
    with time_machine.travel(timezone.now() - dt.timedelta(days=7, minutes=1)):
        token = make_token(subscriber, "confirm")
    response = client.post(f"/confirm/{token}/")
    assert response.status_code == 400
    assert "This confirmation link has expired" in text_of(response)
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.PENDING


def test_a_confirmation_link_six_days_old_still_works(client, make_subscriber):
    import time_machine

    subscriber = make_subscriber(status=Subscriber.Status.PENDING)
    with time_machine.travel(timezone.now() - dt.timedelta(days=6)):
        token = make_token(subscriber, "confirm")
    client.post(f"/confirm/{token}/")
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.ACTIVE


def test_pending_subscribers_never_get_digests(make_subscriber):
    pending = make_subscriber("pending@example.org", status=Subscriber.Status.PENDING)
    active = make_subscriber("active@example.org")
    receiving = set(Subscriber.objects.receiving_digests(dt.date.today()))
    assert active in receiving
    assert pending not in receiving


def test_an_already_subscribed_address_gets_the_same_page_and_a_manage_link_instead(client, mailbox, make_subscriber):
    existing = make_subscriber("ada@example.org", keywords=["graphs"], max_papers=7)
    new_response = sign_up(client, email="grace@example.org")
    known_response = sign_up(client, email="ADA@example.org")

    assert known_response.status_code == new_response.status_code == 302
    assert known_response["Location"] == new_response["Location"]
    existing.refresh_from_db()
    assert existing.keywords == ["graphs"]
    assert existing.max_papers == 7
    assert existing.status == Subscriber.Status.ACTIVE
    assert Subscriber.objects.filter(email="ada@example.org").count() == 1

    mail = mailbox.only("ada@example.org")
    assert mail.subject == "You already have a subscription to Daily Papers Digest"
    assert "/manage/" in mail.link("/manage/")
    assert "/confirm/" not in mail.text


def test_the_page_after_signup_is_identical_for_new_and_known_addresses(client, make_subscriber):
    make_subscriber("known@example.org")
    sign_up(client, email="known@example.org")
    known_page = client.get("/subscribe/check-your-inbox/").content.decode().replace("known@example.org", "X")
    sign_up(client, email="fresh@example.org")
    fresh_page = client.get("/subscribe/check-your-inbox/").content.decode().replace("fresh@example.org", "X")
    assert known_page == fresh_page


def _response_bytes(response) -> tuple:
    """What the client can see of a response, session cookie values aside."""
    return (
        response.status_code,
        sorted((k, v) for k, v in response.items() if k.lower() != "set-cookie"),
        sorted(response.cookies.keys()),
        response.content,
    )


@pytest.mark.parametrize("status", [s.value for s in Subscriber.Status])
@pytest.mark.parametrize("path", ["/subscribe/", "/manage/"])
def test_signup_and_lost_link_answer_byte_for_byte_the_same_whatever_the_address_status(
    make_subscriber, status, path
):
    make_subscriber("known@example.org", status=status)
    pages = {}
    for address in ("known@example.org", "fresh@example.org"):
        client = Client()
        response = client.post(path, signup_data(email=address))
        following = client.get(response["Location"])
        pages[address] = (_response_bytes(response), following.content.decode().replace(address, "X"))
    assert pages["known@example.org"] == pages["fresh@example.org"]


def test_submitting_a_pending_address_again_resends_the_confirmation_with_the_new_choices(client, mailbox):
    sign_up(client, keywords="graphs")
    sign_up(client, keywords="proteins")
    subscriber = Subscriber.objects.get()
    assert subscriber.keywords == ["proteins"]
    mails = mailbox.to("ada@example.org")
    assert [m.subject for m in mails] == ["Confirm your subscription to Daily Papers Digest"] * 2


def test_an_unsubscribed_person_can_resubscribe_through_the_form_with_double_opt_in(client, mailbox, make_subscriber):
    old = make_subscriber(status=Subscriber.Status.UNSUBSCRIBED, keywords=["old"])
    Digest.objects.create(subscriber=old, period=dt.date(2026, 1, 5), status=Digest.Status.SENT)
    old_unsubscribe = make_token(old, "unsubscribe")
    old_manage = make_token(old, "manage")

    sign_up(client, keywords="new stuff")

    subscriber = Subscriber.objects.get()
    assert subscriber.status == Subscriber.Status.PENDING
    assert subscriber.keywords == ["new stuff"]
    assert "/confirm/" in mailbox.only().link("/confirm/")
    # Links from the old subscription no longer act on the new one ...
    assert client.get(f"/manage/{old_manage}/").status_code == 400

    confirmed = text_of(client.post(mailbox.only().path_of("/confirm/"), follow=True))
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.ACTIVE
    # They have had digests before: the next one, not their "first".
    assert "Your next digest arrives" in confirmed
    assert "Your next digest arrives" in " ".join(mailbox.to("ada@example.org")[-1].text.split())
    # ... except unsubscribing: the same mailbox holds the old emails, and the mail
    # client's unsubscribe button on one of them must not fail.
    assert "ada@example.org" in text_of(client.get(f"/unsubscribe/{old_unsubscribe}/"))
    assert client.post(f"/unsubscribe/{old_unsubscribe}/one-click/", {"List-Unsubscribe": "One-Click"}).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED


def test_a_filled_honeypot_shows_the_usual_page_but_stores_and_sends_nothing(client, mailbox):
    response = sign_up(client, website="http://spam.example")
    assert response.status_code == 302
    assert response["Location"] == "/subscribe/check-your-inbox/"
    assert not Subscriber.objects.exists()
    assert mailbox.all() == []


def test_unicode_keywords_and_authors_are_kept_exactly(client, mailbox):
    sign_up(client, keywords="Schrödinger-Brücke; 大语言模型; café ☕", authors="Łukasz Kaiser, 李飞飞; José Müller")
    subscriber = Subscriber.objects.get()
    assert subscriber.keywords == ["Schrödinger-Brücke", "大语言模型", "café ☕"]
    assert subscriber.authors == ["Łukasz Kaiser", "李飞飞", "José Müller"]
    mail = mailbox.only()
    assert "大语言模型" in mail.text
    assert "Łukasz Kaiser" in mail.html


def test_keywords_are_split_on_commas_and_semicolons_without_repeats(client):
    sign_up(client, keywords=" LoRA ;; diffusion models,lora,  Protein   folding ")
    assert Subscriber.objects.get().keywords == ["LoRA", "diffusion models", "Protein folding"]


def test_a_weekly_subscription_remembers_its_weekday(client):
    sign_up(client, frequency="weekly", weekday="4")
    subscriber = Subscriber.objects.get()
    assert subscriber.frequency == "weekly"
    assert subscriber.weekday == 4


def test_plain_text_preference_means_confirmation_mail_has_no_html_part(client, mailbox):
    sign_up(client, email_format="text")
    mail = mailbox.only()
    assert mail.html is None
    assert "/confirm/" in mail.text


def test_an_address_on_an_international_domain_works(client, mailbox):
    response = sign_up(client, email="Ada@Bücher.example")
    assert response.status_code == 302
    assert Subscriber.objects.get().email == "ada@bücher.example"
    assert mailbox.all()[0].to == "ada@xn--bcher-kva.example"
