"""The emulator's text analyzers, per language, through the API (docs/s3vectors-emulator.md, "Analyzers").

Expected terms are written out by hand for each language; the BM25 and RRF references tokenize with
the library's own whole-text pipeline (tantivy's tokenizer, lowercase, stop word and stemmer filters),
not with the emulator's per-token analyzer, and score as test_text_search.py's references do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError
from s3vl_local.s3vectors.analyzers import analyze
from support.s3vectors import create_bucket_and_index
from tantivy import Filter, TextAnalyzerBuilder, Tokenizer

from .bm25 import reference_bm25
from .paging import all_pages

# (language, text, the terms the service's analyzer of that language gives, as Lucene's would)
TERMS: list[tuple[str | None, str, list[str]]] = [
    # Default standard analyzer: lowercase words, nothing dropped or stemmed; one token per Han character.
    (None, "The Runners' SHOES error_code x42", ["the", "runners", "shoes", "error_code", "x42"]),
    (None, "Straße don't \uff26\uff35\uff2c\uff2c", ["strasse", "don't", "full"]),  # full-width FULL
    (None, "東京タワー 서울시", ["東", "京", "タワー", "서울시"]),
    # English: stop words out, possessive 's dropped, Snowball stems.
    ("en", "The runner's shoes are running and connected", ["runner", "shoe", "run", "connect"]),
    ("en", "John\u2019s generously", ["john", "generous"]),  # typographic apostrophe
    # French: elided article dropped, stop words out, stems.
    ("fr", "L'avion et les voitures rouges", ["avion", "voitur", "roug"]),
    ("fr", "aujourd'hui", ["aujourd'hui"]),
    ("es", "Los corredores están corriendo", ["corredor", "corr"]),
    ("pt", "Os corredores estão correndo", ["corredor", "corr"]),
    ("it", "Gli aeroplani dell'Italia", ["aeroplan", "ital"]),
    ("de", "Die Häuser und die Straßen", ["haus", "strass"]),
    ("nl", "De huizen en de fietsen", ["huis", "fiets"]),
    # Chinese, Japanese, Korean: overlapping bigrams of CJK runs; other words kept.
    ("zh", "我爱北京 Beijing", ["我爱", "爱北", "北京", "beijing"]),
    ("ja", "東京タワー", ["東京", "京タ", "タワ", "ワー"]),
    ("ko", "서울 특별시", ["서울", "특별", "별시"]),
    ("zh", "门", ["门"]),
]


@pytest.mark.parametrize(("language", "text", "terms"), TERMS, ids=[f"{t[0]}:{t[1]}" for t in TERMS])
def test_each_language_analyzes_as_documented(language: str | None, text: str, terms: list[str]) -> None:
    assert analyze(text, language) == terms


def _index(client: Any, new_index: Callable[..., dict[str, str]], keys: dict[str, str | None]) -> dict:
    configs = [{"metadataKey": k, **({"language": lang} if lang else {})} for k, lang in keys.items()]
    return new_index(dimension=2, metadataConfiguration={"textSearchConfigurations": configs})


def _keys(client: Any, sel: dict[str, str], key: str, text: str) -> list[str]:
    got = client.query_vectors(**sel, topK=100, queryTexts=[{"text": text, "metadataKey": key}])
    return sorted(v["key"] for v in got["vectors"])


def test_language_decides_what_a_query_matches(client: Any, new_index: Callable[..., dict[str, str]]) -> None:
    sel = _index(client, new_index, {"plain": None, "en": "en", "fr": "fr", "zh": "zh"})
    docs = {
        "a": {"plain": "running shoes", "en": "running shoes", "fr": "les voitures rouges", "zh": "北京大学"},
        "b": {"plain": "he runs", "en": "he runs", "fr": "une voiture", "zh": "京都"},
        "c": {"plain": "the end", "en": "the end", "fr": "le vélo", "zh": "北方"},
    }
    client.put_vectors(
        **sel, vectors=[{"key": k, "data": {"float32": [1.0, 0.0]}, "metadata": m} for k, m in docs.items()]
    )
    # Stemming: "run" finds running and runs in English only.
    assert _keys(client, sel, "en", "run") == ["a", "b"]
    assert _keys(client, sel, "plain", "run") == []
    assert _keys(client, sel, "fr", "voiture") == ["a", "b"]
    # Stop words: "the" is a term by default, nothing in English (no results, not an error).
    assert _keys(client, sel, "plain", "the") == ["c"]
    assert _keys(client, sel, "en", "the") == []
    # Bigrams: "北京" matches the bigram of a, not the lone 京 of b.
    assert _keys(client, sel, "zh", "北京") == ["a"]
    assert _keys(client, sel, "zh", "京") == []


def _reference_terms(language: str | None) -> Callable[[str], list[str]]:
    """The library's own whole-text pipeline (words are plain ASCII runs in the corpus below)."""
    builder = TextAnalyzerBuilder(Tokenizer.simple()).filter(Filter.lowercase())
    names = {"en": "english", "fr": "french", "de": "german", "es": "spanish"}
    if language is not None:
        builder = builder.filter(Filter.stopword(names[language])).filter(Filter.stemmer(names[language]))
    return builder.build().analyze


def _words(text: str) -> list[str]:
    return text.split()


VOCABULARY = {
    None: _words("Search searches searching index indexes the of running runner shoe shoes red"),
    "en": _words("Search searches searching index indexes the of running runner shoe shoes red and is"),
    "fr": _words("les voitures voiture rouges rouge rapide rapides courir courant de la et"),
    "de": _words("die Häuser Haus schnell schnelle laufen laufend und der Straße Strasse"),
    "es": _words("los corredores corriendo corre rojo rojos zapatos zapato el y de"),
}
FIELDS = {"plain": None, "en": "en", "fr": "fr", "de": "de", "es": "es"}


@pytest.fixture(scope="module")
def corpus(client: Any) -> dict[str, Any]:
    rng = np.random.default_rng(20261203)
    sel = create_bucket_and_index(
        client,
        "lang-bucket",
        "lang",
        4,
        metadataConfiguration={
            "textSearchConfigurations": [
                {"metadataKey": k, **({"language": lang} if lang else {})} for k, lang in FIELDS.items()
            ]
        },
    )
    docs: dict[str, dict[str, Any]] = {}
    vectors: dict[str, np.ndarray] = {}
    for i in range(300):
        metadata: dict[str, Any] = {}
        for field, language in FIELDS.items():
            if rng.random() < 0.8:
                words = rng.choice(VOCABULARY[language], size=int(rng.integers(1, 9)))
                metadata[field] = " ".join(str(w) for w in words)
        docs[f"d{i:03d}"] = metadata
        vectors[f"d{i:03d}"] = rng.normal(size=4).astype(np.float32)
    client.put_vectors(
        **sel,
        vectors=[
            {"key": k, "data": {"float32": vectors[k].tolist()}, "metadata": m} for k, m in docs.items()
        ],
    )
    return {"sel": sel, "docs": docs, "vectors": vectors, "rng": rng}


QUERIES = [
    ("plain", "searching shoes"),
    ("en", "search running shoe"),
    ("en", "the indexes"),
    ("fr", "voiture rouge rapide"),
    ("de", "Haus laufen Strasse"),
    ("es", "corredor rojo zapatos"),
]


@pytest.mark.parametrize(("field", "text"), QUERIES)
def test_bm25_per_language_equals_the_reference(client: Any, corpus: dict[str, Any], field: str, text: str):
    expected = reference_bm25(corpus["docs"], field, _reference_terms(FIELDS[field]), text)
    assert expected
    got = all_pages(
        client, corpus["sel"], topK=300, returnScores=True, queryTexts=[{"text": text, "metadataKey": field}]
    )
    assert [v["key"] for v in got] == sorted(expected, key=lambda k: (-expected[k], k))
    for v in got:
        assert v["scores"]["bm25Scores"][0]["score"] == pytest.approx(expected[v["key"]], rel=1e-9)


def test_hybrid_rrf_over_language_fields_equals_the_reference(client: Any, corpus: dict[str, Any]) -> None:
    docs, vectors, sel = corpus["docs"], corpus["vectors"], corpus["sel"]
    query = corpus["rng"].normal(size=4).astype(np.float32)
    texts = [{"text": "running shoes", "metadataKey": "en"}, {"text": "voitures rouges", "metadataKey": "fr"}]
    top_k = 20
    q = query.astype(np.float64)
    distance = {
        k: 1 - float(v.astype(np.float64) @ q) / (np.linalg.norm(v.astype(np.float64)) * np.linalg.norm(q))
        for k, v in vectors.items()
    }
    rankings = [sorted(distance, key=lambda k: (distance[k], k))[:top_k]]
    for t in texts:
        s = reference_bm25(docs, t["metadataKey"], _reference_terms(FIELDS[t["metadataKey"]]), t["text"])
        rankings.append(sorted(s, key=lambda k: (-s[k], k))[:top_k])
    fused: dict[str, float] = {}
    for ranking in rankings:
        for position, key in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + 1 / (60 + position)
    got = client.query_vectors(
        **sel, topK=top_k, queryVector={"float32": query.tolist()}, queryTexts=texts, returnScores=True
    )["vectors"]
    assert [v["key"] for v in got] == sorted(fused, key=lambda k: (-fused[k], k))[:top_k]
    assert [v["scores"]["fused"] for v in got] == pytest.approx([fused[v["key"]] for v in got], rel=1e-12)


def test_a_text_made_only_of_stop_words_matches_nothing_but_a_text_without_words_is_refused(
    client: Any, raw_client: Any, corpus: dict[str, Any]
) -> None:
    sel = corpus["sel"]
    assert (
        client.query_vectors(**sel, topK=5, queryTexts=[{"text": "the of and", "metadataKey": "en"}])[
            "vectors"
        ]
        == []
    )
    with pytest.raises(ClientError) as info:
        raw_client.query_vectors(**sel, topK=5, queryTexts=[{"text": "--- !", "metadataKey": "en"}])
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert "no searchable terms" in info.value.response["Error"]["Message"]
