"""One module per operation; RUNNERS maps each contract operation to the `run` of the module the contract
names for it (contract.json "runner"), so a new operation needs its module and its contract entry only."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

from ..contract import OPERATIONS

RUNNERS: dict[str, Callable[[Any], dict[str, Any]]] = {
    name: import_module(f".{op.runner}", __name__).run for name, op in OPERATIONS.items()
}
