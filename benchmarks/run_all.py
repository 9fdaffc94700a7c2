#!/usr/bin/env python3
"""`make bench`: run every benchmark of the project and print one table.

Each benchmarks/bench_*.py module exposes `main([argv]) -> list[dict]`, one dict per figure:
{name, value, baseline, ratio, target, unit}. A figure is always a ratio against a baseline
measured in the same run on the same machine, never a bare absolute time.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import platform
import sys
import traceback
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def print_table(rows: list[dict[str, Any]]) -> None:
    headers = ["benchmark", "figure", "value", "baseline", "ratio", "target", "unit"]
    table = [
        [
            r["module"],
            r["name"],
            fmt(r.get("value")),
            fmt(r.get("baseline")),
            fmt(r.get("ratio")),
            fmt(r.get("target")),
            fmt(r.get("unit")),
        ]
        for r in rows
    ]
    widths = [max([len(h)] + [len(row[i]) for row in table]) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line)
    print("-" * len(line))
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller data sets, for a fast look")
    parser.add_argument("only", nargs="*", help="run only these modules (e.g. bench_emulator)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(BENCH_DIR))
    modules = sorted(p.stem for p in BENCH_DIR.glob("bench_*.py"))
    if args.only:
        modules = [m for m in modules if m in args.only]
    rows: list[dict[str, Any]] = []
    failed = []
    for name in modules:
        print(f"== {name}", flush=True)
        try:
            module = importlib.import_module(name)
            takes_argv = bool(inspect.signature(module.main).parameters)
            results = module.main(["--quick"] if args.quick else []) if takes_argv else module.main()
        except Exception:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            failed.append(name)
            continue
        rows.extend({"module": name, **r} for r in results)
    print(f"\nMachine: {machine()}\n")
    print_table(rows)
    if failed:
        print(f"\nFailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
