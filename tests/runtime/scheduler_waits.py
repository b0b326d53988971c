"""Waiting in the runtime tests for what the sandbox's scheduler does."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def until(check: Callable[[], Any], what: str, wait: float) -> Any:
    """``check()``'s first truthy answer within ``wait`` seconds; fails naming ``what``."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {wait:.0f} s: {what}")
