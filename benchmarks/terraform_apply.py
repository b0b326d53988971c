"""Terraform on terraform/org against a fresh sandbox: init, apply, no-change plan, destroy.

Run: ``SOA_LAB_HOME=/tmp/bench python benchmarks/terraform_apply.py``. Prints seconds per step
(targets on a 2-core machine: no-change plan <= 2 s, apply <= 5 s). Nothing is asserted.
"""

from __future__ import annotations

import time

from soa_sdk.sandbox import lifecycle
from soa_sdk.sandbox.state import sandbox_home
from soa_sdk.sandbox.terraform.run import Terraform


def main() -> None:
    home = sandbox_home()
    state, _ = lifecycle.up(home)
    try:
        with Terraform("org", state) as terraform:
            for step in ("init", "apply", "plan", "plan", "destroy"):
                start = time.monotonic()
                result = getattr(terraform, step)()
                summary = "" if isinstance(result, str) else repr(result)
                print(f"{step:8s} {time.monotonic() - start:6.2f} s  {summary}")
    finally:
        lifecycle.down(home)


if __name__ == "__main__":
    main()
