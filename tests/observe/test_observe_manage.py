"""What talks to what, and management: Consul health, the topology, scaling, stopping and
breaking instances, and routing reacting to it."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from soa_sdk.errors import NotFound, ValidationError

from .conftest import telemetry


def consul_instances(lab: Any, service: str, passing: bool = False) -> list[str]:
    """Instance IDs straight from Consul's health API through python-consul2 + partition."""
    params = {"partition": "ecs"}
    if passing:
        params["passing"] = "1"
    entries = lab.consul.request("GET", f"health/service/{service}", params=params)
    return sorted(e["Service"]["ID"] for e in entries)


def test_health_lists_every_instance_of_every_service(lab: Any, ecs: Any) -> None:
    table = lab.observe.health("runtime-ecs")
    spec = lab.runtime.spec("runtime-ecs")
    assert {s.name for s in spec.services} == set(table.column("service"))
    for service in spec.services:
        rows = [r for r in table.rows if r["service"] == service.name]
        assert sorted(r["instance"] for r in rows) == consul_instances(lab, service.name)
        assert len(rows) == service.replicas * len(service.versions)
        assert {r["version"] for r in rows} == set(service.versions)
        assert all(r["status"] == "passing" and "HTTP" in r["checks"] for r in rows)
    assert set(table.column("partition")) == {"ecs"}


def test_drive_traffic_and_the_topology_matches_the_mesh(lab: Any, ecs: Any) -> None:
    # How fast: benchmarks/envoy_mesh.py and benchmarks/health_reaction.py.
    started = datetime.now(UTC)
    report = lab.observe.drive_traffic("runtime-ecs", requests=500, concurrency=8)
    assert sum(report.by_status.values()) == 500
    assert sum(v for k, v in report.by_version.items() if k.startswith("store ")) == 500
    topology = lab.observe.topology(since=started)
    records = telemetry(lab, since=started.timestamp())
    spec = lab.runtime.spec("runtime-ecs")
    for service in spec.services:
        for upstream in service.upstreams:
            edge = topology.edge(service.name, upstream)
            assert edge is not None, f"{service.name}->{upstream}"
            calls = [
                r for r in records if (r["source"], r["destination"]) == (service.name, upstream)
            ]
            assert edge["requests"] == len(calls)
            assert edge["errors"] == sum(1 for r in calls if r["code"] >= 500)
    assert topology.edge("runtime-ecs-ingress", "store")["requests"] == 500
    assert topology.nodes["store"] == "ecs"


def test_a_broken_instance_leaves_routing_and_requests_still_succeed(lab: Any, ecs: Any) -> None:
    before = lab.observe.drive_traffic("runtime-ecs", requests=200)
    target = lab.observe.instances("runtime-ecs", "inventory").rows[0]["instance"]
    assert before.by_instance.get(target, 0) > 0
    try:
        broken = lab.observe.break_instance("runtime-ecs", "inventory", 0)
        # Critical before break_instance's deadline (30 s); how fast: benchmarks/health_reaction.py
        assert broken["instance"] == target and broken["status"] == "critical"
        assert target not in consul_instances(lab, "inventory", passing=True)
        after = lab.observe.drive_traffic("runtime-ecs", requests=200)
        assert target not in after.by_instance
        assert after.ok == before.ok
        assert sum(after.upstreams["inventory"].values()) == 200
        assert "unrouted" not in after.upstreams["inventory"]
    finally:
        repaired = lab.observe.repair_instance("runtime-ecs", "inventory", 0)
    assert repaired["status"] == "passing"


def test_scale_up_and_down_through_ecs_and_the_workload_host(lab: Any, ecs: Any) -> None:
    spec = lab.runtime.spec("runtime-ecs").service("store")
    ecs_client = lab.org.session("runtime-ecs").client("ecs")

    def desired() -> int:
        services = ecs_client.describe_services(
            cluster="runtime-ecs", services=["runtime-ecs-store-v1"]
        )["services"]
        return int(services[0]["desiredCount"])

    try:
        up = lab.observe.scale("runtime-ecs", "store", "v1", spec.replicas + 1)
        assert desired() == spec.replicas + 1 and len(up["started"]) == 1
        assert up["started"][0] in consul_instances(lab, "store")
        report = lab.observe.drive_traffic("runtime-ecs", requests=150)
        assert report.by_instance.get(up["started"][0], 0) > 0
        again = lab.observe.scale("runtime-ecs", "store", "v1", spec.replicas + 1)
        assert again["started"] == [] and again["stopped"] == []
    finally:
        down = lab.observe.scale("runtime-ecs", "store", "v1", spec.replicas)
    assert desired() == spec.replicas
    assert down["stopped"] == up["started"]
    assert len(consul_instances(lab, "store")) == spec.replicas
    changes = lab.observe.who_did_what(accounts=["runtime-ecs"], event_name="UpdateService")
    assert any("runtime-ecs-store-v1" in r for r in changes.column("resource"))


def test_scale_an_ec2_runtime_through_its_auto_scaling_group(lab: Any, ecs: Any) -> None:
    # runtime-ecs's store calls payments in runtime-ec2: step 1 made both.
    spec = lab.runtime.spec("runtime-ec2").service("payments")
    autoscaling = lab.org.session("runtime-ec2").client("autoscaling")

    def group() -> dict[str, Any]:
        for found in autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]:
            if {t["Key"]: t["Value"] for t in found["Tags"]}.get("Service") == "payments":
                return found
        raise AssertionError("no Auto Scaling group tagged Service=payments")

    def passing() -> list[str]:
        entries = lab.consul.request(
            "GET", "health/service/payments", params={"partition": "ec2", "passing": "1"}
        )
        return sorted(e["Service"]["ID"] for e in entries)

    declared = group()
    try:
        up = lab.observe.scale("runtime-ec2", "payments", "v1", spec.replicas + 1)
        assert up["autoscaling_group"] == group()["AutoScalingGroupName"]
        assert group()["DesiredCapacity"] == spec.replicas + 1 and len(up["started"]) == 1
        assert up["started"][0] in passing() and len(passing()) == spec.replicas + 1
        down = lab.observe.scale("runtime-ec2", "payments", "v1", spec.replicas - 1)
        assert group()["DesiredCapacity"] == spec.replicas - 1
        assert group()["MinSize"] == spec.replicas - 1  # widened to take it
        assert len(down["stopped"]) == 2 and len(passing()) == spec.replicas - 1
    finally:
        lab.observe.scale("runtime-ec2", "payments", "v1", spec.replicas)
        autoscaling.update_auto_scaling_group(  # the sizes Terraform applied, for later tests
            AutoScalingGroupName=declared["AutoScalingGroupName"],
            MinSize=declared["MinSize"],
            MaxSize=declared["MaxSize"],
        )
    assert len(passing()) == spec.replicas
    changes = lab.observe.who_did_what(
        accounts=["runtime-ec2"], event_name="UpdateAutoScalingGroup"
    )
    assert any(group()["AutoScalingGroupName"] in r for r in changes.column("resource"))


def test_stop_instance_removes_it_and_step_1_restores_it(lab: Any, ecs: Any) -> None:
    stopped = lab.observe.stop_instance("runtime-ecs", "inventory", 1)
    assert stopped not in consul_instances(lab, "inventory")
    report = lab.observe.drive_traffic("runtime-ecs", requests=100)
    assert stopped not in report.by_instance
    lab.runtime.create("runtime-ecs")  # idempotent: starts only what is missing
    spec = lab.runtime.spec("runtime-ecs").service("inventory")
    declared = spec.replicas * len(spec.versions)
    # The scheduler replaces the stopped task on its next pass (ECS does the same after a
    # StopTask), which may come after step 1 found the service stable: wait for the outcome.
    deadline = time.monotonic() + 60  # generous: the outcome, not its speed, is tested
    while time.monotonic() < deadline and len(consul_instances(lab, "inventory", True)) < declared:
        time.sleep(0.1)
    assert len(consul_instances(lab, "inventory", True)) == declared


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda o: o.scale("runtime-ecs", "store", "v1", 11), ValidationError, "0 to 10"),
        (lambda o: o.scale("runtime-ecs", "store", "v1", -1), ValidationError, "0 to 10"),
        (lambda o: o.scale("runtime-ecs", "store", "v9", 1), ValidationError, "no version"),
        (lambda o: o.scale("runtime-ecs", "nope", "v1", 1), NotFound, "nope"),
        (lambda o: o.scale("runtime-nope", "store", "v1", 1), NotFound, "runtime-nope"),
        (lambda o: o.stop_instance("runtime-ecs", "store", 99), ValidationError, "number 99"),
        (lambda o: o.break_instance("runtime-ecs", "nope", 0), NotFound, "nope"),
        (lambda o: o.drive_traffic("runtime-ecs", requests=0), ValidationError, "requests"),
        (lambda o: o.drive_traffic("runtime-ecs", concurrency=500), ValidationError, "concur"),
        (lambda o: o.health("runtime-nope"), NotFound, "runtime-nope"),
    ],
)
def test_bad_input_changes_nothing(lab: Any, ecs: Any, call: Any, error: type, words: str) -> None:
    workloads = sorted((w["id"], w["health_code"]) for w in lab.workloads.list())
    with pytest.raises(error, match=words):
        call(lab.observe)
    assert sorted((w["id"], w["health_code"]) for w in lab.workloads.list()) == workloads
