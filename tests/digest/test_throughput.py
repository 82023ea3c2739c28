"""What keeps a big send fast and its memory flat, as behaviour a test can see: a paper's
card is worked out once however many readers get it, a send batch asks the database a
fixed number of questions plus a few per digest, a text-only reader's message has no
HTML part, one connection carries a whole batch (inline too), and planning in chunks
plans everyone exactly once."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from digest import digest_email, digests
from digest.models import Digest
from subscriptions.models import Subscriber

from .sending_helpers import NOON_UTC, outbox_messages, sample_catalog, subscriber

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog():
    return sample_catalog()


def readers(catalog, count: int, **fields) -> list[Subscriber]:
    return [subscriber(f"reader{n}@example.org", topics=[catalog.quantization], **fields) for n in range(count)]


def test_a_papers_card_is_worked_out_once_for_many_readers(catalog, outbox):
    readers(catalog, 6)
    ids = digests.plan_digests(NOON_UTC).pending_ids
    papers_sent = set(Digest.objects.filter(pk__in=ids).values_list("items__paper", flat=True))
    digest_email._paper_cards.clear()
    before = digest_email.paper_cards_built

    result = digests.send_batch(ids)

    assert result.outcomes[digests.SendOutcome.SENT] == 6
    assert len(papers_sent) >= 1
    assert digest_email.paper_cards_built - before == len(papers_sent)


def test_an_edited_paper_gets_a_new_card(catalog, outbox):
    readers(catalog, 1)
    [first] = digests.plan_digests(NOON_UTC).pending_ids
    digests.send_batch([first])
    catalog.quant_paper.title = "Quantization of large language models, revised"
    catalog.quant_paper.save()

    card = digest_email.paper_card(catalog.quant_paper)

    assert card.title == "Quantization of large language models, revised"


def test_a_send_batch_asks_a_fixed_number_of_queries_plus_two_per_digest(catalog, outbox):
    readers(catalog, 8)
    ids = sorted(digests.plan_digests(NOON_UTC).pending_ids)
    with CaptureQueriesContext(connection) as small:
        digests.send_batch(ids[:2])
    with CaptureQueriesContext(connection) as large:
        digests.send_batch(ids[2:])

    # Claim (which returns the row's counters) and record the outcome: the rest is
    # loaded once a batch.
    assert len(large) - len(small) == 2 * (6 - 2)
    assert Digest.objects.filter(status=Digest.Status.SENT).count() == 8
    # The items are read by digest id alone: the model's default ordering (by the
    # digest's period) would join and sort the whole ledger, ~100 ms a batch at 100k.
    item_reads = [q["sql"] for q in large if 'FROM "digest_digestitem"' in q["sql"]]
    assert item_reads and not any("JOIN" in sql or "ORDER BY" in sql for sql in item_reads)


def test_a_text_only_reader_gets_no_html_part(catalog, smtp_server):
    readers(catalog, 1, email_format=Subscriber.Format.TEXT)
    ids = digests.plan_digests(NOON_UTC).pending_ids

    digests.send_batch(ids)

    [message] = smtp_server.messages
    assert [part.get_content_type() for part in message.walk()] == ["text/plain"]
    assert "Quantization" in message.get_content()


def test_inline_sending_uses_one_connection_for_all_the_digests(catalog, smtp_server):
    readers(catalog, 5)

    call_command("send_digests", "--inline", "--now", stdout=io.StringIO(), stderr=io.StringIO())

    assert len(smtp_server.messages) == 5
    assert len(set(smtp_server.peers)) == 1


def test_planning_in_chunks_plans_everyone_once_and_hands_out_each_chunk(catalog, monkeypatch):
    everyone = readers(catalog, 5)
    monkeypatch.setattr(digests, "PLAN_CHUNK", 2)
    handed_out: list[list[int]] = []

    result = digests.plan_digests(NOON_UTC, on_planned=handed_out.append)

    assert [len(chunk) for chunk in handed_out] == [2, 2, 1]
    assert result.due == result.planned == 5
    assert result.pending_ids == []
    planned = Digest.objects.filter(pk__in=[pk for chunk in handed_out for pk in chunk])
    assert sorted(planned.values_list("subscriber__email", flat=True)) == sorted(r.email for r in everyone)
    assert digests.plan_digests(NOON_UTC).due == 0  # one digest per period, chunks or not


def test_id_ranges_name_exactly_the_given_digests(catalog):
    readers(catalog, 6)
    ids = sorted(digests.plan_digests(NOON_UTC).pending_ids)
    chosen = ids[:2] + ids[3:5]

    assert sorted(Digest.objects.filter(digests.id_ranges(chosen)).values_list("pk", flat=True)) == chosen
    assert not Digest.objects.filter(digests.id_ranges([])).exists()


def test_a_sent_digest_names_the_readers_topics_in_the_order_its_web_copy_does(catalog, outbox):
    # Followed Quantization first, then Medical Imaging: both copies list them by name.
    reader = subscriber("two@example.org", topics=[catalog.quantization, catalog.medical])
    ids = digests.plan_digests(NOON_UTC).pending_ids

    digests.send_batch(ids)

    [message] = outbox_messages(outbox)
    text = " ".join(message.get_body(("plain",)).get_content().split())
    assert "You follow Medical Imaging, Quantization." in text
    web_copy = " ".join(digest_email.render_saved_digest_html(Digest.objects.get(subscriber=reader)).split())
    assert "You follow Medical Imaging, Quantization." in web_copy
