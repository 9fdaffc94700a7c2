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
    try:
        # /proc/PID/stat: "pid (comm) state ..."; comm may contain spaces, the state follows the last ')'.
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_until_dead(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while is_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def stop_pid(pid: int, timeout_s: float = 10.0) -> None:
    """SIGTERM `pid`, wait up to `timeout_s`, then SIGKILL it; returns once it no longer runs."""
    if not is_alive(pid):
        return
    try:
        # A stopped (frozen) process is continued first: a SIGTERM sent while it is stopped may, once it
        # runs, go to any of its threads, and Python only acts on a signal its main thread receives.
        os.kill(pid, signal.SIGCONT)
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if wait_until_dead(pid, timeout_s):
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    wait_until_dead(pid, 5.0)
