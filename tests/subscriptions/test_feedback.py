""""More like this" / "less like this": the links in every digest, the page they open
(a GET changes nothing), the votes on the manage page and in the data export, and the
next digest they reorder."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from digest.models import Paper
from subscriptions.models import Subscriber, Vote
from subscriptions.tokens import make_feedback_token, make_token

from .helpers import text_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader(make_subscriber, topics) -> Subscriber:
    subscriber = make_subscriber("ada@example.org", confirmed_at=timezone.now(), consent_text="yes")
    subscriber.topics.set([topics["Diffusion models"]])
    return subscriber


@pytest.fixture
def paper() -> Paper:
    return Paper.objects.create(
        title="Denoising diffusion for robot manipulation",
        abstract="A diffusion policy that lets a robot fold laundry. " * 5,
        listed_on=dt.date.today(),
    )


def feedback_path(subscriber: Subscriber, paper: Paper, choice: str = "") -> str:
    path = f"/feedback/{make_feedback_token(subscriber, paper.pk)}/"
    return path + (f"?v={choice}" if choice else "")


def test_opening_a_feedback_link_changes_nothing_and_preselects_the_choice(client, reader, paper):
    response = client.get(feedback_path(reader, paper, "less"))
    assert response.status_code == 200
    assert Vote.objects.count() == 0  # mail scanners open every link
    page = response.content.decode()
    assert 'value="less" checked' in page and 'value="more" checked' not in page
    assert "Denoising diffusion for robot manipulation" in text_of(page)
    assert "Nothing is saved until you press “Save my choice”" in text_of(page)
    assert response.headers["Cache-Control"] == "no-store, private"


def test_a_link_that_names_no_choice_ticks_none_and_saving_nothing_is_refused(client, reader, paper):
    # The text part has one "More or less like this?" link: a tick there would be a
    # choice the reader never made.
    page = client.get(feedback_path(reader, paper)).content.decode()
    assert 'value="more" checked' not in page and 'value="less" checked' not in page
    response = client.post(feedback_path(reader, paper), {})
    assert response.status_code == 400 and Vote.objects.count() == 0
    assert "Choose “more like this” or “less like this”." in text_of(response.content.decode())

    # What the reader said before is what is ticked when they come back.
    client.post(feedback_path(reader, paper), {"choice": "less"})
    page = client.get(feedback_path(reader, paper)).content.decode()
    assert 'value="less" checked' in page and 'value="more" checked' not in page


def test_the_button_records_the_choice_and_undo_takes_it_back(client, reader, paper):
    path = feedback_path(reader, paper)
    response = client.post(path, {"choice": "more"})
    assert response.status_code == 302
    assert Vote.objects.get(subscriber=reader, paper=paper).value == Vote.Value.MORE
    page = text_of(client.get(response.headers["Location"]).content.decode())
    assert "Noted: more like this." in page and "Undo" in page

    client.post(path, {"choice": "less"})  # changing one's mind replaces the vote
    assert Vote.objects.get(subscriber=reader, paper=paper).value == Vote.Value.LESS
    client.post(path, {"choice": "clear"})
    assert not Vote.objects.exists()


def test_with_javascript_the_choice_is_recorded_in_place(client, reader, paper):
    response = client.post(feedback_path(reader, paper), {"choice": "less"}, HTTP_ACCEPT="application/json")
    assert response.json() == {"choice": "less", "noted": "less like this"}
    assert Vote.objects.get().value == Vote.Value.LESS


def test_a_bad_or_foreign_feedback_link_changes_nothing(client, reader, paper, make_subscriber):
    token = make_feedback_token(reader, paper.pk)
    tampered = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    assert client.post(f"/feedback/{tampered}/", {"choice": "more"}).status_code == 400
    # A manage token is not a feedback token.
    assert client.post(f"/feedback/{make_token(reader, 'manage')}/", {"choice": "more"}).status_code == 400
    assert client.post(feedback_path(reader, paper), {"choice": "nonsense"}).status_code == 400
    reader.rotate_token_secret()
    reader.save()
    assert client.post(f"/feedback/{token}/", {"choice": "more"}).status_code == 400
    assert not Vote.objects.exists()


def test_every_paper_of_a_digest_carries_its_feedback_links(reader, listing, mailbox):
    from django.core.management import call_command

    call_command("send_digests", "--inline", "--now", stdout=None)
    mail = mailbox.only("ada@example.org")
    more = [link for link in mail.links() if "/feedback/" in link]
    assert more, mail.text
    assert 'More like this</a>' in mail.html and "?v=less" in mail.html


def test_the_manage_page_lists_votes_and_clears_them(client, reader, paper):
    Vote.objects.create(subscriber=reader, paper=paper, value=Vote.Value.MORE)
    path = f"/manage/{make_token(reader, 'manage')}/"
    assert "More like this: Denoising diffusion for robot manipulation" in text_of(client.get(path).content.decode())
    client.post(path + "feedback/clear/")
    assert not Vote.objects.exists()
    assert "Cleared 1 “more / less like this” choice." in text_of(client.get(path).content.decode())


def test_votes_are_in_the_data_export_and_go_with_the_subscriber(client, reader, paper):
    Vote.objects.create(subscriber=reader, paper=paper, value=Vote.Value.LESS)
    path = f"/manage/{make_token(reader, 'manage')}/"
    exported = json.loads(client.get(path + "my-data.json").content)
    assert exported["more_or_less_like_this"][0]["paper"] == paper.title
    assert exported["more_or_less_like_this"][0]["choice"] == "less"
    client.post(path + "delete/")
    assert not Vote.objects.exists()


def test_the_next_digest_reads_the_readers_votes(reader, paper):
    other = Paper.objects.create(title="Another diffusion paper", abstract="Diffusion. " * 20, listed_on=paper.listed_on)
    Vote.objects.create(subscriber=reader, paper=other, value=Vote.Value.LESS)
    from digest.digests import due_targets

    (target,) = due_targets(timezone.now(), force=True)
    assert target.interest.feedback.disliked_ids == frozenset({other.pk})


def digest_feedback_paths(reader: Subscriber, topics, mailbox) -> list[str]:
    """The feedback links of the digest `reader` was just sent, as paths, one a paper."""
    import io

    from django.core.management import call_command

    reader.topics.set([topics["Diffusion models"], topics["Large language models"]])
    call_command("send_digests", "--inline", "--now", stdout=io.StringIO(), stderr=io.StringIO())
    mail = mailbox.only(reader.email)
    return sorted({urlsplit(link).path for link in mail.links() if "/feedback/" in link})


def test_a_digest_signs_its_feedback_links_once_and_each_names_its_paper(client, reader, topics, listing, mailbox):
    full, bare, _, _ = listing
    paths = digest_feedback_paths(reader, topics, mailbox)

    assert sorted(int(path.split("/")[3]) for path in paths) == sorted([full.pk, bare.pk])
    assert len({path.split("/")[2] for path in paths}) == 1  # one token for the digest
    [bare_path] = [path for path in paths if path.endswith(f"/{bare.pk}/")]
    assert client.get(bare_path + "?v=less").status_code == 200
    assert not Vote.objects.exists()  # a GET (a mail scanner) changes nothing

    response = client.post(bare_path, {"choice": "less"})

    assert response.status_code == 302 and response.headers["Location"] == bare_path + "?noted=1"
    assert Vote.objects.get(subscriber=reader, paper=bare).value == Vote.Value.LESS


def test_a_digests_token_works_only_for_its_reader_and_the_papers_sent_to_them(
    client, reader, topics, listing, mailbox, make_subscriber
):
    from subscriptions.tokens import make_digest_feedback_token

    full, bare, older, hidden = listing
    token = digest_feedback_paths(reader, topics, mailbox)[0].split("/")[2]
    bob = make_subscriber("bob@example.org", confirmed_at=timezone.now(), consent_text="yes")
    tampered = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")

    for path in [
        f"/feedback/{token}/{older.pk}/",  # a paper that was not in the digest
        f"/feedback/{token}/{hidden.pk}/",
        f"/feedback/{token}/987654/",  # no such paper
        f"/feedback/{tampered}/{bare.pk}/",
        f"/feedback/{make_digest_feedback_token(bob)}/{bare.pk}/",  # another reader, never sent it
        f"/feedback/{make_token(reader, 'manage')}/{bare.pk}/",  # another purpose
    ]:
        assert client.post(path, {"choice": "more"}).status_code == 400, path
    # A paper number no database column holds is no page (it overflowed the driver: a 500).
    assert client.get(f"/feedback/{token}/{'9' * 23}/").status_code == 404
    assert client.post(f"/feedback/{token}/{'9' * 23}/", {"choice": "more"}).status_code == 404
    assert client.get(f"/papers/{'9' * 23}/").status_code == 404
    reader.rotate_token_secret()
    reader.save()
    assert client.post(f"/feedback/{token}/{bare.pk}/", {"choice": "more"}).status_code == 400
    assert not Vote.objects.exists()
