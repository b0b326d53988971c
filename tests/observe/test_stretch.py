"""Step 2's incident: periods of traffic through the ingress while every instance of one
version answers 5xx for one period, read back from the mesh's records; and the fault itself
(checked before any change, undone whatever happens, repaired by running again).

The mesh's numbers are compared with two readings that do not come from the mesh: what the
client got at the ingress, and what the faulty instances say they answered (the workload
host's own counters)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from soa_sdk.errors import ValidationError
from soa_sdk.observe.stretch import percentile

FAULTY = "payments"  # in runtime-ec2; store (runtime-ecs) calls it on every request


def instances(lab: Any, service: str) -> list[dict[str, Any]]:
    return [w for w in lab.sandbox.workloads.list(service) if "probe" not in w.get("tags", [])]


def answered_5xx(lab: Any, service: str) -> int:
    """5xx the instances of ``service`` say they answered (their own counters)."""
    return sum(
        n for w in instances(lab, service) for code, n in w["served"].items() if int(code) >= 500
    )


def settings(lab: Any, service: str) -> dict[str, Any]:
    keys = ("error_rate", "error_code", "latency_ms")
    return {w["id"]: {k: w[k] for k in keys} for w in instances(lab, service)}


def saved_fault(lab: Any, service: str) -> Any:
    _, item = lab.consul.client.kv.get(f"soa-lab/observe/faults/runtime-ec2/{service}/v1")
    return json.loads(item["Value"]) if item else None


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([], 0.5) is None


@pytest.mark.slow
def test_an_incident_period_has_5xx_and_the_recovered_one_none(lab: Any, ecs: Any) -> None:
    before = settings(lab, FAULTY)
    stretch = lab.observe.stretch("runtime-ecs", rate=100, period=1)
    stretch.drive("steady")
    errors_before = answered_5xx(lab, FAULTY)
    with lab.observe.fault(FAULTY, error_rate=0.4, latency_ms={"p50": 5, "p99": 20}) as fault:
        assert fault.version == "v1" and len(fault.instances) == 2
        assert all(s["error_rate"] == 0.4 for s in settings(lab, FAULTY).values())
        assert saved_fault(lab, FAULTY) == before
        stretch.drive("incident")
    faulty_answered = answered_5xx(lab, FAULTY) - errors_before
    assert settings(lab, FAULTY) == before, "every instance answers as before the fault"
    assert saved_fault(lab, FAULTY) is None
    stretch.drive("recovered")

    steady, incident, recovered = stretch.read()
    assert [p.label for p in stretch.periods] == ["steady", "incident", "recovered"]
    assert incident.start >= steady.end and recovered.start >= incident.end
    for period in stretch.periods:
        store = period.stats[("store", "v1")]
        # Every request the client sent, and each answer it got, as the mesh recorded it.
        assert store.requests == sum(period.answers.values()) == 100
        assert store.errors == period.client_errors
        assert store.p50 is not None and store.p99 is not None and store.p50 <= store.p99
        assert {"inventory", "customers", "payments"} <= {s for s, _ in period.stats}
    assert incident.stats[("payments", "v1")].errors == faulty_answered > 0
    assert incident.stats[("store", "v1")].errors == faulty_answered  # store fails with it
    for calm in (steady, recovered):
        assert not any(s.errors for s in calm.stats.values()), calm
    assert stretch.stat("payments", "incident").errors == faulty_answered
    assert stretch.stat("inventory").errors == 0

    rows = stretch.table().rows
    assert len(rows) == 3 * len(stretch.services())
    assert rows[0]["service"] == "store" and rows[0]["label"] == "steady"
    summary = stretch.summary()
    json.dumps(summary)
    assert summary[1]["services"]["payments v1"]["5xx"] == faulty_answered


@pytest.mark.slow
def test_a_fault_injected_twice_is_still_undone_to_what_ran_before(lab: Any, ecs: Any) -> None:
    """A kernel that died during an incident left the fault on: injecting it again and
    clearing it gives the instances what they had before the first one."""
    before = settings(lab, FAULTY)
    lab.observe.fault(FAULTY, error_rate=0.2)  # never cleared, as after a dead kernel
    lab.observe.fault(FAULTY, error_rate=0.3, error_code=503)
    assert {s["error_code"] for s in settings(lab, FAULTY).values()} == {503}
    restored = lab.observe.clear_fault(FAULTY)
    assert sorted(restored) == sorted(before)
    assert settings(lab, FAULTY) == before
    assert lab.observe.clear_fault(FAULTY) == [], "clearing again changes nothing"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"error_rate": 1.5}, "error_rate"),
        ({"error_rate": 0.5, "error_code": 200}, "error_code"),
        ({"error_rate": 0.5, "latency_ms": {"p50": 50, "p99": 10}}, "p50 <= p90 <= p99"),
        ({"error_rate": 0.5, "latency_ms": {"p75": 5}}, "latency_ms key"),
        ({"error_rate": 0.5, "version": "v7"}, "no version 'v7'"),
    ],
)
def test_a_bad_fault_is_refused_before_any_change(
    lab: Any, ecs: Any, kwargs: dict[str, Any], message: str
) -> None:
    before = settings(lab, FAULTY)
    with pytest.raises(ValidationError, match=message):
        lab.observe.fault(FAULTY, **kwargs)
    assert settings(lab, FAULTY) == before
    assert saved_fault(lab, FAULTY) is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rate": 0}, "rate"),
        ({"rate": 100, "period": 2}, "period"),
        ({"rate": 0.1, "period": 1}, "requests per period"),
        ({"concurrency": 0}, "concurrency"),
    ],
)
def test_a_bad_stretch_is_refused(lab: Any, ecs: Any, kwargs: dict[str, Any], message: str):
    with pytest.raises(ValidationError, match=message):
        lab.observe.stretch("runtime-ecs", **kwargs)


def test_a_stretch_checks_its_periods(lab: Any, ecs: Any) -> None:
    stretch = lab.observe.stretch("runtime-ecs")
    for label, periods in (("", 1), ("steady", 0), ("steady", True)):
        with pytest.raises(ValidationError):
            stretch.drive(label, periods)
    assert stretch.periods == []
