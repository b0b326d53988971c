"""The sandbox's scheduler: what runs follows the ECS services in moto, whoever made them.

Each test changes an ECS service through boto3 in the runtime's own account (as Terraform's
provider would) and reads the outcome from Consul's health API, from requests through the
mesh, and from ECS's ``DescribeServices``; none asks the workload host to start anything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
import scheduler_waits

RUNTIME = "runtime-ecs"
PARTITION = "ecs"
WAIT = 30.0  # generous: the outcome, not its speed, is tested


@pytest.fixture(scope="module")
def ecs(lab: Any) -> Any:
    """Step 1's ECS runtime (made when missing) and a boto3 ECS client in its account."""
    lab.org.require()
    lab.runtime.require(RUNTIME)
    spec = lab.runtime.spec(RUNTIME)
    return lab.org.session(spec.account).client("ecs", region_name=spec.region)


def until(check: Callable[[], Any], what: str) -> Any:
    return scheduler_waits.until(check, what, WAIT)


def passing(lab: Any, service: str) -> dict[str, dict[str, Any]]:
    """Consul's passing instances of ``service`` (``GET /v1/health/service/:name?passing``)."""
    entries = lab.consul.request(
        "GET", f"health/service/{service}", params={"passing": "1", "partition": PARTITION}
    )
    return {e["Service"]["ID"]: e["Service"] for e in entries}


def described(ecs: Any, name: str) -> dict[str, Any]:
    return ecs.describe_services(cluster=RUNTIME, services=[name])["services"][0]


def test_a_desired_count_changed_through_boto3_changes_what_serves(lab: Any, ecs: Any) -> None:
    name = f"{RUNTIME}-inventory-v1"
    declared = lab.runtime.spec(RUNTIME).service("inventory").replicas
    assert len(passing(lab, "inventory")) == declared
    ecs.update_service(cluster=RUNTIME, service=name, desiredCount=declared + 1)
    try:
        # moto alone says runningCount = desiredCount at once; the scheduler's count is honest.
        grown = until(
            lambda: len(passing(lab, "inventory")) == declared + 1 and passing(lab, "inventory"),
            f"{declared + 1} inventory instances in Consul",
        )
        service = until(
            lambda: (s := described(ecs, name))["runningCount"] == declared + 1 and s,
            "runningCount follows",
        )
        assert len(service["deployments"]) == 1
        assert service["deployments"][0]["runningCount"] == declared + 1
        report = lab.observe.drive_traffic(RUNTIME, requests=300)
        assert report.by_status.get(200) == 300
        reached = {i for i, n in report.by_instance.items() if i.startswith("inventory") and n}
        assert reached == set(grown), "requests through the mesh reach every instance"
    finally:
        ecs.update_service(cluster=RUNTIME, service=name, desiredCount=declared)
    until(lambda: len(passing(lab, "inventory")) == declared, "back to the declared count")
    until(lambda: described(ecs, name)["runningCount"] == declared, "runningCount back")


def test_a_new_task_definition_revision_rolls_the_instances(lab: Any, ecs: Any) -> None:
    name = f"{RUNTIME}-inventory-v1"
    original = described(ecs, name)["taskDefinition"]
    definition = ecs.describe_task_definition(taskDefinition=original)["taskDefinition"]
    containers = definition["containerDefinitions"]
    for container in containers:
        container["environment"] = [
            e if e["name"] != "MESSAGE" else {"name": "MESSAGE", "value": "inventory rolled"}
            for e in container["environment"]
        ]
    keep = ("networkMode", "requiresCompatibilities", "cpu", "memory")
    revision = ecs.register_task_definition(
        family=definition["family"],
        containerDefinitions=containers,
        **{k: definition[k] for k in keep if k in definition},
    )["taskDefinition"]["taskDefinitionArn"]
    before = set(passing(lab, "inventory"))
    ecs.update_service(cluster=RUNTIME, service=name, taskDefinition=revision)
    try:
        after = until(
            lambda: (
                (now := set(passing(lab, "inventory"))).isdisjoint(before)
                and len(now) == len(before)
                and now
            ),
            "every inventory instance replaced",
        )
        service = until(
            lambda: len((s := described(ecs, name))["deployments"]) == 1 and s,
            "one deployment left",
        )
        assert service["deployments"][0]["taskDefinition"] == revision
        assert service["runningCount"] == len(after)
        status, reply = lab.runtime.call(RUNTIME)
        assert status == 200
        answers = [c.get("body") for c in reply["upstream_calls"].values()]
        assert "inventory rolled" in answers, answers
    finally:
        ecs.update_service(cluster=RUNTIME, service=name, taskDefinition=original)
        ecs.deregister_task_definition(taskDefinition=revision)
    until(lambda: set(passing(lab, "inventory")).isdisjoint(after), "rolled back")


def test_a_service_made_as_terraform_makes_it_runs_and_stops_when_deleted(
    lab: Any, ecs: Any
) -> None:
    """The task definition terraform/modules/ecs_runtime writes (an ``app`` container, its
    labels, ``<service>-<version>`` as the service's name), then DeleteService."""
    family = f"{RUNTIME}-ledger-v1"
    revision = ecs.register_task_definition(
        family=family,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[
            {
                "name": "app",
                "image": "nicholasjackson/fake-service:v0.26.2",
                "essential": True,
                "portMappings": [{"containerPort": 9090, "protocol": "tcp"}],
                "environment": [
                    {"name": "NAME", "value": "ledger"},
                    {"name": "MESSAGE", "value": f"ledger v1 on {RUNTIME}"},
                    {"name": "LISTEN_ADDR", "value": "0.0.0.0:9090"},
                    {"name": "UPSTREAM_URIS", "value": "http://localhost:20000"},
                ],
                "dockerLabels": {
                    "consul.hashicorp.com/service-name": "ledger",
                    "consul.hashicorp.com/service-port": "9090",
                    "consul.hashicorp.com/service-meta-version": "v1",
                    "consul.hashicorp.com/partition": PARTITION,
                    "consul.hashicorp.com/upstreams": "inventory:20000",
                },
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    network = described(ecs, f"{RUNTIME}-inventory-v1")["networkConfiguration"]
    ecs.create_service(
        cluster=RUNTIME,
        serviceName="ledger-v1",
        taskDefinition=revision,
        desiredCount=2,
        launchType="FARGATE",
        networkConfiguration=network,
    )
    try:
        found = until(lambda: len(passing(lab, "ledger")) == 2 and passing(lab, "ledger"), "2")
        assert {s["Meta"]["version"] for s in found.values()} == {"v1"}
        placed = [w for w in lab.workloads.list("ledger") if w["runtime"] == RUNTIME]
        assert {w["placement"]["revision"] for w in placed} == {revision}
        assert [u["name"] for u in placed[0]["upstreams"]] == ["inventory"]
        assert placed[0]["upstreams"][0]["partition"] is None  # its own partition
        until(lambda: described(ecs, "ledger-v1")["runningCount"] == 2, "runningCount 2")
    finally:
        ecs.update_service(cluster=RUNTIME, service="ledger-v1", desiredCount=0)
        ecs.delete_service(cluster=RUNTIME, service="ledger-v1", force=True)
        ecs.deregister_task_definition(taskDefinition=revision)
    until(lambda: not passing(lab, "ledger"), "no ledger instance in Consul")
    assert [w for w in lab.workloads.list("ledger")] == []


def test_destroying_the_runtime_leaves_no_workload_then_step_1_brings_them_back(
    lab: Any, ecs: Any
) -> None:
    lab.runtime.destroy(RUNTIME)
    assert [w for w in lab.workloads.list() if w["runtime"] == RUNTIME] == []
    report = lab.runtime.require(RUNTIME)  # a later step's require: gone, so step 1 runs
    assert "runtime_ecs" in report.terraform
    spec = lab.runtime.spec(RUNTIME)
    assert len(report.workloads) == sum(s.replicas * len(s.versions) for s in spec.services)
    assert all(w["placement"]["scheduler"] == "ecs" for w in report.workloads)
    status, _ = lab.runtime.call(RUNTIME)
    assert status == 200


def test_the_scheduler_says_what_it_runs(lab: Any, ecs: Any) -> None:
    url = lab.endpoints.extra["scheduler_url"] + "/v1/status"
    assert requests.get(url, timeout=5).status_code == 401
    token = lab.credentials.workloads_token
    status = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5).json()
    mine = {k: v for k, v in status["services"].items() if f"/{RUNTIME}/" in k}
    spec = lab.runtime.spec(RUNTIME)
    assert len(mine) == sum(len(s.versions) for s in spec.services)
    assert all(v["running"] == v["desired"] and v["older"] == 0 for v in mine.values())
    assert status["passes"] >= 1 and status["problems"] == []
