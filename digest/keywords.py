"""What a reader means by a keyword they typed.

Readers type the way researchers talk, not the way abstracts are written: "LLM agents",
"privacy and security", "RLHF", "redteaming". Before a typed keyword is matched it is
read as a set of *alternatives*, each a phrase for `digest.text`:

- A keyword joining concepts with "and", "or", "&", "/", "+" or commas is read as
  alternatives ("privacy and security" is "privacy" or "security"), unless the whole
  phrase itself occurs in the catalog as written ("question and answering" stays whole).
- An acronym and its long form are one term both ways ("LLM agents" is also "large
  language model agents"; "retrieval-augmented generation" is also "RAG"). The pairs come
  from a small curated list kept as data (`data/acronyms.txt`) and from the catalog,
  wherever a paper writes "long form (ACRONYM)".
- A word typed without its space ("redteaming") is also read with it ("red teaming")
  when the catalog writes it that way; hyphens and joined forms are handled by
  `digest.text` already.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rapidfuzz import process
from rapidfuzz.distance import OSA

from .text import (
    FUNCTION_WORDS,
    VOWELLESS_PLURAL_RE,
    american,
    fold,
    is_abbreviation,
    is_lettered_name,
    is_quoted,
    stem,
    words,
    written_apart,
)

ACRONYMS_FILE = Path(__file__).resolve().parent / "data" / "acronyms.txt"
RELATED_TERMS_FILE = Path(__file__).resolve().parent / "data" / "related_terms.txt"
# A long form is also matched by its acronym only for acronyms this long: "DP", "SR" or
# "RL" written alone in a paper mean too many things.
MIN_REVERSE_ACRONYM = 3
# A pair learned from the catalog is used long-form-to-acronym only when this many papers
# define it: one paper's private abbreviation says little about the field's.
MIN_LEARNED_PAPERS = 2
MAX_ALTERNATIVES = 8
# A name's word this rare is a name's word ("Hugging"), not a common one ("Fast").
RARE_WORD_SHARE = 0.01
# "X and Y" stays one phrase when the catalog writes it at least this often relative to
# its rarer part, or when a part alone is in more than this share of papers.
SET_PHRASE_SHARE = 0.2
COMMON_PART_SHARE = 0.2

# "and", "or" and "vs" only as words of their own: "pick-and-place" is one thing.
_SEPARATORS_RE = re.compile(r"\s*(?:,|;|&|\+|/|(?<![\w-])(?:and|or|vs\.?|versus)(?![\w-]))\s*", re.IGNORECASE)
_QUOTED_RE = re.compile(r'"[^"]*"')
_HIDDEN_RE = re.compile("\x00(\\d+)\x00")
_WORD_PAIR_RE = re.compile(r"([^\W\d_]+)\s*(?:\band\b|&)\s*([^\W\d_]+)", re.IGNORECASE)
# "... long form (ACRONYM) ..." with the acronym's optional plural "s".
_DEFINITION_RE = re.compile(r"\(([A-Za-z0-9][A-Za-z0-9\-]{1,9}?)s?\)")
_WORD_RE = re.compile(r"[^\W_]+(?:[-\u2010\u2011][^\W_]+)*")
_COMPOUND_RE = re.compile(r"[^\W\d_]+[-\u2010\u2011][^\W\d_]+")  # two parts, letters only
_HYPHEN_RE = re.compile(r"[-\u2010\u2011]")
_PARENTHESISED_RE = re.compile(r"([^()]+?)\s*\(([^()]+)\)")


def split_alternatives(
    keyword: str, doc_share: Callable[[str], float], related: RelatedTable | None = None
) -> list[str]:
    """'privacy and security' -> ['privacy', 'security'], unless the whole keyword is a
    phrase of the field's language. `doc_share(phrase)` is the share of catalog papers
    that write the phrase.

    The whole is kept when the related-terms list names it (a concept or another name of
    one: "simultaneous localization and mapping", whatever this catalog writes), or when
    the catalog writes it and either it is a set phrase (written in at least a fifth as
    many papers as its rarer part) or a part alone would say nothing ("vision and
    language": "language" is in most abstracts)."""
    text = keyword.strip()
    if is_quoted(text) or names_a_concept(text, related):
        return [text]
    if (defined := _definition(text)) is not None:
        return defined
    # Separators inside quotes are the reader's words: '"LoRA" or "adapter"' is two
    # quoted alternatives, '"vision and language"' one.
    quoted: list[str] = []

    def hidden(found: re.Match) -> str:
        quoted.append(found.group())
        return f"\x00{len(quoted) - 1}\x00"

    masked = _QUOTED_RE.sub(hidden, text)
    if not _SEPARATORS_RE.search(masked):
        return [text]
    parts = [
        _HIDDEN_RE.sub(lambda found: quoted[int(found.group(1))], part).strip() for part in _SEPARATORS_RE.split(masked)
    ]
    parts = list(dict.fromkeys(each for part in parts if words(part) for each in _definition(part) or [part]))
    # "A/B testing", "S&P 500", "w/o", "C++": a part of one letter is no concept of its own.
    if len(parts) < 2 or any(sum(ch.isalnum() for ch in part) < 2 for part in parts):
        return [text]
    whole = doc_share(text)
    if whole > 0:
        shares = [doc_share(part) for part in parts]
        set_phrase = whole >= SET_PHRASE_SHARE * min(shares)
        if set_phrase or max(shares) > COMMON_PART_SHARE:
            return [text]
    if len(parts) == 2:
        parts = _shared_words(parts[0], parts[1], doc_share)
    return parts[:MAX_ALTERNATIVES]


def _definition(text: str) -> list[str] | None:
    """A name with what it stands for, pasted from an abstract ("LoRA (low-rank
    adaptation)", "Vision Transformer (ViT)"): each an alternative, as one phrase it is
    written only where it is defined. Not "quantization (LLMs)": the parentheses must
    define."""
    found = _PARENTHESISED_RE.fullmatch(text.strip())
    if found is None:
        return None
    outside, inside = found.group(1).strip(), found.group(2).strip()
    for short, long_ in ((outside, inside), (inside, outside)):
        if is_abbreviation(short) and " " not in short and len(long_.split()) >= 2 and _sh_match(long_, short):
            return [outside, inside]
    return None


def _shared_words(first: str, second: str, doc_share: Callable[[str], float]) -> list[str]:
    """A word the two parts share, written once: "image and video generation" is also
    image generation, "speech recognition and synthesis" also speech synthesis, "pre- and
    post-training" pre-training. The completed part is added where the catalog writes it;
    the part as typed stays, unless it is a first word that very many papers write
    ("image": it was the modifier)."""
    if _HYPHEN_RE.fullmatch(first[-1:]):
        head, *rest = second.split()
        tail = _HYPHEN_RE.split(head)[-1]
        if len(first) > 1 and tail and tail != head:
            return [first + " ".join([tail, *rest]), second]  # "in- and out-of-distribution data"
        return [second]
    first_words, second_words = first.split(), second.split()
    completed, bare = None, None
    if len(first_words) == 1 and len(second_words) >= 2 and not first.endswith("s"):
        # A plural typed first is a thing of its own: "transformers and state space models".
        completed, bare = f"{first} {second_words[-1]}", first
    elif len(second_words) == 1 and len(first_words) >= 2:
        completed, bare = f"{first_words[0]} {second}", second
    if completed is None or not doc_share(completed):
        return [first, second]
    if bare == second:  # "transformers" after "diffusion models and" is a thing of its own too
        return [first, second, completed]
    return ([first] if doc_share(first) <= COMMON_PART_SHARE else []) + [completed, second]


def _sh_match(long_form: str, acronym: str) -> bool:
    """Schwartz and Hearst's test (2003): the acronym's characters appear in order in the
    long form, read from the end, the first one at the start of a word."""
    short, long_ = acronym.lower(), long_form.lower()
    s, at = len(short) - 1, len(long_) - 1
    while s >= 0:
        char = short[s]
        if not char.isalnum():
            s -= 1
            continue
        while at >= 0 and (long_[at] != char or (s == 0 and at > 0 and long_[at - 1].isalnum())):
            at -= 1
        if at < 0:
            return False
        at -= 1
        s -= 1
    return True


def definitions(text: str) -> Iterable[tuple[str, str]]:
    """(ACRONYM, long form) pairs a text defines: "mixture-of-experts (MoE)"."""
    text = fold(text)
    for found in _DEFINITION_RE.finditer(text):
        acronym = found.group(1)
        if not is_abbreviation(acronym) or not acronym[0].isalpha():
            continue
        before = _WORD_RE.findall(text[max(0, found.start() - 120) : found.start()])
        letters = sum(ch.isalnum() for ch in acronym)
        first = acronym[0].lower()
        for count in range(1, min(len(before), letters + 2) + 1):
            candidate = before[-count:]
            if candidate[0][0].lower() != first or candidate[0].lower() in FUNCTION_WORDS:
                continue  # "an autoencoder (AE)" is "autoencoder"
            long_form = " ".join(candidate)
            if _sh_match(long_form, acronym) and long_form.lower() != acronym.lower():
                if count == 1 and not _initials_of_parts(long_form, acronym):
                    continue  # "Pairwise Ranking Prompting (PRP)" is not "prompting"
                yield acronym, long_form.lower()
                break


def _initials_of_parts(word: str, acronym: str) -> bool:
    """Whether a one-word long form spells the acronym by its parts' initials:
    "mixture-of-experts" is MoE, "fine-tuning" is not FN."""
    parts = [part for part in _HYPHEN_RE.split(word) if part]
    letters = [ch.lower() for ch in acronym if ch.isalnum()]
    return len(parts) >= 2 and [part[0].lower() for part in parts] == letters


@lru_cache(maxsize=1)
def curated_acronyms() -> dict[str, tuple[str, ...]]:
    """The curated list: acronym (lower case) -> long forms."""
    table: dict[str, tuple[str, ...]] = {}
    for line in ACRONYMS_FILE.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "=" not in line:
            continue
        acronym, _, long_forms = line.partition("=")
        forms = tuple(form.strip().lower() for form in long_forms.split("|") if form.strip())
        if acronym.strip() and forms:
            table[acronym.strip().lower()] = forms
    return table


@lru_cache(maxsize=1)
def _curated_spellings() -> dict[str, str]:
    """Acronym (lower case) -> as the curated list writes it ("moe" -> "MoE")."""
    spellings: dict[str, str] = {}
    for line in ACRONYMS_FILE.read_text(encoding="utf-8").splitlines():
        acronym = line.split("#", 1)[0].partition("=")[0].strip()
        if acronym and "=" in line:
            spellings[acronym.lower()] = acronym
    return spellings


def concept_key(phrase: str) -> str:
    """How a typed keyword is looked up among the related terms' concepts: its words
    joined and stemmed, so that case, hyphens, spaces, plurals and British spellings do
    not matter ('supervised finetuning' is 'supervised fine-tuning', 'LLM agent' is 'LLM
    agents', 'quantisation' is 'quantization', 'localisation and mapping' is
    'localization and mapping')."""
    return stem("".join(american(word) for word in re.findall(r"[0-9a-z]+", fold(phrase).lower())))


def _written_key(term: str) -> str:
    """A related term compared with the others as written, spelling kept: "dialog
    systems" is a term of its own beside "dialogue systems" (terms are found as written)."""
    return stem("".join(re.findall(r"[0-9a-z]+", fold(term).lower())))


# One line of the related-terms list: a concept, its synonyms, its narrower terms.
RelatedLine = tuple[str, tuple[str, ...], tuple[str, ...]]


def parse_related_line(line: str) -> RelatedLine | None:
    """A line of `data/related_terms.txt` ("concept | synonyms; ... | narrower; ..."), or
    None for a comment, a blank line or one without its three fields."""
    if line.lstrip().startswith("#") or line.count(" | ") != 2:
        return None
    concept, others, narrower = (part.strip() for part in line.split(" | "))
    return concept, split_terms(others), split_terms(narrower)


def split_terms(text: str) -> tuple[str, ...]:
    """ "a; b;; c " -> ("a", "b", "c"): the terms of one field, as curators write them
    (one per line in the admin's box is as good as semicolons)."""
    return tuple(dict.fromkeys(" ".join(t.split()) for t in re.split(r"[;\r\n]", text) if t.strip()))


@lru_cache(maxsize=1)
def shipped_related_lines() -> tuple[RelatedLine, ...]:
    lines = RELATED_TERMS_FILE.read_text(encoding="utf-8").splitlines()
    return tuple(parsed for line in lines if (parsed := parse_related_line(line)) is not None)


@dataclass(frozen=True)
class RelatedTable:
    """Which terms each concept (and each synonym) reads: the shipped list, with the
    curators' lines (`digest.models.CuratedRelatedTerms`) added or put in place of the
    shipped line for the same concept."""

    concepts: dict[str, tuple[str, ...]]  # concept key -> its terms
    synonyms: dict[str, tuple[str, ...]]  # synonym key -> the terms of the concepts it names

    @classmethod
    def from_lines(cls, lines: Iterable[RelatedLine], curated: Iterable[RelatedLine] = ()) -> RelatedTable:
        """A concept's own line wins over lines that only list it as a synonym:
        "out-of-distribution detection" is not all of anomaly detection."""
        replaced = {concept_key(line[0]): line for line in curated}
        kept = [line for line in lines if concept_key(line[0]) not in replaced]
        concepts: dict[str, dict[str, None]] = defaultdict(dict)
        synonyms: dict[str, dict[str, None]] = defaultdict(dict)
        for concept, others, narrower in [*kept, *replaced.values()]:
            names = [name for name in (concept, *others) if name]
            terms = names + list(narrower)
            for number, name in enumerate(names):
                table = concepts if number == 0 else synonyms
                for term in terms:
                    table[concept_key(name)].setdefault(term, None)
        return cls(
            {key: tuple(terms) for key, terms in concepts.items() if key},
            {key: tuple(terms) for key, terms in synonyms.items() if key},
        )


@lru_cache(maxsize=1)
def shipped_related_table() -> RelatedTable:
    return RelatedTable.from_lines(shipped_related_lines())


@lru_cache(maxsize=1)
def _shipped_lines_by_key() -> tuple[dict[str, RelatedLine], dict[str, RelatedLine]]:
    """(concept key -> its shipped line, synonym key -> the first line naming it)."""
    own: dict[str, RelatedLine] = {}
    named: dict[str, RelatedLine] = {}
    for line in shipped_related_lines():
        own.setdefault(concept_key(line[0]), line)
        for name in line[1]:
            named.setdefault(concept_key(name), line)
    return own, named


def shipped_reading(concept: str) -> tuple[bool, RelatedLine] | None:
    """The shipped line a typed concept is read by today, and whether as another name
    (a synonym) of that line's concept; None when the shipped list does not know it.
    As the matcher reads it: a concept's own line first."""
    key = concept_key(concept)
    own, named = _shipped_lines_by_key()
    if key in own:
        return False, own[key]
    return (True, named[key]) if key in named else None


def names_a_concept(phrase: str, table: RelatedTable | None = None) -> bool:
    """Whether the related-terms list has a line for the phrase, as its concept or as
    another name of one (case, hyphens, spaces and plurals aside)."""
    key = concept_key(phrase)
    table = table or shipped_related_table()
    return len(key) >= 2 and (key in table.concepts or key in table.synonyms)


def related_terms(keyword: str, table: RelatedTable | None = None) -> tuple[str, ...]:
    """Other phrases that signal what a typed keyword names (`data/related_terms.txt`,
    with the curators' lines when `table` holds them): its synonyms and narrower terms
    when it is one of the list's concepts (or else a synonym of some), else none. Left
    out: terms that read the same as the keyword or as an earlier term ("LLMs" after
    "LLM"), and two-letter ones ("RL", "QA" written alone mean too many things)."""
    key = concept_key(keyword)
    if len(key) < 2:  # "µP" is not "P"
        return ()
    table = table or shipped_related_table()
    seen = {key, _written_key(keyword)}
    kept = []
    for term in table.concepts.get(key) or table.synonyms.get(key) or ():
        term_key = _written_key(term)
        if term_key in seen or sum(c.isalnum() for c in term) < 3:
            continue
        seen.add(term_key)
        kept.append(term)
    return tuple(kept)


def as_written(phrase: str) -> str:
    """A phrase the matcher looked for, as a why-line shows it: an acronym from the
    curated list in its own letters ("MoE", not "moe")."""
    return _curated_spellings().get(phrase.lower(), phrase)


def _key(phrase: str) -> str:
    """Phrases compared by stems: 'large language models' is 'large language model'."""
    return " ".join(stem(w.lower()) for group in words(phrase) for w in group)


class AcronymTable:
    """Acronyms and long forms, both ways: the curated list plus what the catalog defines."""

    def __init__(self) -> None:
        self._long: dict[str, set[str]] = defaultdict(set)  # acronym (lower) -> long forms
        self._short: dict[str, set[str]] = defaultdict(set)  # long-form key -> acronyms
        self._learned: Counter[tuple[str, str]] = Counter()
        for acronym, forms in curated_acronyms().items():
            # In its own letters: a long form typed is also found as "RAG", never as the
            # word "rag" (which the stemmer would read as "ragged").
            written = _curated_spellings().get(acronym, acronym)
            for form in forms:
                self._add(written, form, reverse=len(acronym.replace(" ", "")) >= MIN_REVERSE_ACRONYM)

    def _add(self, acronym: str, long_form: str, *, reverse: bool) -> None:
        self._long[acronym.lower()].add(long_form)
        if reverse:
            self._short[_key(long_form)].add(acronym)

    def learn(self, text: str) -> None:
        for acronym, long_form in set(definitions(text)):
            self._learned[(acronym, long_form)] += 1

    def finish_learning(self) -> None:
        for (acronym, long_form), papers in self._learned.items():
            if acronym.lower() in curated_acronyms():
                continue  # the curated meaning wins over a paper's private one
            reverse = papers >= MIN_LEARNED_PAPERS and sum(ch.isalnum() for ch in acronym) >= MIN_REVERSE_ACRONYM
            self._add(acronym, long_form, reverse=reverse)
        self._learned.clear()

    def long_forms(self, acronym: str) -> set[str]:
        lower = acronym.lower()
        found = self._long.get(lower)
        if found is None and acronym.islower() and VOWELLESS_PLURAL_RE.fullmatch(acronym):
            found = self._long.get(lower[:-1])  # "llms" typed in lower case (not "CLS" or "SRS")
        return found or set()

    def acronyms(self, long_form: str) -> set[str]:
        return self._short.get(_key(long_form), set())

    def variants(self, phrase: str) -> list[str]:
        """The phrase with an acronym in it written out, and a long form in it
        abbreviated: 'LLM agents' -> ['large language model agents']."""
        groups = words(phrase)
        flat = [w for group in groups for w in group]
        found: list[str] = []
        if not flat:
            return found
        # A hyphenated name with a one-letter part ("k-NN", "t-SNE") is a name of its own:
        # its "NN" is not "neural network".
        in_a_name = [is_lettered_name(group) for group in groups for _ in group]
        n = len(flat)
        for start in range(n):
            for end in range(n, start, -1):
                if any(in_a_name[start:end]):
                    continue
                piece = " ".join(flat[start:end])
                replacements = set()
                if end - start <= 2:  # "KV cache", "LLM"
                    replacements |= self.long_forms(piece)
                replacements |= self.acronyms(piece)
                for replacement in sorted(replacements):
                    variant = " ".join([*flat[:start], replacement, *flat[end:]])
                    if _key(variant) != _key(phrase):
                        found.append(variant)
        return list(dict.fromkeys(found))[:MAX_ALTERNATIVES]


_CAPITALS_JOINED_RE = re.compile(r"(?:[A-Z][a-z]{2,}){2,}")
_CAPITALISED_RE = re.compile(r"[A-Z][a-z]+")


def glued_splits(word: str, catalog) -> list[str]:
    """'redteaming' -> ['red teaming'] where the catalog writes it with a space; a name
    joined in capitals, 'HuggingFace' -> ['Hugging Face'], cut where its capitals are,
    when one of its words is rare: two common ones joined ('FastText', 'OpenSource') are
    likelier a name of their own than 'fast text' or 'open source'."""
    if _CAPITALS_JOINED_RE.fullmatch(word):
        parts = _CAPITALISED_RE.findall(word)
        rare = any(catalog.doc_share(part.lower()) < RARE_WORD_SHARE for part in parts)
        return [" ".join(parts)] if rare and _written_apart(catalog, parts) else []
    if " " in word or len(word) < 6 or is_abbreviation(word) or not word.isalpha():
        return []
    found = []
    lower = word.lower()
    for cut in range(3, len(lower) - 2):  # parts of three letters or more: "pre training"
        left, right = lower[:cut], lower[cut:]
        if catalog.knows_word(left) and catalog.knows_word(right) and _written_apart(catalog, [left, right]):
            found.append(f"{left} {right}")
    return found


def _written_apart(catalog, parts: Sequence[str]) -> bool:
    """Whether the catalog writes the parts as separate words ("red teaming"): a phrase
    also finds its words joined and stemmed, so `occurs` said yes for any word cut in two
    ("pre sent"), and "data based" made "database" a "data base"."""
    return catalog.doc_freq(written_apart(*parts)) > 0


def understand(keyword: str, catalog, related: RelatedTable | None = None) -> tuple[list[str], list[str]]:
    """The phrases that find what a typed keyword means: (the keyword or its
    alternatives as typed, words typed in capitals lowered where they are ordinary
    words; every phrase including acronym and spacing forms).
    `catalog` is a `matching.CatalogStats`; `related` the related terms (the shipped
    list unless given), whose concepts are phrases however this catalog writes them."""
    phrases: list[str] = []
    typed = split_alternatives(keyword, catalog.doc_share, related)
    for n, alternative in enumerate(typed):
        phrases.append(alternative)
        if is_quoted(alternative):
            continue  # quotes mean "exactly as I wrote it"
        plain = _unshouted(alternative, catalog)
        if plain is not None:
            phrases.append(plain)
            alternative = typed[n] = plain  # what the looser readings start from
        phrases.extend(catalog.acronyms.variants(alternative))
        # "vision and language" kept whole is also what papers write as "vision-language".
        pair = _WORD_PAIR_RE.fullmatch(alternative)
        if pair and catalog.occurs(compound := f"{pair.group(1)}-{pair.group(2)}"):
            phrases.append(compound)
        flat = [w for group in words(alternative) for w in group]
        if len(flat) == 1:
            phrases.extend(glued_splits(flat[0], catalog))
    return typed, list(dict.fromkeys(phrases))


_LETTERS_RE = re.compile(r"[^\W\d_]+")
SHOUTED_MIN_LETTERS = 5  # "QUANTIZATION" is shouted; "RLHF", "CLIP" and "BERT" are names


def _unshouted(alternative: str, catalog) -> str | None:
    """The alternative with its words typed in capitals in lower case, where the catalog
    writes them mostly as ordinary words ("DIFFUSION MODELS" is "diffusion models"): else
    they would read as abbreviations and find only papers that shout too. None when
    nothing changes ("FEVER", the dataset, stays as typed)."""

    def lowered(found: re.Match) -> str:
        word = found.group()
        if len(word) >= SHOUTED_MIN_LETTERS and word.isupper() and catalog.writes_mostly_plain(word.lower()):
            return word.lower()
        return word

    plain = _LETTERS_RE.sub(lowered, alternative)
    return plain if plain != alternative else None


SUGGEST_MIN_LETTERS = 5  # "transfomer" has a closest word; "RAGs" or "ViTs" are names
SUGGEST_CANDIDATES = 3
MAX_SUGGESTION_PHRASES = 27
MAX_MISTYPED_WORDS = 2


def _edits_allowed(word: str) -> int:
    """A typo or two: one letter wrong, missing, extra or two swapped ("agnets") in a
    word of up to eight letters, two in a longer one."""
    return 1 if len(word) <= 8 else 2


def did_you_mean(keyword: str, catalog) -> str | None:
    """The keyword with each word the catalog never writes replaced by a close word it
    does ("transfomer" -> "transformer"), or None when every word is known or an unknown
    one has no close word. Where a word has several close ones, the one that makes a
    phrase the catalog writes wins ("chain of thougth" is "chain of thought", not
    "though"), then the most written. `catalog` is a `matching.CatalogStats`."""
    spans = list(_LETTERS_RE.finditer(keyword))
    options: list[list[str]] = []
    for found in spans:
        word = found.group()
        if len(word) < SUGGEST_MIN_LETTERS or is_abbreviation(word) or catalog.knows_word(word):
            options.append([word])
            continue
        close = process.extract(
            word.lower(),
            catalog.vocabulary(),
            scorer=OSA.distance,
            score_cutoff=_edits_allowed(word),
            limit=SUGGEST_CANDIDATES,
        )
        if not close:
            return None
        best = min(distance for _, distance, _ in close)
        options.append([w for w, distance, _ in close if distance == best])
    unknown = sum(
        not (len(choice) == 1 and choice[0] == found.group()) for choice, found in zip(options, spans, strict=True)
    )
    if not unknown or unknown > MAX_MISTYPED_WORDS:
        return None  # nothing to correct, or not a typo but words papers do not use

    def written(choice: tuple[str, ...]) -> str:
        pieces, at = [], 0
        for found, word in zip(spans, choice, strict=True):
            pieces += [keyword[at : found.start()], word]
            at = found.end()
        return "".join(pieces) + keyword[at:]

    # The phrase test only where few combinations are possible: a keyword of several
    # mistyped words would otherwise make thousands of phrases to look up.
    if math.prod(len(choice) for choice in options) > MAX_SUGGESTION_PHRASES:
        options = [choice[:1] for choice in options]
    candidates = [written(choice) for choice in itertools.product(*options)]
    return max(candidates, key=lambda text: (catalog.occurs(text), catalog.doc_share(text)))


def spelled_as_the_field_writes(keyword: str, catalog) -> str:
    """The keyword with each compound written the way most of the catalog writes it:
    "finetuning", "fine-tuning" and "fine tuning" all become "fine-tuning" where papers
    mostly write that, and "machine-translation" becomes "machine translation". The lexical
    matcher treats the three spellings as one term already; the embedding model does not
    ("finetuning" is three odd word pieces to it), so without this a reader's spelling
    would change what they get. `catalog` is a `matching.CatalogStats`."""
    spans = [(m.start(), m.end(), m.group()) for m in _WORD_RE.finditer(keyword)]
    pieces: list[str] = []
    at = n = 0
    while n < len(spans):
        start, end, word = spans[n]
        parts: list[str] = []
        if _COMPOUND_RE.fullmatch(word):  # "fine-tuning"
            parts = _HYPHEN_RE.split(word)
        elif n + 1 < len(spans) and _spaced_compound(word, keyword[end : spans[n + 1][0]], spans[n + 1][2], catalog):
            parts, end = [word, spans[n + 1][2]], spans[n + 1][1]  # "fine tuning"
            n += 1
        elif splits := glued_splits(word, catalog):  # "finetuning"
            split = splits[0].split()
            parts = [word[: len(split[0])], word[len(split[0]) :]]  # the reader's case kept
        if parts:
            counts = catalog.compound_spellings(parts)
            if any(counts):
                # The most written of the three; on a tie, the first ("pretraining").
                most = max(range(3), key=lambda way: (counts[way], -way))
                pieces.append(keyword[at:start])
                pieces.append(("".join(parts), "-".join(parts), " ".join(parts))[most])
                at = end
        n += 1
    pieces.append(keyword[at:])
    return "".join(pieces)


def _spaced_compound(first: str, between: str, second: str, catalog) -> bool:
    """Whether two words typed with a space `between` them are one compound in the
    catalog ("pre training", "in context"): papers write them joined or hyphenated."""
    if between != " " or not (first.isalpha() and second.isalpha()):
        return False
    if is_abbreviation(first) or is_abbreviation(second):
        return False
    return catalog.knows_word(first + second)


def embedding_text(keyword: str, catalog=None) -> str:
    """What the embedding model reads for a typed keyword: its compounds spelled as the
    catalog spells them (with `catalog`, see `spelled_as_the_field_writes`), and acronyms
    from the curated list written out beside it ("RLHF (reinforcement learning from human
    feedback)"), since a small model knows little of "RLHF" or "ViT" alone."""
    # Only a keyword that is nothing but an acronym: in "LLM agents" the model knows
    # what the phrase means, and "large language model" written beside it would pull it
    # towards every LLM paper.
    joined = " ".join(w for group in words(keyword) for w in group).lower()
    # Keyword vectors are shared by lower-case key: "llms" is the plural of "LLM" here.
    forms = curated_acronyms().get(joined) or (curated_acronyms().get(joined[:-1]) if joined.endswith("s") else None)
    if forms:
        return f"{keyword} ({forms[0]})"
    return spelled_as_the_field_writes(keyword, catalog) if catalog is not None else keyword
