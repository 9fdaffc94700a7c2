"""`s3vl-local`: start, stop and inspect the local stack, or run one of its services alone.

s3vl-local up | down | status | env   [--state-dir DIR]   (default: $S3VL_STATE_DIR or .local)
s3vl-local up --latency-profile aws  delay and throttle as AWS does (default: $S3VL_LATENCY_PROFILE or none)
status exits 0 when every part answers, 3 when one is stopped, 4 when one runs but does not answer or
does not point at the others (`up` repairs that).
s3vl-local s3vectors ...              the S3 Vectors emulator alone
s3vl-local lambda ...                 the Lambda service alone
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from s3vl_local import latency_profiles
from s3vl_local.stack import STOPPED, UNREACHABLE, LocalStack, StackError, default_state_dir


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "s3vectors":
        from s3vl_local.s3vectors.__main__ import main as s3vectors_main

        return s3vectors_main(args[1:])
    if args and args[0] == "lambda":
        from s3vl_local.lambda_service.__main__ import main as lambda_main

        return lambda_main(args[1:])

    parser = argparse.ArgumentParser(
        prog="s3vl-local", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("command", choices=["up", "down", "status", "env"])
    parser.add_argument("--state-dir", type=Path, default=None, help="where the stack keeps its state")
    parser.add_argument("--dbname", default="s3vl", help="PGDATABASE of the stack (up only)")
    parser.add_argument(
        "--latency-profile",
        choices=latency_profiles.PROFILES,
        default=os.environ.get(latency_profiles.ENV_VARIABLE) or latency_profiles.NONE,
        help="up only: the emulator's and Lambda service's delays and rate limits (docs/local-stack.md)",
    )
    options = parser.parse_args(args)
    if options.latency_profile not in latency_profiles.PROFILES:
        parser.error(
            f"{latency_profiles.ENV_VARIABLE}={options.latency_profile!r} is not a latency profile: "
            f"use one of {', '.join(latency_profiles.PROFILES)}"
        )
    stack = LocalStack(
        options.state_dir or default_state_dir(),
        dbname=options.dbname,
        latency_profile=options.latency_profile,
    )
    try:
        if options.command == "up":
            stack.start()
            for component, state in stack.status().items():
                print(f"{component:10} {state}")
            print(f"environment: source {stack.env_file}")
        elif options.command == "down":
            stack.stop()
            print("local stack stopped")
        elif options.command == "status":
            parts = stack.health()
            for part in parts:
                print(f"{part.name:10} {part.detail}")
            states = {part.state for part in parts}
            return 3 if STOPPED in states else 4 if UNREACHABLE in states else 0
        else:
            print(stack.env_file.read_text() if stack.env_file.exists() else "", end="")
            if not stack.env_file.exists():
                raise StackError(f"{stack.env_file} does not exist: run `s3vl-local up`")
    except StackError as error:
        print(f"s3vl-local {options.command}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
