"""A runtime's workloads: waiting for what an ECS service runs, and in the sandbox the
workload host's fake-service instances that stand in for EKS pods and EC2 instances; their
health as Consul sees it.

An ECS service's tasks are ECS's to start (in the sandbox, the sandbox's scheduler's, which
starts the workload host's instances to match the service): the steps create or update the
service and wait (:func:`wait_ecs_stable`, then :func:`wait_passing`). The instances of EKS
and EC2 runtimes are started here by step 1 (the declared versions) and step 3 (a new version
beside them). On AWS the tasks, pods and instances are Terraform's and consul-ecs /
consul-k8s register them.
"""

from __future__ import annotations

import time
from typing import Any

from soa_sdk.consul_api import ConsulApi
from soa_sdk.errors import ServiceUnavailable
from soa_sdk.tf.lab_spec import MeshSpec, RuntimeSpec, ServiceSpec

READY_TIMEOUT = 20.0
BEHAVIOUR_KEYS = ("error_rate", "error_code", "latency_ms", "message")


def upstreams(service: ServiceSpec, runtime: RuntimeSpec, mesh: MeshSpec) -> list[dict[str, str]]:
    """The sidecar upstreams of ``service``: each one it calls, in the partition serving it."""
    where = {s.name: r.consul_partition for s, r in mesh.services().values()}
    return [
        {"name": u, "partition": where.get(u, runtime.consul_partition)} for u in service.upstreams
    ]


def ensure(
    host: Any,
    runtime: RuntimeSpec,
    service: ServiceSpec,
    version: str,
    calls: list[dict[str, str]],
    behaviour: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The instances of ``service`` ``version`` in ``runtime``: the missing replicas started.

    With ``behaviour`` (a build's ``error_rate``, ``latency_ms``...; an error rate left out
    means none), running instances are given it too, so that re-deploying a build changes them.
    """
    mine = [
        w
        for w in host.list(service.name)
        if w.get("runtime") == runtime.name and w["version"] == version
    ]
    changes: dict[str, Any] = {}
    if behaviour is not None:
        changes = {k: v for k, v in behaviour.items() if k in BEHAVIOUR_KEYS}
        changes.setdefault("error_rate", 0.0)
        mine = [host.update(w["id"], **changes) for w in mine]
    missing = service.replicas - len(mine)
    if missing > 0:
        mine += host.start(
            service.name,
            version,
            partition=runtime.consul_partition,
            runtime=runtime.name,
            upstreams=calls,
            count=missing,
            **{"message": f"{service.name} {version}", **changes},
        )
    return mine


def placed(workload: dict[str, Any]) -> bool:
    """Whether the sandbox's scheduler runs ``workload`` for an ECS service (it stops with it)."""
    return bool((workload.get("placement") or {}).get("key"))


def of_runtime(host: Any, runtime: str) -> list[dict[str, Any]]:
    """Every instance the workload host runs for ``runtime``."""
    return [w for w in host.list() if w.get("runtime") == runtime]


def stop(host: Any, runtime: RuntimeSpec, service: str, version: str) -> list[str]:
    """Stop the instances of ``service`` ``version`` in ``runtime`` that were started by hand
    (those of an ECS service stop when the service goes); their ids."""
    stopped = []
    for w in host.list(service):
        if w.get("runtime") == runtime.name and w["version"] == version and not placed(w):
            host.stop(w["id"])
            stopped.append(w["id"])
    return stopped


def passing_versions(consul: ConsulApi, service: str, partition: str) -> dict[str, int]:
    """Version -> number of passing instances (``GET /v1/health/service/:name?passing``)."""
    entries = (
        consul.request(
            "GET", f"health/service/{service}", params={"passing": "1", "partition": partition}
        )
        or []
    )
    counts: dict[str, int] = {}
    for entry in entries:
        version = ((entry.get("Service") or {}).get("Meta") or {}).get("version")
        if version:
            counts[version] = counts.get(version, 0) + 1
    return counts


def wait_passing(
    consul: ConsulApi, service: str, partition: str, version: str | None = None, count: int = 1
) -> None:
    """Wait until ``count`` instances of ``service`` (of ``version``, or of any) pass their
    checks; checks start critical, so a new instance is routed to only after its first one."""
    deadline = time.monotonic() + READY_TIMEOUT

    def passing() -> int:
        counts = passing_versions(consul, service, partition)
        return counts.get(version, 0) if version else sum(counts.values())

    while passing() < count:
        if time.monotonic() > deadline:
            label = f"{service} {version}" if version else service
            raise ServiceUnavailable(
                f"{label} did not pass its health checks within {READY_TIMEOUT:.0f} s; "
                "see `soa-lab status` and the workloads log."
            )
        time.sleep(0.1)


def wait_ecs_stable(
    ecs: Any, cluster: str, services: list[str], timeout: float = READY_TIMEOUT, poll: float = 0.1
) -> None:
    """Wait until each ECS service runs its desired count of its task definition alone: one
    deployment and ``runningCount == desiredCount`` (``DescribeServices``; the test of
    boto3's ``services_stable`` waiter, polled faster). A deleted service counts as stable
    once it runs nothing."""
    deadline = time.monotonic() + timeout
    waiting = list(services)
    while waiting:
        found = []
        for i in range(0, len(waiting), 10):  # DescribeServices takes at most 10 services
            chunk = waiting[i : i + 10]
            found += ecs.describe_services(cluster=cluster, services=chunk)["services"]
        waiting = [s["serviceName"] for s in found if not _stable(s)]
        if not waiting:
            return
        if time.monotonic() > deadline:
            detail = ", ".join(
                f"{s['serviceName']} runs {s.get('runningCount', 0)} of {s.get('desiredCount', 0)}"
                for s in found
                if s["serviceName"] in waiting
            )
            raise ServiceUnavailable(
                f"The ECS services of {cluster} did not reach their desired counts within "
                f"{timeout:.0f} s ({detail}); in the sandbox its scheduler runs them: see "
                "`soa-lab status` and the scheduler's log."
            )
        time.sleep(poll)


def _stable(service: dict[str, Any]) -> bool:
    running = int(service.get("runningCount") or 0)
    if service.get("status") != "ACTIVE":
        return running == 0
    deployments = service.get("deployments") or []
    return len(deployments) <= 1 and running == int(service.get("desiredCount") or 0)


def wait_gone(consul: ConsulApi, service: str, partition: str, version: str) -> None:
    """Wait until no instance of ``service`` ``version`` passes in Consul any longer."""
    deadline = time.monotonic() + READY_TIMEOUT
    while passing_versions(consul, service, partition).get(version):
        if time.monotonic() > deadline:
            raise ServiceUnavailable(
                f"{service} {version} still has instances in Consul after {READY_TIMEOUT:.0f} s."
            )
        time.sleep(0.1)
