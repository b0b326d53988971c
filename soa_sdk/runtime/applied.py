"""What ``terraform apply`` of a runtime's folder made, read back through the AWS APIs.

Step 1 applies the runtime's folder (``terraform/runtime_ecs``, ``runtime_eks``,
``runtime_ec2``: ``modules/network``, the kind's compute module and
``modules/workload_identity``); these functions find what it made in the runtime's account by
the names the modules give (the VPC is tagged ``Name = <runtime>``, the private subnets
``<runtime>-private-<zone>``, the services' security group ``<runtime>-services``, the EKS
cluster's ``<runtime>-cluster``; the ECS and EKS clusters are named after the runtime, ECS
services and Auto Scaling groups start with ``<runtime>-``), with ``DescribeVpcs``,
``DescribeSubnets``, ``DescribeSecurityGroups``, ECS ``ListServices``/``DescribeServices``, EKS
``ListNodegroups`` and Auto Scaling ``DescribeAutoScalingGroups``. A step reads the APIs rather
than ``terraform output``: what runs is what the account holds, whoever changed it.

Left out: NAT gateways, route tables, flow logs, KMS keys and IAM roles (the folder has them;
the runtime's report lists what the workloads run on).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from soa_sdk.errors import NotFound
from soa_sdk.runtime.compute import Compute
from soa_sdk.tf.lab_spec import RuntimeSpec


@dataclass(frozen=True)
class Network:
    """The runtime's VPC, the private subnets its workloads run in and their security group."""

    vpc_id: str
    subnet_ids: tuple[str, ...]
    security_group_id: str


def folder(runtime: RuntimeSpec) -> str:
    """The runtime's folder of ``terraform/`` (``runtime-ecs`` → ``runtime_ecs``)."""
    return runtime.name.replace("-", "_")


def _name(tags: list[dict[str, str]] | None) -> str:
    return next((t["Value"] for t in tags or [] if t["Key"] == "Name"), "")


def network(ec2: Any, runtime: RuntimeSpec) -> Network:
    """The runtime's VPC, its private subnets and the security group its workloads run in."""
    name = runtime.name
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [name]}])["Vpcs"]
    if not vpcs:
        raise NotFound(
            f"The VPC of {name} is not in its account: terraform/{folder(runtime)} has not been "
            "applied (step 1 applies it)."
        )
    vpc_id = vpcs[0]["VpcId"]
    in_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
    subnets = ec2.describe_subnets(Filters=in_vpc)["Subnets"]
    private = sorted(
        s["SubnetId"] for s in subnets if _name(s.get("Tags")).startswith(f"{name}-private-")
    )
    groups = ec2.describe_security_groups(Filters=in_vpc)["SecurityGroups"]
    wanted = (f"{name}-services", f"{name}-cluster")
    group = next((g["GroupId"] for g in groups if _name(g.get("Tags")) in wanted), "")
    return Network(vpc_id, tuple(private), group)


def compute(session: Any, runtime: RuntimeSpec) -> Compute:
    """The runtime's cluster and services (ECS), cluster and node group (EKS) or Auto Scaling
    groups and their instances (EC2)."""
    name = runtime.name
    if runtime.kind == "ecs":
        ecs = session.client("ecs")
        arns = ecs.list_services(cluster=name)["serviceArns"]
        services = ecs.describe_services(cluster=name, services=arns)["services"] if arns else []
        active = sorted(
            (s for s in services if s["status"] == "ACTIVE"), key=lambda s: s["serviceName"]
        )
        return Compute(
            "ecs",
            cluster=name,
            services=[s["serviceName"] for s in active],
            task_definitions=[s["taskDefinition"] for s in active],
        )
    if runtime.kind == "eks":
        groups = session.client("eks").list_nodegroups(clusterName=name)["nodegroups"]
        return Compute("eks", cluster=name, node_group=groups[0] if groups else "")
    reply = session.client("autoscaling").describe_auto_scaling_groups()
    groups = [
        g for g in reply["AutoScalingGroups"] if g["AutoScalingGroupName"].startswith(f"{name}-")
    ]
    return Compute(
        "ec2",
        groups=sorted(g["AutoScalingGroupName"] for g in groups),
        instances=sorted(i["InstanceId"] for g in groups for i in g.get("Instances", [])),
    )
