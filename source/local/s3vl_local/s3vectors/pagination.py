"""Opaque continuation tokens: base64url JSON that the emulator checks completely when it comes back.

A token names its operation (`t`) and the request it continues (`s`, the scope: index, segment, prefix
or query fingerprint). Any token the emulator did not issue for this very request (garbage, another
operation's, another index's, or one whose fields were edited) is a ValidationException whose message
names nextToken, never a failure inside the operation.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from .errors import ValidationException


def encode(kind: str, scope: str, **state: str | int) -> str:
    document = {"t": kind, "s": scope, **state}
    return base64.urlsafe_b64encode(json.dumps(document, separators=(",", ":")).encode()).decode()


def _valid(value: Any, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return isinstance(value, kind)


def decode(token: str, kind: str, scope: str, fields: dict[str, type], mismatch: str) -> dict[str, Any]:
    """The state of a token issued for `kind`, with each of `fields` of its type (ints >= 0).

    `mismatch` is the message for a well-formed token issued for another request (another scope)."""
    try:
        state = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeError, RecursionError):
        state = None
    if (
        not isinstance(state, dict)
        or state.get("t") != kind
        or not isinstance(state.get("s"), str)
        or not all(_valid(state.get(name), t) for name, t in fields.items())
    ):
        raise ValidationException(
            f"Invalid nextToken for {kind}: it was not issued by a {kind} response, or was changed; "
            f"pass the nextToken from the previous {kind} response unchanged, or omit it to start over"
        )
    if state["s"] != scope:
        raise ValidationException(mismatch)
    return state


def invalid(kind: str, why: str) -> ValidationException:
    """A token that decodes but cannot continue this request (e.g. an offset past topK)."""
    return ValidationException(
        f"Invalid nextToken for {kind}: {why}; pass the nextToken from the previous {kind} response "
        "unchanged, or omit it to start over"
    )
