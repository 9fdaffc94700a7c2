"""Run the emulator alone: `python -m s3vl_local.s3vectors --port 0 [--data-dir DIR]`.

`main` is also what `s3vl-local s3vectors ...` delegates to.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from .server import EmulatorServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="s3vl-local s3vectors",
        description="Serve the local S3 Vectors emulator until SIGINT or SIGTERM.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one (default 0)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="directory for the write-ahead log; omit to keep data in memory",
    )
    args = parser.parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    server = EmulatorServer(data_dir=args.data_dir, host=args.host, port=args.port).start()
    print(f"s3vectors emulator listening on {server.url}", flush=True)
    try:
        stop.wait()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
