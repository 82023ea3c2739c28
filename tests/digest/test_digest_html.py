"""The digest's HTML assembled from pieces learnt once per process is, byte for byte,
the page the reference way makes (the whole template rendered, then CSS-inlined), for
digests that differ in every way the template decides on."""

from __future__ import annotations

import pytest

from digest import digest_email
from digest.digest_email import Entry, digest_context, digest_message
from digest.emails import render_html
from digest.models import Paper
from subscriptions.models import Subscriber

from .sending_helpers import LISTING_DAY, paper, subscriber, topic

pytestmark = pytest.mark.django_db

NASTY = "<b>Bold</b> & \"quoted\" 'single' café — 量子 non\xa0breaking"


def entry(paper_: Paper, rank: int, *, topic_=None, reasons=("keyword 'x' in title",), featured=False) -> Entry:
    return Entry(
        paper=paper_, rank=rank, score=10.0 - rank,
        topic_slug=topic_.slug if topic_ else None, topic_name=topic_.name if topic_ else None,
        reasons=list(reasons), featured=featured,
    )


@pytest.fixture
def varied_papers() -> list[Paper]:
    return [
        paper("Plain title", "A short abstract."),
        paper(f"A title with {NASTY}", f"An abstract with {NASTY} " * 8, authors=["Zoë Ångström", "<i>Eve</i> & co"],
              arxiv_id="2501.00001", code_url="https://github.com/example/a?x=1&y=\"2\"", upvotes=1),
        paper("No abstract, many authors", "", authors=[f"Author {n}" for n in range(6)],
              pdf_url="https://example.org/p.pdf", project_url="https://example.org/project", upvotes=42),
        paper("Featured $\\alpha$-scaling", "Editors liked it. " * 20, is_featured=True, arxiv_id="2501.00002"),
        paper("Author match", "By someone followed.", authors=["Grace Hopper"]),
    ]


def scenarios(papers: list[Paper]) -> dict[str, tuple[Subscriber, list[Entry], dict]]:
    quant = topic("Quantization", "quantization")
    odd = topic(f"Odd {NASTY[:20]}", "odd")
    plain, nasty, many, featured, by_author = papers
    unsaved = Paper(title="Never saved & <unsaved>", abstract="Seen in an ad-hoc preview.")
    reader = subscriber("reader@example.org", keywords=[NASTY, "x"], authors=["Grace Hopper"], include_featured=True)
    weekly = subscriber("weekly@example.org", frequency=Subscriber.Frequency.WEEKLY, keywords=["x"])
    mixed = [
        entry(featured, 1, reasons=["editor's pick"], featured=True),
        entry(plain, 2, topic_=quant, reasons=["keyword 'x' in title", "author Grace Hopper"]),
        entry(nasty, 3, topic_=quant,
              reasons=[f"keyword '{NASTY}' in title", "'x' → topic Quantization: quantization"]),
        entry(many, 4, topic_=odd, reasons=["close in meaning to 'x'"]),
        entry(by_author, 5, reasons=["author Grace Hopper"]),
        entry(nasty, 6, reasons=[f"keyword '{NASTY}' in abstract", 'like papers you marked "more like this"']),
        entry(unsaved, 7, reasons=[]),
    ]
    return {
        "groups, picks, matches of every kind": (reader, mixed, {}),
        "the same, over the reader's limit, with a web link": (reader, mixed, {"match_count": 40, "view_url": "https://x.example/d/1?a=1&b=2"}),
        "over the limit without a web link": (reader, mixed[:3], {"match_count": 9}),
        "one paper": (reader, mixed[1:2], {"view_url": "https://x.example/d/2"}),
        "weekly": (weekly, mixed[2:5], {}),
        "weekly, over the limit": (weekly, mixed[:4], {"match_count": 12}),
        "a quiet day": (reader, [], {}),
        "a quiet week": (weekly, [], {"view_url": "https://x.example/d/3"}),
        "papers mentioned in passing": (reader, mixed[:2], {"view_url": "https://x.example/d/4", "mentions_in_passing": True}),
        "a quiet day with papers mentioned in passing": (reader, [], {"view_url": "https://x.example/d/5", "mentions_in_passing": True}),
        "a curator's preview (placeholder links)": (reader, mixed[:4], {"signed": False}),
    }


def test_the_assembled_page_is_the_reference_page_for_varied_digests(varied_papers):
    contexts = {
        name: digest_context(reader, LISTING_DAY, entries, **options)
        for name, (reader, entries, options) in scenarios(varied_papers).items()
    }
    # Twice over: first learning pieces from each digest, then from pieces another taught.
    for _ in range(2):
        for name, context in contexts.items():
            assert digest_email._pages.render(context) == render_html("digest", context), name


def test_special_characters_stay_escaped_in_the_assembled_page(varied_papers):
    reader, entries, _ = scenarios(varied_papers)["groups, picks, matches of every kind"]
    html = digest_email._pages.render(digest_context(reader, LISTING_DAY, entries))

    assert "<b>Bold</b>" not in html and "<i>Eve</i>" not in html
    assert "A title with &lt;b&gt;Bold&lt;/b&gt; &amp; \"quoted\" 'single' café — 量子 non breaking" in html
    assert 'href="https://github.com/example/a?x=1&amp;y=&quot;2&quot;"' in html


def test_a_digest_of_known_shapes_is_assembled_without_rendering_the_template(varied_papers):
    reader, entries, _ = scenarios(varied_papers)["groups, picks, matches of every kind"]
    digest_message(reader, LISTING_DAY, entries)
    before = digest_email._pages.skeletons_rendered

    for n in range(5):
        other = subscriber(f"other{n}@example.org", keywords=[NASTY, "x"], authors=["Grace Hopper"],
                           include_featured=True)
        message = digest_message(other, LISTING_DAY, entries)
        assert f"other{n}@example.org" in message.alternatives[0][0]

    assert digest_email._pages.skeletons_rendered == before
