"""The digest email: what a reader sees (both parts), the subject, and the headers."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.core.mail import BadHeaderError

from digest.digest_email import Entry, digest_message, section_tag, short_authors, snippet
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
    # Without an arXiv id the title leads to the paper's own page here (full abstract,
    # topics), in both parts: a short, stable URL that does not wrap in the text part.
    page = f"{settings.SITE_URL}/papers/{bare.pk}/"
    assert re.search(rf'<a href="{re.escape(page)}"[^>]*>Quantization without metadata</a>', html)
    assert f"\n  {page}\n" in text
    assert "arxiv.org/search" not in html and "arxiv.org/search" not in text
    assert "None" not in seen and "None" not in text


def test_known_links_and_upvotes_are_shown_with_more_than_three_authors_shortened(reader, quantization):
    rich = paper(
        "Quantization with everything known", "Abstract.", arxiv_id="2410.23168", upvotes=42,
        code_url="https://github.com/example/quant", project_url="https://quant.example.org/",
        authors=["A One", "B Two", "C Three", "D Four"],
    )
    single = paper("Quantization with one upvote", "Abstract.", upvotes=1, authors=["Solo Author"])
    _, text, html = render(reader, [entry(rich, topic_=quantization), entry(single, 2, topic_=quantization)])
    seen = visible_text(html)

    assert "A One, B Two, C Three et al." in seen and "D Four" not in seen
    # The title leads to the arXiv abstract page, with PDF, code and project beside it.
    assert re.search(r'<a[^>]+href="https://arxiv.org/abs/2410.23168"[^>]*>Quantization with everything known</a>', html)
    assert re.search(r'<a[^>]+href="https://arxiv.org/pdf/2410.23168"[^>]*>PDF</a>', html)
    assert re.search(r'<a[^>]+href="https://github.com/example/quant"[^>]*>Code</a>', html)
    assert re.search(r'<a[^>]+href="https://quant.example.org/"[^>]*>Project</a>', html)
    assert "▲ 42 upvotes" in seen and "▲ 1 upvote " in seen + " "
    assert "\n  https://arxiv.org/abs/2410.23168\n" in text
    assert "Code: https://github.com/example/quant" in text and "▲ 42 upvotes" in text
    # Every paper URL of the text part fits on a line (the reader's own signed links are ours).
    paper_urls = [u for u in re.findall(r"https?://\S+", text) if "localhost" not in u]
    assert paper_urls and max(len(u) for u in paper_urls) < 72
    assert short_authors(["A", "B", "C"]) == "A, B, C"


def test_papers_come_in_one_section_per_interest_ordered_by_its_best_paper(reader, quantization):
    medical = topic("Medical Imaging", "MRI")
    pick = paper("An editor's pick about robots", "Robots.", is_featured=True)
    quant_a, quant_b, quant_c = paper("Quantization A", "a"), paper("Quantization B", "b"), paper("Quantization C", "c")
    mine = paper("Scaling test-time compute", "Search at inference.")
    mri = paper("MRI reconstruction", "mri")
    entries = [
        entry(pick, 1, reasons=["editor's pick"], featured=True),
        entry(quant_a, 2, topic_=quantization),
        entry(mine, 3, reasons=["keyword 'test-time compute' in title"]),
        entry(quant_b, 4, topic_=quantization),
        entry(quant_c, 5, topic_=quantization),
        entry(mri, 6, topic_=medical),
    ]
    _, text, html = render(reader, entries)
    # Each interest once, in rank order within it; sections in the order of their best
    # paper (interests taking turns in rank order put a heading above nearly every paper).
    in_sections = [pick, quant_a, quant_b, quant_c, mine, mri]
    titles = [p.title for p in in_sections]
    tags = ["Editor's pick", "Quantization", "Quantization", "Quantization", "test-time compute", "Medical Imaging"]

    # At a glance: the cards' table of contents, each title once with the tag that brought it.
    glance = re.search(r'<ol class="glance".*?</ol>', html, flags=re.S).group(0)
    items = [visible_text(li) for li in re.findall(r"<li.*?</li>", glance, flags=re.S)]
    assert items == [f"{n}. {tag} {title}" for n, (tag, title) in enumerate(zip(tags, titles, strict=True), 1)]
    cards = re.findall(r'class="paper-title"[^>]*><a[^>]*>([^<]+)</a>', html)
    assert cards == titles
    headings = [visible_text(h) for h in re.findall(r'<h2 class="group-title.*?</h2>', html, flags=re.S)]
    assert headings == ["Editor's picks", "Quantization", "test-time compute", "Medical Imaging"]
    # The text part's headings: as typed (capitals would make "LLMs" "LLMS"), with the
    # section's count, each underlined to its length.
    lines = text.splitlines()
    headings = [line for line, under in zip(lines, lines[1:]) if under and set(under) == {"="}]
    assert headings == ["Editor's picks (1)", "Quantization (3)", "test-time compute (1)", "Medical Imaging (1)"]
    assert all(len(under) == len(line) for line, under in zip(lines, lines[1:]) if line in headings)
    # The text part: the same list and the same order.
    assert [line.split(". ", 1)[1] for line in re.findall(r"^ ?\d\. .*$", text, flags=re.M)] == [
        f"{title} [{tag}]" for title, tag in zip(titles, tags, strict=True)
    ]
    assert [line[2:] for line in re.findall(r"^\* .*$", text, flags=re.M)] == titles


def test_keyword_and_author_matches_are_tagged_with_the_readers_own_words(reader, quantization):
    by_keyword = paper("Scaling test-time compute", "Search at inference.")
    by_author = paper("A paper by a followed author", "Something.", authors=["Zoë Ångström"])
    _, text, html = render(reader, [
        entry(by_keyword, 1, reasons=["keyword 'test-time compute' in title"]),
        entry(by_author, 2, reasons=["author Zoë Ångström"]),
    ])
    tags = re.findall(r'<span class="tag"[^>]*>([^<]+)</span>', html)
    assert tags == ["test-time compute", "Zoë Ångström"]
    assert "Editor" not in html and "Quantization" not in visible_text(html)
    # The heading already says why: no why-line repeats it.
    assert 'class="matched"' not in html and "Why:" not in text


@pytest.mark.parametrize(
    ("topic_names", "expected"),
    [
        (["Quantization"], "Paper 1 · Quantization"),
        (["Quantization", "Quantization"], "Paper 1 and 1 more · Quantization"),
        (["Quantization", "Mixture of Experts"], "Paper 1 and 1 more · Quantization, Mixture of Experts"),
        (["LLM Reasoning", "Quantization", "3D Vision"], "Paper 1 and 2 more · LLM Reasoning, Quantization"),
        (
            ["Quantization", "Quantization", "Diffusion Models", "Speech and Audio"],
            "Paper 1 and 3 more · Quantization, Diffusion Models",
        ),
    ],
)
def test_the_subject_names_the_top_paper_the_count_and_the_first_topics(reader, topic_names, expected):
    entries = [
        entry(paper(f"Paper {i}", "x"), i, topic_=topic(name, name.lower()))
        for i, name in enumerate(topic_names, start=1)
    ]
    message, _, _ = render(reader, entries)
    assert message.subject == expected


def test_a_long_top_title_is_cut_at_a_word_and_a_quiet_day_says_so(reader, quantization):
    long_title = "Scaling test-time compute optimally can be more effective than scaling model parameters"
    entries = [entry(paper(long_title, "x"), 1, reasons=["keyword 'test-time compute' in title"])]
    entries += [entry(paper(f"Paper {i}", "x"), i, topic_=quantization) for i in range(2, 11)]
    message, _, _ = render(reader, entries)
    assert message.subject == "Scaling test-time compute optimally can be more… and 9 more · test-time compute, Quantization"

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
    assert re.search(r"<title>Quantization · Quantization</title>", html)
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
    # (The subject names the first paper already.)
    assert preheader == "Also: Second quantization paper · Third quantization paper"
    assert re.search(r'href="http[^"]+/manage/[^/"]+/"', html)
    assert re.search(r'href="http[^"]+/unsubscribe/[^/"]+/"', html)
    reason = "You get this daily digest because you subscribed to"
    assert reason in html and reason in text.replace("\n", " ")
    assert "reader@example.org" in html
    assert 'href="https://example.org/digests/abc/"' in html and "View in your browser: https://example.org/digests/abc/" in text
    assert "Manage topics and schedule: http" in text and "Unsubscribe: http" in text


def test_the_why_line_says_what_the_paper_wrote_when_it_is_not_the_keyword_as_typed(reader):
    loose = paper("Agents that plan with world models", "x")
    long_form = paper("Scaling large language models", "x")
    exact = paper("LLM agents in the wild", "x")
    _, text, html = render(reader, [
        entry(loose, 1, reasons=["keyword 'LLM agents': 'agents' in abstract"]),
        entry(exact, 2, reasons=["keyword 'LLM agents' in title"]),
        entry(long_form, 3, reasons=["keyword 'LLM': 'large language models' in title"]),
    ])
    lines = [visible_text(p) for p in re.findall(r'<p class="matched".*?</p>', html, flags=re.S)]
    # Under the heading "LLM agents" the loose reading says so; the exact one needs nothing.
    assert lines == ["Matched on agents", "Matched on large language models"]
    assert "Why: Matched on “agents”" in text


def test_a_keyword_mentioned_only_in_passing_is_not_said_to_have_matched(reader, quantization):
    # A Quantization paper that writes "agents" once: "Your keyword LLM agents · Matched
    # on agents" would credit the keyword with a match the matcher did not make.
    mention = paper("Post-training quantization for agents on phones", "x")
    _, text, html = render(reader, [
        entry(mention, 1, topic_=quantization, reasons=[
            "topic Quantization: 'post-training quantization' in title",
            "keyword 'LLM agents': 'agents' in abstract (in passing)",
        ]),
    ])
    lines = [visible_text(p) for p in re.findall(r'<p class="matched".*?</p>', html, flags=re.S)]
    # What it mentions is the word it wrote, not the reader's phrase.
    assert lines == ["Also mentions agents"]
    assert "Matched on" not in html and "Why: Also mentions “agents”" in text
    exact = paper("Quantization of LLM agents' memory", "x")
    _, _, html = render(reader, [
        entry(exact, 1, topic_=quantization, reasons=[
            "topic Quantization: 'quantization' in title", "keyword 'LLM agents' in abstract (in passing)",
        ]),
    ])
    lines = [visible_text(p) for p in re.findall(r'<p class="matched".*?</p>', html, flags=re.S)]
    assert lines == ["Also mentions your keyword LLM agents"]


def test_a_paper_in_the_list_for_a_liked_paper_is_not_filed_under_a_keyword_it_only_mentions(reader):
    liked = paper("A paper like one you liked", "x")
    _, text, html = render(reader, [
        entry(liked, 1, reasons=['like papers you marked "more like this"', "keyword 'LoRA' in abstract (in passing)"]),
    ])
    assert section_tag(None, ['like papers you marked "more like this"', "keyword 'LoRA' in abstract (in passing)"]) == (
        "Like papers you liked"
    )
    assert "[Like papers you liked]" in text


def test_the_why_line_names_only_what_the_reader_asked_for_and_the_heading_does_not_say(reader, quantization):
    both = paper("Quantized MRI reconstruction", "x")
    topic_only = paper("Quantization, nothing else", "x")
    liked = paper("Like a paper you liked", "x")
    _, text, html = render(reader, [
        entry(both, 1, topic_=quantization, reasons=[
            "topic Quantization: 'quantized' in title",
            "topic Large language models: 'LLM' in abstract",
            "keyword 'test-time compute' in abstract",
            "author Zoë Ångström",
        ]),
        entry(topic_only, 2, topic_=quantization, reasons=[
            "topic Quantization: 'quantization' in title", "topic Large language models: 'LLM' in title",
        ]),
        entry(liked, 3, topic_=quantization, reasons=[
            'like papers you marked "more like this"', "topic Quantization: 'INT4' in title",
        ]),
    ])
    lines = [visible_text(p) for p in re.findall(r'<p class="matched".*?</p>', html, flags=re.S)]

    assert lines == [
        "Your keyword test-time compute · Author you follow: Zoë Ångström",
        "Raised: like papers you marked “more like this”",
    ]
    assert re.search(r"Your keyword <strong[^>]*>test-time compute</strong>", html)
    assert re.search(r"Author you follow: <strong[^>]*>Zoë Ångström</strong>", html)
    # Nothing repeats the heading, and no "also <topic>" on every paper.
    assert "also" not in visible_text(html).lower() and "in title" not in visible_text(html)
    assert "Why: Your keyword “test-time compute” · Author you follow: “Zoë Ångström”" in text.replace("\n    ", " ")
    assert text.count("Why:") == 2


def test_a_keyword_match_through_its_topic_or_its_meaning_says_so(reader):
    # Tagged with the reader's keyword, but the paper need not write it: the why-line says
    # how it came (a paper that does not say "MRI" must not read as if it did).
    through = paper("Toolformer: language models teach themselves to use tools", "x")
    close = paper("Chest X-ray report generation", "x")
    _, text, html = render(reader, [
        entry(through, 1, reasons=["'LLM agents' → topic Agents and tool use: 'tool use' in title"]),
        entry(close, 2, reasons=["close in meaning to 'MRI'"]),
    ])
    lines = [visible_text(p) for p in re.findall(r'<p class="matched".*?</p>', html, flags=re.S)]
    assert lines == [
        "Topic Agents and tool use, from your keyword LLM agents",
        "Close in meaning to your keyword MRI",
    ]
    assert "Why: Close in meaning to your keyword “MRI”" in text


def test_the_header_says_how_many_matched_when_the_cap_left_some_out(reader, quantization):
    reader.max_papers = 8
    entries = [entry(paper(f"Paper {i}", "x"), i, topic_=quantization) for i in range(1, 9)]
    message = digest_message(reader, LISTING_DAY, entries, match_count=42)
    html = next(body for body, kind in message.alternatives if kind == "text/html")

    assert "Top 8 of 42 matches" in visible_text(html) and "Top 8 of 42 matches" in message.body
    assert "You asked for at most 8 a day" in visible_text(html)
    # Without a cap in the way it is just the count.
    _, text, html = render(reader, entries)
    assert "8 new papers for you" in visible_text(html) and "of 8" not in visible_text(html)


def test_latex_in_titles_and_abstracts_reads_as_plain_unicode_in_both_parts(reader, quantization):
    tex = paper("PixArt-\\Sigma: 4K Text-to-Image", "H$_2$O keeps 6.25~\\% of the KV cache.")
    _, text, html = render(reader, [entry(tex, topic_=quantization)])

    for part in (text, visible_text(html)):
        assert "PixArt-Σ: 4K Text-to-Image" in part
        assert "H2O keeps 6.25 % of the KV cache." in part
        assert "\\Sigma" not in part


def test_the_footer_names_what_the_reader_follows_in_singular_or_plural():
    from digest.digest_email import footer_reason

    one = Subscriber(email="one@example.org", keywords=["MRI"], authors=["Ada Lovelace"])
    assert "You follow keyword “MRI”; author Ada Lovelace." in footer_reason(one, None)
    two = Subscriber(email="two@example.org", keywords=["MRI", "CT"], authors=["Ada Lovelace", "Alan Turing"])
    assert "You follow keywords “MRI”, “CT”; authors Ada Lovelace, Alan Turing." in footer_reason(two, None)


def test_a_tag_in_the_text_parts_at_a_glance_list_is_never_split_across_lines():
    from digest.digest_email import glance_line

    line = glance_line("PUMA: Secure Inference of LLaMA-7B in Five Minutes", "privacy and security")
    assert line.splitlines() == ["PUMA: Secure Inference of LLaMA-7B in Five Minutes", "    [privacy and security]"]
    assert "\xa0" not in line
