"""A sandbox service that dies while a step runs: the step stops with a ServiceUnavailable
naming the service and the fix, and the canary's lock does not stay behind.

Each test starts its own sandbox in its own home (a service is killed: the session's
sandbox must not be), and kills only the pids that sandbox recorded.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from soa_sdk import Lab
from soa_sdk.errors import ServiceUnavailable
from soa_sdk.release import ReleaseEvent
from soa_sdk.release.lock import LOCK_PREFIX
from soa_sdk.sandbox import lifecycle
from soa_sdk.sandbox.process import wait_until
from soa_sdk.sandbox.state import SandboxState

RUNTIME = "runtime-ecs"
SERVICE = "inventory"
LOCK = f"{LOCK_PREFIX}{RUNTIME}/{SERVICE}"
DEADLINE = 30.0  # seconds from the kill to the error: generous, not a measure of speed
# Before the fix each step held for deadline_windows x window_timeout = 120 s.
PLAN = {"window_requests": 100, "tester_requests": 10, "deadline_windows": 24, "window_timeout": 5}


@pytest.fixture
def own_lab(tmp_path: Path) -> Iterator[tuple[Lab, SandboxState]]:
    """A sandbox of this test alone, runtime-ecs created and inventory v2 deployed."""
    home = tmp_path / "home"
    state, _ = lifecycle.up(home)
    try:
        lab = Lab.connect("sandbox", home=home, start=False)
        lab.org.ensure()
        lab.runtime.create(RUNTIME)
        lab.release.reset(SERVICE, RUNTIME)  # the declared resolver: v1 is current
        lab.release.deploy(SERVICE, "v2")
        yield lab, state
    finally:
        lifecycle.down(home)


def _canary_killing(lab: Lab, state: SandboxState, victim: str) -> tuple[BaseException, float]:
    """Run a canary that kills ``victim`` (by the pid this sandbox recorded) once the canary
    has 5 % of the traffic; the error it raised and the seconds from the kill to the error."""
    pid = state.services[victim].pid
    killed: list[float] = []
    outcome: list[Any] = []

    def on_event(event: ReleaseEvent) -> None:
        if event.kind == "weight" and event.step == "5%" and not killed:
            os.kill(pid, signal.SIGKILL)
            killed.append(time.monotonic())

    def release() -> None:
        try:
            traffic = lab.release.traffic(RUNTIME)
            run = lab.release.canary(
                SERVICE, "v2", RUNTIME, traffic=traffic, on_event=on_event, **PLAN
            )
            outcome.append(run)
        except BaseException as error:
            outcome.append(error)
        outcome.append(time.monotonic())

    thread = threading.Thread(target=release, daemon=True)
    thread.start()
    thread.join(timeout=120)
    assert killed, f"the canary never reached its 5 % step: {outcome[:1]!r}"
    assert outcome, f"the canary still ran {120:.0f} s after it started"
    error, ended = outcome
    return error, ended - killed[0]


def test_workload_host_dies_during_a_canary(own_lab: tuple[Lab, SandboxState]) -> None:
    lab, state = own_lab
    error, after = _canary_killing(lab, state, "workloads")
    assert isinstance(error, ServiceUnavailable), repr(error)
    assert error.service == "workloads"
    assert "workload host" in str(error) and "soa-lab up" in str(error)
    assert state.services["workloads"].url in str(error)
    assert after < DEADLINE, f"the error came {after:.0f} s after the workload host died"
    # Consul lives: the lock is released and the traffic is back on the baseline.
    _, item = lab.consul.client.kv.get(LOCK)
    assert item is None
    assert lab.release.active(SERVICE, RUNTIME) is None
    splitter = lab.consul.get_config("service-splitter", SERVICE, "ecs")
    assert splitter is None or splitter["Splits"][0]["Weight"] == 100


def test_consul_dies_during_a_canary(own_lab: tuple[Lab, SandboxState]) -> None:
    lab, state = own_lab
    error, after = _canary_killing(lab, state, "consul")
    assert isinstance(error, ServiceUnavailable), repr(error)
    assert error.service == "consul"
    assert "Consul" in str(error) and "soa-lab up" in str(error)
    assert after < DEADLINE, f"the error came {after:.0f} s after Consul died"
    # The lock could not be released: the error says so, and that the next canary takes over.
    assert any("takes it over" in note for note in getattr(error, "__notes__", []))
    # Every Consul client of the SDK says the same (python-consul2 and raw HTTP alike).
    with pytest.raises(ServiceUnavailable, match=r"Consul .*soa-lab up"):
        lab.release.active(SERVICE, RUNTIME)
    with pytest.raises(ServiceUnavailable, match=r"Consul .*soa-lab up"):
        lab.release.versions(SERVICE, RUNTIME)


def test_envoy_dies_during_a_canary(own_lab: tuple[Lab, SandboxState]) -> None:
    lab, state = own_lab
    error, after = _canary_killing(lab, state, "envoy")
    assert isinstance(error, ServiceUnavailable), repr(error)
    assert error.service == "envoy"
    assert "Envoy" in str(error) and "soa-lab up" in str(error), str(error)
    assert after < DEADLINE, f"the error came {after:.0f} s after Envoy died"
    # Consul lives: the lock is released and the traffic is back on the baseline.
    _, item = lab.consul.client.kv.get(LOCK)
    assert item is None
    assert lab.release.active(SERVICE, RUNTIME) is None
    # Whatever reads Envoy says the same: a call through the ingress, the config dump.
    for read in (
        lambda: lab.runtime.call(RUNTIME),
        lambda: lab.runtime.proxy_config(RUNTIME, "store"),
    ):
        with pytest.raises(ServiceUnavailable, match=r"Envoy .*soa-lab up") as raised:
            read()
        assert raised.value.service == "envoy"

    # Envoy lost only its counters: `soa-lab up` restarts it alone, and Consul's xDS server
    # gives it every proxy's configuration again (a call through the ingress answers).
    said: list[str] = []
    before = {name: record.pid for name, record in state.services.items()}
    restarted, _ = lifecycle.up(state.home, progress=said.append)
    assert any("envoy died" in line for line in said), said
    assert any("Restarted envoy" in line for line in said), said
    assert not any("afresh" in line for line in said), said
    after = {name: record.pid for name, record in restarted.services.items()}
    assert after.pop("envoy") != before.pop("envoy")
    assert after == before
    assert wait_until(lambda: _answers(lab), 30.0, interval=0.2)


def _answers(lab: Lab) -> bool:
    try:
        return lab.runtime.call(RUNTIME)[0] == 200
    except ServiceUnavailable:
        return False


# A step's call into each service, made right after that service died.
CALLS: dict[str, Any] = {
    "aws": lambda lab: lab.org.session("runtime-ecs"),
    "vault": lambda lab: lab.access.revoke("database/creds/prod-readonly/abc"),
    "consul": lambda lab: lab.release.active(SERVICE, RUNTIME),
    "boundary": lambda lab: lab.access.login("alice"),
    "postgres": lambda lab: lab.access.database_users(),
}


@pytest.mark.parametrize("victim", CALLS)
def test_every_service_s_death_is_named_with_the_fix(tmp_path: Path, victim: str) -> None:
    home = tmp_path / "home"
    state, _ = lifecycle.up(home)
    try:
        lab = Lab.connect("sandbox", home=home, start=False)
        os.kill(state.services[victim].pid, signal.SIGKILL)
        with pytest.raises(ServiceUnavailable) as raised:
            CALLS[victim](lab)
        assert raised.value.service == victim, repr(raised.value)
        port = urlsplit(state.services[victim].url).port
        assert raised.value.url and f":{port}" in str(raised.value), str(raised.value)
        assert "soa-lab status" in str(raised.value) and "soa-lab up" in str(raised.value)
    finally:
        lifecycle.down(home)
