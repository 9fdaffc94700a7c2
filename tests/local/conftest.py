"""Fixtures the local-stack tests share."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def closed_endpoint(refused_port: int) -> str:
    """An endpoint URL where nothing listens: a call sent there fails to connect."""
    return f"http://127.0.0.1:{refused_port}"
