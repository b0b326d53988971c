"""What the sandbox's scheduler reads from a task definition (pure: no sandbox)."""

from __future__ import annotations

import pytest

from soa_sdk.sandbox.scheduler.placements import duration_ms, placements, upstreams, workload_spec


def test_upstreams_in_consul_k8s_labelled_form() -> None:
    label = "inventory:20000, customers.svc.default.ns.eks.ap:20001,payments.svc.dc2.peer:20002"
    assert upstreams(label) == [
        {"name": "inventory"},
        {"name": "customers", "partition": "eks"},
        {"name": "payments", "peer": "dc2"},
    ]
    assert upstreams("") == []


@pytest.mark.parametrize(
    "text, ms", [("20ms", 20.0), ("1.5s", 1500.0), ("250us", 0.25), ("7", 7.0)]
)
def test_durations(text: str, ms: float) -> None:
    assert duration_ms(text) == pytest.approx(ms)


def test_a_build_with_a_bug_and_the_fallbacks() -> None:
    definition = {
        "arn": "arn:aws:ecs:us-east-1:1:task-definition/rt-web-v2:3",
        "containerDefinitions": [
            {"name": "sidecar", "essential": False},
            {
                "name": "web",
                "environment": [
                    {"name": "ERROR_RATE", "value": "0.5"},
                    {"name": "ERROR_CODE", "value": "503"},
                    {"name": "TIMING_90_PERCENTILE", "value": "40ms"},
                ],
                "dockerLabels": {"consul.hashicorp.com/service-meta-version": "v2"},
            },
        ],
    }
    assert workload_spec(definition, "rt") == {
        "name": "web",
        "version": "v2",
        "partition": "default",
        "runtime": "rt",
        "upstreams": [],
        "message": "web v2",
        "error_rate": 0.5,
        "error_code": 503,
        "latency_ms": {"p90": 40.0},
    }


def test_only_active_services_of_active_clusters_with_a_readable_definition() -> None:
    def service(name: str, status: str = "ACTIVE", cluster: str = "ACTIVE", rate: str = "0.1"):
        return {
            "account": "1",
            "region": "us-east-1",
            "cluster": "rt",
            "clusterStatus": cluster,
            "serviceName": name,
            "status": status,
            "desiredCount": 2,
            "taskDefinition": {
                "arn": f"arn:aws:ecs:us-east-1:1:task-definition/{name}:1",
                "containerDefinitions": [
                    {"name": name, "environment": [{"name": "ERROR_RATE", "value": rate}]}
                ],
            },
        }

    found, problems = placements(
        {
            "ecs": [
                service("a"),
                service("b", status="INACTIVE"),
                service("c", cluster="INACTIVE"),
                service("d", rate="lots"),
            ]
        }
    )
    assert [(p.key, p.count) for p in found] == [("ecs/1/us-east-1/rt/a", 2)]
    assert len(problems) == 1 and "ecs/1/us-east-1/rt/d" in problems[0]
