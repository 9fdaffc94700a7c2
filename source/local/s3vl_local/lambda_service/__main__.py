"""Run the local Lambda service alone: python -m s3vl_local.lambda_service --port 0 --state-dir DIR."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from s3vl_local import latency_profiles
from s3vl_local.lambda_service.server import DEFAULT_CONCURRENCY_LIMIT, LambdaService


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="s3vl-local lambda", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on start)")
    parser.add_argument("--state-dir", type=Path, required=True, help="functions, code and logs live here")
    parser.add_argument(
        "--function-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="environment variable for every function (e.g. AWS_ENDPOINT_URL_S3VECTORS=http://...)",
    )
    parser.add_argument("--concurrency-limit", type=int, default=DEFAULT_CONCURRENCY_LIMIT)
    latency_profiles.add_argument(parser, "add Lambda's invoke overhead and cold start")
    args = parser.parse_args(argv)
    function_env = {}
    for item in args.function_env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--function-env takes NAME=VALUE, got {item!r}")
        function_env[name] = value

    service = LambdaService(
        args.state_dir,
        args.host,
        args.port,
        function_env,
        concurrency_limit=args.concurrency_limit,
        latency_profile=args.latency_profile,
    ).start()
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    print(f"lambda service listening on {service.url}", flush=True)
    stopping.wait()
    service.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
