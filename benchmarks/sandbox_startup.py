"""Benchmark: sandbox start time, its memory once up, and notebook 00 run headless.

    python benchmarks/sandbox_startup.py [--runs 5]

Prints figures; it is not a test. Each start is from nothing (a fresh home) to every service
answering its health request. Memory is the sum of the resident memory of every sandbox
process and its children, right after start.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from soa_sdk.paths import notebooks_root
from soa_sdk.runner import run_notebook
from soa_sdk.sandbox import lifecycle, process


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--notebook-runs", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="soa-lab-bench-") as scratch:
        home = Path(scratch) / "home"
        os.environ["SOA_LAB_HOME"] = str(home)
        starts, memory, per_service = [], [], {}
        for _ in range(args.runs):
            began = time.perf_counter()
            state, _ = lifecycle.up(home)
            starts.append(time.perf_counter() - began)
            sizes = {n: process.resident_memory(r.pid) for n, r in state.services.items()}
            memory.append(sum(sizes.values()))
            per_service = sizes
            lifecycle.down(home)

        lifecycle.up(home)
        notebook_times = []
        for index in range(args.notebook_runs):
            output = Path(scratch) / f"00_foundation-{index}.ipynb"
            result = run_notebook(notebooks_root() / "00_foundation.ipynb", output)
            if not result.ok:
                print(f"notebook 00 failed: {result.error}", file=sys.stderr)
                return 1
            notebook_times.append(result.seconds)
        lifecycle.down(home)

    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"soa-lab up, from nothing to all healthy ({args.runs} runs):")
    print(
        f"  median {statistics.median(starts):.2f} s   min {min(starts):.2f} s   "
        f"max {max(starts):.2f} s   (target <= 3 s)"
    )
    print(
        f"sandbox memory once up (sum of RSS): median {statistics.median(memory) / 2**20:.0f} MiB"
    )
    for name, size in per_service.items():
        print(f"  {name:<10} {size / 2**20:6.0f} MiB")
    print(f"notebook 00 headless (papermill, {args.notebook_runs} runs, first builds the org):")
    print(
        "  "
        + "  ".join(f"{t:.1f} s" for t in notebook_times)
        + f"   median {statistics.median(notebook_times):.1f} s (target <= 10 s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
