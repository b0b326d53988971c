"""Benchmark: how long each offline Terraform check takes on the whole monorepo.

    python benchmarks/terraform_checks.py [--runs 3] [--no-checkov]

Prints figures; it is not a test (the tests only check the outcome). Each check of
:mod:`soa_sdk.tf.checks` (parse, fmt, conventions, checkov) runs ``--runs`` times over the
project's ``terraform/``; the table shows the fastest and the median run, in seconds. checkov is
the lab's own (:mod:`soa_sdk.tools`, installed on first use, which is not timed).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from soa_sdk import tools
from soa_sdk.paths import terraform_root
from soa_sdk.tf import checks


def timed(check: Callable[[], checks.CheckResult], runs: int) -> tuple[list[float], bool]:
    seconds, ok = [], True
    for _ in range(runs):
        started = time.perf_counter()
        result = check()
        seconds.append(time.perf_counter() - started)
        ok = ok and result.ok
    return seconds, ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-checkov", action="store_true")
    args = parser.parse_args()
    root = terraform_root()
    wanted: dict[str, Callable[[], checks.CheckResult]] = {
        "parse": lambda: checks.check_parse(root),
        "fmt": lambda: checks.check_fmt(root),
        "conventions": lambda: checks.check_conventions(root),
    }
    if not args.no_checkov:
        tools.ensure(tools.CHECKOV)  # a first install is not part of the figure
        wanted["checkov"] = lambda: checks.check_checkov(root)
    print(f"{'check':<12} {'ok':<5} {'fastest s':>10} {'median s':>10}  ({args.runs} runs, {root})")
    for name, check in wanted.items():
        seconds, ok = timed(check, args.runs)
        print(f"{name:<12} {ok!s:<5} {min(seconds):>10.2f} {statistics.median(seconds):>10.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
