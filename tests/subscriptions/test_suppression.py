"""A suppressed address gets no subscription email either (confirmation, manage link,
address change), and a permanent refusal of one suppresses the address like a
digest's does. A signup on our page lifts an unsubscribe made at the mail provider,
never a bounce or a complaint; "delete my data" leaves only the counts."""

from __future__ import annotations

import smtplib

import pytest

from subscriptions import services
from subscriptions.models import Subscriber, Suppression
from subscriptions.suppression import suppress_address
from subscriptions.tasks import send_subscription_email
from subscriptions.tokens import make_token
from tests.digest.sending_helpers import smtp_server  # noqa: F401 (a real SMTP server fixture)

from .helpers import text_of

pytestmark = pytest.mark.django_db

EVIDENCE = services.Evidence(ip="203.0.113.7", user_agent="TestBrowser/1.0")


def sign_up(email: str, capture) -> None:
    with capture(execute=True):
        services.subscribe(email, services.Preferences(keywords=("quantization",)), EVIDENCE)


def test_no_confirmation_email_goes_to_a_bounced_address(mailbox, django_capture_on_commit_callbacks):
    suppress_address("ada@example.org", Suppression.Reason.BOUNCE, source="smtp", detail="550 No such user")

    sign_up("Ada@Example.org", django_capture_on_commit_callbacks)

    assert mailbox.all() == []
    ada = Subscriber.objects.get(email="ada@example.org")
    assert ada.status == Subscriber.Status.PENDING and ada.suppressed == Suppression.Reason.BOUNCE


def test_other_addresses_still_get_theirs(mailbox, django_capture_on_commit_callbacks):
    suppress_address("ada@example.org", Suppression.Reason.COMPLAINT, source="anymail:postmark")

    sign_up("grace@example.org", django_capture_on_commit_callbacks)

    assert [mail.to for mail in mailbox.all()] == ["grace@example.org"]


def test_a_signup_lifts_an_unsubscribe_made_at_the_provider(
    mailbox, make_subscriber, django_capture_on_commit_callbacks
):
    ada = make_subscriber("ada@example.org")
    suppress_address(ada.email, Suppression.Reason.UNSUBSCRIBE, source="anymail:postmark", subscriber=ada)
    services.unsubscribe(ada)

    sign_up("ada@example.org", django_capture_on_commit_callbacks)

    assert [mail.to for mail in mailbox.all()] == ["ada@example.org"]
    lifted = Suppression.objects.get()
    assert lifted.cleared_at is not None and lifted.cleared_reason == "Signed up again on the website."
    ada.refresh_from_db()
    assert (ada.status, ada.suppressed) == (Subscriber.Status.PENDING, "")


@pytest.mark.parametrize("reason", [Suppression.Reason.BOUNCE, Suppression.Reason.COMPLAINT])
def test_a_signup_does_not_lift_a_bounce_or_a_complaint(
    mailbox, make_subscriber, django_capture_on_commit_callbacks, reason
):
    ada = make_subscriber("ada@example.org")
    suppress_address(ada.email, reason, source="anymail:postmark", subscriber=ada)

    sign_up("ada@example.org", django_capture_on_commit_callbacks)  # would send the manage link

    assert mailbox.all() == []
    assert Suppression.objects.get().cleared_at is None


def test_a_bounced_reader_can_move_to_a_new_address_and_receives_there(
    mailbox, make_subscriber, django_capture_on_commit_callbacks
):
    ada = make_subscriber("ada@old.example.org")
    suppress_address(ada.email, Suppression.Reason.BOUNCE, source="smtp", subscriber=ada)

    with django_capture_on_commit_callbacks(execute=True):
        services.request_email_change(ada, "ada@new.example.org")
    confirmation = mailbox.only("ada@new.example.org")
    services.confirm_email_change(ada, EVIDENCE)

    assert confirmation.subject
    ada.refresh_from_db()
    assert (ada.email, ada.suppressed) == ("ada@new.example.org", "")
    assert ada in Subscriber.objects.receiving_digests(ada.updated_at.date())
    # The old address stays suppressed: nobody else gets mail there either.
    assert Suppression.objects.get().email == "ada@old.example.org"


def test_a_welcome_email_refused_for_good_suppresses_the_address(smtp_server, make_subscriber):  # noqa: F811
    smtp_server.refuse_rcpt["ada@example.org"] = "550 5.1.1 <ada@example.org>: Recipient address rejected"
    ada = make_subscriber("ada@example.org")

    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send_subscription_email.apply(args=("welcome", ada.pk))

    suppression = Suppression.objects.get()
    assert (suppression.subscriber, suppression.reason, suppression.source) == (ada, Suppression.Reason.BOUNCE, "smtp")
    assert "welcome email" in suppression.detail and "550" in suppression.detail
    ada.refresh_from_db()
    assert ada.suppressed == Suppression.Reason.BOUNCE
    # Nothing more is tried: the manage link asked for later is not sent.
    smtp_server.refuse_rcpt.clear()
    send_subscription_email.apply(args=("manage_link", ada.pk, "requested"))
    assert smtp_server.messages == []


def test_deleting_my_data_keeps_only_the_count_of_a_suppression(make_subscriber):
    ada = make_subscriber("ada@example.org")
    suppress_address(
        ada.email, Suppression.Reason.BOUNCE, source="smtp", detail="550 <ada@example.org> unknown", subscriber=ada
    )

    suppress_address(
        ada.email, Suppression.Reason.COMPLAINT, source="anymail:postmark", detail="from <ada@example.org>"
    )
    Suppression.objects.filter(reason=Suppression.Reason.COMPLAINT).update(subscriber=None)  # came before they did

    services.delete_subscriber(ada)

    assert Suppression.objects.filter(reason=Suppression.Reason.COMPLAINT, email="", detail="").exists()
    left = Suppression.objects.get(reason=Suppression.Reason.BOUNCE)
    assert (left.subscriber, left.email, left.detail, left.reason, left.source) == (
        None,
        "",
        "",
        Suppression.Reason.BOUNCE,
        "smtp",
    )


def test_the_manage_page_says_mail_is_stopped_and_not_when_the_next_digest_comes(client, make_subscriber):
    ada = make_subscriber("ada@example.org")
    suppress_address(ada.email, Suppression.Reason.BOUNCE, source="smtp", subscriber=ada)

    page = text_of(client.get(f"/manage/{make_token(ada, 'manage')}/"))

    assert "No email goes out. Mail to ada@example.org is stopped: its mail server refused our email for good" in page
    assert "move your subscription to another address below" in page
    assert "Next one" not in page


@pytest.mark.parametrize("spelling", ['"ada"@example.org', '"a\\da"@example.org', "ada@[192.0.2.1]"])
def test_a_quoted_or_literal_spelling_of_an_address_is_refused_at_signup(client, mailbox, spelling):
    # Mail servers deliver '"ada"@example.org' to ada@: it must not get past her
    # suppression, or the per-mailbox limits, as a different address.
    from .helpers import signup_data

    suppress_address("ada@example.org", Suppression.Reason.COMPLAINT, source="anymail:postmark")
    response = client.post("/subscribe/", signup_data(email=spelling))
    assert response.status_code == 400
    assert "Enter an email address like name@example.org." in text_of(response.content.decode())
    assert not Subscriber.objects.exists() and mailbox.all() == []


def test_curators_see_no_quoted_or_apostrophe_address_in_a_server_reply():
    from subscriptions.suppression import redact_addresses

    reply = '550 5.1.1 <"john secret"@example.org>: unknown; also o\'brien@example.org refused'
    assert redact_addresses(reply) == "550 5.1.1 <[address]>: unknown; also [address] refused"


@pytest.mark.parametrize("spelling", ["ada@\uff45xample.org", "ADA@ＥＸＡＭＰＬＥ.ORG"])
def test_a_full_width_spelling_of_the_domain_is_the_same_address(client, mailbox, spelling):
    # Mail to "ada@ｅxample.org" is delivered to ada@example.org: it must meet her suppression.
    from .helpers import signup_data

    suppress_address("ada@example.org", Suppression.Reason.COMPLAINT, source="anymail:postmark")
    assert client.post("/subscribe/", signup_data(email=spelling)).status_code == 302
    ada = Subscriber.objects.get()
    assert ada.email == "ada@example.org" and ada.suppressed == Suppression.Reason.COMPLAINT
    assert mailbox.all() == []


def test_an_internationalised_domain_has_one_spelling_and_a_non_ascii_mailbox_is_refused(client, mailbox):
    from .helpers import signup_data

    assert client.post("/subscribe/", signup_data(email="ada@ｂücher.example")).status_code == 302
    assert Subscriber.objects.get().email == "ada@bücher.example"
    # A browser sends the same address in its ASCII form: it is the same subscription.
    assert client.post("/subscribe/", signup_data(email="ada@xn--bcher-kva.example")).status_code == 302
    assert Subscriber.objects.count() == 1
    assert client.post("/subscribe/", signup_data(email="ada@xn--zz.example")).status_code == 400
    assert client.post("/subscribe/", signup_data(email="zoë@example.org")).status_code == 400
