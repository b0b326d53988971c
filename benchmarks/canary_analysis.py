"""Benchmark the canary analysis against a fixed-threshold rule on simulated releases.

Prints a table; it is a script, not a test:

    python benchmarks/canary_analysis.py [--releases 200] [--seed 1]

Traffic model (the same for both methods):
- a release walks the weights 5, 25, 50, 100 %; each step is a window of 400 requests,
  served in batches of 40 (the canary gets w % of each batch, the baseline the rest);
- each request fails independently (baseline 0.5 %), latencies are log-normal (median 50 ms,
  sigma 0.5, p99 about 160 ms); a slow canary has every latency doubled; a cold one has its
  first 20 requests 4 times slower (its start: new mTLS connections, empty caches), and is
  also analysed with no warm-up ("no warm-up": ``latency_warmup_requests=0``) side by side;
- a regression of "k points" means an absolute canary error rate of 0.5 % + k %
  (2.5 %, 5.5 %, 10.5 %), not a relative increase.

The analyzer (soa_sdk.canary_analysis, default config) sees every batch, and the release
follows the orchestrator's rule (soa_sdk.release): at the end of a window it moves on if the
last verdict is "continue"; on "hold" the step gets another window, up to the progress
deadline (``--deadline`` windows, default soa_sdk.release.plan.DEFAULT_DEADLINE_WINDOWS = 30),
after which the release is rolled back; "rollback" stops it at once. The fixed rule rolls
back when the success rate over the last 100 canary requests falls under 99 % (2 errors or
more in the last 100); it is checked after every batch once 100 canary requests exist, and
it walks one window per step.

Figures: "rollback" is the fraction of releases rolled back, for any reason; "deadline" the
part of them rolled back by the progress deadline rather than by the test; the request counts
are canary requests served up to the rollback (median and 90th percentile over the
rolled-back releases). On the healthy and at-tolerance rows a rollback is a false rollback.
"promoted" went through all four steps. With the deadline every release ends one way or the
other: nothing stays on hold forever.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

from soa_sdk.canary_analysis import AnalysisConfig, CanaryAnalyzer, VersionSample
from soa_sdk.release.plan import DEFAULT_DEADLINE_WINDOWS

WEIGHTS = (5, 25, 50, 100)
WINDOW = 400
BATCH = 40
BASELINE_ERROR_RATE = 0.005
LATENCY_MEDIAN_MS = 50.0
LATENCY_SIGMA = 0.5


@dataclass(frozen=True)
class Case:
    name: str
    canary_error_rate: float
    canary_latency_factor: float = 1.0
    cold_requests: int = 0  # the canary's first requests, 4x slower (a cold start)


CASES = (
    Case("healthy (0.5%)", 0.005),
    Case("at tolerance (1.0%)", 0.010),
    Case("+2 points (2.5%)", 0.025),
    Case("+5 points (5.5%)", 0.055),
    Case("+10 points (10.5%)", 0.105),
    Case("latency x2 (0.5%)", 0.005, 2.0),
    Case("cold start (0.5%)", 0.005, cold_requests=20),
)
COLD_FACTOR = 4.0


@dataclass
class Outcome:
    rolled_back_at: int | None  # canary requests served when rolled back
    promoted: bool = False
    by_deadline: bool = False


def _batch(rng: random.Random, n: int, error_rate: float, factor: float) -> VersionSample:
    errors = sum(1 for _ in range(n) if rng.random() < error_rate)
    mu = math.log(LATENCY_MEDIAN_MS * factor)
    latencies = tuple(rng.lognormvariate(mu, LATENCY_SIGMA) for _ in range(n))
    return VersionSample(requests=n, errors=errors, latencies_ms=latencies)


def _factor(case: Case, served: int) -> float:
    """The latency factor of the canary's next batch, ``served`` requests into the release."""
    return COLD_FACTOR if served < case.cold_requests else case.canary_latency_factor


def run_analyzer(rng: random.Random, case: Case, config: AnalysisConfig, deadline: int) -> Outcome:
    analyzer = CanaryAnalyzer(config)
    served = 0
    for weight in WEIGHTS:
        n_canary = BATCH * weight // 100
        for _window in range(deadline):
            verdict = "hold"
            for _ in range(WINDOW // BATCH):
                baseline = _batch(rng, BATCH - n_canary, BASELINE_ERROR_RATE, 1.0)
                canary = _batch(rng, n_canary, case.canary_error_rate, _factor(case, served))
                served += n_canary
                verdict = analyzer.observe(baseline, canary).verdict
                if verdict == "rollback":
                    return Outcome(served)
            if verdict == "continue":
                break
        else:
            return Outcome(served, by_deadline=True)  # the progress deadline rolls back
        analyzer.reset_step()
    return Outcome(None, promoted=True)


def run_fixed_rule(rng: random.Random, case: Case) -> Outcome:
    last: deque[bool] = deque(maxlen=100)
    served = 0
    for weight in WEIGHTS:
        n_canary = BATCH * weight // 100
        for _ in range(WINDOW // BATCH):
            # Draw the same way as the analyzer so both see the same first requests.
            _batch(rng, BATCH - n_canary, BASELINE_ERROR_RATE, 1.0)
            canary = _batch(rng, n_canary, case.canary_error_rate, _factor(case, served))
            last.extend([True] * canary.errors + [False] * (n_canary - canary.errors))
            served += n_canary
            if len(last) == 100 and 1.0 - sum(last) / 100 < 0.99:
                return Outcome(served)
    return Outcome(None, promoted=True)


def _row(method: str, case: Case, outcomes: list[Outcome]) -> str:
    hits = sorted(o.rolled_back_at for o in outcomes if o.rolled_back_at is not None)
    rate = len(hits) / len(outcomes)
    median = f"{statistics.median(hits):.0f}" if hits else "-"
    p90 = f"{hits[min(len(hits) - 1, math.ceil(0.9 * len(hits)) - 1)]}" if hits else "-"
    promoted = sum(o.promoted for o in outcomes) / len(outcomes)
    deadline = sum(o.by_deadline for o in outcomes) / len(outcomes)
    return (
        f"| {case.name:<20} | {method:<10} | {rate:8.1%} | {deadline:8.1%} | {median:>6} "
        f"| {p90:>5} | {promoted:8.1%} |"
    )


def _parse_setting(text: str) -> tuple[str, float | int | bool]:
    name, _, raw = text.partition("=")
    default = getattr(AnalysisConfig(), name, None)
    if default is None or not raw:
        raise SystemExit(f"--set expects FIELD=VALUE with an AnalysisConfig field, got {text!r}")
    if isinstance(default, bool):
        return name, raw.lower() in ("1", "true", "yes")
    return name, type(default)(raw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--releases", type=int, default=200, help="simulated releases per case")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--deadline",
        type=int,
        default=DEFAULT_DEADLINE_WINDOWS,
        help="windows a step may hold before the release rolls back",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override an AnalysisConfig field, e.g. --set error_mde=0.04",
    )
    args = parser.parse_args()

    config = AnalysisConfig(**dict(_parse_setting(s) for s in args.set))
    methods: list[tuple[str, Callable[[random.Random, Case], Outcome]]] = [
        ("sequential", lambda rng, case: run_analyzer(rng, case, config, args.deadline)),
        ("fixed 99%", run_fixed_rule),
    ]
    cold = replace(config, latency_warmup_requests=0)
    no_warmup = ("no warm-up", lambda rng, case: run_analyzer(rng, case, cold, args.deadline))
    started = time.perf_counter()
    print(
        f"{args.releases} releases per case, seed {args.seed}, deadline {args.deadline} "
        f"windows of {WINDOW} requests, {config}"
    )
    print("| case                 | method     | rollback | deadline | median |   p90 | promoted |")
    print("|" + "|".join("-" * w for w in (22, 12, 10, 10, 8, 7, 10)) + "|")
    for case_index, case in enumerate(CASES):
        for method, run in methods + ([no_warmup] if case.cold_requests else []):
            outcomes = [
                run(random.Random(f"{args.seed}/{case_index}/{i}"), case)
                for i in range(args.releases)
            ]
            print(_row(method, case, outcomes), flush=True)
    print(f"({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
