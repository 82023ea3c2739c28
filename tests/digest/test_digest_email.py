"""The digest email: what a reader sees (both parts), the subject, and the headers."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.core.mail import BadHeaderError

from digest.digest_email import Entry, digest_message, short_authors, snippet
from digest.models import Paper
from subscriptions.models import Subscriber

from .sending_helpers import LISTING_DAY, paper, parse_eml, subscriber, topic

pytestmark = pytest.mark.django_db


def entry(paper_: Paper, rank: int = 1, *, topic_=None, reasons=("keyword 'x' in title",), featured=False) -> Entry:
    return Entry(
        paper=paper_, rank=rank, score=10.0 - rank,
        topic_slug=topic_.slug if topic_ else None, topic_name=topic_.name if topic_ else None,
        reasons=list(reasons), featured=featured,
    )


def render(reader: Subscriber, entries: list[Entry], *, view_url: str | None = None):
    message = digest_message(reader, LISTING_DAY, entries, view_url=view_url)
    html = next((body for body, kind in message.alternatives if kind == "text/html"), None)
    return message, message.body, html


@pytest.fixture
def reader() -> Subscriber:
    return subscriber("reader@example.org", keywords=["test-time compute"], authors=["Zoë Ångström"])


@pytest.fixture
def quantization():
    return topic("Quantization", "quantization")


def visible_text(html: str) -> str:
    """The text a reader sees: tags removed, the <style>, <title> and hidden preheader too."""
    html = re.sub(r"<(style|title)[^>]*>.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r'<span class="preheader".*?</span>', " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_a_script_tag_in_the_catalog_shows_as_text_and_never_as_markup(reader, quantization):
    evil = paper(
        "<script>alert('title')</script> Quantization",
        "Abstract <script>alert('abstract')</script> & more",
        authors=["<script>alert('author')</script>", "Bob <b>Bold</b>"],
    )
    _, text, html = render(reader, [entry(evil, topic_=quantization)])

    assert "<script" not in html
    assert "<b>Bold</b>" not in html
    # (The inliner re-serialises the document: a quote may come back as ' or &#39;.)
    html = html.replace("&#39;", "'")
    assert "&lt;script&gt;alert('title')&lt;/script&gt; Quantization" in html
    assert "Abstract &lt;script&gt;alert('abstract')&lt;/script&gt; &amp; more" in html
    assert "&lt;script&gt;alert('author')&lt;/script&gt;, Bob &lt;b&gt;Bold&lt;/b&gt;" in html
    # The plain-text part is not HTML: it shows the characters as they are.
    assert "<script>alert('title')</script> Quantization" in text


def test_long_and_unicode_content_is_kept_and_the_abstract_is_cut_at_a_word(reader, quantization):
    abstract = ("Quantisierung für Modelle — ünïcödé 量子化 🚀 " * 30).strip()
    title = "Ångström-scale quantization: " + "very long title words " * 20
    long_paper = paper(title, abstract, authors=["Zoë Ångström", "Jürgen Müller", "李雷"])
    _, text, html = render(reader, [entry(long_paper, topic_=quantization)])

    shown = snippet(abstract)
    assert len(shown) <= 301 and shown.endswith("…")
    assert abstract.startswith(shown[:-1])
    assert abstract[len(shown) - 1] == " "  # cut between two words
    assert shown in html and shown.split("…")[0] in text.replace("\n  ", " ")
    assert "Zoë Ångström, Jürgen Müller, 李雷" in html
    assert " ".join(title.split()) in html


def test_a_paper_without_links_authors_or_upvotes_reads_well(reader, quantization):
    bare = paper("Quantization without metadata", "Only a title and an abstract are known.")
    _, text, html = render(reader, [entry(bare, topic_=quantization)])
    seen = visible_text(html)

    assert 'href=""' not in html
    assert "et al" not in seen and "upvote" not in seen and "PDF" not in seen
    # The title still leads somewhere: a title search on arXiv, labelled as such.
    assert "Find on arXiv" in seen
    assert "https://arxiv.org/search/?query=Quantization+without+metadata&amp;searchtype=title" in html
    assert "Find on arXiv: https://arxiv.org/search/?query=Quantization+without+metadata&searchtype=title" in text
    assert "None" not in seen and "None" not in text


def test_known_links_and_upvotes_are_shown_with_more_than_three_authors_shortened(reader, quantization):
    rich = paper(
        "Quantization with everything known", "Abstract.", arxiv_id="2410.23168", upvotes=42,
        code_url="https://github.com/example/quant", authors=["A One", "B Two", "C Three", "D Four"],
    )
    single = paper("Quantization with one upvote", "Abstract.", upvotes=1, authors=["Solo Author"])
    _, text, html = render(reader, [entry(rich, topic_=quantization), entry(single, 2, topic_=quantization)])
    seen = visible_text(html)

    assert "A One, B Two, C Three et al." in seen and "D Four" not in seen
    assert 'href="https://huggingface.co/papers/2410.23168"' in html
    assert 'href="https://arxiv.org/pdf/2410.23168"' in html
    assert 'href="https://github.com/example/quant"' in html
    assert "▲ 42 upvotes" in seen and "▲ 1 upvote " in seen + " "
    assert "Code: https://github.com/example/quant" in text and "▲ 42 upvotes" in text
    assert short_authors(["A", "B", "C"]) == "A, B, C"


def test_papers_are_grouped_under_their_topic_with_editors_picks_first(reader, quantization):
    medical = topic("Medical Imaging", "MRI")
    pick = paper("An editor's pick about robots", "Robots.", is_featured=True)
    quant_a, quant_b = paper("Quantization A", "a"), paper("Quantization B", "b")
    mri = paper("MRI reconstruction", "mri")
    entries = [
        entry(quant_a, 1, topic_=quantization),
        entry(mri, 2, topic_=medical),
        entry(pick, 3, reasons=["editor's pick"], featured=True),
        entry(quant_b, 4, topic_=quantization),
    ]
    _, text, html = render(reader, entries)
    seen = visible_text(html)

    order = [seen.index(s) for s in ("Editor's picks", "An editor's pick", "Quantization A", "Quantization B", "MRI reconstruction")]
    assert order == sorted(order), seen
    assert seen.count("Quantization A") == 1
    headings = re.findall(r"^([A-Z][A-Z' ]+) \(\d+\)$", text, flags=re.M)
    assert headings == ["EDITOR'S PICKS", "QUANTIZATION", "MEDICAL IMAGING"]


def test_keyword_and_author_matches_get_sections_and_empty_sections_are_not_rendered(reader, quantization):
    by_keyword = paper("Scaling test-time compute", "Search at inference.")
    by_author = paper("A paper by a followed author", "Something.", authors=["Zoë Ångström"])
    _, text, html = render(reader, [
        entry(by_keyword, 1, reasons=["keyword 'test-time compute' in title"]),
        entry(by_author, 2, reasons=["author Zoë Ångström"]),
    ])
    assert "Your keywords" in html and "Authors you follow" in html
    assert "Editor" not in html and "Quantization" not in visible_text(html)

    _, text, html = render(reader, [entry(by_keyword, 1, reasons=["keyword 'test-time compute' in abstract"])])
    assert "Your keywords" in html
    assert "Authors you follow" not in html and "AUTHORS YOU FOLLOW" not in text


@pytest.mark.parametrize(
    ("topic_names", "expected"),
    [
        (["Quantization"], "1 new paper: quantization · Nov 27"),
        (["Quantization", "Quantization"], "2 new papers: quantization · Nov 27"),
        (["Quantization", "Mixture of Experts"], "2 new papers: quantization and mixture of experts · Nov 27"),
        (["3D Vision", "LLM Reasoning", "Quantization"], "3 new papers: 3D vision, LLM reasoning and quantization · Nov 27"),
        (
            ["Quantization", "Mixture of Experts", "Quantization", "Diffusion Models", "Speech and Audio",
             "Diffusion Models", "Quantization"],
            "7 new papers: quantization, mixture of experts and 2 more · Nov 27",
        ),
    ],
)
def test_the_subject_counts_the_papers_and_names_the_topics_in_paper_order(reader, topic_names, expected):
    entries = [
        entry(paper(f"Paper {i}", "x"), i, topic_=topic(name, name.lower()))
        for i, name in enumerate(topic_names, start=1)
    ]
    message, _, _ = render(reader, entries)
    assert message.subject == expected


def test_the_subject_names_a_matched_keyword_and_a_quiet_day_says_so(reader):
    message, _, _ = render(reader, [entry(paper("Scaling test-time compute", "x"), reasons=["keyword 'test-time compute' in title"])])
    assert message.subject == "1 new paper: test-time compute · Nov 27"

    quiet, text, html = render(reader, [])
    assert quiet.subject == "No new papers matched today · Nov 27"
    assert "A quiet day" in html and "A quiet day" in text

    reader.frequency = Subscriber.Frequency.WEEKLY
    assert render(reader, [])[0].subject == "No new papers matched this week · Nov 27"


def test_headers_are_the_ones_mail_providers_expect(reader, quantization, settings):
    settings.SITE_URL = "https://papers.example.net"
    settings.DEFAULT_FROM_EMAIL = "digest@papers.example.net"
    settings.EMAIL_FROM_NAME = "Daily Papers, by Example"
    message, _, _ = render(reader, [entry(paper("Quantization", "x"), topic_=quantization)])
    parsed = parse_eml(message.message().as_bytes())

    assert re.fullmatch(r"<[^@<>\s]+@papers\.example\.net>", parsed["Message-ID"])
    assert parsed["List-Id"] == "Daily Papers, by Example <digest.papers.example.net>"
    # (A long header may be folded onto a second line; unfolded, it is the one URL.)
    assert re.fullmatch(r"<https://papers\.example\.net/unsubscribe/[^/]+/one-click/>", parsed["List-Unsubscribe"].strip())
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["From"].addresses[0].display_name == "Daily Papers, by Example"
    assert parsed["From"].addresses[0].addr_spec == "digest@papers.example.net"
    assert parsed["To"] == "reader@example.org"


def test_a_newline_in_a_subscriber_controlled_value_cannot_add_a_header(reader):
    reader.keywords = ["sneaky\nBcc: victim@example.com"]
    message, _, _ = render(reader, [entry(paper("A sneaky paper", "x"), reasons=["keyword 'sneaky\nBcc: victim@example.com'"])])
    parsed = parse_eml(message.message().as_bytes())
    assert parsed["Bcc"] is None
    assert "\n" not in message.subject and "victim@example.com" in parsed["Subject"]

    reader.email = "reader@example.org\nBcc: victim@example.com"
    with pytest.raises(BadHeaderError):
        render(reader, [])[0].message()


def test_plain_text_readers_get_a_message_without_an_html_part(quantization):
    reader = subscriber("plain@example.org", email_format=Subscriber.Format.TEXT)
    message, text, html = render(reader, [entry(paper("Quantization for text readers", "x"), topic_=quantization)])
    parsed = parse_eml(message.message().as_bytes())

    assert html is None
    assert parsed.get_content_type() == "text/plain"
    assert "Quantization for text readers" in parsed.get_content()


class _Checker(HTMLParser):
    VOID = {"meta", "br", "link", "img", "hr", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        else:
            self.stack.pop()


def test_the_html_is_a_complete_document_for_phones_dark_mode_and_images_off(reader, quantization):
    _, _, html = render(reader, [entry(paper("Quantization", "x", upvotes=3), topic_=quantization)], view_url="https://x/v/")
    checker = _Checker()
    checker.feed(html)
    tags = dict(checker.tags)

    assert html.lower().startswith("<!doctype html>")
    assert checker.problems == [] and checker.stack == []
    assert tags["html"]["lang"] == "en"
    assert any(t == "meta" and a.get("charset") == "utf-8" for t, a in checker.tags)
    assert re.search(r"<title>1 new paper: quantization · Nov 27</title>", html)
    assert any(t == "meta" and a.get("name") == "viewport" for t, a in checker.tags)
    # Styles are inlined; the media queries stay in a <style> block.
    assert "@media (prefers-color-scheme: dark)" in html and "@media (max-width: 620px)" in html
    assert "max-width: 600px" in html
    assert 'style="' in html
    # No images, so nothing is missing with images off, and nothing can track an open.
    assert "<img" not in html and "url(" not in html


def test_the_preheader_and_footer_tell_what_is_inside_and_why_it_came(reader, quantization):
    first = paper("First quantization paper", "x")
    second = paper("Second quantization paper", "x")
    third = paper("Third quantization paper", "x")
    _, text, html = render(
        reader,
        [entry(first, 1, topic_=quantization), entry(second, 2, topic_=quantization), entry(third, 3, topic_=quantization)],
        view_url="https://example.org/digests/abc/",
    )
    # The hidden text, then invisible filler so the body's first words stay out of the preview.
    preheader = re.search(r'<span class="preheader"[^>]*>(.*?)(&#847;|\u034f)', html, flags=re.S).group(1)
    assert preheader == "First quantization paper · Second quantization paper and 1 more"
    assert re.search(r'href="http[^"]+/manage/[^/"]+/"', html)
    assert re.search(r'href="http[^"]+/unsubscribe/[^/"]+/"', html)
    reason = "You get this daily digest because you subscribed to"
    assert reason in html and reason in text.replace("\n", " ")
    assert "reader@example.org" in html
    assert 'href="https://example.org/digests/abc/"' in html and "View in your browser: https://example.org/digests/abc/" in text
    assert "Manage topics and schedule: http" in text and "Unsubscribe: http" in text


def test_the_matched_line_is_short_and_leaves_out_what_the_heading_says(reader, quantization):
    both = paper("Quantized MRI reconstruction", "x")
    _, text, html = render(reader, [entry(both, topic_=quantization, reasons=[
        "topic Quantization: 'quantized' in title",
        "topic Medical Imaging: 'MRI' in title",
        "keyword 'test-time compute' in abstract",
        "author Zoë Ångström",
    ])])

    line = "'quantized' in title · also Medical Imaging · keyword 'test-time compute' in abstract"
    assert f"Matched:</span> {line}</p>" in html.replace("&#39;", "'")
    assert "Matched: " + line in text.replace("\n    ", " ")
    assert "Zoë Ångström</p>" not in html  # at most three reasons


def test_a_subject_keeps_a_topic_named_with_and_apart_from_the_next_one():
    from digest.digest_email import summarise_labels

    assert summarise_labels(["speech and audio", "quantization"]) == "speech & audio and quantization"
    assert summarise_labels(["speech and audio"]) == "speech and audio"


def test_latex_in_titles_and_abstracts_reads_as_plain_unicode_in_both_parts(reader, quantization):
    tex = paper("PixArt-\\Sigma: 4K Text-to-Image", "H$_2$O keeps 6.25~\\% of the KV cache.")
    _, text, html = render(reader, [entry(tex, topic_=quantization)])

    for part in (text, visible_text(html)):
        assert "PixArt-Σ: 4K Text-to-Image" in part
        assert "H2O keeps 6.25 % of the KV cache." in part
        assert "\\Sigma" not in part
