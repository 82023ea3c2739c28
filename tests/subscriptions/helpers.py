"""Plain helpers shared by the subscription tests."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser


def signup_data(**overrides) -> dict:
    """A valid signup form submission; keyword arguments replace or add fields."""
    data = {
        "email": "ada@example.org",
        "keywords": "LoRA; protein folding",
        "authors": "",
        "excluded_keywords": "",
        "include_featured": "on",
        "frequency": "daily",
        "weekday": "0",
        "delivery_time": "07:30",
        "timezone": "Europe/Berlin",
        "max_papers": "10",
        "email_format": "html",
        "website": "",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


class _TextExtractor(HTMLParser):
    """The text a person reads on a page: no tags, scripts or styles, spaces tidied."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "title"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style", "title") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def text_of(response_or_html) -> str:
    html = response_or_html if isinstance(response_or_html, str) else response_or_html.content.decode()
    parser = _TextExtractor()
    parser.feed(html)
    return " ".join("".join(parser.parts).split())


def field_error(response, name: str) -> str:
    """The error shown next to the field `name` (empty when there is none)."""
    html = response.content.decode()
    match = re.search(rf'<p class="field-error" id="id_{name}-error">(.*?)</p>', html, re.S)
    return text_of(match.group(1)).removeprefix("Error: ") if match else ""


def input_value(response, name: str) -> str | None:
    """The value a text input `name` shows, unescaped; None if there is no such input."""
    html = response.content.decode()
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
    if not tag:
        return None
    value = re.search(r'value="([^"]*)"', tag.group(0))
    return unescape(value.group(1)) if value else ""


def checked_values(response, name: str) -> list[str]:
    """Values of the checked checkboxes or radio buttons called `name`."""
    html = response.content.decode()
    values = []
    for tag in re.findall(rf'<input[^>]*name="{name}"[^>]*>', html, re.S):
        if re.search(r"\schecked\b", tag):
            values.append(unescape(re.search(r'value="([^"]*)"', tag).group(1)))
    return values


TOOL_PAPER = "Tool-augmented language models plan before they call tools"


def embedded_agents_listing(day) -> list:
    """Two papers listed on `day`, embedded by the real model, with the topics embedded
    too: the tool-use paper, which "LLM agents" finds only through the topic the keyword
    names (it never writes "agents"), and one the topic does not take."""
    from digest.models import Paper
    from digest.vectors import embed_papers, embed_topics
    from subscriptions import services

    papers = [
        Paper.objects.create(
            title=TOOL_PAPER,
            abstract="We let a language model write a plan of tool calls, run the tools, then answer. " * 3,
            listed_on=day,
        ),
        Paper.objects.create(
            title="Faster sorting networks",
            abstract="We find sorting networks with fewer comparators by search. " * 3,
            listed_on=day,
        ),
    ]
    embed_papers(papers)
    embed_topics()
    services._index_cache.clear()  # the preview's index, built before these existed
    return papers
