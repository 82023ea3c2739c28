"""Stemming runs in C (PyStemmer, which snowballstemmer picks up when installed) and
gives exactly the stems of the pure-Python stemmer, so matching does not change."""

from __future__ import annotations

import re
import time

from snowballstemmer.english_stemmer import EnglishStemmer

from digest import text

from .feed_server import SAMPLE_LISTING


def sample_words() -> list[str]:
    return re.findall(r"[^\W\d_]+", SAMPLE_LISTING.read_text().lower())


def test_the_stemmer_in_use_is_the_c_one():
    import Stemmer

    assert isinstance(text._stemmer, Stemmer.Stemmer)


def test_it_gives_the_pure_python_stems_for_every_word_of_the_sample_listing():
    words = sorted(set(sample_words()))
    pure = EnglishStemmer()
    assert [text._stemmer.stemWord(w) for w in words] == [pure.stemWord(w) for w in words]


def test_print_the_speed_of_both_stemmers(capsys):
    words = sample_words()
    figures = {}
    for name, stemmer in (("pure Python", EnglishStemmer()), ("in use", text._stemmer)):
        started = time.perf_counter()
        for word in words:
            stemmer.stemWord(word)
        figures[name] = (time.perf_counter() - started) / len(words) * 1e6
    with capsys.disabled():
        print(f"\nstemming {len(words)} words: " + ", ".join(f"{k} {v:.2f} µs/word" for k, v in figures.items()))
    assert len(words) > 10_000
