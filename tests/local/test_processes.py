"""stop_pid ends a daemon by SIGTERM, so that it shuts down cleanly, even when the daemon is frozen."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from s3vl_local.processes import stop_pid

# A daemon shaped like the stack's: the main thread waits for SIGTERM while other threads are busy.
DAEMON = """
import signal, sys, threading
stopping = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stopping.set())
def busy():
    while True:  # a Python loop, which lets the main thread take the GIL
        pass
for _ in range(4):
    threading.Thread(target=busy, daemon=True).start()
print("ready", flush=True)
stopping.wait()
sys.exit(7)
"""


def test_a_frozen_daemon_is_stopped_by_its_sigterm_handler_not_killed() -> None:
    process = subprocess.Popen([sys.executable, "-c", DAEMON], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
        process.send_signal(signal.SIGSTOP)
        stat = Path(f"/proc/{process.pid}/stat")
        while stat.read_text().rsplit(")", 1)[1].split()[0] != "T":  # the stop takes effect
            time.sleep(0.01)
        started = time.monotonic()
        stop_pid(process.pid, timeout_s=5)
        assert process.wait(timeout=5) == 7  # its handler ran: not SIGKILL (-9) after the timeout
        assert time.monotonic() - started < 3
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
