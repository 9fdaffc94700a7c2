"""Parsers of the full-text operations (search_text) and the index administration operations
(set_index_mode, configure_text_search); requests.py exposes them under the operation names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import filters, validation
from .contract import LIMITS
from .errors import HandlerError
from .query_request import VectorQuery
from .validation import IndexArn

# The index modes and analyzer languages of botocore's s3vectors model (IndexMode, LanguageCode).
INDEX_MODES = ("CLASSIC", "ENHANCED")
LANGUAGES = ("en", "fr", "es", "pt", "it", "de", "nl", "zh", "ja", "ko")


@dataclass(frozen=True)
class SearchTextRequest(VectorQuery[list[float] | None]):
    query_texts: list[tuple[str, str]]  # (metadata key, text), in request order


@dataclass(frozen=True)
class IndexModeRequest:
    index: IndexArn
    index_mode: str


@dataclass(frozen=True)
class TextSearchConfigRequest:
    index: IndexArn
    metadata_key: str
    language: str | None  # None when removing
    remove: bool


def _text_key(value: Any, name: str) -> str:
    high = LIMITS["text_key_length_max"]
    if not isinstance(value, str) or not 1 <= len(value) <= high:
        raise HandlerError(
            "INVALID_TEXT_SEARCH",
            f"{name} must be a metadata key of 1 to {high} characters, got "
            f"{validation.json_type(value) if not isinstance(value, str) else f'{len(value)} characters'}: "
            "name a shorter key",
        )
    return value


def _query_texts(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, dict):
        raise validation.wrong_type("query_texts", 'an object {"<metadata key>": "<text>"}', value)
    most, longest = LIMITS["query_texts_max"], LIMITS["query_text_length_max"]
    if not 1 <= len(value) <= most:
        raise HandlerError(
            "INVALID_TEXT_SEARCH",
            f"query_texts has {len(value)} keys; S3 Vectors takes 1 to {most}: search fewer metadata keys",
        )
    texts = []
    for key, text in value.items():
        _text_key(key, "a query_texts key")
        if not isinstance(text, str) or not 1 <= len(text) <= longest:
            got = f"{len(text)} characters" if isinstance(text, str) else validation.json_type(text)
            raise HandlerError(
                "INVALID_TEXT_SEARCH",
                f"query_texts[{key!r}] must be a text of 1 to {longest} characters, got {got}: shorten it",
            )
        texts.append((key, text))
    return texts


def search_text(event: dict[str, Any]) -> SearchTextRequest:
    index = validation.required_index(event)
    texts = _query_texts(validation.required(event, "query_texts"))
    raw_vector = event.get("query_vector")
    return SearchTextRequest(
        index=index,
        query_texts=texts,
        query_vector=None if raw_vector is None else validation.vector(raw_vector, "query_vector"),
        top_k=validation.top_k(event.get("top_k")),
        filter=filters.of_request(event),
        return_metadata=validation.boolean(event, "return_metadata", False),
    )


def set_index_mode(event: dict[str, Any]) -> IndexModeRequest:
    index = validation.required_index(event)
    mode = validation.required(event, "index_mode")
    if mode not in INDEX_MODES:
        raise HandlerError(
            "INVALID_TEXT_SEARCH",
            f"index_mode must be CLASSIC or ENHANCED, got {str(mode)[:40]!r}: pass one of them",
        )
    return IndexModeRequest(index, mode)


def configure_text_search(event: dict[str, Any]) -> TextSearchConfigRequest:
    index = validation.required_index(event)
    key = _text_key(validation.required(event, "metadata_key"), "metadata_key")
    remove = validation.boolean(event, "remove", False)
    language = event.get("language")
    if remove and language is not None:
        raise HandlerError(
            "INVALID_TEXT_SEARCH", "language goes with adding a key, not with remove: leave it out"
        )
    if not remove and (language := "en" if language is None else language) not in LANGUAGES:
        raise HandlerError(
            "INVALID_TEXT_SEARCH",
            f"language {str(language)[:40]!r} is not one S3 Vectors analyzes: "
            f"use one of {' '.join(LANGUAGES)}",
        )
    return TextSearchConfigRequest(index, key, None if remove else language, remove)
