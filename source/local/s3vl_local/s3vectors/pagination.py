"""Opaque continuation tokens: base64url JSON that the emulator checks completely when it comes back.

A token names its operation (`t`) and the request it continues (`s`, the scope: index, segment, prefix
or query fingerprint). Any token the emulator did not issue for this very request (garbage, another
operation's, another index's, or one whose fields were edited) is a ValidationException whose message
names nextToken, never a failure inside the operation. name_page pages the bucket and index listings
by name with such tokens.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
from typing import Any

from .errors import ValidationException

LIST_NAMES_DEFAULT = 500
_OTHER_LIST = (
    "This nextToken was issued for another vector bucket or prefix: repeat the request that returned it, "
    "or omit nextToken to start over"
)


def encode(kind: str, scope: str, **state: str | int) -> str:
    document = {"t": kind, "s": scope, **state}
    return base64.urlsafe_b64encode(json.dumps(document, separators=(",", ":")).encode()).decode()


def _valid(value: Any, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return isinstance(value, kind)


def resume(
    req: dict[str, Any], kind: str, scope: str, fields: dict[str, type], mismatch: str
) -> dict[str, Any] | None:
    """The state of the request's nextToken, issued for `kind`, with each of `fields` of its type (ints
    >= 0); None when the request has no nextToken (the first page).

    `mismatch` is the message for a well-formed token issued for another request (another scope)."""
    token = req.get("nextToken")
    if not token:
        return None
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


def name_page(
    items: dict[str, Any], req: dict[str, Any], kind: str, owner: str
) -> tuple[list[Any], dict[str, str]]:
    """One page of buckets or indexes (of bucket `owner`) in name order, with the prefix filter and a
    continuation token."""
    prefix = req.get("prefix") or ""
    scope = json.dumps([owner, prefix])
    names = sorted(n for n in items if n.startswith(prefix))
    state = resume(req, kind, scope, {"n": str}, _OTHER_LIST)
    if state is not None:
        names = names[bisect.bisect_right(names, state["n"]) :]
    limit = req.get("maxResults") or LIST_NAMES_DEFAULT
    page = names[:limit]
    token = {"nextToken": encode(kind, scope, n=page[-1])} if len(names) > limit else {}
    return [items[n] for n in page], token
