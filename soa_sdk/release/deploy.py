"""Run a new version of a service beside the current one, and retire a version.

On ECS (the talk's production runtime) a version is a task definition family
``<runtime>-<service>-<version>`` (the naming of :mod:`soa_sdk.runtime.compute`) and one
Fargate service running it, with the baseline's network configuration. Both are created
through the member account's own session, in the sandbox (moto: the service runs no tasks)
and on AWS alike. On AWS the tasks join the mesh through the consul-ecs ``mesh-task``
containers that Terraform's module adds (``terraform/runtime_ecs``), which register them in
Consul with ``Meta.version``; the SDK does not generate those containers, so on AWS a
version deployed by this module alone runs but stays outside the mesh.

In the sandbox the requests are answered by the workload host's fake-service instances,
registered in Consul with ``Meta {version, runtime}`` exactly like consul-ecs would; the
sandbox's scheduler starts them to match the ECS service, with the build's behaviour from
the task definition's fake-service environment (``ERROR_RATE``, ``TIMING_50_PERCENTILE``...),
which is what "a build with a bug" means in the lab. A new revision rolls the instances.
EKS and EC2 runtimes get the workloads only.
"""

from __future__ import annotations

from typing import Any

from soa_sdk.awsclient import translate_client_error
from soa_sdk.runtime import compute
from soa_sdk.tf.lab_spec import RuntimeSpec, ServiceSpec


def ecs_environment(service: ServiceSpec, version: str, behaviour: dict[str, Any]) -> list[dict]:
    """fake-service's environment for the build: the runtime's, plus what the build does."""
    env = {e["name"]: e["value"] for e in compute.container_environment(service, version)}
    if behaviour.get("message"):
        env["MESSAGE"] = str(behaviour["message"])
    if behaviour.get("error_rate"):
        env["ERROR_RATE"] = str(behaviour["error_rate"])
        env["ERROR_CODE"] = str(behaviour.get("error_code", 500))
    timing = behaviour.get("latency_ms") or {}
    for key, name in (
        ("p50", "TIMING_50_PERCENTILE"),
        ("p90", "TIMING_90_PERCENTILE"),
        ("p99", "TIMING_99_PERCENTILE"),
    ):
        if timing.get(key) is not None:
            env[name] = f"{timing[key]}ms"
    return [{"name": k, "value": v} for k, v in env.items()]


def ensure_ecs_version(
    ecs: Any,
    runtime: RuntimeSpec,
    service: ServiceSpec,
    version: str,
    baseline: str,
    behaviour: dict[str, Any],
    calls: list[dict[str, str]] | None = None,
) -> dict[str, str]:
    """A task definition revision and an ECS service for ``version``; adopts existing ones.

    ``calls``: the service's upstreams and their partitions, for the task's mesh labels
    (:func:`soa_sdk.runtime.compute.container_labels`)."""
    family = compute.workload_name(runtime, service, version)
    tags = [
        {"key": "soa-lab:runtime", "value": runtime.name},
        {"key": "soa-lab:version", "value": version},
    ]
    try:
        labels = compute.container_labels(runtime, service, version, calls or [])
        definition = compute.register_task_definition(
            ecs,
            family,
            service,
            version,
            ecs_environment(service, version, behaviour),
            tags,
            labels,
        )
        existing = {
            s["serviceName"]: s for s in _services(ecs, runtime.name) if s["status"] == "ACTIVE"
        }
        if family in existing:
            ecs.update_service(
                cluster=runtime.name,
                service=family,
                taskDefinition=definition,
                desiredCount=service.replicas,
            )
        else:
            base = existing.get(compute.workload_name(runtime, service, baseline), {})
            extra = {}
            if base.get("networkConfiguration"):
                extra["networkConfiguration"] = base["networkConfiguration"]
            ecs.create_service(
                cluster=runtime.name,
                serviceName=family,
                taskDefinition=definition,
                desiredCount=service.replicas,
                launchType="FARGATE",
                tags=tags,
                **extra,
            )
    except Exception as error:
        raise translate_client_error(error, f"deploy {service.name} {version} on ECS") from None
    return {"task_definition": str(definition), "ecs_service": family}


def retire_ecs_version(
    ecs: Any, runtime: RuntimeSpec, service: ServiceSpec, version: str
) -> list[str]:
    """Scale the version's ECS service to 0, delete it, deregister its task definitions."""
    family = compute.workload_name(runtime, service, version)
    removed = []
    try:
        for s in _services(ecs, runtime.name):
            if s["serviceName"] == family and s["status"] == "ACTIVE":
                ecs.update_service(cluster=runtime.name, service=family, desiredCount=0)
                ecs.delete_service(cluster=runtime.name, service=family, force=True)
                removed.append(s["serviceArn"])
        arns = ecs.list_task_definitions(familyPrefix=family, status="ACTIVE")["taskDefinitionArns"]
        for arn in arns:
            if arn.split("/")[-1].rsplit(":", 1)[0] == family:
                ecs.deregister_task_definition(taskDefinition=arn)
                removed.append(arn)
    except Exception as error:
        raise translate_client_error(error, f"retire {service.name} {version} on ECS") from None
    return removed


def ecs_versions(ecs: Any, runtime: RuntimeSpec, service: ServiceSpec) -> list[str]:
    """Versions of ``service`` that have an active ECS service in the runtime's cluster."""
    prefix = compute.workload_name(runtime, service, "")
    try:
        return [
            s["serviceName"][len(prefix) :]
            for s in _services(ecs, runtime.name)
            if s["status"] == "ACTIVE" and s["serviceName"].startswith(prefix)
        ]
    except Exception as error:
        raise translate_client_error(error, f"list the ECS services of {service.name}") from None


def _services(ecs: Any, cluster: str) -> list[dict[str, Any]]:
    arns = ecs.list_services(cluster=cluster)["serviceArns"]
    found = []
    for i in range(0, len(arns), 10):  # DescribeServices takes at most 10 services
        found += ecs.describe_services(cluster=cluster, services=arns[i : i + 10])["services"]
    return found
