"""VPC routing: route tables, routes and their associations with subnets (EC2 API).

As terraform-provider-aws has them: a route table's ``route`` is optional and computed (routes
made by ``aws_route`` show in it without a diff); an ``aws_route``'s id is ``r-<table>``
and a hash of its destination (the real provider's ``RouteCreateID``), its target changed in
place with ``ReplaceRoute``; an association moves to another table with
``ReplaceRouteTableAssociation``.

Left out: IPv6 and prefix-list destinations, virtual private gateway propagation, gateway
(edge) associations.
"""

from __future__ import annotations

import zlib
from typing import Any

from soa_sdk.sandbox.providers.aws.common import missing
from soa_sdk.sandbox.providers.aws.ec2_common import Ec2Resource
from soa_sdk.sandbox.providers.framework import ProviderError, State

# aws_route's targets: (argument, the API's key in CreateRoute and in a described route).
TARGETS = (
    ("carrier_gateway_id", "CarrierGatewayId"),
    ("core_network_arn", "CoreNetworkArn"),
    ("egress_only_gateway_id", "EgressOnlyInternetGatewayId"),
    ("gateway_id", "GatewayId"),
    ("local_gateway_id", "LocalGatewayId"),
    ("nat_gateway_id", "NatGatewayId"),
    ("network_interface_id", "NetworkInterfaceId"),
    ("transit_gateway_id", "TransitGatewayId"),
    ("vpc_endpoint_id", "VpcEndpointId"),
    ("vpc_peering_connection_id", "VpcPeeringConnectionId"),
)


def _table(ec2: Any, table_id: str) -> dict[str, Any] | None:
    found = missing(
        lambda: ec2.describe_route_tables(RouteTableIds=[table_id]),
        "InvalidRouteTableID.NotFound",
    )
    tables = found["RouteTables"] if found else []
    return tables[0] if tables else None


def _route_object(route: dict[str, Any]) -> dict[str, Any]:
    """A described route as an element of ``aws_route_table.route``."""
    item: dict[str, Any] = {
        "cidr_block": route.get("DestinationCidrBlock", ""),
        "ipv6_cidr_block": route.get("DestinationIpv6CidrBlock", ""),
        "destination_prefix_list_id": route.get("DestinationPrefixListId", ""),
    }
    for name, key in TARGETS:
        item[name] = route.get(key, "")
    return item


class RouteTable(Ec2Resource):
    type_name = "aws_route_table"
    resource_type = "route-table"

    def create(self, planned: State, config: State) -> State:
        ec2 = self.client("ec2")
        table = ec2.create_route_table(
            VpcId=planned["vpc_id"], TagSpecifications=self.tag_specifications(planned)
        )["RouteTable"]
        for route in config.get("route") or []:
            self._create_route(table["RouteTableId"], route)
        return self.read({**planned, "id": table["RouteTableId"]}) or {}

    def _create_route(self, table_id: str, route: dict[str, Any]) -> None:
        arguments: dict[str, Any] = {"RouteTableId": table_id}
        if route.get("cidr_block"):
            arguments["DestinationCidrBlock"] = route["cidr_block"]
        for name, key in TARGETS:
            if route.get(name):
                arguments[key] = route[name]
        self.client("ec2").create_route(**arguments)

    def read(self, state: State) -> State | None:
        table = _table(self.client("ec2"), state["id"])
        if table is None:
            return None
        routes = [
            _route_object(r)
            for r in table.get("Routes", [])
            # The real provider leaves out the VPC's local route and propagated ones.
            if r.get("GatewayId") != "local" and r.get("Origin") != "EnableVgwRoutePropagation"
        ]
        state = {
            **state,
            "id": table["RouteTableId"],
            "arn": self.ec2_arn("route-table", table["RouteTableId"]),
            "vpc_id": table["VpcId"],
            "owner_id": table.get("OwnerId") or self.provider.account_id,
            "route": routes,
            "propagating_vgws": [v["GatewayId"] for v in table.get("PropagatingVgws", [])],
        }
        return self.tagged_state(state, table)

    def update(self, prior: State, planned: State, config: State) -> State:
        if config.get("route") is not None:
            ec2 = self.client("ec2")
            old = {r.get("cidr_block"): r for r in prior.get("route") or []}
            new = {r.get("cidr_block"): r for r in planned.get("route") or []}
            for cidr in old.keys() - new.keys():
                ec2.delete_route(RouteTableId=prior["id"], DestinationCidrBlock=cidr)
            for cidr, route in new.items():
                if cidr not in old:
                    self._create_route(prior["id"], route)
        self.update_tags(prior["id"], prior, planned)
        return self.read(planned) or {}

    def delete(self, prior: State) -> None:
        self.client("ec2").delete_route_table(RouteTableId=prior["id"])


def route_id(table_id: str, destination: str) -> str:
    """The real provider's id for a route: ``r-<table id><crc32 of the destination>``."""
    return f"r-{table_id}{zlib.crc32(destination.encode())}"


class Route(Ec2Resource):
    type_name = "aws_route"
    tagged = False

    def _destination(self, state: State) -> str:
        destination = state.get("destination_cidr_block")
        if not isinstance(destination, str):
            raise ProviderError("aws_route needs destination_cidr_block here (IPv4 only)")
        return destination

    def _target(self, state: State) -> dict[str, str]:
        return {key: state[name] for name, key in TARGETS if isinstance(state.get(name), str)}

    def create(self, planned: State, config: State) -> State:
        destination = self._destination(planned)
        self.client("ec2").create_route(
            RouteTableId=planned["route_table_id"],
            DestinationCidrBlock=destination,
            **self._target(planned),
        )
        return self.read({**planned, "id": route_id(planned["route_table_id"], destination)}) or {}

    def read(self, state: State) -> State | None:
        table = _table(self.client("ec2"), state["route_table_id"])
        destination = state.get("destination_cidr_block")
        route = next(
            (
                r
                for r in (table or {}).get("Routes", [])
                if r.get("DestinationCidrBlock") == destination
            ),
            None,
        )
        if route is None:
            return None
        state = {
            **state,
            "id": route_id(state["route_table_id"], destination),
            "origin": route.get("Origin", "CreateRoute"),
            "state": route.get("State", "active"),
            "instance_id": route.get("InstanceId", ""),
            "instance_owner_id": route.get("InstanceOwnerId", ""),
        }
        for name, key in TARGETS:
            state[name] = route.get(key) or (None if state.get(name) is None else "")
        state["network_interface_id"] = route.get("NetworkInterfaceId", "")
        return state

    def update(self, prior: State, planned: State, config: State) -> State:
        self.client("ec2").replace_route(
            RouteTableId=prior["route_table_id"],
            DestinationCidrBlock=self._destination(prior),
            **self._target(planned),
        )
        return self.read(planned) or {}

    def delete(self, prior: State) -> None:
        self.client("ec2").delete_route(
            RouteTableId=prior["route_table_id"], DestinationCidrBlock=self._destination(prior)
        )

    def import_state(self, import_id: str) -> State | None:
        """``<route table id>_<destination>``, as the real provider imports a route."""
        table_id, _, destination = import_id.partition("_")
        found = self.read(
            {"id": import_id, "route_table_id": table_id, "destination_cidr_block": destination}
        )
        if found is not None:  # the targets the API names, not those no route has
            found.update({n: found[n] or None for n, _ in TARGETS})
        return found


class RouteTableAssociation(Ec2Resource):
    type_name = "aws_route_table_association"
    tagged = False

    def create(self, planned: State, config: State) -> State:
        arguments: dict[str, Any] = {"RouteTableId": planned["route_table_id"]}
        if isinstance(planned.get("subnet_id"), str):
            arguments["SubnetId"] = planned["subnet_id"]
        if isinstance(planned.get("gateway_id"), str):
            arguments["GatewayId"] = planned["gateway_id"]
        reply = self.client("ec2").associate_route_table(**arguments)
        return self.read({**planned, "id": reply["AssociationId"]}) or {}

    def read(self, state: State) -> State | None:
        ec2 = self.client("ec2")
        tables = ec2.describe_route_tables(
            Filters=[{"Name": "association.route-table-association-id", "Values": [state["id"]]}]
        )["RouteTables"]
        for table in tables:
            for association in table.get("Associations", []):
                if association.get("RouteTableAssociationId") == state["id"]:
                    return {
                        **state,
                        "route_table_id": table["RouteTableId"],
                        "subnet_id": association.get("SubnetId"),
                        "gateway_id": association.get("GatewayId"),
                    }
        return None

    def update(self, prior: State, planned: State, config: State) -> State:
        reply = self.client("ec2").replace_route_table_association(
            AssociationId=prior["id"], RouteTableId=planned["route_table_id"]
        )
        return self.read({**planned, "id": reply["NewAssociationId"]}) or {}

    def delete(self, prior: State) -> None:
        self.client("ec2").disassociate_route_table(AssociationId=prior["id"])

    def import_state(self, import_id: str) -> State | None:
        """``<subnet or gateway id>/<route table id>``, as the real provider imports one."""
        target, _, table_id = import_id.partition("/")
        table = _table(self.client("ec2"), table_id)
        for association in (table or {}).get("Associations", []):
            if target in (association.get("SubnetId"), association.get("GatewayId")):
                return self.read({"id": association["RouteTableAssociationId"]})
        return None
