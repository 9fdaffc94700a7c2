"""The container's botocore session: limits.py reads the s3vectors model through its loader, and
clients.py builds its boto3 clients on it, so the model is parsed once for validation and clients alike.
Request validation needs only this, not boto3's client module."""

from __future__ import annotations

import threading

import botocore.session

_lock = threading.Lock()
_session: botocore.session.Session | None = None


def sdk_session() -> botocore.session.Session:
    global _session
    with _lock:
        if _session is None:
            _session = botocore.session.get_session()
        return _session
