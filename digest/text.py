"""How the matcher reads text: words, stems, phrases and author names.

Papers and the phrases readers ask for go through the same steps, so that whatever a
reader types matches however a paper spells it:

- accents are folded and case is ignored ("Zoë" is "zoe");
- words are cut at word boundaries, so "MoE" never matches inside "Moebius" and
  "quantization" never matches "quantum";
- every word is stemmed with the Snowball English stemmer, so "diffusion models" matches
  "diffusion model" and "quantized" matches "quantization";
- a hyphen joins words both ways: "mixture-of-experts" is "mixture of experts" and
  "fine-tuning" is also "finetuning";
- abbreviations written with two or more capitals ("LLM", "RAG", "MoE", "LoRA") match the
  whole word only, without stemming ("RAG" is not "ragged"), and their plurals ("LLMs")
  are folded into them;
- a phrase in double quotes ("adapter") matches its words exactly, plural allowed, for
  the few words the stemmer folds too far ("adapter" and "adaptation" share a stem);
- a word of the "-ize" family ("tokenization", "normalized", "visualisation") matches
  that family only: the stemmer cuts it down to its root ("token", "normal", "visual"),
  a different and far commoner word;
- agent nouns ("transformer", "operator"), the "-able" family ("interpretability" and
  "interpretable") and a few words researchers type ("reasoning", "alignment",
  "preference") keep stems of their own where Snowball would fold them into commoner
  words ("transform", "interpret", "reason");
- British spellings ("behaviour", "quantisation"), Latin plurals ("matrices") and
  acronym plurals typed in lower case ("llms") are read as the American, singular forms.
"""

from __future__ import annotations

import itertools
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

# Letters that NFKD does not decompose into a base letter and an accent.
_EXTRA_FOLDS = str.maketrans({
    "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ß": "ss", "ł": "l",
    "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "þ": "th", "ı": "i",
})
# A word, with the hyphens that join it to the next one ("mixture-of-experts").
_HYPHENATED_RE = re.compile(r"[^\W_]+(?:[-\u2010\u2011][^\W_]+)*")
_HYPHEN_RE = re.compile(r"[-\u2010\u2011]")
# A possessive "'s" is not a word of its own.
_POSSESSIVE_RE = re.compile(r"(?<=[^\W_])['\u2019]s\b")
# "Llama2" and "ResNet50" are "Llama 2" and "ResNet 50"; "3D", "T5" and "fp16" stay whole.
_NAME_NUMBER_RE = re.compile(r"^([^\W\d_]{3,})(\d+)$")
# Phrases longer than this are matched as written, without trying every joined form.
MAX_JOIN_WORDS = 4

_stemmer = snowballstemmer.stemmer("english")
# The pure-Python stemmer keeps state while it works: one word at a time per process.
_stemmer_lock = threading.Lock()


# British spellings of the "-ize" and "-yze" families ("quantisation", "analysed") are
# read as the American ones, which Snowball knows: otherwise "generalisation" would find
# one paper where "generalization" finds thirty. Not where "-ise" is no such ending:
# after v, c, w, h, p or u ("supervised", "precise", "otherwise") or in the words below
# ("promising", "surprisingly" would part from their families).
_BRITISH_RE = re.compile(r"^([a-z]{4,}?)(is|ys)(e|es|ed|ing|er|ers|ation|ations|able)$")
_NOT_IZE_ROOTS = frozenset({
    "prom", "prem", "comprom", "surpr", "enterpr", "compr", "expert", "chast", "advert", "parad", "merchand",
})


def _as_american(word: str) -> str:
    found = _BRITISH_RE.match(word)
    if found is None:
        return word
    root, middle, ending = found.groups()
    if middle == "is" and (root[-1] in "vcwhpu" or root in _NOT_IZE_ROOTS):
        return word
    return f"{root}{middle[0]}z{ending}"


# Words every abstract writes: they say nothing of what a paper is about.
FUNCTION_WORDS = frozenset(
    "a an the of and or in on for to with by at from as is are be been we our us this that these those it its "
    "not no vs versus via into onto than then".split()
)

# Agent nouns are things, not the act: Snowball cuts "transformer" to "transform",
# "adapter" to "adapt" and "operator" to "oper", so a reader of transformers got every
# paper that transforms something, a reader of adapters every domain adaptation paper and
# a reader of neural operators every paper counting operations. They keep their own stem,
# in the singular. Not verbs whose "-er" is their own ("considered" is still "consider",
# and a comparative: "narrower"), nor the "-ize" family's ("tokenizer"), which finds its
# family's forms.
_AGENT_NOUN_RE = re.compile(r"^([a-z]{3,}(?:er|or))s?$")
_NOT_AGENT_NOUNS = frozenset({
    "consider", "reconsider", "deliver", "discover", "rediscover", "recover", "uncover", "remember",
    "encounter", "register", "administer", "minister", "sequester", "decipher", "surrender", "encumber",
    "empower", "engender", "outnumber", "engineer", "narrower",
})
# "interpretability" and "interpretable" are one thing, "interpreting an X-ray" another;
# "reasonable" is not "reasoning". Snowball cuts all of them to the verb: the "-able"
# family keeps its own stem.
_ABLE_RE = re.compile(r"^([a-z]{3,}?)(abilit(?:y|ies)|ab(?:le|les|ly)|ibilit(?:y|ies)|ib(?:le|les|ly))$")
# Words a researcher types that Snowball folds into a commoner one: "reasoning" into
# "reason" ("for this reason"), "ranking" into "low-rank", "grounding" into "ground
# truth", "preference" into "preferred backbone", "alignment" into every paper that aligns
# features, "optimizer" into every optimization paper, "attribution" into "attributes".
# Each keeps its own stem (plural folded).
_OWN_STEMS = {
    form: word
    for word in (
        "reasoning", "ranking", "grounding", "clustering", "sampling", "boosting", "pooling", "preference",
        "alignment", "optimizer", "attribution",
    )
    for form in (word, word + "s")
}
# British spellings the "-ise" rule does not cover, read as the American ones (a prefix
# of the word: "behavioural" is "behavioral").
_BRITISH_PREFIXES = {
    "behaviour": "behavior", "colour": "color", "neighbour": "neighbor", "favour": "favor", "labour": "labor",
    "honour": "honor", "humour": "humor", "tumour": "tumor", "rumour": "rumor", "vapour": "vapor",
    "artefact": "artifact", "paediatric": "pediatric", "haem": "hem", "anaesthe": "anesthe",
    "oesophag": "esophag", "oedema": "edema", "foetal": "fetal",
}
_BRITISH_PREFIX_RE = re.compile("^(" + "|".join(sorted(_BRITISH_PREFIXES, key=len, reverse=True)) + ")")
# ... and whole words, singular or plural only: "programmed" and "programmer" are American.
_BRITISH_WORDS = {
    "centre": "center", "fibre": "fiber", "litre": "liter", "theatre": "theater", "catalogue": "catalog",
    "dialogue": "dialog", "analogue": "analog", "programme": "program", "defence": "defense",
    "offence": "offense", "licence": "license", "centred": "centered",
}
_BRITISH_WORDS.update({british + "s": american + "s" for british, american in list(_BRITISH_WORDS.items())})
# Latin and Greek plurals, folded into their singulars ("matrices" is "matrix", and
# "analyses" the noun, not the British verb).
_IRREGULAR_PLURALS = {
    "matrices": "matrix", "vertices": "vertex", "indices": "index", "appendices": "appendix",
    "corpora": "corpus", "criteria": "criterion", "phenomena": "phenomenon", "hypotheses": "hypothesis",
    "analyses": "analysis", "syntheses": "synthesis", "schemata": "schema",
}


# "llms" typed in lower case is the plural of "llm": Snowball keeps an "s" after letters
# with no vowel, so it found none of the papers that write "LLMs" (`fullmatch`; the
# acronym table reads its long forms the same way).
VOWELLESS_PLURAL_RE = re.compile(r"([b-df-hj-np-tv-xz]{2,})s")


@lru_cache(maxsize=200_000)
def american(word: str) -> str:
    """A lower-case word in American spelling ("localisation" is "localization")."""
    word = _BRITISH_WORDS.get(word, word)
    return _BRITISH_PREFIX_RE.sub(lambda found: _BRITISH_PREFIXES[found.group(1)], _as_american(word), count=1)


def stem(word: str) -> str:
    word = _IRREGULAR_PLURALS.get(word, word)
    if plural := VOWELLESS_PLURAL_RE.fullmatch(word):
        word = plural.group(1)
    word = american(word)
    own = _OWN_STEMS.get(word)
    if own is not None:
        return own
    able = _ABLE_RE.match(word)
    if able is not None:
        return able.group(1) + able.group(2)[0] + "bl"  # "interpretabl", "reproducibl"
    with _stemmer_lock:
        stemmed = _stemmer.stemWord(word)
    agent = _AGENT_NOUN_RE.match(word)
    if agent is None:
        return stemmed
    singular = agent.group(1)
    if stemmed == singular or singular in _NOT_AGENT_NOUNS or singular.endswith(("izer", "yzer")) or not singular.startswith(stemmed):
        return stemmed
    return singular


def fold(text: str) -> str:
    """Accents off, case kept: "Zoë Ångström" is "Zoe Angstrom"."""
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKD", text.translate(_EXTRA_FOLDS))
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def is_abbreviation(word: str) -> bool:
    """Two capitals or more: LLM, MoE, LoRA, NeRF, ViT."""
    return sum(ch.isupper() for ch in word) >= 2


def _singular_abbreviation(word: str) -> str:
    # "LLMs" is the plural of "LLM", "MoEs" of "MoE"; "Transformers" is left alone.
    if len(word) > 2 and word[-1] == "s" and word[-2].isupper() and is_abbreviation(word[:-1]):
        return word[:-1]
    return word


def _split_number(word: str) -> list[str]:
    found = _NAME_NUMBER_RE.match(word)
    return [found.group(1), found.group(2)] if found else [word]


# A word of a text: (stem, exact lower-case form). "LLMs" is ("llm", "^llm") (an
# abbreviation, marked), "adapters" is ("adapt", "adapters").
Token = tuple[str, str]


# The exact form of a word written as an abbreviation is marked, so that "ZeRO" (the
# optimizer) can be told from "Zero-shot" where the plain word is common.
ABBREVIATION_MARK = "^"


@lru_cache(maxsize=200_000)
def _token(word: str) -> Token:
    lower = word.lower()
    if is_abbreviation(word):
        return (stem(lower), ABBREVIATION_MARK + lower)
    return (stem(lower), lower)


@lru_cache(maxsize=200_000)
def _group_parts(group: str) -> tuple[str, ...]:
    parts: list[str] = []
    for part in _HYPHEN_RE.split(group):
        parts.extend(_split_number(_singular_abbreviation(part)))
    return tuple(parts)


def words(text: str) -> list[tuple[str, ...]]:
    """Groups of words as written (folded, case kept); a group is a hyphenated word."""
    text = _POSSESSIVE_RE.sub("", fold(text))
    return [_group_parts(found.group()) for found in _HYPHENATED_RE.finditer(text)]


def is_lettered_name(group: Sequence[str]) -> bool:
    """A hyphenated word with a one-letter part, "k-NN", "t-SNE", "X-ray": a name as a
    whole, not its parts. (Digits are not letters: "GPT-4" and "1-bit" have rules of
    their own.)"""
    return len(group) > 1 and any(len(part) == 1 and part.isalpha() for part in group)


@dataclass(frozen=True, slots=True)
class Analysed:
    """A text as positions: `tokens[i]` is the word at position i; `compounds` holds the
    joined forms of hyphenated words as (start, end, stem) so that "fine-tuning" is
    also found by "finetuning"."""

    tokens: tuple[Token, ...]
    compounds: tuple[tuple[int, int, str], ...]


def analyse(text: str) -> Analysed:
    tokens: list[Token] = []
    compounds: list[tuple[int, int, str]] = []
    for group in words(text):
        start = len(tokens)
        if len(group) == 1:
            tokens.append(_token(group[0]))
            continue
        tokens.extend(map(_token, group))
        compounds.append((start, len(tokens), _token("".join(group))[0]))
    return Analysed(tuple(tokens), tuple(compounds))


# A term in a phrase: ("s", stem) matches any word with that stem; ("x", forms) matches
# a word written exactly as one of the forms.
Term = tuple[str, str | frozenset[str]]


@dataclass(frozen=True)
class Phrase:
    """A phrase as a reader or curator wrote it, and the term sequences that find it."""

    text: str
    variants: tuple[tuple[Term, ...], ...]

    @property
    def is_empty(self) -> bool:
        return not self.variants


def _exact_forms(lower: str, plural: bool) -> frozenset[str]:
    if not plural:
        return frozenset({lower})
    if lower.endswith(("s", "x", "z", "ch", "sh")):
        return frozenset({lower, lower + "es"})
    return frozenset({lower, lower + "s"})


def _also_in_capitals(forms: frozenset[str]) -> frozenset[str]:
    """The forms, and the same written in capitals ("TOKENIZATION MATTERS"), which the
    paper side files as abbreviations."""
    return forms | {ABBREVIATION_MARK + form for form in forms if not form.startswith(ABBREVIATION_MARK)}


# Endings of the "-ize" family, both spellings. Snowball strips them down to the root
# ("tokenization" -> "token"), so a reader asking for tokenization would get every paper
# that mentions tokens; the family's own forms are what they mean.
_IZE_ENDINGS = tuple(
    z.join(parts)
    for z in ("z", "s")
    for parts in (
        ("i", "e"), ("i", "es"), ("i", "ed"), ("i", "ing"), ("i", "er"), ("i", "ers"),
        ("i", "ation"), ("i", "ations"), ("i", "able"),
    )
)


def _ize_family(lower: str, stemmed: str) -> frozenset[str] | None:
    """The forms of an "-ize" word's family ("tokenize", "tokenized", "tokenizer",
    "tokenisation" ...) when the stemmer cut the word below it ("personalization" to
    "person"), else None ("quantization" keeps "quantiz": its stem is the family)."""
    ending = max((e for e in _IZE_ENDINGS if lower.endswith(e)), key=len, default=None)
    if ending is None:
        return None
    base = lower[: -len(ending)]
    if len(stemmed) >= len(base) + 2:
        return None
    return frozenset(base + e for e in _IZE_ENDINGS)


def _term(words_: list[str], quoted: bool) -> Term:
    """The term for one word, or for several words written as one ("finetuning")."""
    lower = "".join(words_).lower()
    if quoted:
        # The paper side files "KV" (written as an abbreviation) under its marked form.
        return ("x", _also_in_capitals(_exact_forms(lower, plural=True)))
    if any(is_abbreviation(word) for word in words_):
        # The paper side folds "LLMs" into "LLM", so the exact form is enough.
        if len(words_) == 1:
            return ("x", frozenset({ABBREVIATION_MARK + lower}))
        return ("x", _exact_forms(lower, plural=False))  # joined ("GPT 4"): the paper's compound
    stemmed = stem(lower)
    family = _ize_family(lower, stemmed)
    if family is not None:
        return ("x", _also_in_capitals(family))
    return ("s", stemmed)


def written_apart(*words_: str) -> Phrase:
    """The words as separate words, each exactly as given (plural allowed): "red teaming"
    and "red-teaming", never "redteaming", nor "data based" for "data base"."""
    terms = tuple(("x", _also_in_capitals(_exact_forms(word.lower(), plural=True))) for word in words_)
    return Phrase(" ".join(words_), (terms,))


def is_quoted(text: str) -> bool:
    """Whether the whole phrase is in double quotes ("exactly as I wrote it"): '"KV
    cache"' is, '"LoRA" or "adapter"' and '"LLM" agents' are not."""
    raw = text.strip()
    return len(raw) >= 2 and raw[0] == raw[-1] == '"' and '"' not in raw[1:-1]


@lru_cache(maxsize=100_000)
def compile_phrase(text: str) -> Phrase:
    """Every way of writing the phrase that should find it: its words in order, and for
    short phrases each way of joining neighbouring words ("fine tuning", "finetuning"),
    but never a lone letter to the word before it: the name "Shap-E" is not "shape"
    (while "U-Net" is still "UNet")."""
    raw = text.strip()
    quoted = is_quoted(raw)
    display = raw[1:-1].strip() if quoted else raw
    flat = [word for group in words(display) for word in group]
    if not flat:
        return Phrase(display, ())
    if len(flat) > MAX_JOIN_WORDS:
        variants = [tuple(_term([w], quoted) for w in flat)]
    else:
        variants = []
        # Each of the n-1 gaps between words is either kept or joined.
        for joins in itertools.product((False, True), repeat=len(flat) - 1):
            if any(join and len(word) == 1 and word.isalpha() for word, join in zip(flat[1:], joins)):
                continue
            pieces: list[list[str]] = [[flat[0]]]
            for word, join in zip(flat[1:], joins):
                if join:
                    pieces[-1].append(word)
                else:
                    pieces.append([word])
            variants.append(tuple(_term(piece, quoted) for piece in pieces))
    unique = tuple(dict.fromkeys(variants))
    return Phrase(display, unique)


# Name particles belong to the family name and say nothing about the person.
_PARTICLES = frozenset({
    "van", "von", "der", "den", "de", "del", "della", "di", "da", "dos", "du", "la", "le", "ter", "ten", "bin", "al",
})
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "phd"})


@dataclass(frozen=True, slots=True)
class PersonName:
    given: tuple[str, ...]  # first and middle names or initials, folded, lower case
    family: str

    def same_person(self, other: "PersonName") -> bool:
        """Family names equal; first names equal or one an initial of the other; middle
        names, where both give one, likewise. "Zoe Angstrom" is "Zoë Ångström" and
        "Z. Ångström", not "Zoe Smith"; "John A. Smith" is not "John B. Smith"."""
        if self.family != other.family:
            return False
        return all(_same_given(a, b) for a, b in zip(self.given, other.given))


def _same_given(a: str, b: str) -> bool:
    if a == b:
        return True
    if len(a) == 1 or len(b) == 1:
        return a[0] == b[0]
    return False


@lru_cache(maxsize=100_000)
def person_name(raw: str) -> PersonName | None:
    text = fold(raw).strip()
    if "," in text:
        # "Ångström, Zoë" is "Zoë Ångström"; "Smith, Jr." keeps its order.
        family, _, given = text.partition(",")
        if given.strip().rstrip(".").lower() not in _SUFFIXES:
            text = f"{given} {family}"
    parts = [p for p in re.split(r"[\s.\-\u2010\u2011]+", text.lower()) if p]
    parts = [re.sub(r"[^\w]", "", p) for p in parts]
    parts = [p for p in parts if p]
    while parts and parts[-1] in _SUFFIXES and len(parts) > 1:
        parts.pop()
    if not parts:
        return None
    family = parts[-1]
    given = tuple(p for p in parts[:-1] if p not in _PARTICLES)
    return PersonName(given=given, family=family)
