"""Benchmark: the whole lab (``soa-lab run``) of two or more trees, side by side in one run.

    python benchmarks/lab_revisions.py 2e68102 HEAD
    python benchmarks/lab_revisions.py HEAD /path/to/a/changed/tree

Prints figures; it is not a test. Each argument is a git revision of this repository (checked
out into a temporary worktree) or a folder holding a tree of the project. The trees run one
after the other, never at once (two labs on two cores would time each other), each with this
interpreter, ``PYTHONPATH`` on the tree and a fresh ``SOA_LAB_HOME``, whose sandbox is stopped
afterwards. Each notebook's seconds come from the run's own summary, one column per tree.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from quick_start import PROJECT, SUMMARY_ROW  # this script's folder is first on sys.path


def tree_of(spec: str, scratch: Path) -> Path:
    """``spec`` itself when it is a folder, else a worktree of revision ``spec`` in ``scratch``."""
    if Path(spec).is_dir():
        return Path(spec).resolve()
    tree = scratch / re.sub(r"\W", "_", spec)
    subprocess.run(
        ["git", "-C", str(PROJECT), "worktree", "add", "-q", "--detach", str(tree), spec],
        check=True,
    )
    return tree


def run_lab(tree: Path, home: Path) -> tuple[float, dict[str, float]]:
    """Seconds of the whole ``soa-lab run`` of ``tree``, and each notebook's."""
    env = {**os.environ, "PYTHONPATH": str(tree), "SOA_LAB_HOME": str(home)}
    cli = [sys.executable, "-m", "soa_sdk.cli"]
    began = time.perf_counter()
    done = subprocess.run([*cli, "run"], cwd=tree, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - began
    subprocess.run([*cli, "down"], cwd=tree, env=env, capture_output=True)
    out = done.stdout + done.stderr
    if done.returncode != 0:
        tail = "\n".join(out.splitlines()[-20:])
        raise SystemExit(f"soa-lab run of {tree} exited {done.returncode}:\n{tail}")
    return seconds, {m[0]: float(m[2]) for m in SUMMARY_ROW.findall(out)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("trees", nargs="+", help="git revisions or folders")
    args = parser.parse_args()
    results: list[tuple[float, dict[str, float]]] = []
    worktrees: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="soa-lab-revisions-") as scratch:
        try:
            for index, spec in enumerate(args.trees):
                tree = tree_of(spec, Path(scratch))
                if tree.is_relative_to(Path(scratch)):
                    worktrees.append(tree)
                results.append(run_lab(tree, Path(scratch) / f"home-{index}"))
        finally:
            for tree in worktrees:
                subprocess.run(
                    ["git", "-C", str(PROJECT), "worktree", "remove", "--force", str(tree)],
                    capture_output=True,
                )
    width = max(14, *(len(spec) + 2 for spec in args.trees))
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"{'notebook':<20}" + "".join(f"{spec + ' (s)':>{width + 4}}" for spec in args.trees))
    for name in sorted(set().union(*(notebooks for _, notebooks in results))):
        row = "".join(
            f"{notebooks.get(name, float('nan')):>{width + 4}.1f}" for _, notebooks in results
        )
        print(f"{name:<20}{row}")
    total = "".join(f"{sum(notebooks.values()):>{width + 4}.1f}" for _, notebooks in results)
    print(f"{'notebooks, summed':<20}{total}")
    print(f"{'whole soa-lab run':<20}" + "".join(f"{s:>{width + 4}.1f}" for s, _ in results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
