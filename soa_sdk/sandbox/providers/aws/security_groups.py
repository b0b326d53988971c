"""Security groups, their rules as resources of their own, and the VPC's default group.

As terraform-provider-aws has them:

- ``aws_security_group``: created, then the egress rule AWS adds to every new VPC group
  (all traffic to 0.0.0.0/0) revoked, then the ``ingress`` / ``egress`` given; both are
  optional and computed, so rules that ``aws_vpc_security_group_*_rule`` add show in them
  without a diff. ``name_prefix`` makes a unique name.
- ``aws_default_security_group``: adopted, not created: every rule it has is revoked, then the
  configured ones added; destroying it only forgets it.
- ``aws_vpc_security_group_ingress_rule`` / ``egress_rule``: one ``SecurityGroupRule`` each
  (``AuthorizeSecurityGroupIngress``/``Egress`` answer its id), read with
  ``DescribeSecurityGroupRules``, changed in place with ``ModifySecurityGroupRules``.

Left out: rules that reference prefix lists or other accounts' groups in the inline blocks,
``revoke_rules_on_delete`` (deleting a group here does not first revoke other groups' rules
that reference it).
"""

from __future__ import annotations

from typing import Any

from soa_sdk.sandbox.providers.aws.common import missing, tag_dict, tag_list
from soa_sdk.sandbox.providers.aws.ec2_common import Ec2Resource, name_from, name_prefix_of
from soa_sdk.sandbox.providers.framework import State


def _rules_from_api(permissions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``IpPermissions`` as the inline ``ingress``/``egress`` objects."""
    rules = []
    for permission in permissions:
        protocol = permission.get("IpProtocol", "-1")
        rules.append(
            {
                "protocol": protocol,
                "from_port": permission.get("FromPort", 0) if protocol != "-1" else 0,
                "to_port": permission.get("ToPort", 0) if protocol != "-1" else 0,
                "cidr_blocks": [r["CidrIp"] for r in permission.get("IpRanges", [])],
                "ipv6_cidr_blocks": [r["CidrIpv6"] for r in permission.get("Ipv6Ranges", [])],
                "prefix_list_ids": [p["PrefixListId"] for p in permission.get("PrefixListIds", [])],
                "security_groups": [g["GroupId"] for g in permission.get("UserIdGroupPairs", [])],
                "self": False,
                "description": next(
                    (r.get("Description", "") for r in permission.get("IpRanges", [])), ""
                ),
            }
        )
    return rules


def _permission(rule: dict[str, Any], group_id: str) -> dict[str, Any]:
    permission: dict[str, Any] = {"IpProtocol": str(rule.get("protocol") or "-1")}
    if permission["IpProtocol"] != "-1":
        permission["FromPort"] = int(rule.get("from_port") or 0)
        permission["ToPort"] = int(rule.get("to_port") or 0)
    description = {"Description": rule["description"]} if rule.get("description") else {}
    permission["IpRanges"] = [{"CidrIp": c, **description} for c in rule.get("cidr_blocks") or []]
    permission["Ipv6Ranges"] = [{"CidrIpv6": c} for c in rule.get("ipv6_cidr_blocks") or []]
    groups = list(rule.get("security_groups") or [])
    if rule.get("self"):
        groups.append(group_id)
    permission["UserIdGroupPairs"] = [{"GroupId": g} for g in groups]
    return permission


class GroupBase(Ec2Resource):
    resource_type = "security-group"

    def describe(self, group_id: str) -> dict[str, Any] | None:
        ec2 = self.client("ec2")
        found = missing(
            lambda: ec2.describe_security_groups(GroupIds=[group_id]),
            "InvalidGroup.NotFound",
            "InvalidGroupId.Malformed",
        )
        groups = found["SecurityGroups"] if found else []
        return groups[0] if groups else None

    def replace_rules(self, group: dict[str, Any], ingress: Any, egress: Any) -> None:
        """Revoke what the group has and authorize what is wanted (None: leave as is)."""
        ec2, group_id = self.client("ec2"), group["GroupId"]
        for wanted, current, revoke, authorize in (
            (
                ingress,
                group.get("IpPermissions", []),
                ec2.revoke_security_group_ingress,
                ec2.authorize_security_group_ingress,
            ),
            (
                egress,
                group.get("IpPermissionsEgress", []),
                ec2.revoke_security_group_egress,
                ec2.authorize_security_group_egress,
            ),
        ):
            if wanted is None:
                continue
            if current:
                revoke(GroupId=group_id, IpPermissions=current)
            if wanted:
                permissions = [_permission(r, group_id) for r in wanted]
                authorize(GroupId=group_id, IpPermissions=permissions)

    def group_state(self, state: State, group: dict[str, Any]) -> State:
        group_id = group["GroupId"]
        state = {
            **state,
            "id": group_id,
            "arn": self.ec2_arn("security-group", group_id),
            "name": group["GroupName"],
            "description": group.get("Description", ""),
            "vpc_id": group.get("VpcId"),
            "owner_id": group.get("OwnerId") or self.provider.account_id,
            "ingress": _rules_from_api(group.get("IpPermissions", [])),
            "egress": _rules_from_api(group.get("IpPermissionsEgress", [])),
        }
        return self.tagged_state(state, group)


class SecurityGroup(GroupBase):
    type_name = "aws_security_group"

    def create(self, planned: State, config: State) -> State:
        ec2 = self.client("ec2")
        name, prefix = name_from(planned)
        arguments: dict[str, Any] = {
            "GroupName": name,
            "Description": planned.get("description") or "Managed by Terraform",
            "TagSpecifications": self.tag_specifications(planned),
        }
        if isinstance(planned.get("vpc_id"), str):
            arguments["VpcId"] = planned["vpc_id"]
        group_id = ec2.create_security_group(**arguments)["GroupId"]
        self.made({**planned, "id": group_id, "name_prefix": prefix})
        group = self.describe(group_id) or {}
        # As the real provider: no default allow-all egress; only what is declared.
        self.replace_rules(group, config.get("ingress") or [], config.get("egress") or [])
        return self.read({**planned, "id": group_id, "name_prefix": prefix}) or {}

    def read(self, state: State) -> State | None:
        group = self.describe(state["id"])
        if group is None:
            return None
        state = self.group_state(state, group)
        state["name_prefix"] = name_prefix_of(state)
        state["revoke_rules_on_delete"] = bool(state.get("revoke_rules_on_delete"))
        return state

    def update(self, prior: State, planned: State, config: State) -> State:
        group = self.describe(prior["id"]) or {}
        if config.get("ingress") is not None or config.get("egress") is not None:
            self.replace_rules(group, config.get("ingress"), config.get("egress"))
        self.update_tags(prior["id"], prior, planned)
        return self.read(planned) or {}

    def delete(self, prior: State) -> None:
        self.client("ec2").delete_security_group(GroupId=prior["id"])


class DefaultSecurityGroup(GroupBase):
    type_name = "aws_default_security_group"

    def create(self, planned: State, config: State) -> State:
        groups = self.client("ec2").describe_security_groups(
            Filters=[
                {"Name": "vpc-id", "Values": [planned["vpc_id"]]},
                {"Name": "group-name", "Values": ["default"]},
            ]
        )["SecurityGroups"]
        group = groups[0]
        self.replace_rules(group, config.get("ingress") or [], config.get("egress") or [])
        own = {k: v for k, v in tag_dict(group.get("Tags")).items()}
        self.update_tags(group["GroupId"], {"tags_all": own}, planned)
        return self.read({**planned, "id": group["GroupId"]}) or {}

    def read(self, state: State) -> State | None:
        group = self.describe(state["id"])
        if group is None:
            return None
        state = self.group_state(state, group)
        state["name_prefix"] = ""
        return state

    def update(self, prior: State, planned: State, config: State) -> State:
        group = self.describe(prior["id"]) or {}
        if config.get("ingress") is not None or config.get("egress") is not None:
            self.replace_rules(group, config.get("ingress"), config.get("egress"))
        self.update_tags(prior["id"], prior, planned)
        return self.read(planned) or {}

    def delete(self, prior: State) -> None:
        """The default group stays with its VPC: Terraform only forgets it."""


class SecurityGroupRule(Ec2Resource):
    """``aws_vpc_security_group_ingress_rule`` and ``_egress_rule``."""

    egress = False

    def _rule(self, planned: State) -> dict[str, Any]:
        protocol = str(planned["ip_protocol"])
        rule: dict[str, Any] = {"IpProtocol": protocol}
        if protocol not in ("-1", "all"):
            rule["FromPort"] = int(planned.get("from_port") or 0)
            rule["ToPort"] = int(planned.get("to_port") or 0)
        description = {"Description": planned["description"]} if planned.get("description") else {}
        if isinstance(planned.get("cidr_ipv4"), str):
            rule["IpRanges"] = [{"CidrIp": planned["cidr_ipv4"], **description}]
        if isinstance(planned.get("cidr_ipv6"), str):
            rule["Ipv6Ranges"] = [{"CidrIpv6": planned["cidr_ipv6"], **description}]
        if isinstance(planned.get("referenced_security_group_id"), str):
            rule["UserIdGroupPairs"] = [
                {"GroupId": planned["referenced_security_group_id"], **description}
            ]
        if isinstance(planned.get("prefix_list_id"), str):
            rule["PrefixListIds"] = [{"PrefixListId": planned["prefix_list_id"], **description}]
        return rule

    def create(self, planned: State, config: State) -> State:
        ec2 = self.client("ec2")
        authorize = (
            ec2.authorize_security_group_egress
            if self.egress
            else ec2.authorize_security_group_ingress
        )
        arguments: dict[str, Any] = {
            "GroupId": planned["security_group_id"],
            "IpPermissions": [self._rule(planned)],
        }
        tags = planned.get("tags_all") or {}
        if tags:
            arguments["TagSpecifications"] = [
                {"ResourceType": "security-group-rule", "Tags": tag_list(tags)}
            ]
        reply = authorize(**arguments)
        rule_id = reply["SecurityGroupRules"][0]["SecurityGroupRuleId"]
        return self.read({**planned, "id": rule_id}) or {}

    def read(self, state: State) -> State | None:
        ec2 = self.client("ec2")
        found = missing(
            lambda: ec2.describe_security_group_rules(SecurityGroupRuleIds=[state["id"]]),
            "InvalidSecurityGroupRuleId.NotFound",
        )
        rules = found["SecurityGroupRules"] if found else []
        rule = rules[0] if rules else None
        if rule is None or bool(rule.get("IsEgress")) != self.egress:
            return None
        protocol = rule.get("IpProtocol", "-1")
        ports = protocol not in ("-1",)
        state = {
            **state,
            "id": rule["SecurityGroupRuleId"],
            "security_group_rule_id": rule["SecurityGroupRuleId"],
            "arn": self.ec2_arn("security-group-rule", rule["SecurityGroupRuleId"]),
            "security_group_id": rule["GroupId"],
            "ip_protocol": protocol,
            "from_port": rule.get("FromPort") if ports else None,
            "to_port": rule.get("ToPort") if ports else None,
            "cidr_ipv4": rule.get("CidrIpv4"),
            "cidr_ipv6": rule.get("CidrIpv6"),
            "prefix_list_id": rule.get("PrefixListId"),
            "referenced_security_group_id": (rule.get("ReferencedGroupInfo") or {}).get("GroupId"),
            "description": rule.get("Description") or None,
        }
        return self.tagged_state(state, rule)

    def update(self, prior: State, planned: State, config: State) -> State:
        rule = {
            k: v
            for k, v in {
                "IpProtocol": str(planned["ip_protocol"]),
                "FromPort": planned.get("from_port"),
                "ToPort": planned.get("to_port"),
                "CidrIpv4": planned.get("cidr_ipv4"),
                "CidrIpv6": planned.get("cidr_ipv6"),
                "PrefixListId": planned.get("prefix_list_id"),
                "ReferencedGroupId": planned.get("referenced_security_group_id"),
                "Description": planned.get("description"),
            }.items()
            if v is not None
        }
        for port in ("FromPort", "ToPort"):
            if port in rule:
                rule[port] = int(rule[port])
        self.client("ec2").modify_security_group_rules(
            GroupId=prior["security_group_id"],
            SecurityGroupRules=[{"SecurityGroupRuleId": prior["id"], "SecurityGroupRule": rule}],
        )
        self.update_tags(prior["id"], prior, planned)
        return self.read(planned) or {}

    def delete(self, prior: State) -> None:
        ec2 = self.client("ec2")
        revoke = (
            ec2.revoke_security_group_egress if self.egress else ec2.revoke_security_group_ingress
        )
        revoke(GroupId=prior["security_group_id"], SecurityGroupRuleIds=[prior["id"]])


class IngressRule(SecurityGroupRule):
    type_name = "aws_vpc_security_group_ingress_rule"


class EgressRule(SecurityGroupRule):
    type_name = "aws_vpc_security_group_egress_rule"
    egress = True
