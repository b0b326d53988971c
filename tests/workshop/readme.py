"""The README's quick start, read from the README itself, as a newcomer would copy it."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

FENCE = re.compile(r"^```bash[ \t]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


def section(markdown: str, heading: str) -> str:
    """The text under ``heading`` (e.g. ``"## Quick start"``) up to the next heading of the
    same or a higher level."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = markdown.splitlines(keepends=True)
    starts = [index for index, line in enumerate(lines) if line.rstrip() == heading]
    if not starts:
        raise LookupError(f"the README has no {heading!r} section")
    body, fenced = [], False
    for line in lines[starts[0] + 1 :]:
        if line.startswith("```"):
            fenced = not fenced  # a "# comment" in a shell block is no heading
        hashes = len(line) - len(line.lstrip("#"))
        if not fenced and 0 < hashes <= level and line[hashes : hashes + 1] == " ":
            break
        body.append(line)
    return "".join(body)


def commands(block: str) -> list[list[str]]:
    """Each command line of a shell block as argv, comments and blank lines dropped."""
    found = []
    for line in block.splitlines():
        words = shlex.split(line, comments=True)
        if words:
            found.append(words)
    return found


def quick_start(readme: Path) -> list[list[str]]:
    """The commands of the first ``bash`` block under ``## Quick start``."""
    text = section(readme.read_text(), "## Quick start")
    block = FENCE.search(text)
    if block is None:
        raise LookupError("the README's quick start has no ```bash block")
    return commands(block.group(1))


def the_test_command(readme: Path) -> list[list[str]]:
    """The commands of the second ``bash`` block under ``## Quick start``: the test command."""
    blocks = FENCE.findall(section(readme.read_text(), "## Quick start"))
    if len(blocks) < 2:
        raise LookupError("the README's quick start has no second ```bash block (the tests)")
    return commands(blocks[1])


if __name__ == "__main__":  # CI reads the README's commands from here: .ci/run
    import sys

    which = {"quick-start": quick_start, "tests": the_test_command}
    for argv in which[sys.argv[1]](Path(__file__).resolve().parents[2] / "README.md"):
        print(shlex.join(argv))
