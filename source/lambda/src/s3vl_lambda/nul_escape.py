"""U+0000 in keys and metadata strings, escaped so that PostgreSQL can hold them (docs/payload-contract.md).

S3 Vectors accepts U+0000 in keys and metadata strings, but PostgreSQL's text and jsonb cannot hold it
(22P05), so every string the handler returns is escaped and every key, metadata string and filter string
it receives is unescaped. The escape character is U+2400 SYMBOL FOR NULL:

    U+0000 <-> U+2400 "0"        U+2400 <-> U+2400 U+2400

Each escape is two characters starting with U+2400, so decoding is unambiguous and the mapping is a
bijection: a key read from SQL, passed back, addresses the same stored key, and a key that literally
contains U+2400 stays distinct from one that contains U+0000. A U+2400 followed by anything else
cannot come from escaping; it is refused rather than guessed at. Strings with neither character (almost
all) are returned as they are.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import HandlerError

ESCAPE = "\u2400"
_DECODED = {ESCAPE: ESCAPE, "0": "\x00"}
_SEQUENCE = re.compile(ESCAPE + "(.?)", re.DOTALL)


def encode(text: str) -> str:
    """The string as the handler returns it."""
    if "\x00" not in text and ESCAPE not in text:
        return text
    return text.replace(ESCAPE, ESCAPE + ESCAPE).replace("\x00", ESCAPE + "0")


def decode(text: str, name: str, code: str) -> str:
    """The string a caller sent, unescaped; `name` and `code` say what it is if the escape is invalid."""
    if ESCAPE not in text:
        return text

    def unescape(match: re.Match[str]) -> str:
        found = _DECODED.get(match.group(1))
        if found is None:
            raise HandlerError(
                code,
                f"{name} has U+2400 at character {match.start() + 1} followed by "
                f"{'nothing' if not match.group(1) else repr(match.group(1))}: U+2400 escapes U+0000 as "
                "U+2400 '0' and itself as U+2400 U+2400 (docs/payload-contract.md); double a literal U+2400",
            )
        return found

    return _SEQUENCE.sub(unescape, text)


def encode_metadata(value: Any) -> Any:
    """A metadata object (or any JSON value) with every string in it, object keys included, encoded."""
    if isinstance(value, str):
        return encode(value)
    if isinstance(value, dict):
        return {encode(field): encode_metadata(item) for field, item in value.items()}
    if isinstance(value, list):
        return [encode_metadata(item) for item in value]
    return value
