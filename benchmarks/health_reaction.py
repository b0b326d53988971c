"""Benchmark: how fast the sandbox's Consul and mesh react to a broken health check.

    python benchmarks/health_reaction.py [--runs 5] [--service inventory]

Prints figures; it is not a test (the tests and notebook 02 only check that the instance is
marked critical and leaves routing, before a generous deadline). Starts a sandbox in a fresh
temporary home, builds step 0 and the ECS runtime, then ``--runs`` times breaks instance 0 of
``--service`` (``lab.observe.break_instance``: its health check answers 500) and repairs it.
Figures, in seconds: until Consul reports the instance critical, and passing again after the
repair (Consul's HTTP check interval in the sandbox is 1 s, so about one to two intervals is
expected); and the requests per second of ``drive_traffic`` through the runtime's ingress.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from soa_sdk import Lab
from soa_sdk.sandbox import lifecycle

RUNTIME = "runtime-ecs"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--service", default="inventory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="soa-lab-bench-") as folder:
        home = Path(folder)
        os.environ["SOA_LAB_HOME"] = str(home)
        try:
            lab = Lab.connect("sandbox", home=home)
            lab.org.ensure()
            lab.runtime.create(RUNTIME)
            critical, passing = [], []
            for _ in range(args.runs):
                broken = lab.observe.break_instance(RUNTIME, args.service, 0)
                repaired = lab.observe.repair_instance(RUNTIME, args.service, 0)
                assert broken["status"] == "critical" and repaired["status"] == "passing"
                critical.append(broken["seconds"])
                passing.append(repaired["seconds"])
            traffic = lab.observe.drive_traffic(RUNTIME, requests=500, concurrency=8)
        finally:
            lifecycle.down(home)
    print(f"{'figure':<34} {'median':>8} {'max':>8}  ({args.runs} runs, {args.service})")
    for label, values in (("broken -> critical in Consul, s", critical),
                          ("repaired -> passing in Consul, s", passing)):  # fmt: skip
        print(f"{label:<34} {statistics.median(values):>8.2f} {max(values):>8.2f}")
    print(f"{'drive_traffic through the ingress':<34} {traffic.rate:>8.0f} req/s (500 requests)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
