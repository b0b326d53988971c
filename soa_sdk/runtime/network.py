"""A runtime's network in its account: one VPC, two subnets in two zones, a security group;
through the APIs, for a runtime that no folder of ``terraform/`` declares (step 5's new one).
A declared runtime's network is ``modules/network``, applied by Terraform.

Every resource carries the tag ``soa-lab:runtime = <runtime name>``; lookups go by that tag,
so creating twice adopts what exists and destroying finds everything that was made.
Not supported: NAT gateways, VPC endpoints and transit gateway attachments (Terraform's
``modules/network`` declares them for production).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

RUNTIME_TAG = "soa-lab:runtime"


@dataclass(frozen=True)
class Network:
    vpc_id: str
    subnet_ids: tuple[str, ...]
    security_group_id: str


def tags(runtime: str, name: str) -> list[dict[str, str]]:
    return [{"Key": RUNTIME_TAG, "Value": runtime}, {"Key": "Name", "Value": name}]


def tag_filter(runtime: str) -> list[dict[str, Any]]:
    return [{"Name": f"tag:{RUNTIME_TAG}", "Values": [runtime]}]


def ensure_network(ec2: Any, runtime: str, cidr: str, service_ports: list[int]) -> Network:
    """Create (or adopt) the VPC, its subnets and the security group of ``runtime``."""
    vpcs = ec2.describe_vpcs(Filters=tag_filter(runtime))["Vpcs"]
    if vpcs:
        vpc_id = vpcs[0]["VpcId"]
    else:
        vpc_id = ec2.create_vpc(
            CidrBlock=cidr,
            TagSpecifications=[{"ResourceType": "vpc", "Tags": tags(runtime, runtime)}],
        )["Vpc"]["VpcId"]
    subnets = ec2.describe_subnets(
        Filters=[*tag_filter(runtime), {"Name": "vpc-id", "Values": [vpc_id]}]
    )["Subnets"]
    if len(subnets) < 2:
        zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]]
        blocks = list(ipaddress.IPv4Network(cidr).subnets(new_prefix=20))
        taken = {s["CidrBlock"] for s in subnets}
        for index in range(len(subnets), 2):
            block = next(str(b) for b in blocks if str(b) not in taken)
            taken.add(block)
            subnets.append(
                ec2.create_subnet(
                    VpcId=vpc_id,
                    CidrBlock=block,
                    AvailabilityZone=zones[index % len(zones)],
                    TagSpecifications=[
                        {"ResourceType": "subnet", "Tags": tags(runtime, f"{runtime}-{index}")}
                    ],
                )["Subnet"]
            )
    groups = ec2.describe_security_groups(
        Filters=[*tag_filter(runtime), {"Name": "vpc-id", "Values": [vpc_id]}]
    )["SecurityGroups"]
    if groups:
        group_id = groups[0]["GroupId"]
    else:
        group_id = ec2.create_security_group(
            GroupName=f"{runtime}-services",
            Description=f"Services of {runtime}: reachable from inside the VPC only",
            VpcId=vpc_id,
            TagSpecifications=[
                {"ResourceType": "security-group", "Tags": tags(runtime, f"{runtime}-services")}
            ],
        )["GroupId"]
        ec2.authorize_security_group_ingress(
            GroupId=group_id,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": port,
                    "ToPort": port,
                    "IpRanges": [{"CidrIp": cidr, "Description": "inside the VPC"}],
                }
                for port in sorted(set(service_ports))
            ],
        )
    return Network(vpc_id, tuple(sorted(s["SubnetId"] for s in subnets)), group_id)


def destroy_network(ec2: Any, runtime: str) -> list[str]:
    """Delete the security groups, subnets and VPC tagged for ``runtime``; returns their ids."""
    removed = []
    for vpc in ec2.describe_vpcs(Filters=tag_filter(runtime))["Vpcs"]:
        vpc_filter = [{"Name": "vpc-id", "Values": [vpc["VpcId"]]}]
        for group in ec2.describe_security_groups(Filters=[*tag_filter(runtime), *vpc_filter])[
            "SecurityGroups"
        ]:
            ec2.delete_security_group(GroupId=group["GroupId"])
            removed.append(group["GroupId"])
        for subnet in ec2.describe_subnets(Filters=vpc_filter)["Subnets"]:
            ec2.delete_subnet(SubnetId=subnet["SubnetId"])
            removed.append(subnet["SubnetId"])
        ec2.delete_vpc(VpcId=vpc["VpcId"])
        removed.append(vpc["VpcId"])
    return removed
