"""The fenced blocks of README.md and the marker that says how each is tested.

A marker is an HTML comment on the last non-blank line before the opening fence:

    <!-- test: local -->   run for real on the demo's local stack (sh: bash; sql: psql)
    <!-- test: aws -->     AWS-only commands: bash with `aws` being the real CLI against stubbed AWS
    <!-- test: make -->    make targets, checked with `make -n` (running them would recurse or destroy)
    <!-- test: text -->    not a command: a diagram or a listing (```text only)
    <!-- test: output -->  what the `local` block just before it prints on the demo's stack (```text
                           only): the run must print these lines, in this order
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
MARKERS = ("local", "aws", "make", "text", "output")
FENCE = re.compile(r"^```(\S*)\s*$")
MARKER = re.compile(r"^<!--\s*test:\s*(\S+)\s*-->$")


@dataclass(frozen=True)
class Block:
    line: int  # the opening fence's line, 1-based
    language: str
    marker: str | None
    text: str

    def where(self) -> str:
        return f"README.md:{self.line}"


def marker_lines(path: Path = README) -> list[tuple[int, str]]:
    """Every `<!-- test: NAME -->` comment: (1-based line, NAME)."""
    found = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        match = MARKER.match(line.strip())
        if match:
            found.append((number, match.group(1)))
        elif "<!-- test:" in line:
            found.append((number, line.strip()))
    return found


def read_blocks(path: Path = README) -> list[Block]:
    lines = path.read_text().splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        end = i + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        if end == len(lines):
            raise ValueError(f"README.md:{i + 1}: the fence is never closed")
        before = i - 1
        while before >= 0 and not lines[before].strip():
            before -= 1
        marker = MARKER.match(lines[before].strip()) if before >= 0 else None
        text = "\n".join(lines[i + 1 : end]) + "\n"
        blocks.append(Block(i + 1, fence.group(1), marker.group(1) if marker else None, text))
        i = end + 1
    return blocks


def blocks_marked(marker: str, path: Path = README) -> list[Block]:
    return [block for block in read_blocks(path) if block.marker == marker]
