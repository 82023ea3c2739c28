"""Which papers a subscriber gets, in what order, and why.

INTERFACE (fixed; the sending pipeline and the signup preview call it):

- `Interest`: what one reader wants (topics, keywords, authors, exclusions, picks).
- `PaperIndex.build(papers)`: built ONCE per run over every candidate paper of the
  widest window; scoring a subscriber is then in-memory work, no queries.
- `index.match(interest, listed_from=..., listed_to=..., exclude_ids=..., limit=...)`:
  ranked `Match`es, best first, each with its why-lines.

How a paper is scored for one reader
------------------------------------
Each thing the reader asked for is a *clause*: one topic (all its curated phrases
together), one free keyword, one followed author. Text is read by `digest.text`
(word boundaries, accents folded, Snowball stems, phrases as consecutive words).

For a topic or keyword clause, every place a paper mentions one of its phrases is a
mention; overlapping matches count once ("sparse MoE" and "MoE" at the same spot) and so
does a phrase with its abbreviation right after it ("mixture of experts (MoE)"). A
mention in the title counts `TITLE_WEIGHT` times one in the abstract; abstract mentions
are scaled by the abstract's length as in BM25. That sum is the clause's *evidence* E.

The synonyms of a topic are scored as one pseudo-term (BM25F / Lucene's SynonymQuery):
their mentions add up before saturation, so a topic with twenty synonyms does not score
twenty times. Its IDF is the mention-weighted mean of its phrases' IDFs, taken from
document frequencies over the catalog (`CatalogStats`), not over the day's candidates:
how telling a phrase is belongs to the field's language, and a topic that is busy today
must not lose weight because of it.

- A topic *matches* when E x min(1, idf / IDF_REF) >= MIN_EVIDENCE: its phrases are in
  the title, or about three times in the abstract, and common phrases need more of it.
  A free keyword, narrower and chosen on purpose, needs KEYWORD_MIN_EVIDENCE: one clear
  mention. With vectors stored, whether a keyword matches is the learned decision's
  (`digest.decision`): its words, its topic and its closeness in meaning weighed
  together, so that an incidental mention ("... unlike 4-bit quantization, ...") in a
  paper about something else supports other matches but does not match alone. Such a
  paper is not dropped either: `Matches.in_passing` names the best of them, for the
  digest's web page. A keyword that would give a reader nothing they can get gives them
  the likeliest paper the decision nearly took (`_Clause.near_misses`); with the topic it
  suggests removed, only one the keyword finds with the topic.
- Its *score* is BM25's: min(idf, IDF_CAP) x E(k1+1)/(E+k1), so rare phrases weigh more
  and repetition saturates.
- A followed author is a match of `AUTHOR_SCORE`, above any single topic or keyword.
- With fewer than MIN_CATALOG_DOCS papers in the catalog, IDFs lean towards IDF_REF:
  a handful of papers cannot say which words are common.

A paper is in the list when at least one clause matches it. Its relevance is its best
clause's score plus half the others' (a paper that fits two interests ranks higher, but
two hints do not make a match); upvotes then add up to `UPVOTE_MAX_BOOST` (log-scaled,
after the threshold, so they never make a paper match). Excluded phrases remove a paper
wherever they occur; editor's picks open the list for readers who want them.

Costs: `build` tokenises the candidates once and keeps positional postings. What a topic,
keyword, exclusion or author finds is computed once per index and shared by every reader
who names it; a reader then costs a few dictionary look-ups per clause and candidate.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from array import array
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Container, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np
from django.conf import settings
from django.db.models import Count, Max, Sum
from django.db.models.functions import Length

from . import decision, semantic
from .keywords import AcronymTable, RelatedTable, as_written, related_terms, shipped_related_table, understand
from .meaning import MIN_SPREAD, TOPIC_Z_MIN, Z_AGREE, Feedback, KeywordMeaning, SemanticContext, current_related_table
from .models import Paper, Topic
from .text import (
    ABBREVIATION_MARK,
    FUNCTION_WORDS,
    Analysed,
    PersonName,
    Phrase,
    Term,
    analyse,
    compile_phrase,
    is_abbreviation,
    is_lettered_name,
    is_quoted,
    person_name,
    stem,
    words,
)

TITLE_WEIGHT = 3.0  # one title mention counts as three abstract mentions
ABSTRACT_B = 0.5  # BM25 length normalisation for abstracts
K1 = 1.5  # BM25 saturation
IDF_REF = 2.0  # phrases in fewer than about 13% of papers count fully towards the threshold
IDF_CAP = 5.0  # beyond this (about 1 paper in 300) rarity adds nothing
MIN_CATALOG_DOCS = 100  # fewer papers than this say little about which words are common
MIN_EVIDENCE = 2.5  # a title mention, or about three abstract mentions, of a telling phrase
# A free keyword is narrower and chosen on purpose: one clear mention is enough (a title
# mention, or one in an abstract of usual length); incidental ones rank low, by score.
KEYWORD_MIN_EVIDENCE = 0.6
# A keyword's evidence through the curated topic it names counts this much of the
# topic's own score: the curators' words for it, not the reader's.
EXPANSION_WEIGHT = 0.6
# A keyword of several words that the catalog hardly writes as typed (in fewer than this
# share of papers) is also read more loosely: its words standing close together in any
# order ("agents based on LLMs" for "LLM agents") count as NEAR_WEIGHT of a mention, and
# its telling words alone as TELLING_WEIGHT: the rarest word (IDF at least TELLING_IDF)
# and any within TELLING_SPREAD of it, when the others are clearly more common
# ("unlearning" for "machine unlearning", "agents" for "LLM agents").
RELAX_BELOW_SHARE = 0.01
_CONNECTORS = frozenset({"and", "or", "vs", "versus", "of", "to", "the", "in", "on", "for", "by"})
NEAR_WINDOW = 4
NEAR_WEIGHT = 0.7
TELLING_IDF = 3.0
TELLING_SPREAD = 1.0
TELLING_WEIGHT = 0.5
# A keyword this many of the catalog's papers already write finds its papers by itself:
# its topic would only add what the reader did not ask for ("LoRA" is not all of PEFT).
EXPAND_BELOW_SHARE = 0.01
# A paper close in meaning to a keyword (and nothing else) scores like a single
# abstract mention of a moderately telling phrase, twice that at the most.
SEMANTIC_SCORE = 2.0
# With vectors and a reference sample, whether a keyword matches a paper is the learned
# decision's (`digest.decision`), over the papers its words, its topic or its meaning
# find; a paper found by meaning alone is considered from this z-score on.
CANDIDATE_Z = 2.0
# A paper this close in meaning to a curated topic is weighed by the topic decision even
# if its phrases are not written (with them 94% of the tuning topics' relevant papers are
# candidates).
TOPIC_CANDIDATE_Z = 1.5
# A paper whose title writes the keyword matches from this closeness on, when fewer than
# this share of the catalog's papers write it (see `_evidence`).
TITLE_Z = 1.0
TITLE_RULE_SHARE = 0.1
# A paper says what it is about in its title: a related term there counts three times one
# in its abstract (as when the related terms were tried on the tuning interests).
RELATED_TITLE_WEIGHT = 3.0
# An abbreviation whose letters the catalog writes this many times more often as a plain
# word is matched only as written: "ZeRO" is not "Zero-shot"; "LLaMA" is also "Llama".
PLAIN_WORD_RATIO = 3
MERGE_GAP = 2  # mentions at most two words apart are one mention: "4-bit weight quantization"
SUPPORT_WEIGHT = 0.5  # share of the other clauses' scores added to the best one
UPVOTE_WEIGHT = 0.05  # relevance x (1 + 0.05 ln(1 + upvotes)) ...
UPVOTE_MAX_BOOST = 0.3  # ... at most +30%
# A followed author outranks the best possible single topic or keyword match, upvotes included.
AUTHOR_SCORE = IDF_CAP * (K1 + 1) * (1 + UPVOTE_MAX_BOOST)
# Feedback: closeness to a liked (disliked) paper, as a cosine ramped from FEEDBACK_FLOOR
# (unrelated papers of one field are about this close) to 1, raises (lowers) a paper's
# relevance by up to FEEDBACK_RAISE (FEEDBACK_LOWER). Bounded: feedback re-ranks what
# the reader asked for, it does not replace it.
FEEDBACK_FLOOR = 0.35
FEEDBACK_RAISE = 1.0
FEEDBACK_LOWER = 0.6
RAISE_SHOWN = 0.25  # from this much raise on, the paper says why
LIKED_NEIGHBOUR = 0.75  # this close to a liked paper: in the list even without a match
DISLIKED_NEIGHBOUR = 0.85  # this close to a disliked paper: a near-duplicate, dropped
# Matches past a reader's cut that a digest remembers, for its web page ("all 42
# matches"); a day with more than this many for one reader is a keyword gone too broad.
MORE_IDS_KEPT = 300
# Papers that write one of a reader's keywords only in passing (the keyword does not match
# them and nothing else of the reader's does) are not dropped: the digest's web page lists
# the best this many below every match, each with the keyword it writes.
IN_PASSING_KEPT = 20
FEEDBACK_REASON = 'like papers you marked "more like this"'
MAX_REASONS = 5
IN_PASSING = " (in passing)"  # ends the why-line of a mention that is no match of its own
MAX_PHRASES_PER_REASON = 2
# How many recent papers the catalog statistics are taken from. A phrase at IDF_CAP (one
# paper in ~300) is still seen about ten times in 3000 papers, and rarer ones score the
# cap anyway; the sample bounds the time (about 2 s) and memory (about 10 MB) they cost.
IDF_SAMPLE_SIZE = getattr(settings, "MATCHING_IDF_SAMPLE_SIZE", 3000)
# Per-index caches of what a keyword, exclusion or author finds; cleared when full so that
# a run over a million readers with unusual keywords stays within memory.
CLAUSE_CACHE_LIMIT = 50_000
# What a keyword reads, kept to weigh it again in each reader's field: about 5 KB each
# over the 202 sample papers (800 judged keywords), growing with the papers it finds. The
# least recently read go first: readers' keywords are a few common ones and a long tail.
READING_CACHE_LIMIT = 10_000
# Keywords' z-scores over the index's papers (for readers' other keywords), within this
# many bytes: 4,000 keywords over a thousand papers, the least recently used go first.
Z_CACHE_BYTES = 16_000_000
FIELD_COLUMN = decision.FEATURES.index("field")
DOCS_CACHE_LIMIT = 5_000

# Abstract positions are offset so that no phrase spans the end of the title.
_ABSTRACT_OFFSET = 1_000_000


@dataclass(frozen=True)
class TopicTerms:
    slug: str
    name: str
    phrases: tuple[str, ...]

    @classmethod
    def from_topic(cls, topic: Topic) -> TopicTerms:
        return cls(slug=topic.slug, name=topic.name, phrases=tuple(topic.keyword_list))


@dataclass(frozen=True)
class Interest:
    topics: tuple[TopicTerms, ...] = ()
    keywords: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    include_featured: bool = True
    unexpanded: tuple[str, ...] = ()  # keywords to match without their suggested topic
    without_related: tuple[str, ...] = ()  # keywords to match without their related terms
    # (keyword, term): one related term a reader left out of one keyword's
    left_out_terms: tuple[tuple[str, str], ...] = ()
    feedback: Feedback | None = None  # the reader's "more / less like this" votes
    # Other keywords the reader typed, read as their field though not matched here (one
    # keyword of theirs matched alone; `keywords` are read so anyway).
    field_keywords: tuple[str, ...] = ()

    @classmethod
    def from_subscriber(
        cls, subscriber, feedback: Feedback | None = None, topics: Iterable[TopicTerms] | None = None
    ) -> Interest:
        """Uses `subscriber.topics.all()` unless `topics` (in that order) is given: in bulk,
        read those for many readers at once (`digests.topics_of`), and pass their votes
        as `feedback` (see `feedback_for`)."""
        return cls(
            topics=tuple(TopicTerms.from_topic(t) for t in subscriber.topics.all())
            if topics is None
            else tuple(topics),
            keywords=tuple(subscriber.keywords or ()),
            authors=tuple(subscriber.authors or ()),
            excluded=tuple(subscriber.excluded_keywords or ()),
            include_featured=subscriber.include_featured,
            unexpanded=tuple(subscriber.unexpanded_keywords or ()),
            without_related=tuple(subscriber.keywords_without_related or ()),
            left_out_terms=left_out_pairs(subscriber.left_out_terms),
            feedback=feedback,
        )


def left_out_pairs(stored: dict[str, list[str]] | None) -> tuple[tuple[str, str], ...]:
    """A subscriber's left-out related terms as stored, {"keyword": ["term", ...]}, as
    (keyword, term) pairs."""
    return tuple((keyword, term) for keyword, terms in (stored or {}).items() for term in terms)


def stored_left_out(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """(keyword, term) pairs as a subscriber stores them: {"keyword": ["term", ...]}."""
    by_keyword: dict[str, list[str]] = {}
    for keyword, term in pairs:
        by_keyword.setdefault(keyword, []).append(term)
    return by_keyword


@dataclass
class Match:
    paper: Paper
    score: float
    topic: TopicTerms | None = None  # the paper's best-matching topic; None for keyword/author-only
    reasons: list[str] = field(default_factory=list)  # e.g. "keyword 'LoRA' in title"
    featured: bool = False  # an editor's pick shown even without a match


class Matches(list[Match]):
    """A reader's matches, best first, cut at their limit; `total` counts them uncut
    (the email says "Top 8 of 42"), and `more_ids` names the papers past the cut, best
    first (at most MORE_IDS_KEPT), for the web page that lists all of them, and
    `more_sections` what tags each of those there: its section's topic name (None for a
    keyword's or author's match) and its first reason. `in_passing`
    names, best first, papers that only mention one of the reader's keywords in passing,
    each with that keyword: not matches, so in neither `total` nor the email."""

    def __init__(
        self,
        matches: Iterable[Match] = (),
        *,
        total: int | None = None,
        more_ids: Sequence[int] = (),
        more_sections: Sequence[tuple[str | None, str]] = (),
        in_passing: Sequence[tuple[int, str]] = (),
    ) -> None:
        super().__init__(matches)
        self.total = len(self) if total is None else total
        self.more_ids = list(more_ids)
        self.more_sections = list(more_sections)
        self.in_passing = list(in_passing)


def idf(doc_freq: int, n_docs: int) -> float:
    """BM25's IDF, never negative."""
    return math.log(1.0 + (n_docs - doc_freq + 0.5) / (doc_freq + 0.5))


class CatalogStats:
    """Document frequencies and average lengths over (a recent sample of) the catalog.

    Single words are counted when the statistics are built; a phrase's document frequency
    is found on first use by checking word positions in the papers that hold all its
    words, then cached. Positions are kept as compact integer arrays (about 1 KB a paper).
    """

    def __init__(self) -> None:
        self.n_docs = 0
        self.avg_title_len = 1.0
        self.avg_abstract_len = 1.0
        self._ids: dict[str, int] = {}  # stems, and exact forms as "=form"
        self._pairs: dict[tuple[str, str], int] = {}  # (stem, exact) of a written word
        self._pair_stem: list[int] = []
        self._pair_exact: list[int] = []
        self._pairs_of: dict[int, list[int]] = defaultdict(list)  # stem or exact id -> pairs
        self._vocabulary: list[str] | None = None
        self._postings: dict[int, array] = {}
        self._docs: list[array] = []
        self._df: dict[Phrase, int] = {}
        self._docs_cache: dict[Phrase, frozenset[int]] = {}
        self._lock = threading.Lock()
        # Acronyms and their long forms: the curated list plus what these papers define.
        self.acronyms = AcronymTable()

    @classmethod
    def from_texts(cls, texts: Iterable[tuple[str, str]]) -> CatalogStats:
        """From (title, abstract) pairs."""
        stats = cls()
        pairs = stats._pairs
        postings: dict[int, list[int]] = defaultdict(list)
        title_total = abstract_total = 0
        for doc, (title, abstract) in enumerate(texts):
            title_a, abstract_a = analyse(title or ""), analyse(abstract or "")
            stats.acronyms.learn(f"{title or ''}. {abstract or ''}")
            title_total += len(title_a.tokens)
            abstract_total += len(abstract_a.tokens)
            sequence = array("i")
            for part_no, part in enumerate((title_a, abstract_a)):
                if part_no:
                    sequence.append(-1)  # no phrase spans title and abstract
                for token in part.tokens:
                    pair = pairs.get(token)
                    if pair is None:
                        pair = stats._add_pair(token)
                    sequence.append(pair)
            present = {stats._id(joined) for part in (title_a, abstract_a) for _, _, joined in part.compounds}
            for pair in set(sequence):
                if pair >= 0:
                    present.add(stats._pair_stem[pair])
                    present.add(stats._pair_exact[pair])
            for term_id in present:
                postings[term_id].append(doc)
            stats._docs.append(sequence)
            stats.n_docs += 1
        stats._postings = {term_id: array("i", docs) for term_id, docs in postings.items()}
        stats.acronyms.finish_learning()
        if stats.n_docs:
            stats.avg_title_len = max(1.0, title_total / stats.n_docs)
            stats.avg_abstract_len = max(1.0, abstract_total / stats.n_docs)
        return stats

    @classmethod
    def from_papers(cls, papers: Iterable[Paper]) -> CatalogStats:
        return cls.from_texts((p.title, p.abstract) for p in papers)

    @classmethod
    def for_catalog(cls, sample_size: int | None = None) -> CatalogStats:
        """Statistics over the most recent visible papers of the catalog.

        One aggregate query tells whether papers were added, removed, hidden or renamed
        since the statistics were last computed in this process; only then are they
        computed again (one more query). So the web preview and every run after the
        first pay almost nothing. (New upvotes or a corrected abstract do not count as a
        change: they do not move document frequencies.)"""
        size = sample_size or IDF_SAMPLE_SIZE
        visible = Paper.objects.filter(is_hidden=False)
        fingerprint = (
            size,
            *visible.aggregate(
                n=Count("id"), top=Max("id"), last=Max("created_at"), titles=Sum(Length("title"))
            ).values(),
        )
        with _catalog_lock:
            cached = _catalog_cache.get("stats")
            if cached and cached[0] == fingerprint:
                return cached[1]
        texts = visible.order_by("-id").values_list("title", "abstract")[:size]
        stats = cls.from_texts(texts.iterator(chunk_size=2000))
        with _catalog_lock:
            _catalog_cache["stats"] = (fingerprint, stats)
        return stats

    def _id(self, key: str) -> int:
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = len(self._ids)
        return found

    def _add_pair(self, token: tuple[str, str]) -> int:
        pair = self._pairs[token] = len(self._pairs)
        stem_id, exact_id = self._id(token[0]), self._id("=" + token[1])
        self._pair_stem.append(stem_id)
        self._pair_exact.append(exact_id)
        self._pairs_of[stem_id].append(pair)
        self._pairs_of[exact_id].append(pair)
        return pair

    def _term_ids(self, term: Term) -> set[int]:
        kind, value = term
        if kind == "s":
            keys = [value]
        else:
            keys = ["=" + form for form in value]
            for form in value:
                if form.startswith(ABBREVIATION_MARK):
                    plain = "=" + form[1:]
                    if not plain_word_dominates(self._doc_count(plain), self._doc_count("=" + form)):
                        keys.append(plain)
        return {self._ids[key] for key in keys if key in self._ids}

    def _doc_count(self, key: str) -> int:
        term_id = self._ids.get(key)
        return len(self._postings.get(term_id, ())) if term_id is not None else 0

    def _term_docs(self, term: Term) -> set[int]:
        docs: set[int] = set()
        for term_id in self._term_ids(term):
            docs.update(self._postings.get(term_id, ()))
        return docs

    def doc_freq(self, phrase: Phrase) -> int:
        cached = self._df.get(phrase)
        if cached is not None:
            return cached
        found = self._phrase_docs(phrase)
        with self._lock:
            if len(self._df) >= 4 * CLAUSE_CACHE_LIMIT:  # unusual keywords must not pile up
                self._df.clear()
            self._df[phrase] = len(found)
        return len(found)

    def _phrase_docs(self, phrase: Phrase) -> set[int]:
        found: set[int] = set()
        for variant in phrase.variants:
            if len(variant) == 1:
                found |= self._term_docs(variant[0])
                continue
            candidates: set[int] | None = None
            for docs in sorted((self._term_docs(term) for term in variant), key=len):
                candidates = docs if candidates is None else candidates & docs
                if not candidates:
                    break
            if not candidates:
                continue
            # For each word of the phrase: which written words (pairs) it accepts.
            accepts = [self._accepted_pairs(term) for term in variant]
            for doc in candidates - found:
                if _has_sequence(self._docs[doc], accepts):
                    found.add(doc)
        return found

    def vocabulary(self) -> list[str]:
        """The words the catalog writes, in lower case, that more than one paper writes
        (a word only one paper has may be its own typo). For spelling suggestions."""
        if self._vocabulary is None:
            words_ = {
                key[1:].removeprefix(ABBREVIATION_MARK)
                for key, term_id in self._ids.items()
                if key.startswith("=") and len(self._postings.get(term_id, ())) >= 2
            }
            self._vocabulary = sorted(word for word in words_ if word.isalpha())
        return self._vocabulary

    def writes_mostly_plain(self, word: str) -> bool:
        """Whether the catalog writes this lower-case word far more often as an ordinary
        word than in capitals (`plain_word_dominates`)."""
        return plain_word_dominates(self._doc_count("=" + word), self._doc_count("=" + ABBREVIATION_MARK + word))

    def knows_word(self, word: str) -> bool:
        """Whether some paper of the catalog writes this word (any form of its stem)."""
        return stem(word.lower()) in self._ids

    def occurs(self, phrase_text: str) -> bool:
        """Whether some paper of the catalog writes this phrase."""
        return self.doc_share(phrase_text) > 0

    def doc_share(self, phrase_text: str) -> float:
        """The share of the catalog's papers that write this phrase."""
        phrase = compile_phrase(phrase_text)
        if phrase.is_empty or not self.n_docs:
            return 0.0
        return self.doc_freq(phrase) / self.n_docs

    def keyword_share(self, phrases: Iterable[Phrase]) -> float:
        """How common a keyword's phrases are: the sum of their shares of the catalog's
        papers, each set of papers counted once. "finetuning" is read as "finetuning"
        and "fine tuning", which find the same papers: typed one way the keyword must not
        look twice as common as typed the other. (A sum, not the share of papers with
        any of them: the learned decision and the expansion gate were fitted on sums.)"""
        if not self.n_docs:
            return 0.0
        found: set[frozenset[int]] = set()
        for phrase in phrases:
            if not phrase.is_empty:
                found.add(self._docs_of(phrase))
        return sum(len(docs) for docs in found) / self.n_docs

    def _docs_of(self, phrase: Phrase) -> frozenset[int]:
        """`_phrase_docs`, kept while the statistics are (as `doc_freq` keeps its counts):
        a planning run builds a new index each tick, and asks again for every keyword."""
        cached = self._docs_cache.get(phrase)
        if cached is None:
            cached = frozenset(self._phrase_docs(phrase))
            with self._lock:
                if len(self._docs_cache) >= DOCS_CACHE_LIMIT:  # document sets are bigger than counts
                    self._docs_cache.clear()
                self._docs_cache[phrase] = cached
        return cached

    def compound_spellings(self, parts: Sequence[str]) -> tuple[int, int, int]:
        """How many papers write a compound as one word ("pretraining"), hyphenated
        ("pre-training") and with a space ("pre training"); a paper that writes it
        several ways counts for the first of them."""
        every = self._phrase_docs(compile_phrase(" ".join(parts)))  # any of the three ways
        stem_id = self._ids.get(stem("".join(parts).lower()))
        joined: set[int] = set()
        if stem_id is None:
            return 0, 0, len(every)
        for pair in self._pairs_of.get(stem_id, ()):
            joined.update(self._postings.get(self._pair_exact[pair], ()))
        joined &= every
        hyphenated = (set(self._postings.get(stem_id, ())) & every) - joined
        return len(joined), len(hyphenated), len(every - joined - hyphenated)

    def _accepted_pairs(self, term: Term) -> set[int]:
        return {pair for term_id in self._term_ids(term) for pair in self._pairs_of.get(term_id, ())}

    def idf(self, phrase: Phrase) -> float:
        # A handful of papers cannot tell common words from telling ones: below
        # MIN_CATALOG_DOCS the IDF leans towards IDF_REF ("moderately telling").
        weight = min(1.0, self.n_docs / MIN_CATALOG_DOCS)
        return weight * idf(self.doc_freq(phrase), self.n_docs) + (1.0 - weight) * IDF_REF


def plain_word_dominates(plain_docs: int, abbreviation_docs: int) -> bool:
    """Whether an abbreviation must be matched only where it is written as one: its
    letters are an ordinary word that the catalog writes far more often ("ZeRO" and
    "zero-shot"). Otherwise the plain writing is the same name ("LLaMA", "Llama")."""
    return plain_docs >= PLAIN_WORD_RATIO * max(1, abbreviation_docs)


def _has_sequence(sequence: array, accepts: list[set[int]]) -> bool:
    first, rest = accepts[0], accepts[1:]
    last_start = len(sequence) - len(accepts)
    for start, pair in enumerate(sequence):
        if start > last_start:
            return False
        if pair in first and all(sequence[start + 1 + n] in ok for n, ok in enumerate(rest)):
            return True
    return False


_catalog_lock = threading.Lock()
_catalog_cache: dict[str, tuple[tuple, CatalogStats]] = {}


@dataclass(frozen=True, slots=True)
class _Hit:
    """What one clause found in one paper."""

    score: float
    passes: bool
    reason: str
    evidence: float = 0.0  # mentions, weighted by field and how telling the phrase is
    # Found in the title (or the byline): what the paper is about, so the reason that
    # names the paper's section in the email, before a rarer word in its abstract.
    in_title: bool = False
    # How far into the paper its first mention comes: 0 in the title, else the share of
    # the abstract before it (1 when nothing is mentioned). A paper says what it is
    # about first; "... unlike 4-bit quantization" comes late.
    depth: float = 1.0


@dataclass(frozen=True, slots=True)
class _Clause:
    hits: dict[int, _Hit]
    scores: dict[int, float]  # the hits' scores, for the hot loop
    passing: frozenset[int]
    topic: TopicTerms | None = None
    # A keyword's papers that write it (as typed, or its acronym or spelling forms) but
    # that it does not match: incidental mentions, best first, ranked below every match.
    mentioned: tuple[int, ...] = ()
    # Papers the learned decision nearly took (chance at least BEST_CANDIDATE_FLOOR),
    # likeliest first, each with the hit it would have: a reader who would get nothing
    # from the keyword gets the first of these they can get.
    near_misses: tuple[tuple[int, _Hit], ...] = ()


_NO_CLAUSE = _Clause({}, {}, frozenset())


@dataclass(frozen=True, slots=True)
class _KeywordReading:
    phrases: list[Phrase]
    strict: _Clause  # the keyword as typed, with its acronym and spelling forms
    lexical: _Clause  # ... and its looser readings
    meaning: KeywordMeaning | None  # None without vectors
    topic: TopicTerms | None  # the curated topic it names, if any
    through: _Clause  # what that topic finds, unless the reader removed it
    # Papers that write the keyword's related terms (`keywords.related_terms`): how
    # strongly (3 a term in the title, 1 in the abstract, summed over terms), the term
    # that says it best and whether that is in the title. Read only with vectors: the
    # learned decision weighs them.
    related: dict[int, tuple[float, str, bool]] = field(default_factory=dict)


@dataclass(slots=True)
class _Read:
    """A keyword's reading, and for a reader with no other keyword what the learned
    decision reads about its candidates (None without z-scores)."""

    reading: _KeywordReading | None
    evidence: KeywordEvidence | None = None
    made: dict[tuple[int, bool], _Hit] = field(default_factory=dict)  # see `_decided`


@dataclass(frozen=True)
class KeywordEvidence:
    """What one typed keyword finds, as the learned decision reads it."""

    papers: list[int]  # index positions of the candidate papers
    rows: np.ndarray  # their features, in `decision.FEATURES` order
    forced: np.ndarray  # match whatever the decision says (the keyword is a topic's very name)
    without_vector: np.ndarray  # no vector yet: closeness says nothing, the words decide ...
    word_passes: np.ndarray  # ... whether the keyword's words or its topic's phrases match
    # The decision's trees' part for these rows: it does not change with the reader's
    # field, so every reader of the keyword shares it (`_in_field` keeps the same dict).
    # Holds (decision, logits): the decision it was computed for, held so it is never
    # mistaken for another.
    tree_part: dict = field(default_factory=dict, compare=False, repr=False)

    def decide(self, keyword_decision: decision.Decision, fallback: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Which candidates match, and the decision's chance for each. When none would,
        the likeliest one does if its chance reaches `decision.BEST_CANDIDATE_FLOOR`
        (with `fallback`; matching applies that rule per reader instead, over the papers
        that reader can get: `_Clause.near_misses`)."""
        known = self.tree_part.get("of")
        if known is None or known[0] is not keyword_decision:
            known = (keyword_decision, keyword_decision.tree_logits(self.rows))
            self.tree_part["of"] = known
        chances = keyword_decision.probabilities(self.rows, tree_logits=known[1])
        decided = (chances >= keyword_decision.threshold) | self.forced
        passes = np.where(self.without_vector, self.word_passes, decided)
        if fallback and not passes.any() and not self.without_vector.all():
            best = int(np.argmax(np.where(self.without_vector, -1.0, chances)))
            passes[best] = chances[best] >= decision.BEST_CANDIDATE_FLOOR
        return passes, chances


@dataclass(frozen=True)
class TopicEvidence:
    """What a curated topic's phrases and meaning find, as the learned topic decision
    reads it (`decision.TOPIC_FEATURES`)."""

    papers: list[int]  # index positions of the candidate papers
    rows: np.ndarray
    without_vector: np.ndarray  # no vector yet: the rule alone decides ...
    rule_passes: np.ndarray  # ... whether its phrases (or its meaning) take the paper

    def decide(self, topic_decision: decision.Decision) -> np.ndarray:
        chances = topic_decision.probabilities(self.rows)
        return np.where(self.without_vector, self.rule_passes, chances >= topic_decision.threshold)


# A posting is one int: start position << 4 | number of words (hyphenated compounds
# span several). Ints are far lighter than tuples over a day's thousand papers.
_SPAN_BITS = 4
_SPAN_MASK = (1 << _SPAN_BITS) - 1


def _terms_to_read(typed: str, alternatives: list[str], own: list[Phrase], table: RelatedTable) -> list[str]:
    """A typed keyword's related terms (for "X and Y" without terms of its own, its
    parts'), less those that read as the keyword itself; none for a quoted keyword: the
    reader asked for their words as written, nothing else."""
    if '"' in typed:
        return []
    terms = list(related_terms(typed, table))
    if not terms and len(alternatives) > 1:
        for alternative in alternatives:
            terms.extend(term for term in related_terms(alternative, table) if term not in terms)
    own_variants = {variant for phrase in own for variant in phrase.variants}
    return [term for term in terms if not own_variants & set(compile_phrase(term).variants)]


@dataclass(frozen=True, slots=True)
class _UsualPapers:
    """The reference sample's papers (`SemanticContext.reference_papers`) indexed for their
    words, and their vectors in float64 (compared with for every keyword read), row for
    row."""

    papers: tuple[Paper, ...]
    words: PaperIndex
    vectors: np.ndarray


_usual_lock = threading.Lock()
_usual_cache: dict[str, _UsualPapers] = {}


class PaperIndex:
    def __init__(
        self,
        papers: list[Paper],
        catalog_stats: CatalogStats | None = None,
        semantic_context: SemanticContext | None = None,
    ):
        """Index `papers` (hidden ones are left out). Without `catalog_stats`, document
        frequencies are taken over these papers themselves; `build` takes them from the
        catalog instead. Without `semantic_context` matching is lexical only."""
        self.papers = [p for p in papers if not p.is_hidden]
        self.semantic = semantic_context
        # The related terms: the shipped list, with the curators' lines where the semantic
        # context read them. (Their concepts are also phrases kept whole: "simultaneous
        # localization and mapping" is no "X and Y".)
        self.related = semantic_context.related if semantic_context is not None else shipped_related_table()
        self._keyword_decision: decision.Decision | None = None
        self._topic_decision: decision.Decision | None = None
        self.stats = catalog_stats if catalog_stats is not None else CatalogStats.from_papers(self.papers)
        # Stems, and exact forms as "=form" where they differ from the stem.
        self._postings: dict[str, dict[int, list[int]]] = {}
        self._spellings: dict[str, set[str]] = defaultdict(set)  # stem -> exact forms that differ
        self._abstract_norm: list[float] = []
        self._abstract_len: list[int] = []
        self._listed_on: list[dt.date | None] = []
        self._boost: list[float] = []
        self._order: list[tuple[int, str, int]] = []  # tie-breaks: more upvotes, then title, then id
        self._pks: list[int | None] = []
        self._authors: dict[str, list[tuple[int, PersonName, str]]] = defaultdict(list)
        self._featured: list[int] = []
        for idx, paper in enumerate(self.papers):
            self._add(idx, paper)
        # Paper vectors (zero rows for papers not embedded yet: they score 0 against all).
        vectors = [semantic.from_bytes(getattr(p, "embedding", None)) for p in self.papers]
        self._has_vector = np.array([v is not None for v in vectors], dtype=bool)
        self._vectors = np.zeros((len(vectors), semantic.DIMENSIONS), dtype=np.float32)
        for idx, vector in enumerate(vectors):
            if vector is not None:
                self._vectors[idx] = vector
        self._term_cache: dict[Term, dict[int, list[int]]] = {}
        self._topic_cache: dict[tuple, _Clause] = {}
        self._phrase_topics: dict[tuple[str, ...], set[str]] | None = None
        # By (keyword, topic kept, related terms kept, terms left out): what a keyword reads,
        # and its matches for a reader with no other keyword.
        self._keyword_cache: dict[tuple[str, bool, bool, frozenset[str]], _Clause] = {}
        self._reading_cache: OrderedDict[tuple[str, bool, bool, frozenset[str]], _Read] = OrderedDict()
        # Keywords' z-scores over every paper, for readers' other keywords: a few KB each.
        self._z_cache: OrderedDict[str, np.ndarray | None] = OrderedDict()
        self._z_cache_limit = max(64, Z_CACHE_BYTES // (4 * max(len(self.papers), 1)))
        # Where each related term is written, by paper: many keywords share terms ("LLM").
        self._related_cache: dict[str, dict[int, set[tuple[int, int]]]] = {}
        self._excluded_cache: dict[str, frozenset[int]] = {}
        self._author_cache: dict[str, _Clause] = {}

    @classmethod
    def build(
        cls,
        papers: Iterable[Paper],
        catalog_stats: CatalogStats | None = None,
        *,
        embed_missing_keywords: bool = False,
    ) -> PaperIndex:
        """Index the candidates once per run. Document frequencies come from the catalog
        (`CatalogStats.for_catalog()`: one query, cached while the catalog is unchanged)
        unless `catalog_stats` is given; an empty catalog falls back to the candidates.
        With semantic matching on, topic and reference vectors are read too (two queries);
        `embed_missing_keywords` lets this process compute vectors for keywords nobody
        saved yet, in memory (the web preview; never the send workers). They are stored
        when a reader saves them."""
        papers = [p for p in papers if not p.is_hidden]
        if catalog_stats is None:
            catalog_stats = CatalogStats.for_catalog()
            if catalog_stats.n_docs == 0:
                catalog_stats = CatalogStats.from_papers(papers)
        context = None
        if semantic.semantic_matching_enabled():
            context = SemanticContext.for_catalog(
                embed_missing_keywords=embed_missing_keywords, catalog_stats=catalog_stats
            )
        return cls(papers, catalog_stats, context)

    @property
    def topic_decision(self) -> decision.Decision:
        """The learned decision of when a curated topic matches, read on first use."""
        if self._topic_decision is None:
            self._topic_decision = decision.shipped_topic()
        return self._topic_decision

    def use_topic_decision(self, topic_decision: decision.Decision) -> None:
        """Match topics with `topic_decision` from now on instead of the shipped one
        (`evaluate_matching --topics-left-out` scores each topic with one fitted without it)."""
        self._topic_decision = topic_decision
        for key in [key for key in self._topic_cache if key[0] == "decided"]:
            del self._topic_cache[key]

    @property
    def keyword_decision(self) -> decision.Decision:
        """The learned decision of when a typed keyword matches, read on first use (so that
        `train_matching` can build an index to fit a new one when the features change)."""
        if self._keyword_decision is None:
            self._keyword_decision = decision.shipped()
        return self._keyword_decision

    @property
    def has_featured(self) -> bool:
        """Whether any indexed paper is an editor's pick."""
        return bool(self._featured)

    def prefetch_keywords(self, keywords: Iterable[str]) -> None:
        """Read the stored vectors of many readers' keywords at once (one query)."""
        if self.semantic is not None and self._has_vector.any():
            self.semantic.prefetch_keywords(keywords)

    # Building.

    def _add(self, idx: int, paper: Paper) -> None:
        title, abstract = analyse(paper.title or ""), analyse(paper.abstract or "")
        self._index_field(idx, title, 0)
        self._index_field(idx, abstract, _ABSTRACT_OFFSET)
        ratio = len(abstract.tokens) / self.stats.avg_abstract_len
        # Mentions in a long abstract count less (BM25); in a short one, never more than one.
        self._abstract_norm.append(min(1.0, 1.0 / (1.0 - ABSTRACT_B + ABSTRACT_B * ratio)))
        self._abstract_len.append(max(1, len(abstract.tokens)))
        self._listed_on.append(paper.listed_on)
        self._boost.append(1.0 + min(UPVOTE_MAX_BOOST, UPVOTE_WEIGHT * math.log1p(paper.upvotes or 0)))
        self._order.append((-(paper.upvotes or 0), paper.title, paper.pk or 0))
        self._pks.append(paper.pk)
        for raw in paper.authors or ():
            display = raw.get("name", "") if isinstance(raw, dict) else str(raw)
            name = person_name(display)
            if name is not None:
                self._authors[name.family].append((idx, name, display.strip()))
        if paper.is_featured:
            self._featured.append(idx)

    def _index_field(self, idx: int, text: Analysed, offset: int) -> None:
        postings, spellings = self._postings, self._spellings
        for position, (stemmed, exact) in enumerate(text.tokens, start=offset):
            code = position << _SPAN_BITS | 1
            by_paper = postings.get(stemmed)
            if by_paper is None:
                by_paper = postings[stemmed] = {}
            codes = by_paper.get(idx)
            if codes is None:
                by_paper[idx] = [code]
            else:
                codes.append(code)
            if exact != stemmed:
                spellings[stemmed].add(exact)
                postings.setdefault("=" + exact, {}).setdefault(idx, []).append(code)
        for start, end, joined in text.compounds:
            if end - start <= _SPAN_MASK:
                code = (start + offset) << _SPAN_BITS | (end - start)
                postings.setdefault(joined, {}).setdefault(idx, []).append(code)

    # Finding phrases.

    def _term_postings(self, term: Term) -> dict[int, list[int]]:
        cached = self._term_cache.get(term)
        if cached is not None:
            return cached
        kind, value = term
        if isinstance(value, str):  # kind "s": a stem
            found = self._postings.get(value, {})
        else:
            found = {}
            for form in value:
                for idx, codes in self._exact_postings(form).items():
                    found.setdefault(idx, []).extend(codes)
        _remember(self._term_cache, term, found)
        return found

    def _exact_postings(self, form: str) -> dict[int, list[int]]:
        """Where the word is written exactly `form` (lower case; an abbreviation marked)."""
        if form.startswith(ABBREVIATION_MARK):
            written = self._postings.get("=" + form, {})
            plain = self._exact_postings(form[1:])
            # Counted over the catalog, as `CatalogStats` does: whether "LLaMA" also finds
            # "Llama" must not depend on which days' papers this index holds.
            if not plain or self.stats.writes_mostly_plain(form[1:]):
                return written
            merged = {idx: list(codes) for idx, codes in written.items()}
            for idx, codes in plain.items():
                merged.setdefault(idx, []).extend(codes)
            return merged
        stemmed = stem(form)
        if stemmed != form:
            return self._postings.get("=" + form, {})
        # Words written as their own stem are filed under the stem only: take the stem's
        # postings less those written otherwise ("rag" but not "rags" or "ragged").
        others = [self._postings.get("=" + other, {}) for other in self._spellings.get(form, ())]
        base = self._postings.get(form, {})
        if not others:
            return base
        found = {}
        for idx, codes in base.items():
            elsewhere = {code for postings in others for code in postings.get(idx, ())}
            kept = [code for code in codes if code not in elsewhere]
            if kept:
                found[idx] = kept
        return found

    def _occurrences(self, phrase: Phrase) -> dict[int, set[tuple[int, int]]]:
        """Spans (start, end) where the phrase occurs, by paper."""
        found: dict[int, set[tuple[int, int]]] = defaultdict(set)
        for variant in phrase.variants:
            first = self._term_postings(variant[0])
            rest = [self._term_postings(term) for term in variant[1:]]
            if any(not postings for postings in rest):
                continue
            for idx, codes in first.items():
                if not all(idx in postings for postings in rest):
                    continue
                following = [
                    {code >> _SPAN_BITS: (code >> _SPAN_BITS) + (code & _SPAN_MASK) for code in postings[idx]}
                    for postings in rest
                ]
                for code in codes:
                    start = code >> _SPAN_BITS
                    end = start + (code & _SPAN_MASK)
                    for starts in following:
                        after = starts.get(end)  # the next word starts where this one ends
                        if after is None:
                            break
                        end = after
                    else:
                        found[idx].add((start, end))
        return found

    def _near_occurrences(self, phrase: Phrase) -> dict[int, set[tuple[int, int]]]:
        """Spans where all the phrase's words (written apart) stand within NEAR_WINDOW
        words of each other, in any order, in one field."""
        found: dict[int, set[tuple[int, int]]] = defaultdict(set)
        variant = max(phrase.variants, key=len)  # every word on its own
        if len(variant) < 2:
            return found
        postings = [self._term_postings(term) for term in variant]
        if any(not p for p in postings):
            return found
        first, rest = postings[0], postings[1:]
        for idx, codes in first.items():
            if not all(idx in p for p in rest):
                continue
            others = [sorted(code >> _SPAN_BITS for code in p[idx]) for p in rest]
            for code in codes:
                start = code >> _SPAN_BITS
                field_start = 0 if start < _ABSTRACT_OFFSET else _ABSTRACT_OFFSET
                field_end = _ABSTRACT_OFFSET if start < _ABSTRACT_OFFSET else 1 << 40
                low, high = start, start + 1
                for positions in others:
                    close = [
                        q
                        for q in positions
                        if abs(q - start) <= NEAR_WINDOW and field_start <= q < field_end and q != start
                    ]
                    if not close:
                        break
                    nearest = min(close, key=lambda q: abs(q - start))
                    low, high = min(low, nearest), max(high, nearest + 1)
                else:
                    found[idx].add((low, high))
        return found

    # Scoring one clause.

    def _clause(
        self,
        phrases: list[Phrase],
        describe,
        min_evidence: float,
        topic: TopicTerms | None = None,
        weaker: Sequence[tuple[Phrase, float, bool]] = (),
    ) -> _Clause:
        """`weaker` phrases count as a fraction of a mention: (phrase, weight, near),
        where `near` finds the phrase's words standing close together in any order
        ("agents powered by LLMs" for "LLM agents")."""
        everything = [*phrases, *(phrase for phrase, _, _ in weaker)]
        idfs = [self.stats.idf(phrase) for phrase in everything]
        weights = [1.0] * len(phrases) + [weight for _, weight, _ in weaker]
        nears = [False] * len(phrases) + [near for _, _, near in weaker]
        # How the why-line names what was found: words found apart are shown apart
        # ("knowledge … graphs": the paper did not write "knowledge graphs").
        labels = [
            " … ".join(w for group in words(phrase.text) for w in group) if near else as_written(phrase.text)
            for phrase, near in zip(everything, nears, strict=True)
        ]
        spans: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
        for number, phrase in enumerate(everything):
            found_by = self._near_occurrences(phrase) if nears[number] else self._occurrences(phrase)
            for idx, found in found_by.items():
                spans[idx].extend((start, end, number) for start, end in found)
        hits: dict[int, _Hit] = {}
        for idx, mentions in spans.items():
            hit = self._score(idx, mentions, labels, idfs, describe, min_evidence, weights, everything, nears)
            if hit is not None:
                hits[idx] = hit
        passing = frozenset(idx for idx, hit in hits.items() if hit.passes)
        return _Clause(hits, {idx: hit.score for idx, hit in hits.items()}, passing, topic)

    def _score(
        self,
        idx: int,
        found,
        labels: list[str],
        idfs: list[float],
        describe,
        min_evidence: float,
        weights: list[float],
        phrases: Sequence[Phrase],
        nears: Sequence[bool],
    ) -> _Hit | None:
        # Longest (then most telling) matches first; a shorter one inside it is the same mention.
        found.sort(key=lambda s: (-(s[1] - s[0]), -idfs[s[2]], s[0]))
        taken: list[tuple[int, int, int]] = []
        for span in found:
            if all(span[1] <= t[0] or span[0] >= t[1] for t in taken):
                taken.append(span)
        taken.sort()
        evidence = weighted_idf = 0.0
        mentions: dict[int, float] = defaultdict(float)
        fields: dict[int, set[str]] = defaultdict(set)
        previous_end = -10
        for start, end, number in taken:
            in_title = start < _ABSTRACT_OFFSET
            fields[number].add("title" if in_title else "abstract")
            # A phrase with its abbreviation right after it, "mixture of experts (MoE)",
            # is one mention. (Title and abstract positions are far apart.)
            adjacent = 0 <= start - previous_end <= MERGE_GAP
            previous_end = end
            if adjacent:
                continue
            weight = (TITLE_WEIGHT if in_title else self._abstract_norm[idx]) * weights[number]
            evidence += weight
            weighted_idf += weight * idfs[number]
            mentions[number] += weight
        if evidence <= 0:
            return None
        mean_idf = weighted_idf / evidence
        strength = evidence * min(1.0, mean_idf / IDF_REF)
        passes = strength >= min_evidence
        score = min(mean_idf, IDF_CAP) * evidence * (K1 + 1) / (evidence + K1)
        if describe is None:  # only which papers pass is wanted (`_like_clear`): no why-line
            return _Hit(score=score, passes=passes, reason="", evidence=strength)
        # What the title wrote comes first in the why-line (a reader sees it at once),
        # then the phrases mentioned most, rarer ones on ties.
        order = sorted(fields, key=lambda n: ("title" not in fields[n], -mentions[n], -idfs[n]))
        order = order[:MAX_PHRASES_PER_REASON]
        first_span: dict[int, tuple[int, int]] = {}
        for start, end, number in taken:
            first_span.setdefault(number, (start, end))
        shown = {
            n: (None if nears[n] else self._as_the_paper_writes(idx, phrases[n], *first_span[n])) or labels[n]
            for n in order
        }
        parts = [f"'{shown[n]}' in {' and '.join(sorted(fields[n], reverse=True))}" for n in order]
        in_title = any("title" in found_in for found_in in fields.values())
        first = taken[0][0]
        depth = 0.0 if first < _ABSTRACT_OFFSET else min(1.0, (first - _ABSTRACT_OFFSET) / self._abstract_len[idx])
        return _Hit(
            score=score, passes=passes, reason=describe(parts), evidence=strength, in_title=in_title, depth=depth
        )

    def _as_the_paper_writes(self, idx: int, phrase: Phrase, start: int, end: int) -> str | None:
        """The paper's own words where it differs from the phrase by more than a plural:
        the stemmer finds "security" in a paper that writes "secure", and a why-line
        saying "'security' in title" would not be true. None when it says the same (or
        for anything but a plain run of words: acronyms, joined compounds)."""
        plain = _plain_words(phrase)
        if plain is None or end - start != len(plain[0]):
            return None
        typed, groups = plain
        written: list[str] = []
        for position, word in zip(range(start, end), typed, strict=True):
            code = position << _SPAN_BITS | 1
            if code in self._postings.get("=" + word, {}).get(idx, ()):
                written.append(word)  # as typed: by far the most common case
                continue
            stemmed = stem(word)
            forms = sorted(self._spellings.get(stemmed, ()))
            form = next((f for f in forms if code in self._postings.get("=" + f, {}).get(idx, ())), stemmed)
            written.append(form.removeprefix(ABBREVIATION_MARK))  # "MoE" is "moe", shown as curated
        if all(_same_word(a, b) for a, b in zip(written, typed, strict=True)):
            return None
        # Joined as the phrase joins its words ("fine-tuned" for "fine-tuning").
        in_order = iter(written)
        return " ".join("-".join(next(in_order) for _ in range(size)) for size in groups)

    def _topic(self, topic: TopicTerms) -> _Clause:
        """A reader's curated topic: with vectors, the papers the learned topic decision
        takes (`topic_evidence`); without, the rule (`_topic_rule`)."""
        key = ("decided", topic.slug, topic.name, tuple(topic.phrases))  # phrases may come as a list
        cached = self._topic_cache.get(key)
        if cached is None:
            rule = self._topic_rule(topic)
            evidence = self.topic_evidence(topic)
            cached = rule if evidence is None else self._topic_decided(rule, evidence, topic)
            _remember(self._topic_cache, key, cached)
        return cached

    def _topic_rule(self, topic: TopicTerms) -> _Clause:
        """The papers a topic's phrases find (evidence reaching MIN_EVIDENCE), and with
        vectors those far closer in meaning to it than the usual paper. A typed keyword's
        topic is read this way (`_through`): the keyword decision was fitted on it."""
        key = ("rule", topic.slug, topic.name, tuple(topic.phrases))
        cached = self._topic_cache.get(key)
        if cached is None:
            cached = self._topic_meaning(self._topic_phrases(topic), topic)
            _remember(self._topic_cache, key, cached)
        return cached

    def _topic_phrases(self, topic: TopicTerms) -> _Clause:
        key = ("phrases", topic.slug, topic.name, tuple(topic.phrases))
        cached = self._topic_cache.get(key)
        if cached is None:
            phrases = _unique_phrases(topic.phrases)
            cached = self._clause(
                phrases, lambda parts: f"topic {topic.name}: " + "; ".join(parts), MIN_EVIDENCE, topic
            )
            _remember(self._topic_cache, key, cached)
        return cached

    def reads_topic_meaning(self, slug: str) -> bool:
        """Whether this index has z-scores of closeness to the topic (vectors, a reference)."""
        if self.semantic is None or not self._has_vector.any():
            return False
        return self.semantic.topic_z_scores(slug, self._vectors) is not None

    def topic_evidence(self, topic: TopicTerms) -> TopicEvidence | None:
        """The papers a topic's phrases mention or its meaning comes near, and what the
        learned topic decision reads about each. None without z-scores, and for a topic
        whose phrases none of the usual papers write (none at all, say: a curator's new
        topic with a description only): every topic the decision was fitted on had some,
        and without them it would take nearly nothing. The rule decides those.
        (`train_matching` fits the decision on these.)"""
        if self.semantic is None or not self._has_vector.any() or not topic.phrases:
            return None
        z_scores = self.semantic.topic_z_scores(topic.slug, self._vectors)
        if z_scores is None:
            return None
        phrases, rule = self._topic_phrases(topic), self._topic_rule(topic)
        candidates = set(phrases.hits) | set(
            np.flatnonzero((z_scores >= TOPIC_CANDIDATE_Z) & self._has_vector).tolist()
        )
        idxs = sorted(candidates)
        like, breadth = self._like_usual(_unique_phrases(topic.phrases), idxs, MIN_EVIDENCE)
        if breadth is None:  # no reference sample's papers: this index's share
            breadth = len(phrases.passing) / max(len(self.papers), 1)
        if breadth == 0:
            return None
        rows = np.array(
            [
                decision.topic_feature_row(
                    score=phrases.hits[idx].score if idx in phrases.hits else 0.0,
                    evidence=phrases.hits[idx].evidence if idx in phrases.hits else 0.0,
                    in_title=idx in phrases.hits and phrases.hits[idx].in_title,
                    closeness=float(z_scores[idx]),
                    like_passing=None if np.isnan(near) else float(near),
                    breadth=breadth,
                    rule=idx in rule.passing,
                )
                for idx, near in zip(idxs, like.tolist(), strict=True)
            ],
            dtype=np.float64,
        ).reshape(len(idxs), len(decision.TOPIC_FEATURES))
        rule_passes = np.array([idx in rule.passing for idx in idxs], dtype=bool)
        return TopicEvidence(idxs, rows, ~self._has_vector[idxs], rule_passes)

    def _topic_decided(self, rule: _Clause, evidence: TopicEvidence, topic: TopicTerms) -> _Clause:
        """The rule's clause with the decision's verdicts: a paper it takes passes (named
        by its phrases when they are there, else "close in meaning"), one it does not
        stays as support for the reader's other interests."""
        hits = dict(rule.hits)
        closeness = decision.TOPIC_FEATURES.index("closeness")
        verdicts = evidence.decide(self.topic_decision)
        # What the rule would not have taken is weaker evidence: it ranks after what both take.
        kept = [
            hits[idx].score
            for idx, takes in zip(evidence.papers, verdicts, strict=True)
            if takes and idx in rule.passing
        ]
        ceiling = min(kept, default=np.inf)
        for idx, takes, row in zip(evidence.papers, verdicts, evidence.rows, strict=True):
            own = hits.get(idx)
            if own is not None and own.passes != takes:
                hits[idx] = replace(own, passes=bool(takes), score=min(own.score, ceiling) if takes else own.score)
            elif own is None and takes:
                strength = min(max(float(row[closeness]) - TOPIC_Z_MIN + 1.0, 0.5), 2.0)
                score = min(SEMANTIC_SCORE * strength, ceiling)
                hits[idx] = _Hit(score, True, f"topic {topic.name}: close in meaning")
        passing = frozenset(idx for idx, hit in hits.items() if hit.passes)
        return _Clause(hits, {idx: hit.score for idx, hit in hits.items()}, passing, topic)

    def _topic_meaning(self, lexical: _Clause, topic: TopicTerms) -> _Clause:
        """Papers about a topic in other words than its phrases: far closer in meaning to
        "Name: description" than the usual paper."""
        if self.semantic is None or not self._has_vector.any():
            return lexical
        z_scores = self.semantic.topic_z_scores(topic.slug, self._vectors)
        if z_scores is None:
            return lexical
        hits = dict(lexical.hits)
        for idx in np.flatnonzero((z_scores >= TOPIC_Z_MIN) & self._has_vector).tolist():
            own = hits.get(idx)
            if own is not None and own.passes:
                continue
            score = SEMANTIC_SCORE * min(float(z_scores[idx]) - TOPIC_Z_MIN + 1.0, 2.0)
            hits[idx] = _Hit(
                score=max(score, own.score if own else 0.0),
                passes=True,
                reason=f"topic {topic.name}: close in meaning",
            )
        passing = frozenset(idx for idx, hit in hits.items() if hit.passes)
        return _Clause(hits, {idx: hit.score for idx, hit in hits.items()}, passing, topic)

    def _keyword(
        self,
        keyword: str,
        expand: bool = True,
        related: bool = True,
        left_out: frozenset[str] = frozenset(),
        others: Iterable[str] = (),
    ) -> _Clause:
        """A typed keyword: the phrases it means (`digest.keywords`); with vectors stored,
        also the curated topic it clearly names and its related terms (unless the reader
        removed them) and the papers close to it in meaning, weighed together by the
        learned decision, which also reads how close each paper is to the nearest of the
        reader's `others` keywords (their field)."""
        typed = keyword.strip()
        alone = self._keyword_alone(typed, expand, related, left_out)
        context = self._field_key(typed, others)
        if not context:
            return alone
        read = self._reading(typed, expand, related, left_out)
        if read.evidence is None or read.reading is None:
            return alone
        in_field = self._in_field(read.evidence, context)
        if in_field is read.evidence:
            return alone
        # Not kept: few readers share all their other keywords. (Even where the field
        # changes no match, it moves the chances that order a keyword's near misses and
        # score what closeness in meaning alone finds.)
        clause = self._decided(typed, read.reading, in_field, read.made)
        return self._finished(clause, typed, expand, related, left_out, context)

    def _keyword_alone(self, typed: str, expand: bool, related: bool, left_out: frozenset[str]) -> _Clause:
        """`_keyword` for a reader with no other keyword (the clause all such readers share)."""
        key = (typed, expand, related, left_out)
        cached = self._keyword_cache.get(key)
        if cached is not None:
            return cached
        read = self._reading(typed, expand, related, left_out)
        reading = read.reading
        if reading is None:
            cached = _NO_CLAUSE
        elif reading.meaning is None:
            cached = reading.lexical
        elif read.evidence is None:
            cached = self._with_topic(reading.lexical, typed, reading.topic if expand else None, reading.through)
        else:
            cached = self._finished(
                self._decided(typed, reading, read.evidence, read.made), typed, expand, related, left_out
            )
        if reading is not None and read.evidence is None:
            cached = self._with_mentioned(cached, reading)
        _remember(self._keyword_cache, key, cached)
        return cached

    def _finished(
        self,
        clause: _Clause,
        typed: str,
        expand: bool,
        related: bool,
        left_out: frozenset[str],
        context: tuple[str, ...] = (),
    ) -> _Clause:
        """A decided keyword's clause, narrowed as the reader narrowed it, with its
        incidental mentions."""
        read = self._reading(typed, expand, related, left_out)
        assert read.reading is not None
        if (not expand and read.reading.topic is not None) or not related or left_out:
            # The reader removed the topic or the related terms to narrow the keyword:
            # its matches and its likeliest paper only among those the keyword found
            # with them, never one it did not (whatever weights a refit gives them).
            with_all = self._keyword(typed, others=context).passing
            clause = replace(
                clause,
                passing=clause.passing & with_all,
                near_misses=tuple((idx, hit) for idx, hit in clause.near_misses if idx in with_all),
            )
        return self._with_mentioned(clause, read.reading)

    def _with_mentioned(self, clause: _Clause, reading: _KeywordReading) -> _Clause:
        if mentioned := set(reading.strict.hits) - clause.passing:
            scores = clause.scores
            best_first = sorted(mentioned, key=lambda idx: (-scores.get(idx, 0.0), self._order[idx]))
            clause = replace(clause, mentioned=tuple(best_first))
        return clause

    def _reading(self, typed: str, expand: bool, related: bool, left_out: frozenset[str]) -> _Read:
        """`_read_keyword`, and what the decision reads about its candidates for a reader
        with no other keyword, once per index: readers share keywords, not their other
        keywords."""
        key = (typed, expand, related, left_out)
        cached = self._reading_cache.get(key)
        if cached is not None:
            with suppress(KeyError):  # another thread may have let it go meanwhile
                self._reading_cache.move_to_end(key)
        else:
            reading = self._read_keyword(typed, expand, related, left_out)
            if reading is not None and reading.meaning is not None and reading.meaning.z_scores is not None:
                evidence = self._evidence(typed, reading, reading.meaning, reading.meaning.z_scores)
                # Kept for many keywords: not a number per paper each (`_z_scores` has them).
                self._keep_z_scores(semantic.keyword_key(typed), reading.meaning.z_scores)
                reading = replace(reading, meaning=replace(reading.meaning, z_scores=None))
                cached = _Read(reading, evidence)
            else:
                cached = _Read(reading)
            self._reading_cache[key] = cached
            _trim(self._reading_cache, READING_CACHE_LIMIT)
        return cached

    @staticmethod
    def _field_key(typed: str, others: Iterable[str]) -> tuple[str, ...]:
        """The reader's other keywords as one cache key (as `semantic.keyword_key`)."""
        own = semantic.keyword_key(typed)
        return tuple(sorted({key for word in others if (key := semantic.keyword_key(word)) and key != own}))

    def _z_scores(self, keyword: str) -> np.ndarray | None:
        """A keyword's z-scores over the index's papers (`keyword_meaning`), kept for the
        last few thousand keywords."""
        if (kept := self._z_cache.get(keyword, _MISSING)) is not _MISSING:
            with suppress(KeyError):
                self._z_cache.move_to_end(keyword)
            return kept  # type: ignore[return-value]
        meaning = self.keyword_meaning(keyword)
        return self._keep_z_scores(keyword, meaning.z_scores if meaning is not None else None)

    def _keep_z_scores(self, key: str, z_scores: np.ndarray | None) -> np.ndarray | None:
        kept = self._z_cache[key] = z_scores.astype(np.float32) if z_scores is not None else None
        _trim(self._z_cache, self._z_cache_limit)
        return kept

    def _in_field(self, evidence: KeywordEvidence, context: tuple[str, ...]) -> KeywordEvidence:
        """`evidence` with its "field" read as the z-score of each paper's closeness to the
        nearest of the reader's other keywords `context` (`_evidence` reads the keyword's
        own closeness: a reader who typed no other, or none with a vector)."""
        if not context or not len(evidence.papers):
            return evidence
        papers = np.asarray(evidence.papers)
        nearest = None
        for word in context:
            if (z_scores := self._z_scores(word)) is not None:
                nearest = z_scores[papers] if nearest is None else np.maximum(nearest, z_scores[papers])
        if nearest is None:
            return evidence
        rows = evidence.rows.copy()
        rows[:, FIELD_COLUMN] = nearest
        return replace(evidence, rows=rows)

    def _read_keyword(
        self, typed: str, expand: bool, related: bool = True, left_out: frozenset[str] = frozenset()
    ) -> _KeywordReading | None:
        """What a typed keyword's words, topic and vector find (None: no words at all).
        Matching and `keyword_evidence` (which the decision is fitted on) both read a
        keyword here, so that the decision is fitted on what it is later applied to."""
        alternatives, meant = understand(typed, self.stats, self.related)
        phrases = _unique_phrases(meant)
        if not phrases:
            return None

        def describe(parts: list[str]) -> str:
            if parts[0].startswith(f"'{typed}' in "):
                return "keyword " + parts[0]
            return f"keyword '{typed}': " + parts[0]

        strict = self._clause(phrases, describe, KEYWORD_MIN_EVIDENCE)
        relaxed = self._relaxed(alternatives)
        lexical = self._clause(phrases, describe, KEYWORD_MIN_EVIDENCE, weaker=relaxed) if relaxed else strict
        meaning = self.keyword_meaning(typed)
        topic = self.expansion_topic(typed) if meaning is not None else None
        # The topic the keyword names says what its words mean, whether or not the reader
        # kept it; removing it only takes away the papers its phrases find.
        through = self._through(typed, topic) if topic is not None and expand else _NO_CLAUSE
        # Only the learned decision reads related terms: not without z-scores either.
        weighed = meaning is not None and meaning.z_scores is not None
        written = self._related(typed, alternatives, phrases, left_out) if weighed and related else {}
        return _KeywordReading(phrases, strict, lexical, meaning, topic, through, written)

    def _related(
        self, typed: str, alternatives: list[str], own: list[Phrase], left_out: frozenset[str] = frozenset()
    ) -> dict[int, tuple[float, str, bool]]:
        """Which papers write the typed keyword's related terms (or, for "X and Y", its
        parts'), how strongly (a term in the title counts 3, in the abstract 1), the term
        to name in a why-line (the first in the list's order written where it counts
        most) and whether that is in the title.

        A term is found only as written, plurals aside: names stem into common words
        ("Imagic" is not "image"). A term that reads as the keyword itself ("language
        modeling" for "language models") is the keyword's own evidence, not related; and
        a mention two terms share ("LLM", "LLMs") counts once."""
        strength: dict[int, float] = defaultdict(float)
        named: dict[int, tuple[float, str, bool]] = {}  # the best single term: (weight, term, in title)
        counted: dict[int, set[tuple[int, int]]] = defaultdict(set)
        for term in _terms_to_read(typed, alternatives, own, self.related):
            if term.casefold() in left_out:  # the reader left this one out
                continue
            for idx, written in self._related_occurrences(term).items():
                spans = {span for span in written if not any(_overlap(span, seen) for seen in counted[idx])}
                if not spans:
                    continue
                counted[idx].update(spans)
                in_title = any(start < _ABSTRACT_OFFSET for start, _ in spans)
                in_abstract = any(start >= _ABSTRACT_OFFSET for start, _ in spans)
                weight = RELATED_TITLE_WEIGHT * in_title + in_abstract
                strength[idx] += weight
                if weight > named.get(idx, (0.0, "", False))[0]:
                    named[idx] = (weight, term, in_title)
        return {idx: (total, named[idx][1], named[idx][2]) for idx, total in strength.items()}

    def related_terms_read(self, keyword: str, even_without_vectors: bool = False) -> tuple[str, ...]:
        """The related terms a typed keyword is matched through, in the list's order, as
        the signup and manage pages show them: none where no learned decision weighs them
        (no vectors, unless `even_without_vectors`: a reader's removal of them is shown
        on such a day too, or saving the page would lose it), and none for a keyword in
        quotes."""
        typed = keyword.strip()
        if not even_without_vectors:
            meaning = self.keyword_meaning(typed)
            if meaning is None or meaning.z_scores is None:
                return ()
        # (Without semantic matching, only a removal is shown: from the list as it stands.)
        table = self.related if self.semantic is not None else current_related_table()
        alternatives, meant = understand(typed, self.stats, table)
        return tuple(_terms_to_read(typed, alternatives, _unique_phrases(meant), table))

    def _related_occurrences(self, term: str) -> dict[int, set[tuple[int, int]]]:
        """Where a related term is written as written (quoted: plurals aside), by paper."""
        found = self._related_cache.get(term)
        if found is None:
            phrase = compile_phrase(f'"{term}"')
            found = {} if phrase.is_empty else dict(self._occurrences(phrase))
            _remember(self._related_cache, term, found)
        return found

    def keyword_evidence(self, keyword: str, expand: bool = True, others: Iterable[str] = ()) -> KeywordEvidence | None:
        """The papers a typed keyword's words, topic or meaning find, and what the learned
        decision reads about each, for a reader who also typed `others`. None without
        vectors. (`train_matching` fits the decision on these.)"""
        typed = keyword.strip()
        evidence = self._reading(typed, expand, True, frozenset()).evidence
        if evidence is None:
            return None
        return self._in_field(evidence, self._field_key(typed, others))

    def _evidence(
        self, typed: str, reading: _KeywordReading, meaning: KeywordMeaning, z_scores: np.ndarray
    ) -> KeywordEvidence:
        strict, lexical, through = reading.strict, reading.lexical, reading.through
        candidates = set(lexical.hits) | set(through.hits)
        candidates.update(np.flatnonzero((z_scores >= CANDIDATE_Z) & self._has_vector).tolist())
        related = reading.related
        share = self.stats.keyword_share(reading.phrases)
        margin = meaning.topic_similarity - meaning.runner_up_similarity
        idxs = sorted(candidates)
        like_clear = self._like_clear(reading.phrases, idxs)
        rows = np.array(
            [
                decision.feature_row(
                    evidence=strict.hits[idx].evidence if idx in strict.hits else 0.0,
                    depth=strict.hits[idx].depth if idx in strict.hits else 1.0,
                    clear=idx in strict.passing,
                    looser_only=idx in lexical.hits and idx not in strict.hits,
                    closeness=float(z_scores[idx]),
                    through_topic=idx in through.passing,
                    names_topic=reading.topic is not None,
                    share=share,
                    topic_margin=margin,
                    related=related[idx][0] if idx in related else 0.0,
                    field=float(z_scores[idx]),
                    like_clear=None if np.isnan(like) else float(like),
                )
                for idx, like in zip(idxs, like_clear.tolist(), strict=True)
            ],
            dtype=np.float64,
        ).reshape(len(idxs), len(decision.FEATURES))
        # dtype=bool: with no candidate at all an empty list would make float arrays.
        word_passes = np.array([idx in lexical.passing or idx in through.passing for idx in idxs], dtype=bool)
        # A keyword that is a topic's very name means the topic: the topic's matches that
        # are not far from the keyword in meaning are the keyword's.
        named = reading.topic is not None and self._named_topic(typed) is reading.topic
        # A title that writes the keyword as typed says what the paper is about: unless
        # the paper is no closer in meaning than usual, it matches whatever the weights
        # say. (On the tuning interests such papers are 79% relevant at closeness 1-2,
        # 88% in all; the decision had put some of them below its threshold.) Not for a
        # keyword many papers write ("model", "LLMs"): there the weights know better.
        rare = share < TITLE_RULE_SHARE
        forced = np.array(
            [
                bool(named and idx in through.passing and z_scores[idx] >= Z_AGREE)
                or (rare and idx in strict.hits and strict.hits[idx].depth == 0.0 and z_scores[idx] >= TITLE_Z)
                for idx in idxs
            ],
            dtype=bool,
        )
        return KeywordEvidence(idxs, rows, forced, ~self._has_vector[idxs], word_passes)

    def _usual_papers(self) -> _UsualPapers | None:
        """The reference sample's papers indexed for their words with this index's
        statistics (which usual papers write a keyword), shared by every index of the same
        reference and statistics in this process (a run's chunks, the signup preview):
        building it over 1,000 papers takes about a second. None without them."""
        if self.semantic is None or not self.semantic.reference_papers:
            return None
        papers, reference = self.semantic.reference_papers, self.semantic.reference
        with _usual_lock:
            kept = _usual_cache.get("usual")
            if kept is not None and kept.papers is papers and kept.words.stats is self.stats:
                return kept
        usual = _UsualPapers(papers, PaperIndex(list(papers), self.stats), reference.astype(np.float64))
        with _usual_lock:
            _usual_cache["usual"] = usual  # one at a time: the latest reference is the one asked for
        return usual

    def _like_clear(self, phrases: list[Phrase], idxs: list[int]) -> np.ndarray:
        """For each paper of `idxs`, the z-score of its closeness to the mean vector of the
        usual papers (the reference sample) that clearly write the keyword's `phrases`, a
        paper among them compared with the others only; NaN where there are none (or it
        is the only one), or the paper has no vector. From the reference sample, not from
        this index's papers: a reader's matches must not depend on which other readers'
        papers a run happens to index."""
        return self._like_usual(phrases, idxs, KEYWORD_MIN_EVIDENCE)[0]

    def _like_usual(
        self, phrases: list[Phrase], idxs: list[int], min_evidence: float
    ) -> tuple[np.ndarray, float | None]:
        """`_like_clear` for phrases written with at least `min_evidence`, and the share of
        the usual papers that write them so (None without a reference sample's papers)."""
        like = np.full(len(idxs), np.nan)
        if (usual := self._usual_papers()) is None:
            return like, None
        writers = sorted(usual.words._clause(phrases, None, min_evidence).passing)
        share = len(writers) / len(usual.papers)
        if not writers:
            return like, share
        reference = usual.vectors
        total = reference[writers].sum(axis=0)
        # A writer among the papers compared is compared with the other writers only (its
        # own vector would make it look like them); the rest share one direction. Matched
        # by id: a paper without one (unsaved; never in a run) is compared with them all.
        position = {self._pks[idx]: j for j, idx in enumerate(idxs) if self._pks[idx] is not None}
        compared = [(position[pk], row) for row in writers if (pk := usual.papers[row].pk) in position]
        directions = np.vstack([total, *(total - reference[row] for _, row in compared)])
        # A z-score does not depend on the scale, but the spread's floor is for unit vectors.
        norms = np.linalg.norm(directions, axis=1)
        usable = norms > 1e-6
        directions[usable] /= norms[usable, None]
        spread_over = reference @ directions.T
        centre, spread = spread_over.mean(axis=0), np.maximum(spread_over.std(axis=0), MIN_SPREAD)
        which = np.zeros(len(idxs), dtype=np.intp)
        for number, (j, _) in enumerate(compared, start=1):
            which[j] = number
        known = self._has_vector[idxs] & usable[which]
        closeness = (self._vectors[idxs].astype(np.float64) * directions[which]).sum(axis=1)
        like[known] = ((closeness - centre[which]) / spread[which])[known]
        return like, share

    def _decided(
        self, typed: str, reading: _KeywordReading, evidence: KeywordEvidence, made: dict | None = None
    ) -> _Clause:
        """The keyword's matches as the learned decision takes them (on `evidence`): every
        paper its words (as typed, or read loosely), its topic or its meaning find, weighed
        together. A mention the decision does not take stays as support for the reader's
        other interests; the why-line names the reader's own word when it is there, else
        the topic, else closeness in meaning. (`made` keeps the hits that do not depend on
        the decision's chance, for the next reader of the same keyword.)"""
        passes, chances = evidence.decide(self.keyword_decision, fallback=False)
        lexical, through, topic = reading.lexical, reading.through, reading.topic
        made = {} if made is None else made

        def taken(idx: int, chance: float) -> _Hit:
            if (hit := made.get((idx, True))) is not None:
                return hit
            own, via = lexical.hits.get(idx), through.hits.get(idx)
            if own is not None:
                score = max(own.score, via.score * EXPANSION_WEIGHT) if via is not None else own.score
                made[idx, True] = hit = replace(own, score=score, passes=True)
                return hit
            if via is not None and topic is not None:
                reason = _through_topic(typed, topic, via)
                made[idx, True] = hit = _Hit(via.score * EXPANSION_WEIGHT, True, reason, in_title=via.in_title)
                return hit
            if (other := reading.related.get(idx)) is not None:
                # Said in other words: the why-line names them, as for a looser reading.
                _, term, in_title = other
                reason = f"keyword '{typed}': '{as_written(term)}' in {'title' if in_title else 'abstract'}"
                return _Hit(2 * SEMANTIC_SCORE * chance, True, reason, in_title=in_title)
            return _Hit(2 * SEMANTIC_SCORE * chance, True, f"close in meaning to '{typed}'")

        hits: dict[int, _Hit] = {}
        near: list[tuple[float, int]] = []
        for idx, passed, chance, no_vector in zip(
            evidence.papers, passes.tolist(), chances.tolist(), evidence.without_vector.tolist(), strict=True
        ):
            if passed:
                hits[idx] = taken(idx, chance)
                continue
            if (own := lexical.hits.get(idx)) is not None:
                if (hit := made.get((idx, False))) is None:
                    made[idx, False] = hit = replace(own, passes=False)
                hits[idx] = hit
            if not no_vector and chance >= decision.BEST_CANDIDATE_FLOOR:
                near.append((-chance, idx))
        passing = frozenset(idx for idx, hit in hits.items() if hit.passes)
        near_misses = tuple((idx, taken(idx, -negative)) for negative, idx in sorted(near))
        return _Clause(hits, {idx: hit.score for idx, hit in hits.items()}, passing, None, near_misses=near_misses)

    def _relaxed(self, alternatives: list[str]) -> list[tuple[Phrase, float, bool]]:
        """Looser readings of a typed phrase of several words that the catalog hardly
        ever writes as typed ("LLM agents", "machine unlearning"): its words close together
        in any order, and its telling words alone when the others are common ones
        ("unlearning"; "machine" says nothing). Only the reader's own words: an acronym's
        long form loosened ("low-rank ... adaptation") is not what they asked for."""
        relaxed: list[tuple[Phrase, float, bool]] = []
        for text in alternatives:
            phrase = compile_phrase(text)
            groups = words(text)
            flat = [w for group in groups for w in group]
            if phrase.is_empty or len(flat) < 2 or is_quoted(text):
                continue
            numbered = any(word.isdigit() for word in flat)
            if numbered and sum(not word.isdigit() for word in flat) < 2:
                continue  # "4-bit" is not "8-bit", nor "GPT-5" a "5" near "GPT"
            if self.stats.doc_share(text) >= RELAX_BELOW_SHARE:
                continue  # the field writes it this way: no need to guess
            # A hyphenated name with a one-letter part ("k-NN", "t-SNE") is one word:
            # not its "NN" alone, nor a "k" somewhere near an "NN".
            named = [group for group in groups if is_lettered_name(group)]
            if len(groups) == 1 and named:
                continue
            if len(flat) <= 3:
                relaxed.append((phrase, NEAR_WEIGHT, True))
            idfs = {word: self.stats.idf(compile_phrase(word)) for word in flat}
            rarest = max(idfs.values())
            # A single letter is never what a keyword is about ("A/B testing" is not "B").
            telling = [w for w in flat if idfs[w] >= rarest - TELLING_SPREAD and len(w) > 1]
            # A compound joined by a small word ("pick-and-place", "one-vs-rest") is a
            # name as a whole: "place" alone is not it. Kept whole or left out whole
            # ("end-to-end unlearning" is "unlearning"); "multi-agent" loosens to "agent".
            kept = set(telling)
            cut = any(
                len(group) > 2 and _CONNECTORS & {w.lower() for w in group} and 0 < len(kept & set(group)) < len(group)
                for group in groups
            ) or any(0 < len(kept & set(group)) < len(group) for group in named)
            if rarest >= TELLING_IDF and telling and len(telling) < len(flat) and not cut and not numbered:
                relaxed.append((compile_phrase(" ".join(telling)), TELLING_WEIGHT, False))
        return relaxed

    def keyword_meaning(self, keyword: str):
        """What the stored vectors say about a keyword (None without them)."""
        if self.semantic is None or not self._has_vector.any():
            return None
        return self.semantic.meaning(keyword, self._vectors)

    def expansion_topic(self, keyword: str) -> TopicTerms | None:
        """The curated topic a typed keyword also matches through, if any: the one topic
        it is clearly closest to in meaning, unless the catalog already writes the keyword
        often enough for it to find its papers by itself. (The signup and manage pages
        show it, and the reader can remove it.)"""
        typed = keyword.strip()
        if self.semantic is None or not typed:
            return None
        # A reader who types a topic's very name ("efficient inference") means the topic,
        # however often the catalog writes the words.
        topic = self._named_topic(typed)
        if topic is not None:
            return topic
        meaning = self.semantic.meaning(typed, self._vectors[:0])
        if meaning is None or meaning.topic_slug is None:
            return None
        phrases = _unique_phrases(understand(typed, self.stats, self.related)[1])
        if self.stats.keyword_share(phrases) >= EXPAND_BELOW_SHARE:
            return None
        # A keyword the curators list under two topics ("RLHF": reinforcement learning,
        # and safety and alignment) belongs to neither alone: expanding it to the one
        # nearer in meaning gave a reader of preference tuning the bandit papers.
        if len(self._topics_listing(typed)) > 1:
            return None
        return self.semantic.topics.get(meaning.topic_slug)

    def _topics_listing(self, typed: str) -> set[str]:
        """The curated topics that list the typed keyword among their phrases, however
        it is capitalised ("rlhf" is the curators' "RLHF") or quoted."""
        if self._phrase_topics is None:
            listing: dict[tuple[str, ...], set[str]] = defaultdict(set)
            for topic in self.semantic.topics.values() if self.semantic else ():
                for phrase in topic.phrases:
                    listing[_folded_words(phrase)].add(topic.slug)
            self._phrase_topics = listing
        return self._phrase_topics.get(_folded_words(typed), set())

    def _named_topic(self, typed: str) -> TopicTerms | None:
        if self.semantic is None:
            return None
        named = compile_phrase(typed).variants
        for topic in self.semantic.topics.values():
            if compile_phrase(topic.name).variants == named:
                return topic
        return None

    def _through(self, typed: str, topic: TopicTerms) -> _Clause:
        """What a keyword finds through the topic it names. Where it adds words of its own
        to the topic's ("diffusion editing" to Diffusion models, "LLM agents" to Agents and
        tool use), only the topic's papers that also write them (or an acronym's long form):
        the others are the topic's, not the reader's. A topic's very name means the topic."""
        clause = self._topic_rule(topic)
        if not clause.hits or self._named_topic(typed) is topic:
            return clause
        topic_stems = {stem(word.lower()) for phrase in topic.phrases for group in words(phrase) for word in group}
        own = [
            word
            for group in words(typed)
            for word in group
            if word.casefold() not in FUNCTION_WORDS and stem(word.lower()) not in topic_stems
        ]
        if not own:
            return clause
        writing: list[set[int]] = []
        for word in own:
            papers: set[int] = set()
            for form in (word, *sorted(self.stats.acronyms.long_forms(word))):
                papers.update(self._occurrences(compile_phrase(form)))
            writing.append(papers)
        hits = {idx: hit for idx, hit in clause.hits.items() if all(idx in papers for papers in writing)}
        return _Clause(hits, {idx: hit.score for idx, hit in hits.items()}, clause.passing & hits.keys(), clause.topic)

    def _with_topic(
        self, lexical: _Clause, typed: str, topic: TopicTerms | None, through: _Clause | None = None
    ) -> _Clause:
        """Without a reference sample (a young catalog: too few papers to say what is
        usual) there is nothing to weigh closeness by: the keyword's own hits, plus those
        through the topic it names as weaker evidence (the curators' words for it, not
        the reader's). `through` is what the topic finds for the keyword, when the
        keyword's reading has it already (`_through`)."""
        if topic is None:
            return lexical
        hits = dict(lexical.hits)
        for idx, hit in (through if through is not None else self._through(typed, topic)).hits.items():
            score = hit.score * EXPANSION_WEIGHT
            own = hits.get(idx)
            if own is not None and (own.passes or not hit.passes) and own.score >= score:
                continue
            passes = hit.passes or (own is not None and own.passes)
            hits[idx] = _Hit(
                score=max(score, own.score if own else 0.0),
                passes=passes,
                reason=_through_topic(typed, topic, hit),
                in_title=hit.in_title,
            )
        passing = frozenset(idx for idx, hit in hits.items() if hit.passes)
        return _Clause(hits, {idx: hit.score for idx, hit in hits.items()}, passing, None)

    def _excluded(self, phrase_text: str) -> frozenset[int]:
        key = phrase_text.strip()
        cached = self._excluded_cache.get(key)
        if cached is None:
            phrase = compile_phrase(key)
            cached = frozenset(self._occurrences(phrase)) if not phrase.is_empty else frozenset()
            _remember(self._excluded_cache, key, cached)
        return cached

    def _author(self, followed: str) -> _Clause:
        key = followed.strip()
        cached = self._author_cache.get(key)
        if cached is None:
            wanted = person_name(key)
            hits: dict[int, _Hit] = {}
            if wanted is not None:
                for idx, name, display in self._authors.get(wanted.family, ()):
                    if idx not in hits and wanted.same_person(name):
                        hits[idx] = _Hit(score=AUTHOR_SCORE, passes=True, reason=f"author {display}", in_title=True)
            cached = _Clause(hits, {idx: AUTHOR_SCORE for idx in hits}, frozenset(hits))
            _remember(self._author_cache, key, cached)
        return cached

    # Matching one reader.

    def match(
        self,
        interest: Interest,
        *,
        listed_from: dt.date | None = None,
        listed_to: dt.date | None = None,
        exclude_ids: Container[int] = frozenset(),
        limit: int | None = None,
        picks: int | None = None,
    ) -> Matches:
        """Papers listed in [listed_from, listed_to] (either end open when None) that
        clear the relevance threshold, featured picks first, then by score; at most
        `limit` of them, and `.total` says how many there were before the cut.

        With `picks` (`digest.picks`), only the best `picks` featured papers are picks,
        on top of `limit`; the other featured papers count only if they match."""
        clauses = [self._author(name) for name in interest.authors if name.strip()]
        clauses += [self._topic(topic) for topic in interest.topics]
        closeness = self._feedback_closeness(interest.feedback)
        # What the reader left out: near-duplicates of a paper they disliked, and papers
        # with a phrase they excluded.
        dropped: set[int] = set()
        if closeness is not None:
            dropped = set(np.flatnonzero(closeness[1] >= DISLIKED_NEIGHBOUR).tolist())
        for phrase in interest.excluded:
            if phrase.strip():
                dropped |= self._excluded(phrase)
        windowed = listed_from is not None or listed_to is not None
        pks = self._pks

        def can_get(idx: int) -> bool:
            """Not left out, not sent before, listed in this reader's window."""
            return (
                idx not in dropped
                and pks[idx] not in exclude_ids
                and not (windowed and not self._in_window(idx, listed_from, listed_to))
            )

        unexpanded = {semantic.keyword_key(word) for word in interest.unexpanded}
        unrelated = {semantic.keyword_key(word) for word in interest.without_related}
        left_out_of: dict[str, set[str]] = defaultdict(set)
        for word, term in interest.left_out_terms:
            left_out_of[semantic.keyword_key(word)].add(term.casefold())
        keywords: list[tuple[str, _Clause]] = []
        typed = [word for word in interest.keywords if word.strip()]
        # The reader's field, as keys once per reader (not once per keyword and other).
        field_keys = tuple(semantic.keyword_key(word) for word in (*typed, *interest.field_keywords))
        for word in typed:
            key = semantic.keyword_key(word)
            left_out = frozenset(left_out_of.get(key, ()))
            clause = self._keyword(word, key not in unexpanded, key not in unrelated, left_out, others=field_keys)
            keywords.append((word.strip(), self._with_near_miss(clause, can_get)))
        clauses += [clause for _, clause in keywords]
        candidates: set[int] = set()
        for clause in clauses:
            candidates |= clause.passing
        featured = set(self._featured) if interest.include_featured else set()
        only_featured = featured - candidates  # in the list for being featured alone
        candidates |= featured
        if closeness is not None:
            # Papers very like one the reader liked join the list.
            liked_ones = set(np.flatnonzero(closeness[0] >= LIKED_NEIGHBOUR).tolist())
            candidates |= liked_ones
            only_featured -= liked_ones
        candidates -= dropped

        # Rank on plain numbers first; only the papers that make the cut become Matches.
        ranked: list[tuple[bool, float, tuple[int, str, int], int]] = []
        raised: set[int] = set()
        boost, order = self._boost, self._order
        score_maps = [clause.scores for clause in clauses]
        for idx in candidates:
            if not can_get(idx):
                continue
            best = total = 0.0
            for scores in score_maps:
                score = scores.get(idx)
                if score is not None:
                    total += score
                    if score > best:
                        best = score
            relevance = best + SUPPORT_WEIGHT * (total - best)
            if closeness is not None:
                liked, disliked = _ramp(float(closeness[0][idx])), _ramp(float(closeness[1][idx]))
                if not relevance:  # in the list only for being like a liked paper
                    relevance = SEMANTIC_SCORE * liked
                relevance *= 1.0 + FEEDBACK_RAISE * liked - FEEDBACK_LOWER * disliked
                if liked >= RAISE_SHOWN:
                    raised.add(idx)
            ranked.append((idx not in featured, -relevance * boost[idx], order[idx], idx))
        if picks is not None:
            return self._with_picks(ranked, picks, only_featured, limit, clauses, raised, keywords, candidates, can_get)
        # Every candidate the reader can get is in `ranked`: in their list, or past its cut.
        in_passing = self._in_passing(keywords, candidates.__contains__, can_get)
        total = len(ranked)
        more: list[int] = []
        sections: list[tuple[str | None, str]] = []
        ranked.sort()
        if limit and total > limit:
            if not featured:  # featured papers first, counted against the limit: as they come
                ranked = _covering(ranked, limit, clauses, lambda entry: entry[3])
            # Those past the cut are only named (no Match built), best first, with what
            # their tag on the web page needs.
            named = [(idx, pk) for *_, idx in ranked[limit : limit + MORE_IDS_KEPT] if (pk := pks[idx]) is not None]
            more = [pk for _, pk in named]
            sections = self._sections([idx for idx, _ in named], clauses, featured)
            ranked = ranked[:limit]
        return Matches(
            (
                self._match(idx, -negative_score, clauses, idx in featured, idx in raised)
                for _, negative_score, _, idx in ranked
            ),
            total=total,
            more_ids=more,
            more_sections=sections,
            in_passing=in_passing,
        )

    def _with_near_miss(self, clause: _Clause, can_get: Callable[[int], bool]) -> _Clause:
        """The keyword's clause for one reader: when none of its matches is one this
        reader can get (all sent before, left out or listed on other days), the first
        near miss they can get matches instead. Per reader, so that what a reader gets
        never depends on which other readers' days the index was built over."""
        if not clause.near_misses or any(can_get(idx) for idx in clause.passing):
            return clause
        for idx, hit in clause.near_misses:
            if can_get(idx):
                return replace(
                    clause,
                    hits={**clause.hits, idx: hit},
                    scores={**clause.scores, idx: hit.score},
                    passing=clause.passing | {idx},
                    mentioned=tuple(m for m in clause.mentioned if m != idx),
                )
        return clause

    def _in_passing(
        self,
        keywords: list[tuple[str, _Clause]],
        listed: Callable[[int], bool],
        can_get: Callable[[int], bool],
    ) -> list[tuple[int, str]]:
        """The papers the reader's keywords mention only in passing, best mention first,
        each with its keyword: none in their list already (`listed`) or that they cannot
        get, at most IN_PASSING_KEPT. Each keyword's mentions are kept best first, so
        this stops early even for a keyword half the catalog writes."""
        best: dict[int, tuple[float, str]] = {}
        pks = self._pks
        for typed, clause in keywords:
            kept = 0
            for idx in clause.mentioned:
                if listed(idx) or pks[idx] is None or not can_get(idx):
                    continue
                score = clause.scores.get(idx, 0.0)
                if score > best.get(idx, (-1.0, ""))[0]:
                    best[idx] = (score, typed)
                kept += 1
                if kept == IN_PASSING_KEPT:
                    break
        order = self._order
        kept_best = sorted(best.items(), key=lambda item: (-item[1][0], order[item[0]]))[:IN_PASSING_KEPT]
        return [(pk, typed) for idx, (_, typed) in kept_best if (pk := pks[idx]) is not None]

    def _with_picks(
        self,
        ranked: list,
        picks: int,
        only_featured: set[int],
        limit: int | None,
        clauses: list[_Clause],
        raised: set[int],
        keywords: list[tuple[str, _Clause]],
        candidates: set[int],
        can_get: Callable[[int], bool],
    ) -> Matches:
        """The best `picks` featured papers, then the reader's own matches without them
        (by score alone: a featured paper among them is one like any other), at most
        `limit`; `.total` counts both. What matching twice gave, the picks with the
        featured papers first and the rest without, in one pass."""
        ranked.sort()
        chosen = [entry for entry in ranked if not entry[0]][:picks]
        taken = {idx for *_, idx in chosen}
        rest = sorted(entry[1:] for entry in ranked if entry[3] not in taken and entry[3] not in only_featured)
        # A featured paper that is neither a pick nor a match of the reader's leaves the
        # list, but may still mention one of their keywords.
        in_passing = self._in_passing(
            keywords, lambda idx: idx in candidates and (idx in taken or idx not in only_featured), can_get
        )
        total = len(chosen) + len(rest)
        more: list[int] = []
        sections: list[tuple[str | None, str]] = []
        if limit and len(rest) > limit:
            rest = _covering(rest, limit, clauses, lambda entry: entry[2])
            past = [idx for *_, idx in rest[limit : limit + MORE_IDS_KEPT]]
            more, sections = [self._pks[idx] for idx in past], self._sections(past, clauses)
            rest = rest[:limit]
        return Matches(
            [
                *(
                    self._match(idx, -negative_score, clauses, True, idx in raised)
                    for _, negative_score, _, idx in chosen
                ),
                *(self._match(idx, -negative_score, clauses, False, idx in raised) for negative_score, _, idx in rest),
            ],
            total=total,
            more_ids=more,
            more_sections=sections,
            in_passing=in_passing,
        )

    def _feedback_closeness(self, feedback: Feedback | None) -> tuple[np.ndarray, np.ndarray] | None:
        """For every paper of the index, its cosine to the closest liked and to the
        closest disliked paper (zeros where there are none)."""
        if not feedback or not self._has_vector.any() or not (len(feedback.liked) or len(feedback.disliked)):
            return None
        zeros = np.zeros(len(self.papers), dtype=np.float32)
        liked = (self._vectors @ feedback.liked.T).max(axis=1) if len(feedback.liked) else zeros
        disliked = (self._vectors @ feedback.disliked.T).max(axis=1) if len(feedback.disliked) else zeros
        return liked, disliked

    @staticmethod
    def _reasons_of(idx: int, clauses: list[_Clause]) -> list[tuple[_Hit, TopicTerms | None]]:
        """The paper's hits in `_filing` order, without a keyword's match through a topic
        the reader follows anyway."""
        found = sorted(((c.hits[idx], c.topic) for c in clauses if idx in c.hits), key=lambda pair: _filing(pair[0]))
        # A keyword's match through a topic the reader follows anyway says the same twice.
        followed = [f" → topic {topic.name}:" for hit, topic in found if topic is not None and hit.passes]
        return [(hit, topic) for hit, topic in found if not any(mark in hit.reason for mark in followed)]

    def _sections(
        self, idxs: list[int], clauses: list[_Clause], featured: Container[int] = frozenset()
    ) -> list[tuple[str | None, str]]:
        """For papers past the cut (no Match built): what tags each on the web page, as
        its Match would be filed (`_reasons_of`'s first): its topic's name (None for a
        keyword or an author) and that match's reason. The first hit alone is looked
        for, not every reason sorted: up to MORE_IDS_KEPT papers per reader."""
        sections: list[tuple[str | None, str]] = []
        for idx in idxs:
            if idx in featured:
                sections.append((None, "editor's pick"))
                continue
            first: _Hit | None = None
            first_key = (True, True, 0.0)
            topic: TopicTerms | None = None
            for clause in clauses:
                hit = clause.hits.get(idx)
                if hit is None:
                    continue
                key = _filing(hit)
                if first is None or key < first_key:
                    first, first_key, topic = hit, key, clause.topic
            if first is not None and " → topic " in first.reason:  # a topic the reader may follow anyway
                first, topic = self._reasons_of(idx, clauses)[0]
            if first is None or not first.passes:  # in the list only for being like a liked paper
                sections.append((None, FEEDBACK_REASON))
                continue
            sections.append((topic.name if topic is not None else None, first.reason))
        return sections

    def _match(self, idx: int, score: float, clauses: list[_Clause], featured: bool, raised: bool = False) -> Match:
        kept = self._reasons_of(idx, clauses)
        # A mention that is no match of its own says so: the why-line must not credit
        # "LLM agents" for a Reasoning paper that writes "agents" once.
        reasons = list(dict.fromkeys(hit.reason + ("" if hit.passes else IN_PASSING) for hit, _ in kept))
        reasons = reasons[:MAX_REASONS]
        # The paper's section is its first reason's: a topic only when that is a topic's
        # match (else the email files it under the keyword or author that comes first).
        topic = kept[0][1] if kept and kept[0][0].passes else None
        if raised:
            reasons.insert(0, FEEDBACK_REASON)
        if featured:
            reasons.insert(0, "editor's pick")
        return Match(paper=self.papers[idx], score=round(score, 4), topic=topic, reasons=reasons, featured=featured)

    def _in_window(self, idx: int, listed_from: dt.date | None, listed_to: dt.date | None) -> bool:
        listed_on = self._listed_on[idx]
        if listed_from and (listed_on is None or listed_on < listed_from):
            return False
        if listed_to and (listed_on is None or listed_on > listed_to):
            return False
        return True


def _covering(entries: list, limit: int, clauses: list[_Clause], idx_of: Callable) -> list:
    """`entries` (best first) reordered so that the first `limit` include the best paper
    of every interest of the reader's that matched something, as far as room allows: a
    reader who follows five keywords and a topic expects each of them in the email, not
    ten papers of their most prolific keyword. A paper brought in this way takes the
    place of the lowest-ranked one whose interests are all in the email without it.
    (An editor's pick, in its own section, does not stand for the reader's interest.)"""
    top, rest = entries[:limit], entries[limit:]
    in_top = {idx_of(entry) for entry in top}
    unseen = [c for c in clauses if c.passing and not c.passing & in_top]
    if not unseen:
        return entries
    position = {idx_of(entry): n for n, entry in enumerate(rest)}
    for clause in unseen:
        if clause.passing & in_top:  # brought in since, through another interest
            continue
        waiting = [idx for idx in clause.passing if idx in position]
        if not waiting:
            continue  # nothing of this interest the reader can get
        best = max(waiting, key=lambda idx: (clause.scores.get(idx, 0.0), -position[idx]))
        # The lowest-ranked paper of the email whose every interest keeps another paper there.
        for n in range(len(top) - 1, -1, -1):
            idx = idx_of(top[n])
            if all((c.passing & in_top) - {idx} for c in clauses if idx in c.passing):
                break
        else:
            break  # every paper is the one paper of some interest: no room left
        out = top.pop(n)
        in_top.discard(idx_of(out))
        brought = rest[position[best]]
        top.append(brought)
        in_top.add(best)
        rest[position[best]] = out
    rest.sort()
    top.sort()
    return top + rest


@lru_cache(maxsize=20_000)
def _plain_words(phrase: Phrase) -> tuple[tuple[str, ...], tuple[int, ...]] | None:
    """A phrase that is a plain run of words, each matched by its stem or its "-ize"
    family ("tokenization" finds "tokenized"): its words (lower case) and how many each
    hyphenated group holds; None for acronyms and quoted phrases (matched as written)."""
    groups = words(phrase.text)
    if any(is_abbreviation(word) for group in groups for word in group):
        return None
    if compile_phrase(phrase.text).variants != phrase.variants:
        return None  # quoted: the display text read without its quotes matches otherwise
    typed = tuple(word.lower() for group in groups for word in group)
    if not any(len(v) == len(typed) for v in phrase.variants):
        return None
    return typed, tuple(len(group) for group in groups)


def _filing(hit: _Hit) -> tuple[bool, bool, float]:
    """How a paper's hits are ordered, its section's first: a match before a mere
    mention, one in the title before one in the abstract, then the strongest."""
    return (not hit.passes, not hit.in_title, -hit.score)


def _same_word(written: str, typed: str) -> bool:
    """One word, give or take a plural ending ("model" for "models")."""
    shorter, longer = sorted((written, typed), key=len)
    return longer == shorter or longer in (shorter + "s", shorter + "es")


def _folded_words(phrase: str) -> tuple[str, ...]:
    return tuple(word.casefold() for group in words(phrase.strip().strip('"')) for word in group)


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _through_topic(typed: str, topic: TopicTerms, hit: _Hit) -> str:
    """The why-line of a paper a keyword found through the topic it names."""
    return f"'{typed}' → topic {topic.name}: " + hit.reason.split(": ", 1)[-1]


def _ramp(cosine: float) -> float:
    return min(1.0, max(0.0, (cosine - FEEDBACK_FLOOR) / (1.0 - FEEDBACK_FLOOR)))


def _unique_phrases(texts: Iterable[str]) -> list[Phrase]:
    """A topic's phrases, without empty ones or two spellings that read the same
    ("mixture-of-experts" and "mixture of experts")."""
    seen: dict[frozenset, Phrase] = {}
    for text in texts:
        phrase = compile_phrase(text)
        key = frozenset(phrase.variants)
        if not phrase.is_empty and key not in seen:
            seen[key] = phrase
    return list(seen.values())


_MISSING = object()


def _trim(cache: OrderedDict, limit: int) -> None:
    """Let the least recently used entries go beyond `limit` (another thread may be at
    it too)."""
    while len(cache) > limit:
        try:
            cache.popitem(last=False)
        except KeyError:
            break


def _remember(cache: dict, key, value) -> None:
    if len(cache) >= CLAUSE_CACHE_LIMIT:
        cache.clear()
    cache[key] = value


def latest_listing_day(on_or_before: dt.date) -> dt.date | None:
    """The most recent day with listed, visible papers, up to `on_or_before`."""
    return (
        Paper.objects.filter(listed_on__lte=on_or_before, is_hidden=False)
        .order_by("-listed_on")
        .values_list("listed_on", flat=True)
        .first()
    )
