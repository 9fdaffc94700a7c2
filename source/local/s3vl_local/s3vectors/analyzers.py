"""Text analyzers of full-text search: one per `language` of a textSearchConfiguration, plus the default.

The service documents ten languages (en fr es pt it de nl zh ja ko) and a "default standard analyzer"
when none is given; it does not publish its analyzers. These follow the Lucene analyzers of the same
names, the usual engines behind such a list:

- Every text is NFKC-normalized (full-width forms become ASCII, half-width katakana full-width) and
  case-folded, then split into tokens: words (runs of letters, digits and underscore, kept together
  across an apostrophe between two of them, as in "don't") and CJK characters (Han, Hiragana, Katakana,
  Hangul).
- default (no language): Lucene's StandardAnalyzer: words as they are; each Han or Hiragana character
  is a token, a Katakana or Hangul run is one token. No stop words, no stemming.
- en fr es pt it de nl: stop words, then Snowball stemming, both from tantivy's filters (the stop lists
  are Lucene's English list and the Snowball project's lists for the others). English drops a trailing
  possessive 's; French and Italian drop an elided article ("l'avion" -> "avion") when the part before
  the apostrophe is a stop word of the language. CJK characters are tokenized as by default.
- zh ja ko: CJK runs become overlapping bigrams (a lone character stays a unigram), as Lucene's
  CJKAnalyzer does; other words are kept as they are. No stop words (the library has no lists for
  these languages) and no dictionary segmentation (see docs/s3vectors-emulator.md).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

from tantivy import Filter, TextAnalyzer, TextAnalyzerBuilder, Tokenizer

# The service's LanguageCode values -> the stop word and stemmer language names of the library.
STEMMED = {
    "en": "english",
    "fr": "french",
    "es": "spanish",
    "pt": "portuguese",
    "it": "italian",
    "de": "german",
    "nl": "dutch",
}
BIGRAM = frozenset({"zh", "ja", "ko"})
LANGUAGES = frozenset(STEMMED) | BIGRAM

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_HIRAGANA = "\u3040-\u309f"
_KATAKANA = "\u30a0-\u30ff\u31f0-\u31ff"
_HANGUL = "\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff"
_CJK = _HAN + _HIRAGANA + _KATAKANA + _HANGUL
_LETTER = rf"(?:(?![{_CJK}])\w)"
_WORD = rf"{_LETTER}+(?:'{_LETTER}+)*"
# Standard tokenization: a word, a single Han or Hiragana character, a Katakana or Hangul run.
_STANDARD = re.compile(rf"({_WORD})|([{_HAN}{_HIRAGANA}]|[{_KATAKANA}]+|[{_HANGUL}]+)")
# Bigram languages: a word, or a whole run of CJK characters (split into bigrams afterwards).
_RUNS = re.compile(rf"({_WORD})|([{_CJK}]+)")
# Apostrophes that join words: the typographic ones are read as ASCII (NFKC keeps them apart).
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'", "\uff07": "'"})


def analyze(text: str, language: str | None) -> list[str]:
    """The terms of a text for a field of the given language (None: the default standard analyzer)."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_APOSTROPHES)
    if language in BIGRAM:
        return _bigram_terms(text)
    stemmed = STEMMED.get(language) if language is not None else None
    terms: list[str] = []
    for word, cjk in _STANDARD.findall(text):
        if cjk:
            terms.append(cjk)
        elif stemmed is None:
            terms.append(word)
        else:
            term = _stem(stemmed, _strip(language, stemmed, word))
            if term is not None:
                terms.append(term)
    return terms


def has_word(text: str) -> bool:
    """Whether a text has any token at all, before stop words (a query without one is refused)."""
    return _RUNS.search(unicodedata.normalize("NFKC", text).casefold()) is not None


def _bigram_terms(text: str) -> list[str]:
    terms: list[str] = []
    for word, run in _RUNS.findall(text):
        if word:
            terms.append(word)
        elif len(run) == 1:
            terms.append(run)
        else:
            terms.extend(run[i : i + 2] for i in range(len(run) - 1))
    return terms


def _strip(language: str | None, stemmed: str, word: str) -> str:
    """English possessives and French/Italian elision, before stop words and stemming."""
    if "'" not in word:
        return word
    if language == "en" and word.endswith("'s"):
        return word[:-2]
    if language in ("fr", "it"):
        article, rest = word.split("'", 1)
        if _stem(stemmed, article) is None:
            return rest
    return word


class _Pipeline:
    """The library's stop word filter then stemmer over one token; analyze() is serialized per language."""

    def __init__(self, language: str) -> None:
        builder = TextAnalyzerBuilder(Tokenizer.raw())
        self.analyzer: TextAnalyzer = (
            builder.filter(Filter.stopword(language)).filter(Filter.stemmer(language)).build()
        )
        self.lock = threading.Lock()


_PIPELINES = {name: _Pipeline(name) for name in STEMMED.values()}


@lru_cache(maxsize=1 << 16)
def _stem(language: str, token: str) -> str | None:
    """The stem of a token, or None for a stop word."""
    pipeline = _PIPELINES[language]
    with pipeline.lock:
        out = pipeline.analyzer.analyze(token)
    return out[0] if out else None
