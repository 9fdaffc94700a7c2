"""Opaque continuation tokens: base64url JSON that the emulator checks when it comes back."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from .errors import ValidationException


def encode(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode()


def decode(token: str, kind: str) -> dict[str, Any]:
    """The state inside a token this emulator issued for `kind`; anything else is a ValidationException."""
    try:
        state = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        state = None
    if not isinstance(state, dict) or state.get("t") != kind:
        raise ValidationException(
            f"Invalid nextToken for {kind}: pass the nextToken from the previous {kind} response unchanged"
        )
    return state
