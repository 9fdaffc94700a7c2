"""Process helpers for the local stack: liveness by PID (zombies count as dead) and stop by PID."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def is_alive(pid: int) -> bool:
    """True when `pid` runs. A zombie (exited, not yet reaped by its parent) is not running."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return _state(pid) not in (None, "Z")


def _state(pid: int) -> str | None:
    """The state letter of `pid` (R, S, T when stopped, Z when a zombie, ...); None when it does not exist."""
    try:
        # /proc/PID/stat: "pid (comm) state ..."; comm may contain spaces, the state follows the last ')'.
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def wait_until_dead(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while is_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def stop_pid(pid: int, timeout_s: float = 10.0) -> None:
    """SIGTERM `pid`, wait up to `timeout_s`, then SIGKILL it; returns once it no longer runs."""
    deadline = time.monotonic() + timeout_s
    try:
        # A stopped (frozen) process is continued first, and given a moment to run: a SIGTERM sent while
        # it is stopped, or just as it resumes, may go to another of its threads, and a Python program
        # blocked in its main thread never acts on it. For the same reason SIGTERM is repeated each second.
        while is_alive(pid):
            if _state(pid) == "T":
                os.kill(pid, signal.SIGCONT)
                time.sleep(0.1)
            os.kill(pid, signal.SIGTERM)
            if wait_until_dead(pid, max(0.0, min(1.0, deadline - time.monotonic()))):
                return
            if time.monotonic() >= deadline:
                os.kill(pid, signal.SIGKILL)
                wait_until_dead(pid, 5.0)
                return
    except ProcessLookupError:
        return
