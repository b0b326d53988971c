"""Benchmark: the README's quick start as a newcomer meets it, cold and warm, side by side.

    python benchmarks/quick_start.py [--cold-pip-cache]

Prints figures; it is not a test. In a fresh checkout (this working tree's files), a fresh
virtualenv and a fresh HOME, it times the README's install command, then ``soa-lab run``
twice: the first run is the cold one (a sandbox started from nothing, checkov's tool
environment made on first use, nothing in any cache of the lab's), the second the warm one
(the same sandbox and tools, every notebook run again). Each notebook's seconds come from the
runs' own summaries, printed in two columns. ``--cold-pip-cache`` also gives pip an empty
download cache (everything fetched from the index: a newcomer's very first install);
otherwise pip's cache of this machine is used, as on a machine that installed anything before.
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

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from tests.workshop.readme import quick_start  # noqa: E402
from tests.workshop.test_newcomer import fresh_checkout, newcomer_environment  # noqa: E402

SUMMARY_ROW = re.compile(r"^(\d\d_\w+)\s+(passed|FAILED)\s+([\d.]+)", re.MULTILINE)


def timed(argv: list[str], cwd: Path, env: dict[str, str], log: Path) -> tuple[float, str]:
    began = time.perf_counter()
    completed = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - began
    with log.open("a") as kept:
        kept.write(completed.stdout + completed.stderr)
    if completed.returncode != 0:
        tail = "\n".join((completed.stdout + completed.stderr).splitlines()[-20:])
        raise SystemExit(f"`{' '.join(argv)}` exited {completed.returncode}:\n{tail}")
    return seconds, completed.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cold-pip-cache", action="store_true")
    args = parser.parse_args()
    install, run = quick_start(PROJECT / "README.md")[:2]

    with tempfile.TemporaryDirectory(prefix="soa-lab-quick-start-") as scratch:
        root = Path(scratch)
        checkout, venv, home, user = (root / n for n in ("soa-lab", "venv", "home", "user"))
        for folder in (checkout, user):
            folder.mkdir()
        fresh_checkout(checkout)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        env = newcomer_environment(venv, home, user)
        if args.cold_pip_cache:
            env["PIP_CACHE_DIR"] = str(root / "pip-cache")
        log = root / "log.txt"

        install_seconds, _ = timed(install, checkout, env, log)
        cold_seconds, cold_out = timed(run, checkout, env, log)
        warm_seconds, warm_out = timed(run, checkout, env, log)
        subprocess.run(["soa-lab", "down"], cwd=checkout, env=env, capture_output=True)

    cold = {m[0]: float(m[2]) for m in SUMMARY_ROW.findall(cold_out)}
    warm = {m[0]: float(m[2]) for m in SUMMARY_ROW.findall(warm_out)}
    pip_cache = "empty" if args.cold_pip_cache else "this machine's"
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"install (`{' '.join(install)}`, pip cache {pip_cache}): {install_seconds:.1f} s")
    print(f"{'notebook':<20}{'cold run (s)':>14}{'warm run (s)':>14}")
    for name in sorted(cold | warm):
        first, second = cold.get(name, float("nan")), warm.get(name, float("nan"))
        print(f"{name:<20}{first:>14.1f}{second:>14.1f}")
    print(f"{'whole soa-lab run':<20}{cold_seconds:>14.1f}{warm_seconds:>14.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
