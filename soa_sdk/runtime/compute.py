"""What a runtime's compute is, and the ECS task definitions of its service versions.

:class:`Compute` is what step 1 reads back after ``terraform apply`` of the runtime's folder
(:mod:`soa_sdk.runtime.applied`): the ECS cluster and services (``modules/ecs_runtime``), the
EKS cluster and node group (``modules/eks_runtime``) or the Auto Scaling groups and their
instances (``modules/ec2_runtime``). The task definition's environment and mesh labels here
are the ones ``modules/ecs_runtime`` writes; a release (step 3) registers a new version's
revision with them (:func:`register_task_definition`), beside what Terraform made, and
:func:`destroy_released` removes those again before ``terraform destroy``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from soa_sdk.tf.lab_spec import RuntimeSpec, ServiceSpec


@dataclass
class Compute:
    """Identifiers of what the runtime's folder made (read back through the APIs)."""

    kind: str
    cluster: str = ""
    task_definitions: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    node_group: str = ""
    groups: list[str] = field(default_factory=list)
    """Auto Scaling groups (an EC2 runtime applied by Terraform: one per service version)."""
    instances: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)

    def made(self) -> bool:
        """Whether the runtime's compute is there: ECS services, an EKS node group or Auto
        Scaling groups."""
        return bool(self.services or self.node_group or self.groups)


def workload_name(runtime: RuntimeSpec, service: ServiceSpec, version: str) -> str:
    return f"{runtime.name}-{service.name}-{version}"


UPSTREAM_BASE_PORT = 20000
"""The first local port of a task's upstreams (as ``terraform/modules/ecs_runtime``)."""
LABEL = "consul.hashicorp.com/"


def container_environment(service: ServiceSpec, version: str) -> list[dict[str, str]]:
    """fake-service's settings: its name, message and the upstreams it calls via the mesh."""
    upstreams = ",".join(
        f"http://localhost:{UPSTREAM_BASE_PORT + i}" for i, _ in enumerate(service.upstreams)
    )
    return [
        {"name": "NAME", "value": service.name},
        {"name": "MESSAGE", "value": f"{service.name} {version}"},
        {"name": "LISTEN_ADDR", "value": f"0.0.0.0:{service.port}"},
        {"name": "UPSTREAM_URIS", "value": upstreams},
    ]


def container_labels(
    runtime: RuntimeSpec, service: ServiceSpec, version: str, calls: list[dict[str, str]]
) -> dict[str, str]:
    """The docker labels that say how the task joins the mesh (as ``terraform/modules/
    ecs_runtime`` writes them): service name, port, ``Meta.version``, partition, and the
    upstreams as ``name:port``, one in another partition in consul-k8s's labelled form
    ``name.svc.default.ns.PARTITION.ap:port`` (Consul takes an upstream with no partition to
    be in the proxy's own). The sandbox's scheduler runs the workloads from them."""
    items = []
    for i, call in enumerate(calls):
        partition = call.get("partition") or runtime.consul_partition
        name = call["name"]
        if partition != runtime.consul_partition:
            name = f"{name}.svc.default.ns.{partition}.ap"
        items.append(f"{name}:{UPSTREAM_BASE_PORT + i}")
    return {
        LABEL + "service-name": service.name,
        LABEL + "service-port": str(service.port),
        LABEL + "service-meta-version": version,
        LABEL + "partition": runtime.consul_partition,
        LABEL + "upstreams": ",".join(items),
    }


# -- ECS --------------------------------------------------------------------------------------
def register_task_definition(
    ecs: Any,
    family: str,
    service: ServiceSpec,
    version: str,
    environment: list[dict[str, str]],
    tags: list[dict[str, str]],
    labels: dict[str, str] | None = None,
) -> str:
    """Register a Fargate task definition revision running the service's image; its ARN.

    The docker labels (:func:`container_labels`) say how the task joins the mesh; the
    version becomes ``Meta.version`` in Consul.
    """
    return str(
        ecs.register_task_definition(
            family=family,
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[
                {
                    "name": service.name,
                    "image": service.image,
                    "essential": True,
                    "portMappings": [{"containerPort": service.port, "protocol": "tcp"}],
                    "environment": environment,
                    "dockerLabels": labels or {LABEL + "service-meta-version": version},
                }
            ],
            tags=tags,
        )["taskDefinition"]["taskDefinitionArn"]
    )


def _ecs_services(ecs: Any, cluster: str) -> list[dict[str, Any]]:
    clusters = ecs.describe_clusters(clusters=[cluster])["clusters"]
    if not clusters or clusters[0]["status"] != "ACTIVE":
        return []
    arns = ecs.list_services(cluster=cluster)["serviceArns"]
    return ecs.describe_services(cluster=cluster, services=arns)["services"] if arns else []


def destroy_released(session: Any, runtime: RuntimeSpec) -> list[str]:
    """What a release (step 3) added to an ECS runtime beside what Terraform made: the ECS
    services and task definition revisions without the ``ManagedBy = terraform`` tag that the
    runtime folder's provider gives everything (``default_tags``). Removed before ``terraform
    destroy``, which cannot delete a cluster that still runs services; nothing for other kinds."""
    if runtime.kind != "ecs":
        return []
    ecs = session.client("ecs")

    def by_terraform(arn: str) -> bool:
        tags = ecs.list_tags_for_resource(resourceArn=arn)["tags"]
        return {"key": "ManagedBy", "value": "terraform"} in tags

    removed = []
    for service in _ecs_services(ecs, runtime.name):
        if service["status"] == "ACTIVE" and not by_terraform(service["serviceArn"]):
            name = service["serviceName"]
            ecs.update_service(cluster=runtime.name, service=name, desiredCount=0)
            ecs.delete_service(cluster=runtime.name, service=name, force=True)
            removed.append(service["serviceArn"])
    active = ecs.list_task_definitions(familyPrefix=runtime.name, status="ACTIVE")
    for arn in active["taskDefinitionArns"]:
        if not by_terraform(arn):
            ecs.deregister_task_definition(taskDefinition=arn)
            removed.append(arn)
    return removed
