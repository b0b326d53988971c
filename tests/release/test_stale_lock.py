"""A canary's lock left in Consul KV by a release that could not release it (its process was
killed, or Consul was down at the end): a live owner still blocks the next canary; a gone
one is taken over, and the release says so."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from typing import Any

import pytest

from soa_sdk.errors import Conflict
from soa_sdk.release.lock import LOCK_PREFIX

from .conftest import RUNTIME, SERVICE

FAST = {"window_requests": 100, "tester_requests": 10, "deadline_windows": 20}
KEY = f"kv/{LOCK_PREFIX}{RUNTIME}/{SERVICE}"


def _left_lock(lab: Any, pid: int) -> None:
    now = time.time()
    record = {
        "baseline": "v1",
        "canary": "v2",
        "started": now - 60,
        "expires": now + 3600,
        "owner": {"host": socket.gethostname(), "pid": pid, "run": "an-earlier-run"},
    }
    assert lab.consul.request("PUT", KEY, json=record) is True


def test_live_owner_blocks_a_gone_owner_is_taken_over(ecs: Any) -> None:
    ecs.release.deploy(SERVICE, "v2")
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        _left_lock(ecs, owner.pid)
        with pytest.raises(Conflict, match="already has a canary"):
            ecs.release.canary(SERVICE, "v2", RUNTIME, **FAST)
    finally:
        owner.kill()
        owner.wait()
    # The owner is gone: the next canary takes the lock over and says so.
    said = rf"Took over .*process {owner.pid} .* is gone"
    with pytest.warns(UserWarning, match=said), ecs.release.traffic(RUNTIME) as traffic:
        result = ecs.release.canary(SERVICE, "v2", RUNTIME, traffic=traffic, **FAST)
    assert result.outcome in {"promoted", "rolled back"}  # it ran to its end (either way)
    assert ecs.release.active(SERVICE, RUNTIME) is None
