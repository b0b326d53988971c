"""A runtime's compute in its account, for each kind the talk uses, through the APIs: for a
runtime that no folder of ``terraform/`` declares (step 5's new one). A declared runtime's
compute is its folder's (``modules/ecs_runtime``...), applied by Terraform
(:mod:`soa_sdk.runtime.applied` reads it back). The task definitions' environment and mesh
labels here are also what a release (step 3) registers for a new version.

- ``ecs``: a cluster, one task definition and one Fargate service per service version;
- ``eks``: a cluster and a managed node group, with their IAM roles;
- ``ec2``: one instance per service version and replica.

Everything is tagged ``soa-lab:runtime`` (see :mod:`soa_sdk.runtime.network`) and found again
by that tag or by its name, so :func:`ensure_compute` adopts what exists. In AWS the
processes that answer requests are these tasks, pods or instances running the fake-service
image; in the sandbox, the workload host's instances: those of an ECS service are started
and stopped by the sandbox's scheduler to match the service (its desired count and task
definition), those of EKS and EC2 runtimes by step 1 itself.
Not supported: Kubernetes objects inside EKS (no Kubernetes API here), autoscaling.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from soa_sdk.runtime.network import RUNTIME_TAG, Network, tag_filter
from soa_sdk.tf.lab_spec import RuntimeSpec, ServiceSpec

AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"


@dataclass
class Compute:
    """Identifiers of what :func:`ensure_compute` made or found."""

    kind: str
    cluster: str = ""
    task_definitions: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    node_group: str = ""
    groups: list[str] = field(default_factory=list)
    """Auto Scaling groups (an EC2 runtime applied by Terraform: one per service version)."""
    instances: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)


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


def ensure_compute(
    session: Any,
    runtime: RuntimeSpec,
    network: Network,
    calls: dict[str, list[dict[str, str]]] | None = None,
) -> Compute:
    """The runtime's compute; ``calls``: per service, its upstreams and the partition of
    each (``soa_sdk.runtime.workloads.upstreams``), for the ECS task definitions' labels."""
    if runtime.kind == "ecs":
        return _ensure_ecs(session.client("ecs"), runtime, network, calls or {})
    if runtime.kind == "eks":
        return _ensure_eks(session.client("eks"), session.client("iam"), runtime, network)
    return _ensure_ec2(session.client("ec2"), session.client("ssm"), runtime, network)


def destroy_compute(session: Any, runtime: RuntimeSpec) -> list[str]:
    """Remove the runtime's compute; returns what was removed."""
    if runtime.kind == "ecs":
        return _destroy_ecs(session.client("ecs"), runtime)
    if runtime.kind == "eks":
        return _destroy_eks(session.client("eks"), session.client("iam"), runtime)
    return _destroy_ec2(session.client("ec2"), runtime)


# -- ECS --------------------------------------------------------------------------------------
def _ensure_ecs(
    ecs: Any, runtime: RuntimeSpec, network: Network, calls: dict[str, list[dict[str, str]]]
) -> Compute:
    tags = [{"key": RUNTIME_TAG, "value": runtime.name}]
    ecs.create_cluster(clusterName=runtime.name, tags=tags)  # returns the cluster if it exists
    result = Compute("ecs", cluster=runtime.name)
    existing = {
        s["serviceName"] for s in _ecs_services(ecs, runtime.name) if s["status"] == "ACTIVE"
    }
    for service in runtime.services:
        for version in service.versions:
            family = workload_name(runtime, service, version)
            labels = container_labels(runtime, service, version, calls.get(service.name, []))
            definition = _task_definition(ecs, family, service, version, labels, tags)
            result.task_definitions.append(definition)
            if family not in existing:
                ecs.create_service(
                    cluster=runtime.name,
                    serviceName=family,
                    taskDefinition=definition,
                    desiredCount=service.replicas,
                    launchType="FARGATE",
                    networkConfiguration={
                        "awsvpcConfiguration": {
                            "subnets": list(network.subnet_ids),
                            "securityGroups": [network.security_group_id],
                            "assignPublicIp": "DISABLED",
                        }
                    },
                    tags=tags,
                )
            result.services.append(family)
    return result


def _task_definition(
    ecs: Any,
    family: str,
    service: ServiceSpec,
    version: str,
    labels: dict[str, str],
    tags: list[dict[str, str]],
) -> str:
    """The ARN of the family's active task definition, registered when there is none."""
    active = ecs.list_task_definitions(familyPrefix=family, status="ACTIVE")["taskDefinitionArns"]
    if active:
        return str(active[-1])
    return register_task_definition(
        ecs, family, service, version, container_environment(service, version), tags, labels
    )


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


def _destroy_ecs(ecs: Any, runtime: RuntimeSpec) -> list[str]:
    removed = []
    for service in _ecs_services(ecs, runtime.name):
        if service["status"] != "ACTIVE":
            continue
        ecs.update_service(cluster=runtime.name, service=service["serviceName"], desiredCount=0)
        ecs.delete_service(cluster=runtime.name, service=service["serviceName"], force=True)
        removed.append(service["serviceArn"])
    for arn in ecs.list_task_definitions(familyPrefix=runtime.name, status="ACTIVE")[
        "taskDefinitionArns"
    ]:
        ecs.deregister_task_definition(taskDefinition=arn)
        removed.append(arn)
    if ecs.describe_clusters(clusters=[runtime.name])["clusters"]:
        removed.append(ecs.delete_cluster(cluster=runtime.name)["cluster"]["clusterArn"])
    return removed


# -- EKS --------------------------------------------------------------------------------------
def _role(iam: Any, name: str, service_principal: str, policies: list[str]) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": service_principal},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    try:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        arn = iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(trust),
            Tags=[{"Key": RUNTIME_TAG, "Value": name.rsplit("-", 1)[0]}],
        )["Role"]["Arn"]
        for policy in policies:
            iam.attach_role_policy(RoleName=name, PolicyArn=f"arn:aws:iam::aws:policy/{policy}")
    return str(arn)


def _ensure_eks(eks: Any, iam: Any, runtime: RuntimeSpec, network: Network) -> Compute:
    cluster_role = _role(
        iam, f"{runtime.name}-cluster", "eks.amazonaws.com", ["AmazonEKSClusterPolicy"]
    )
    node_role = _role(
        iam,
        f"{runtime.name}-nodes",
        "ec2.amazonaws.com",
        ["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly", "AmazonEKS_CNI_Policy"],
    )
    if runtime.name not in eks.list_clusters()["clusters"]:
        eks.create_cluster(
            name=runtime.name,
            roleArn=cluster_role,
            resourcesVpcConfig={
                "subnetIds": list(network.subnet_ids),
                "securityGroupIds": [network.security_group_id],
                "endpointPublicAccess": False,
                "endpointPrivateAccess": True,
            },
            tags={RUNTIME_TAG: runtime.name},
        )
    node_group = f"{runtime.name}-nodes"
    if node_group not in eks.list_nodegroups(clusterName=runtime.name)["nodegroups"]:
        size = max(2, sum(s.replicas * len(s.versions) for s in runtime.services) // 4)
        eks.create_nodegroup(
            clusterName=runtime.name,
            nodegroupName=node_group,
            nodeRole=node_role,
            subnets=list(network.subnet_ids),
            scalingConfig={"minSize": 1, "maxSize": size * 2, "desiredSize": size},
            tags={RUNTIME_TAG: runtime.name},
        )
    return Compute(
        "eks",
        cluster=runtime.name,
        node_group=node_group,
        roles=[f"{runtime.name}-cluster", f"{runtime.name}-nodes"],
    )


def _destroy_eks(eks: Any, iam: Any, runtime: RuntimeSpec) -> list[str]:
    removed = []
    if runtime.name in eks.list_clusters()["clusters"]:
        for group in eks.list_nodegroups(clusterName=runtime.name)["nodegroups"]:
            eks.delete_nodegroup(clusterName=runtime.name, nodegroupName=group)
            removed.append(group)
        eks.delete_cluster(name=runtime.name)
        removed.append(runtime.name)
    for role in (f"{runtime.name}-cluster", f"{runtime.name}-nodes"):
        try:
            attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
        except iam.exceptions.NoSuchEntityException:
            continue
        for policy in attached:
            iam.detach_role_policy(RoleName=role, PolicyArn=policy["PolicyArn"])
        iam.delete_role(RoleName=role)
        removed.append(role)
    return removed


# -- EC2 --------------------------------------------------------------------------------------
def _image_id(ec2: Any, ssm: Any) -> str:
    try:
        return str(ssm.get_parameter(Name=AMI_PARAMETER)["Parameter"]["Value"])
    except Exception:  # the parameter is regional and may be absent; fall back to a lookup
        images = ec2.describe_images(Owners=["amazon"])["Images"]
        return str(images[0]["ImageId"])


def _ensure_ec2(ec2: Any, ssm: Any, runtime: RuntimeSpec, network: Network) -> Compute:
    running = _instances(ec2, runtime.name)
    have = {(_tag(i, "soa-lab:workload"), _tag(i, "soa-lab:replica")) for i in running}
    result = Compute("ec2", instances=[i["InstanceId"] for i in running])
    image = None
    for service in runtime.services:
        for version in service.versions:
            name = workload_name(runtime, service, version)
            for replica in range(service.replicas):
                if (name, str(replica)) in have:
                    continue
                image = image or _image_id(ec2, ssm)
                instance = ec2.run_instances(
                    ImageId=image,
                    InstanceType="t3.micro",
                    MinCount=1,
                    MaxCount=1,
                    SubnetId=network.subnet_ids[replica % len(network.subnet_ids)],
                    SecurityGroupIds=[network.security_group_id],
                    TagSpecifications=[
                        {
                            "ResourceType": "instance",
                            "Tags": [
                                {"Key": RUNTIME_TAG, "Value": runtime.name},
                                {"Key": "Name", "Value": f"{name}-{replica}"},
                                {"Key": "soa-lab:workload", "Value": name},
                                {"Key": "soa-lab:replica", "Value": str(replica)},
                            ],
                        }
                    ],
                )["Instances"][0]
                result.instances.append(instance["InstanceId"])
    return result


def _instances(ec2: Any, runtime: str) -> list[dict[str, Any]]:
    reservations = ec2.describe_instances(
        Filters=[
            *tag_filter(runtime),
            {"Name": "instance-state-name", "Values": ["pending", "running", "stopped"]},
        ]
    )["Reservations"]
    return [i for r in reservations for i in r["Instances"]]


def _tag(instance: dict[str, Any], key: str) -> str:
    return next((t["Value"] for t in instance.get("Tags", []) if t["Key"] == key), "")


def _destroy_ec2(ec2: Any, runtime: RuntimeSpec) -> list[str]:
    ids = [i["InstanceId"] for i in _instances(ec2, runtime.name)]
    if ids:
        ec2.terminate_instances(InstanceIds=ids)
        waiter = ec2.get_waiter("instance_terminated")
        waiter.wait(InstanceIds=ids, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return ids
