"""The whole release through the sandbox: Consul entries, the mesh's data plane, the workload
host, moto. Each canary is small (windows of 100 requests) to keep the module fast."""

from __future__ import annotations

from typing import Any

import pytest

from soa_sdk.canary_analysis import AnalysisConfig
from soa_sdk.errors import Conflict, NotFound, ValidationError
from soa_sdk.release import ReleaseEvent, ReleasePlan, subset_name
from soa_sdk.release.entries import splitter
from soa_sdk.release.publish import NAMESPACE
from soa_sdk.release.telemetry import MeshTelemetryReader
from soa_sdk.telemetry import MeshMetrics

from .conftest import RUNTIME, SERVICE

FAST = {"window_requests": 100, "tester_requests": 10, "deadline_windows": 20}


def _reader(lab: Any) -> MeshTelemetryReader:
    """A reader of its own (the release keeps its own): the Envoys' statistics."""
    metrics = MeshMetrics.from_envoy_admins(
        lab.release.sandbox.envoy_admin_urls, lab.release.sandbox.envoy_admin_headers
    )
    return MeshTelemetryReader(metrics, SERVICE, "ecs")


def _entries(lab: Any) -> dict[str, int]:
    return lab.release.entries(SERVICE, RUNTIME)


def _after_rollback_or_promotion(lab: Any, serving: str) -> None:
    """One version left, the default of a one-subset resolver, nothing else in the chain."""
    resolver = lab.consul.get_config("service-resolver", SERVICE, "ecs")
    assert resolver["DefaultSubset"] == subset_name(serving)
    assert list(resolver["Subsets"]) == [subset_name(serving)]
    assert lab.consul.get_config("service-splitter", SERVICE, "ecs") is None
    assert lab.consul.get_config("service-router", SERVICE, "ecs") is None
    assert lab.release.active(SERVICE, RUNTIME) is None
    assert set(lab.release.versions(SERVICE, RUNTIME)) == {serving}
    assert lab.release.serving(SERVICE, RUNTIME, requests=40) == {serving: 40}


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([5, 25, 20, 100], "increase strictly"),
        ([0, 50, 100], "out of range"),
        ([5, 150], "out of range"),
        ([5, 25, 50], "must end at 100"),
        ([2.5, 100], "whole percentage"),
        ([], "non-empty"),
    ],
)
def test_bad_weights_write_nothing(ecs: Any, weights: list, message: str) -> None:
    ecs.release.deploy(SERVICE, "v2")
    before = _entries(ecs)
    with pytest.raises(ValidationError, match=message):
        ecs.release.canary(SERVICE, "v2", RUNTIME, weights=weights)
    assert _entries(ecs) == before
    assert ecs.release.active(SERVICE, RUNTIME) is None


@pytest.mark.parametrize(
    ("service", "version", "error", "message"),
    [
        (SERVICE, "v9", NotFound, "not deployed"),
        ("nope", "v2", NotFound, "no service named 'nope'"),
        (SERVICE, "v2 beta", ValidationError, "is not a valid version"),
        (SERVICE, "v1", ValidationError, "already serves"),
    ],
)
def test_bad_release_writes_nothing(
    ecs: Any, service: str, version: str, error: type, message: str
) -> None:
    before = _entries(ecs)
    with pytest.raises(error, match=message):
        ecs.release.canary(service, version, RUNTIME)
    assert _entries(ecs) == before


def test_splits_must_add_up_to_100() -> None:
    with pytest.raises(ValidationError, match="add up to 100"):
        splitter(SERVICE, {"v1": 90.0, "v2": 5.0})
    with pytest.raises(ValidationError, match="tester_header"):
        ReleasePlan(tester_header=("bad header", "x"))  # type: ignore[arg-type]


def test_broken_canary_is_rolled_back_and_retired(ecs: Any) -> None:
    ecs.release.deploy(SERVICE, "v2", error_rate=0.3)
    seen: dict[str, Any] = {}

    def during(event: ReleaseEvent) -> None:
        if event.kind == "decision" and event.step == "testers" and "route" not in seen:
            # The router is in place and the splitter at 0: only tagged requests reach v2,
            # while the users (background traffic) all stay on v1.
            reader = _reader(ecs)
            testers = ecs.release.traffic(RUNTIME)
            testers.send(20, {"x-canary": "true"})
            window = reader.window(
                100, timeout=5, enough=lambda c: "v2" in c and c["v2"].requests >= 20
            )
            seen["route"] = {v: c.requests for v, c in window.by_version.items()}
            # A second canary on the same service is refused and writes nothing.
            before = _entries(ecs)
            with pytest.raises(Conflict, match="already has a canary"):
                ecs.release.canary(SERVICE, "v2", RUNTIME)
            seen["second"] = _entries(ecs) == before

    users = ecs.release.traffic(RUNTIME)
    result = ecs.release.canary(SERVICE, "v2", RUNTIME, traffic=users, on_event=during, **FAST)
    assert not users.running
    assert result.rolled_back and "error rate" in result.reason
    assert seen["route"]["v2"] == 20 and seen["route"]["v1"] >= 80
    assert seen["second"] is True
    rollback = next(e for e in result.events if e.kind == "rollback")
    assert rollback.writes[0].startswith("service-splitter:inventory@")
    assert "service-router:inventory@deleted" in rollback.writes
    assert all(s["step"] in ("testers", "5%") for s in result.steps())
    _after_rollback_or_promotion(ecs, "v1")
    # Published in the runtime's account: metrics and the audit trail.
    trail = ecs.release.audit_trail(result)
    assert {e["detail-type"] for e in trail} == {"Canary weight changed", "Canary decision"}
    assert any(e["detail"]["kind"] == "rollback" for e in trail)
    cloudwatch = ecs.org.session("runtime-ecs").client("cloudwatch")
    names = {m["MetricName"] for m in cloudwatch.list_metrics(Namespace=NAMESPACE)["Metrics"]}
    assert {"CanaryWeight", "Decision", "CanaryErrorRate"} <= names
    ecs_client = ecs.org.session("runtime-ecs").client("ecs")
    described = ecs_client.describe_services(cluster=RUNTIME, services=["runtime-ecs-inventory-v2"])
    assert all(s["status"] != "ACTIVE" for s in described["services"])


def test_slow_canary_is_rolled_back_on_latency(ecs: Any) -> None:
    ecs.release.deploy(SERVICE, "v2", latency_ms={"p50": 25, "p90": 30, "p99": 40})
    result = ecs.release.canary(
        SERVICE, "v2", RUNTIME, traffic=ecs.release.traffic(RUNTIME), **FAST
    )
    assert result.rolled_back and "slower" in result.reason
    _after_rollback_or_promotion(ecs, "v1")


def test_progress_deadline_rolls_back(ecs: Any) -> None:
    ecs.release.deploy(SERVICE, "v2")
    plan = ReleasePlan(
        weights=(5, 100),
        tester_header=None,
        window_requests=40,
        deadline_windows=1,
        analysis=AnalysisConfig(min_requests_per_step=500),
    )
    result = ecs.release.canary(SERVICE, "v2", RUNTIME, plan, traffic=ecs.release.traffic(RUNTIME))
    assert result.rolled_back and result.reason.startswith("Progress deadline")
    assert [e.verdict for e in result.decisions()] == ["hold"]
    _after_rollback_or_promotion(ecs, "v1")


def test_healthy_canary_is_promoted(ecs: Any) -> None:
    ecs.release.deploy(SERVICE, "v2.1")
    result = ecs.release.canary(
        SERVICE, "v2.1", RUNTIME, weights=[50, 100], traffic=ecs.release.traffic(RUNTIME), **FAST
    )
    assert result.promoted, result.reason
    assert [s["step"] for s in result.steps()] == ["testers", "50%", "100%"]
    shares = ecs.release.shares(result)
    assert all(shares.column("within"))
    promote = next(e for e in result.events if e.kind == "promote")
    assert promote.writes[0].startswith("service-resolver:inventory@")
    _after_rollback_or_promotion(ecs, "v2.1")
    assert ecs.release.current(SERVICE, RUNTIME) == "v2.1"
    # Back to the declared state: v1 again, v2.1 retired.
    ecs.release.reset(SERVICE, RUNTIME)
    assert ecs.release.current(SERVICE, RUNTIME) == "v1"
    assert set(ecs.release.versions(SERVICE, RUNTIME)) == {"v1"}
