"""Run the emulator alone: `python -m s3vl_local.s3vectors --port 0 [--data-dir DIR] [--faults FILE.json]`.

`main` is also what `s3vl-local s3vectors ...` delegates to.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from .. import latency_profiles
from .catalog import DEFAULT_COMPACT_MIN_BYTES
from .errors import ValidationException
from .server import EmulatorServer
from .wal import RecoveryError

# Exit status when the data directory holds a record that cannot be read or applied.
RECOVERY_FAILED = 3


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
    parser.add_argument(
        "--compact-min-bytes",
        type=int,
        default=DEFAULT_COMPACT_MIN_BYTES,
        help="compact the write-ahead log into a snapshot once it is larger than this and than the "
        f"snapshot (default {DEFAULT_COMPACT_MIN_BYTES}); 0: as soon as it outgrows the snapshot",
    )
    parser.add_argument(
        "--faults",
        type=Path,
        default=None,
        help="JSON file with a fault plan or an array of them, active from the first request "
        "(as PUT on /_s3vl/faults; see docs/s3vectors-emulator.md)",
    )
    latency_profiles.add_argument(parser, "delay and throttle requests as the service does")
    args = parser.parse_args(argv)
    server = EmulatorServer(
        data_dir=args.data_dir,
        host=args.host,
        port=args.port,
        compact_min_bytes=args.compact_min_bytes,
        latency_profile=args.latency_profile,
    )
    if args.faults is not None:
        try:
            server.faults.load(json.loads(args.faults.read_text(encoding="utf-8")))
        except (OSError, ValueError, ValidationException) as e:
            parser.error(f"--faults {args.faults}: {e}")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        server.start()
    except RecoveryError as e:
        print(f"s3vectors emulator: cannot start: {e}", file=sys.stderr)
        return RECOVERY_FAILED
    print(f"s3vectors emulator listening on {server.url}", flush=True)
    try:
        stop.wait()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
