"""VPC networking: VPCs, subnets, internet gateways, Elastic IPs and NAT gateways (EC2 API).

Each type as terraform-provider-aws has it: ``CreateVpc`` then ``ModifyVpcAttribute`` for the
DNS settings (one attribute a call, as the API wants), ``DescribeVpcAttribute`` to read them
back; a subnet's ``map_public_ip_on_launch`` through ``ModifySubnetAttribute``; an internet
gateway attached with ``AttachInternetGateway`` (and moved by detaching and attaching); an
Elastic IP by ``AllocateAddress`` / ``ReleaseAddress``; a NAT gateway deleted and waited for.

Left out: IPv6 and IPAM pools, Outposts and customer-owned IPs, EIP association with
instances or network interfaces, secondary NAT addresses.
"""

from __future__ import annotations

import time
from typing import Any

from soa_sdk.sandbox.providers.aws.common import missing
from soa_sdk.sandbox.providers.aws.ec2_common import Ec2Resource
from soa_sdk.sandbox.providers.framework import ProviderError, State

WAIT_SECONDS = 30.0


def _first(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    return items[0] if items else None


class Vpc(Ec2Resource):
    type_name = "aws_vpc"
    resource_type = "vpc"

    def create(self, planned: State, config: State) -> State:
        ec2 = self.client("ec2")
        if not isinstance(planned.get("cidr_block"), str):
            raise ProviderError("aws_vpc needs cidr_block here (IPAM pools are not supported)")
        arguments: dict[str, Any] = {
            "CidrBlock": planned["cidr_block"],
            "InstanceTenancy": planned.get("instance_tenancy") or "default",
            "TagSpecifications": self.tag_specifications(planned),
        }
        vpc = ec2.create_vpc(**arguments)["Vpc"]
        self.made({**planned, "id": vpc["VpcId"]})
        self._set_attributes(vpc["VpcId"], {}, planned)
        return self.read({**planned, "id": vpc["VpcId"]}) or {}

    def _set_attributes(self, vpc_id: str, prior: State, planned: State) -> None:
        ec2 = self.client("ec2")
        for name, key, default in (
            ("enable_dns_support", "EnableDnsSupport", True),
            ("enable_dns_hostnames", "EnableDnsHostnames", False),
            ("enable_network_address_usage_metrics", "EnableNetworkAddressUsageMetrics", False),
        ):
            wanted = planned.get(name)
            if not isinstance(wanted, bool):
                continue
            before = prior.get(name, default) if prior else default
            if wanted != before:
                ec2.modify_vpc_attribute(VpcId=vpc_id, **{key: {"Value": wanted}})

    def read(self, state: State) -> State | None:
        ec2 = self.client("ec2")
        found = missing(lambda: ec2.describe_vpcs(VpcIds=[state["id"]]), "InvalidVpcID.NotFound")
        vpc = _first(found["Vpcs"]) if found else None
        if vpc is None:
            return None
        vpc_id = vpc["VpcId"]

        def attribute(name: str) -> bool:
            reply = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute=name)
            key = name[0].upper() + name[1:]
            return bool(reply.get(key, {}).get("Value"))

        tables = ec2.describe_route_tables(
            Filters=[
                {"Name": "vpc-id", "Values": [vpc_id]},
                {"Name": "association.main", "Values": ["true"]},
            ]
        )["RouteTables"]
        groups = ec2.describe_security_groups(
            Filters=[
                {"Name": "vpc-id", "Values": [vpc_id]},
                {"Name": "group-name", "Values": ["default"]},
            ]
        )["SecurityGroups"]
        acls = ec2.describe_network_acls(
            Filters=[
                {"Name": "vpc-id", "Values": [vpc_id]},
                {"Name": "default", "Values": ["true"]},
            ]
        )["NetworkAcls"]
        main_table = tables[0]["RouteTableId"] if tables else None
        state = {
            **state,
            "id": vpc_id,
            "arn": self.ec2_arn("vpc", vpc_id),
            "cidr_block": vpc["CidrBlock"],
            "instance_tenancy": vpc.get("InstanceTenancy", "default"),
            "enable_dns_support": attribute("enableDnsSupport"),
            "enable_dns_hostnames": attribute("enableDnsHostnames"),
            "enable_network_address_usage_metrics": bool(
                state.get("enable_network_address_usage_metrics")
            ),
            "assign_generated_ipv6_cidr_block": bool(vpc.get("Ipv6CidrBlockAssociationSet")),
            "main_route_table_id": main_table,
            "default_route_table_id": main_table,
            "default_security_group_id": groups[0]["GroupId"] if groups else None,
            "default_network_acl_id": acls[0]["NetworkAclId"] if acls else None,
            "dhcp_options_id": vpc.get("DhcpOptionsId"),
            "owner_id": vpc.get("OwnerId"),
            "ipv6_association_id": "",
            "ipv6_cidr_block": "",
            "ipv6_cidr_block_network_border_group": "",
        }
        return self.tagged_state(state, vpc)

    def update(self, prior: State, planned: State, config: State) -> State:
        if planned.get("instance_tenancy") != prior.get("instance_tenancy"):
            self.client("ec2").modify_vpc_tenancy(
                VpcId=prior["id"], InstanceTenancy=planned["instance_tenancy"]
            )
        self._set_attributes(prior["id"], prior, planned)
        self.update_tags(prior["id"], prior, planned)
        return self.read(planned) or {}

    def delete(self, prior: State) -> None:
        self.client("ec2").delete_vpc(VpcId=prior["id"])


class Subnet(Ec2Resource):
    type_name = "aws_subnet"
    resource_type = "subnet"

    def create(self, planned: State, config: State) -> State:
        ec2 = self.client("ec2")
        arguments: dict[str, Any] = {
            "VpcId": planned["vpc_id"],
            "CidrBlock": planned["cidr_block"],
            "TagSpecifications": self.tag_specifications(planned),
        }
        if isinstance(planned.get("availability_zone"), str):
            arguments["AvailabilityZone"] = planned["availability_zone"]
        elif isinstance(planned.get("availability_zone_id"), str):
            arguments["AvailabilityZoneId"] = planned["availability_zone_id"]
        subnet = ec2.create_subnet(**arguments)["Subnet"]
        if planned.get("map_public_ip_on_launch"):
            ec2.modify_subnet_attribute(
                SubnetId=subnet["SubnetId"], MapPublicIpOnLaunch={"Value": True}
            )
        return self.read({**planned, "id": subnet["SubnetId"]}) or {}

    def read(self, state: State) -> State | None:
        ec2 = self.client("ec2")
        found = missing(
            lambda: ec2.describe_subnets(SubnetIds=[state["id"]]), "InvalidSubnetID.NotFound"
        )
        subnet = _first(found["Subnets"]) if found else None
        if subnet is None:
            return None
        dns = subnet.get("PrivateDnsNameOptionsOnLaunch") or {}
        state = {
            **state,
            "id": subnet["SubnetId"],
            "arn": subnet.get("SubnetArn") or self.ec2_arn("subnet", subnet["SubnetId"]),
            "vpc_id": subnet["VpcId"],
            "cidr_block": subnet["CidrBlock"],
            "availability_zone": subnet["AvailabilityZone"],
            "availability_zone_id": subnet.get("AvailabilityZoneId"),
            "map_public_ip_on_launch": bool(subnet.get("MapPublicIpOnLaunch")),
            "assign_ipv6_address_on_creation": bool(subnet.get("AssignIpv6AddressOnCreation")),
            "enable_dns64": bool(subnet.get("EnableDns64")),
            "ipv6_native": bool(subnet.get("Ipv6Native")),
            "enable_lni_at_device_index": subnet.get("EnableLniAtDeviceIndex", 0),
            "private_dns_hostname_type_on_launch": dns.get("HostnameType", "ip-name"),
            "enable_resource_name_dns_a_record_on_launch": bool(
                dns.get("EnableResourceNameDnsARecord")
            ),
            "enable_resource_name_dns_aaaa_record_on_launch": bool(
                dns.get("EnableResourceNameDnsAAAARecord")
            ),
            "owner_id": subnet.get("OwnerId"),
            # Optional, not computed: null unless set (the real SDK's "" would be a diff here).
            "ipv6_cidr_block": None,
            "ipv6_cidr_block_association_id": "",
        }
        return self.tagged_state(state, subnet)

    def update(self, prior: State, planned: State, config: State) -> State:
        if planned.get("map_public_ip_on_launch") != prior.get("map_public_ip_on_launch"):
            self.client("ec2").modify_subnet_attribute(
                SubnetId=prior["id"],
                MapPublicIpOnLaunch={"Value": bool(planned.get("map_public_ip_on_launch"))},
            )
        self.update_tags(prior["id"], prior, planned)
        return self.read(planned) or {}

    def delete(self, prior: State) -> None:
        self.client("ec2").delete_subnet(SubnetId=prior["id"])


class InternetGateway(Ec2Resource):
    type_name = "aws_internet_gateway"
    resource_type = "internet-gateway"

    def create(self, planned: State, config: State) -> State:
        ec2 = self.client("ec2")
        gateway = ec2.create_internet_gateway(TagSpecifications=self.tag_specifications(planned))
        gateway_id = gateway["InternetGateway"]["InternetGatewayId"]
        if isinstance(planned.get("vpc_id"), str):
            ec2.attach_internet_gateway(InternetGatewayId=gateway_id, VpcId=planned["vpc_id"])
        return self.read({**planned, "id": gateway_id}) or {}

    def read(self, state: State) -> State | None:
        ec2 = self.client("ec2")
        found = missing(
            lambda: ec2.describe_internet_gateways(InternetGatewayIds=[state["id"]]),
            "InvalidInternetGatewayID.NotFound",
        )
        gateway = _first(found["InternetGateways"]) if found else None
        if gateway is None:
            return None
        attached = [a["VpcId"] for a in gateway.get("Attachments", [])]
        state = {
            **state,
            "id": gateway["InternetGatewayId"],
            "arn": self.ec2_arn("internet-gateway", gateway["InternetGatewayId"]),
            "vpc_id": attached[0] if attached else None,
            "owner_id": gateway.get("OwnerId") or self.provider.account_id,
        }
        return self.tagged_state(state, gateway)

    def update(self, prior: State, planned: State, config: State) -> State:
        ec2 = self.client("ec2")
        if planned.get("vpc_id") != prior.get("vpc_id"):
            if prior.get("vpc_id"):
                ec2.detach_internet_gateway(InternetGatewayId=prior["id"], VpcId=prior["vpc_id"])
            if planned.get("vpc_id"):
                ec2.attach_internet_gateway(InternetGatewayId=prior["id"], VpcId=planned["vpc_id"])
        self.update_tags(prior["id"], prior, planned)
        return self.read(planned) or {}

    def delete(self, prior: State) -> None:
        ec2 = self.client("ec2")
        if prior.get("vpc_id"):
            missing(
                lambda: ec2.detach_internet_gateway(
                    InternetGatewayId=prior["id"], VpcId=prior["vpc_id"]
                ),
                "Gateway.NotAttached",
            )
        ec2.delete_internet_gateway(InternetGatewayId=prior["id"])


class Eip(Ec2Resource):
    type_name = "aws_eip"
    resource_type = "elastic-ip"

    def create(self, planned: State, config: State) -> State:
        arguments: dict[str, Any] = {"Domain": "vpc"}
        specifications = self.tag_specifications(planned)
        if specifications:
            arguments["TagSpecifications"] = specifications
        if isinstance(planned.get("address"), str):
            arguments["Address"] = planned["address"]
        address = self.client("ec2").allocate_address(**arguments)
        return self.read({**planned, "id": address["AllocationId"]}) or {}

    def read(self, state: State) -> State | None:
        ec2 = self.client("ec2")
        found = missing(
            lambda: ec2.describe_addresses(AllocationIds=[state["id"]]),
            "InvalidAllocationID.NotFound",
        )
        address = _first(found["Addresses"]) if found else None
        if address is None:
            return None
        public_ip = address["PublicIp"]
        state = {
            **state,
            "id": address["AllocationId"],
            "allocation_id": address["AllocationId"],
            "arn": self.ec2_arn("elastic-ip", address["AllocationId"]),
            "domain": address.get("Domain", "vpc"),
            "vpc": address.get("Domain", "vpc") == "vpc",
            "public_ip": public_ip,
            "public_dns": f"ec2-{public_ip.replace('.', '-')}.compute-1.amazonaws.com",
            "private_ip": address.get("PrivateIpAddress", ""),
            "private_dns": "",
            "association_id": address.get("AssociationId", ""),
            "instance": address.get("InstanceId", ""),
            "network_interface": address.get("NetworkInterfaceId", ""),
            "network_border_group": address.get("NetworkBorderGroup", self.provider.region),
            "public_ipv4_pool": address.get("PublicIpv4Pool", "amazon"),
            "carrier_ip": "",
            "customer_owned_ip": "",
            "ptr_record": "",
            "ipam_pool_id": state.get("ipam_pool_id") or None,
        }
        return self.tagged_state(state, address)

    def delete(self, prior: State) -> None:
        self.client("ec2").release_address(AllocationId=prior["id"])


class NatGateway(Ec2Resource):
    type_name = "aws_nat_gateway"
    resource_type = "natgateway"

    def create(self, planned: State, config: State) -> State:
        arguments: dict[str, Any] = {
            "SubnetId": planned["subnet_id"],
            "ConnectivityType": planned.get("connectivity_type") or "public",
            "TagSpecifications": self.tag_specifications(planned),
        }
        if isinstance(planned.get("allocation_id"), str):
            arguments["AllocationId"] = planned["allocation_id"]
        gateway = self.client("ec2").create_nat_gateway(**arguments)["NatGateway"]
        return self.read({**planned, "id": gateway["NatGatewayId"]}) or {}

    def _describe(self, gateway_id: str) -> dict[str, Any] | None:
        ec2 = self.client("ec2")
        found = missing(
            lambda: ec2.describe_nat_gateways(NatGatewayIds=[gateway_id]),
            "NatGatewayNotFound",
        )
        gateway = _first(found["NatGateways"]) if found else None
        if gateway is None or gateway.get("State") in ("deleted", "deleting"):
            return None
        return gateway

    def read(self, state: State) -> State | None:
        gateway = self._describe(state["id"])
        if gateway is None:
            return None
        addresses = gateway.get("NatGatewayAddresses") or [{}]
        primary = next((a for a in addresses if a.get("IsPrimary", True)), addresses[0])
        state = {
            **state,
            "id": gateway["NatGatewayId"],
            "subnet_id": gateway["SubnetId"],
            "connectivity_type": gateway.get("ConnectivityType", "public"),
            "allocation_id": primary.get("AllocationId"),
            "association_id": primary.get("AssociationId", ""),
            "network_interface_id": primary.get("NetworkInterfaceId"),
            "private_ip": primary.get("PrivateIp"),
            "public_ip": primary.get("PublicIp"),
            "secondary_allocation_ids": state.get("secondary_allocation_ids"),
            "secondary_private_ip_address_count": 0,
            "secondary_private_ip_addresses": [],
        }
        return self.tagged_state(state, gateway)

    def delete(self, prior: State) -> None:
        self.client("ec2").delete_nat_gateway(NatGatewayId=prior["id"])
        deadline = time.monotonic() + WAIT_SECONDS
        while self._describe(prior["id"]) is not None and time.monotonic() < deadline:
            time.sleep(0.2)
