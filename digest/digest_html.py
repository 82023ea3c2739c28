"""The digest's HTML part assembled from pieces that were rendered and CSS-inlined once
per process, instead of rendering and inlining the whole ~45 KB page for every reader.

The template (`templates/emails/digest.html`) stays the one source of the markup. It
marks where each repeated part begins (`{{ fragment("paper") }}` and the like, empty in
a normal render). To learn the pieces, a *skeleton* of one digest is rendered the normal
way (Jinja, then css-inline of the whole page): the same structure as the real digest,
but every value shown is a placeholder character sequence. The inlined page is cut at
the marks; each piece is kept as its static markup (inline styles included) with slots
where the values go, under a key that names everything the template decides with `if`
(a card with or without authors, the last card of a group, a featured heading...).
After a few digests every piece a run needs is known, and a digest is assembled by
filling the slots with its values, escaped as the inliner would have written them.

Only decisions listed in the `*_shape` functions below may change a piece's markup. A new
`{% if %}` on a value in digest.html (or base.html, _footer.html) must be added there;
tests/digest/test_digest_html.py compares this path with the reference rendering for
varied digests and fails when they differ.
"""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup

# Placeholders: characters from Unicode's private use area, which neither Jinja's
# escaping nor the inliner's HTML parser changes.
_SLOT_START, _SLOT_END = "\ue000", "\ue001"
_MARK_START, _MARK_END = "\ue002", "\ue003"
_SLOT = re.compile(f"{_SLOT_START}([^{_SLOT_END}]*){_SLOT_END}")
_MARK = re.compile(f"{_MARK_START}(\\w+){_MARK_END}")

# Page-level numbers the template compares (their shape says how), shown as slots.
_PAGE_NUMBERS = ("paper_count", "match_count", "max_papers")
# Values that decide markup (a CSS class), so they are part of a piece's key, not a slot.
_MARKUP_VALUES = frozenset({"kind"})


class NeedsReference(Exception):
    """This digest cannot be assembled from pieces (a value the parser would change,
    a web page's extra section): render it the reference way."""


def no_fragment(kind: str) -> str:
    """The template's marks, in a normal render: nothing."""
    return ""


def _skeleton_fragment(kind: str) -> Markup:
    return Markup(f"{_MARK_START}{kind}{_MARK_END}")


def _slot_name(owner: str, path: tuple) -> str:
    return _SLOT_START + owner + "/".join(map(str, path)) + _SLOT_END


class _SlotNumber(int):
    """A number the template compares as itself but shows as a slot."""

    slot: str

    def __new__(cls, value: int, slot: str) -> _SlotNumber:
        number = super().__new__(cls, value)
        number.slot = slot
        return number

    def __str__(self) -> str:
        return self.slot

    def __html__(self) -> str:
        return self.slot


# The shapes: what the template decides about the page and each repeated part.
def _page_shape(context: dict) -> tuple:
    paper_count, match_count = context["paper_count"], context["match_count"]
    return (
        context["weekly"], paper_count == 0, paper_count == 1, match_count > paper_count,
        bool(context["view_url"]), bool(context["reason"]), bool(context["links"]),
        bool(context["groups"]), len(context["groups"]) > 1, bool(context["glance"]),
        bool(context["mentions_in_passing"]),
    )


def _card_shape(card: dict) -> tuple:
    return (
        bool(card["authors"]), bool(card["snippet"]),
        tuple(bool(part["bold"]) for part in card["why"]),
        tuple((item["kind"], bool(item["url"])) for item in card["meta"]),
    )


# The values the template tests for truth (list positions as "*"): an empty one stays
# empty in the skeleton, which so takes the same branch; every other value is a slot.
_TESTED_IN_PAGE = frozenset({("view_url",), ("reason",)})
_TESTED_IN_CARD = frozenset({("authors",), ("snippet",), ("why", "*", "bold"), ("meta", "*", "url")})


def _slots_for(value: Any, owner: str, path: tuple, tested: frozenset) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        if not value and tuple("*" if isinstance(step, int) else step for step in path) in tested:
            return value
        return Markup(_slot_name(owner, path))
    if isinstance(value, dict):
        return {
            key: item if key in _MARKUP_VALUES else _slots_for(item, owner, path + (key,), tested)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_slots_for(item, owner, path + (n,), tested) for n, item in enumerate(value)]
    raise NeedsReference(f"no slot for a {type(value).__name__} at {path}")


_CARD_FIELDS = ("url", "title", "authors", "snippet", "why", "meta")
_GLANCE_FIELDS = ("tag", "url", "title")
_PAGE_FIELDS = (
    "subject", "preheader", "view_url", "date_long", "date_short", "links", "reason", "weekly", "mentions_in_passing",
)


def _card_values(card: dict) -> dict:
    return {key: card[key] for key in _CARD_FIELDS}


def _skeleton_context(context: dict) -> dict:
    """The digest's context with every shown value replaced by its slot."""
    page = {key: context[key] for key in _PAGE_FIELDS}
    skeleton = _slots_for(page, "p", (), _TESTED_IN_PAGE)
    for key in _PAGE_NUMBERS:
        skeleton[key] = _SlotNumber(context[key], _slot_name("p", (key,)))
    skeleton["glance"] = [
        _slots_for({key: item[key] for key in _GLANCE_FIELDS}, "i", (), frozenset()) for item in context["glance"]
    ]
    skeleton["groups"] = [
        {
            "title": _slots_for(group["title"], "i", ("title",), frozenset()),
            "featured": group["featured"],
            "papers": [_slots_for(_card_values(card), "i", (), _TESTED_IN_CARD) for card in group["papers"]],
        }
        for group in context["groups"]
    ]
    skeleton["fragment"] = _skeleton_fragment
    return skeleton


def _piece_keys(context: dict) -> list[tuple[tuple, Any]]:
    """(key, the values its slots are filled from) for every piece of this digest, in
    page order. A piece runs from one mark to the next, so its key says what follows."""
    page_shape = _page_shape(context)
    pieces: list[tuple[tuple, Any]] = [(("page", page_shape, 0), context)]
    glance = context["glance"]
    for n, item in enumerate(glance):
        pieces.append((("glance", n + 1, n == len(glance) - 1), item))
    if glance:
        pieces.append((("page", page_shape, 1), context))
    groups = context["groups"]
    for g, group in enumerate(groups):
        pieces.append((("group", group["featured"], g == 0), group))
        papers = group["papers"]
        for p, card in enumerate(papers):
            last_in_group = p == len(papers) - 1
            pieces.append((("paper", _card_shape(card), last_in_group, last_in_group and g == len(groups) - 1), card))
    if groups:
        pieces.append((("page", page_shape, 2), context))
    return pieces


class DigestPages:
    """The pieces learnt in this process, and the assembly of a digest from them."""

    # Distinct pieces kept (a card's shapes times its place); far more than a run meets.
    PIECES_KEPT = 20_000

    def __init__(self, render_reference) -> None:
        # render_reference(context) -> the inlined page, the way every digest used to be made.
        self._render_reference = render_reference
        self._pieces: dict[tuple, Any] = {}
        self.skeletons_rendered = 0

    def render(self, context: dict) -> str:
        if context.get("web_page") or context.get("all_matches") or context.get("in_passing"):
            raise NeedsReference("the web page has sections the email has not")
        pieces = _piece_keys(context)
        known = self._pieces
        if any(key not in known for key, _ in pieces):
            self._learn(context, pieces)
        return "".join([known[key](context, values, _text, _attribute) for key, values in pieces])

    def _learn(self, context: dict, pieces: list[tuple[tuple, Any]]) -> None:
        page = self._render_reference(_skeleton_context(context))
        self.skeletons_rendered += 1
        texts: list[tuple[int, str]] = []
        kinds = ["page"]
        position = 0
        for mark in _MARK.finditer(page):
            texts.append((position, page[position:mark.start()]))
            kinds.append(mark.group(1))
            position = mark.end()
        texts.append((position, page[position:]))
        if kinds != [key[0] for key, _ in pieces]:
            raise RuntimeError(f"digest.html's fragment marks do not match the digest's parts: {kinds}")
        if len(self._pieces) + len(pieces) > self.PIECES_KEPT:
            self._pieces.clear()
        for (key, _), (start, text) in zip(pieces, texts, strict=True):
            if key not in self._pieces:
                self._pieces[key] = _compile(page, start, text)


def _compile(page: str, start: int, text: str):
    """A piece as a function of (page values, the part's values, text escaper, attribute
    escaper) that returns its markup, generated once from its static markup and slots
    as Jinja compiles a template: filling ~120 slots a digest in a loop of lookups was
    most of the assembly's cost."""
    parts: list[str] = []
    statics: list[str] = []
    position = 0
    for found in _SLOT.finditer(text):
        name = found.group(1)
        owner, path = name[0], [int(p) if p.isdigit() else p for p in name[1:].split("/") if p != ""]
        absolute = start + found.start()
        in_attribute = page.rfind("<", 0, absolute) > page.rfind(">", 0, absolute)
        statics.append(text[position:found.start()])
        parts.append(f"s[{len(statics) - 1}]")
        value = ("p" if owner == "p" else "v") + "".join(f"[{step!r}]" for step in path)
        parts.append(f"{'a' if in_attribute else 't'}({value})")
        position = found.end()
    statics.append(text[position:])
    parts.append(f"s[{len(statics) - 1}]")
    source = f"def fill(p, v, t, a, s=s):\n    return ''.join(({', '.join(parts)},))\n"
    namespace: dict[str, Any] = {"s": tuple(statics)}
    exec(compile(source, "<digest piece>", "exec"), namespace)  # noqa: S102 - our own markup and slot names
    return namespace["fill"]


# How the inliner's serialiser writes text and attribute values (html5ever's rules).
_TEXT_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\xa0", "&nbsp;"))
_ATTRIBUTE_ESCAPES = (("&", "&amp;"), ('"', "&quot;"), ("\xa0", "&nbsp;"))


def _escaped(value, escapes: tuple[tuple[str, str], ...]) -> str:
    if type(value) is not str:
        value = "" if value is None else str(value)
    if "\r" in value or "\x00" in value:
        raise NeedsReference("the parser would rewrite this value")
    for char, entity in escapes:
        if char in value:  # most values have none: a scan is cheaper than a replace
            value = value.replace(char, entity)
    return value


def _text(value) -> str:
    return _escaped(value, _TEXT_ESCAPES)


def _attribute(value) -> str:
    return _escaped(value, _ATTRIBUTE_ESCAPES)
