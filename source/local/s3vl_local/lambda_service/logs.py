"""Function logs: each function's CloudWatch log group stand-in, STATE/logs/<function>.log, to which every
invocation's START..REPORT is appended."""

from __future__ import annotations

import os
import threading
from pathlib import Path

LOG_DIR = "logs"  # under the service's state directory


def log_path(state_dir: Path, name: str) -> Path:
    """Where function `name`'s log is, for a service whose state directory is `state_dir`."""
    return state_dir / LOG_DIR / f"{name}.log"


class FunctionLogs:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self._lock = threading.Lock()
        # One descriptor per function for the service's life: opening the file for every invocation
        # cost more than writing to it.
        self._descriptors: dict[str, int] = {}

    def path(self, name: str) -> Path:
        return log_path(self.state_dir, name)

    def append(self, name: str, text: str) -> None:
        with self._lock:
            descriptor = self._descriptors.get(name)
            if descriptor is None:
                path = self.path(name)
                path.parent.mkdir(parents=True, exist_ok=True)
                descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                self._descriptors[name] = descriptor
            data = text.encode()
            while data:
                data = data[os.write(descriptor, data) :]

    def close(self) -> None:
        with self._lock:
            descriptors, self._descriptors = self._descriptors, {}
        for descriptor in descriptors.values():
            os.close(descriptor)
