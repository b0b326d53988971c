"""The ``soa-lab`` command line, run as its own process on a home of the test's own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``soa-lab args...`` with ``SOA_LAB_HOME=home``; its output captured as text. The
    deadline is generous: an ``up`` that waits on another ``up`` starts every service."""
    return subprocess.run(
        [sys.executable, "-m", "soa_sdk.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "SOA_LAB_HOME": str(home)},
        timeout=120,
    )
