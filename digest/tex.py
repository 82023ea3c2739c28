"""Abstracts and titles arrive with bits of LaTeX ("PixArt-\\Sigma", "H$_2$O",
"$\\mathcal{O}(n^2)$", "Schr\\"odinger"). Readers should see "PixArt-Σ", "H2O", "𝒪(n²)"
and "Schrödinger": this turns them into plain Unicode for display. The stored text stays
as the source gave it.

pylatexenc does the LaTeX-to-text work. Around it, what a catalog needs that LaTeX does
not do: a "%" is a per cent sign, not a comment that eats the rest of the abstract; a
"$" opens math only the way Pandoc reads it ("$5 and $10" is money); an unknown command
("\\proj") stays as written instead of vanishing; subscripts read inline ("H2O") and
superscripts as Unicode superscripts where every character has one ("n²", "ℝᵈ").
"""

from __future__ import annotations

import logging
import re

from pylatexenc.latex2text import LatexNodes2Text

log = logging.getLogger(__name__)

# Pandoc's rule: "$" opens math when a non-space follows it, closes it when a non-space
# precedes it and no digit follows; "\$" is an escaped dollar.
_MATH = re.compile(r"(?<!\\)\$(?=\S)([^$]{1,200}?)(?<=\S)(?<!\\)\$(?!\d)")
# Characters LaTeX reads as markup that a catalog's plain text means literally (a bare
# "%" would start a comment, "&" an alignment tab, "#" a parameter).
_LITERAL = re.compile(r"(?<!\\)([%&#$])")
# "_2", "^{2}", "^{\top}", "^{\mathrm{T}}", "_\theta": a script and its argument.
_SCRIPT = re.compile(r"([_^])(\{((?:[^{}]|\{[^{}]*\})*)\}|\\[A-Za-z]+|[^\s{}\\])")

_SUPERSCRIPTS = dict(
    zip(
        "0123456789+-−=()abcdefghijklmnoprstuvwxyzABDEGHIJKLMNOPRTUVWαβγδεθιφχ′*·",
        "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᴬᴮᴰᴱᴳᴴᴵᴶᴷᴸᴹᴺᴼᴾᴿᵀᵁⱽᵂᵅᵝᵞᵟᵋᶿᶥᵠᵡ′*·",
        strict=True,
    )
)


class _Converter(LatexNodes2Text):
    def macro_node_to_text(self, node):
        if self.latex_context.get_macro_spec(node.macroname) is None:
            # An unknown command is more use to a reader as written than dropped (the
            # space after it is kept with the others: strict_latex_spaces below).
            return "\\" + node.macroname
        return super().macro_node_to_text(node)


# "based-on-source": a space the source writes after a command stays ("PixArt-\\Sigma
# represents" is "PixArt-Σ represents"); LaTeX itself would swallow it.
_converter = _Converter(math_mode="text", strict_latex_spaces="based-on-source")


def _superscript(text: str) -> str:
    text = "".join(text.split())
    if text and all(c in _SUPERSCRIPTS for c in text):
        return "".join(_SUPERSCRIPTS[c] for c in text)
    return "^" + (text if len(text) == 1 else f"({text})")


def _script(match: re.Match) -> str:
    argument = match.group(3) if match.group(3) is not None else match.group(2)
    shown = _converter.latex_to_text(argument).strip()
    return _superscript(shown) if match.group(1) == "^" else shown


def _math(match: re.Match) -> str:
    return "$" + _SCRIPT.sub(_script, match.group(1)) + "$"


# An accent command with nothing to accent is an apostrophe written with a backslash
# ("models\' decisions"): read as an accent it ate the space ("modelsd́ecisions").
_BARE_ACCENT = re.compile(r"\\(['`])(?=\s|$)")


def _text(part: str) -> str:
    return _LITERAL.sub(r"\\\1", _BARE_ACCENT.sub(r"\1", part))


def _to_latex(text: str) -> str:
    """The text as pylatexenc should read it: math spans with their scripts already
    spelt out, the catalog's literal characters escaped everywhere else."""
    pieces, last = [], 0
    for match in _MATH.finditer(text):
        pieces += [_text(text[last : match.start()]), _math(match)]
        last = match.end()
    pieces.append(_text(text[last:]))
    return "".join(pieces)


def readable(text: str) -> str:
    if not text or not any(c in text for c in "\\$~"):
        return text
    try:
        shown = _converter.latex_to_text(_to_latex(text))
    except Exception:  # a parser bug must not cost a reader their digest
        log.warning("Could not read LaTeX in %.80r", text, exc_info=True)
        return text
    # "~" is a non-breaking space in LaTeX; the templates wrap and collapse spaces.
    return shown.replace("\xa0", " ")


# A cut of the source where LaTeX has nothing open: outside math, every brace closed, no
# environment begun, and not right after a command (which would take the next word as
# its argument). What comes before such a cut reads the same with or without the rest.
_COMMAND_AT_END = re.compile(r"\\[A-Za-z]+\s*$")


def readable_start(text: str, at_least: int) -> str:
    """The start of `readable(text)`, at least `at_least` characters of it (all of it when
    shorter), converting only as much of the source as that takes: a card shows the first
    150 characters of an abstract, and converting the whole was most of a card's cost."""
    if not text or not any(c in text for c in "\\$~"):
        return text
    cut = _safe_cut(text, 3 * at_least)
    if cut is not None:
        try:
            shown = _converter.latex_to_text(_to_latex(text[:cut])).replace("\xa0", " ")
        except Exception:
            shown = ""
        if len(" ".join(shown.split())) > at_least:
            return shown
    return readable(text)


def _safe_cut(text: str, after: int) -> int | None:
    if len(text) <= after or "\\begin" in text:
        return None
    spans = [match.span() for match in _MATH.finditer(text)]
    depth = 0
    for n, char in enumerate(text):
        escaped = n > 0 and text[n - 1] == "\\"
        if char == "{" and not escaped:
            depth += 1
        elif char == "}" and not escaped:
            depth -= 1
        elif (
            n >= after
            and char.isspace()
            and depth == 0
            and not any(start < n < end for start, end in spans)
            and not _COMMAND_AT_END.search(text, max(0, n - 80), n)
        ):
            return n
    return None
