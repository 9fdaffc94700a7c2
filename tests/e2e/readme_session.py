"""Run README blocks as one shell session, the way a reader types them into one terminal: variables,
functions and `cd` carry over from block to block. SQL blocks go through psql from the session's
current directory. The first failing command stops the session (`set -e`)."""

from __future__ import annotations

import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .readme_blocks import Block

BLOCK_MARK = "::s3vl-block "
END_MARK = "::s3vl-end"


@dataclass
class Session:
    returncode: int
    output: str

    def finished(self) -> bool:
        return self.returncode == 0 and END_MARK in self.output.splitlines()

    def block_output(self, block: Block) -> str:
        """What `block` printed (stdout and stderr)."""
        parts = self.output.split(f"{BLOCK_MARK}{block.line}\n", 1)
        if len(parts) < 2:
            return ""
        return re.split(
            rf"^(?:{re.escape(BLOCK_MARK)}\d+|{re.escape(END_MARK)})$", parts[1], maxsplit=1, flags=re.M
        )[0]

    def failure(self) -> str:
        """Which block failed, with the session's output, for an assertion message."""
        started = re.findall(rf"^{re.escape(BLOCK_MARK)}(\d+)$", self.output, flags=re.M)
        where = f"README.md:{started[-1]}" if started else "before the first block"
        tail = self.output[-6000:]
        return f"the session stopped with status {self.returncode} in the block at {where}:\n{tail}"


def run_session(
    blocks: list[Block],
    *,
    cwd: Path,
    env: dict[str, str],
    work_dir: Path,
    rewrite: dict[str, str] | None = None,
    epilogue: str = "",
    timeout_s: float = 300,
) -> Session:
    """Run `blocks` in order in one bash; `rewrite` replaces literal text in shell blocks."""
    lines = ["set -eo pipefail", f"cd {shlex.quote(str(cwd))}"]
    for block in blocks:
        lines.append(f"echo '{BLOCK_MARK}{block.line}'")
        if block.language == "sql":
            sql_file = work_dir / f"readme-{block.line}.sql"
            sql_file.write_text(block.text)
            lines.append(f"psql -X -v ON_ERROR_STOP=1 -f {shlex.quote(str(sql_file))}")
        else:
            text = block.text
            for old, new in (rewrite or {}).items():
                text = text.replace(old, new)
            lines.append(text)
    lines += [epilogue, f"echo '{END_MARK}'"]
    script = work_dir / "session.sh"
    script.write_text("\n".join(lines) + "\n")
    run = subprocess.run(
        ["bash", str(script)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout_s,
    )
    return Session(run.returncode, run.stdout)
