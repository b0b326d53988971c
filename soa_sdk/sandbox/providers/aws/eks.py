"""EKS: clusters and managed node groups.

As terraform-provider-aws has them: ``CreateCluster`` with the VPC, logging, encryption and
access configuration, its ``version`` and VPC endpoint access changed in place
(``UpdateClusterVersion``, ``UpdateClusterConfig``), its tags through ``TagResource``; a
node group's id is ``cluster:name``, its scaling and update configuration, labels and
taints changed in place (``UpdateNodegroupConfig``); both waited for until gone on destroy.
A block the configuration leaves out and the API fills (``kubernetes_network_config``,
``upgrade_policy``) is not a diff.

Left out: Outposts, remote networks, zonal shift, EKS Auto Mode (``compute_config``,
``storage_config``), node group version updates (``UpdateNodegroupVersion``: moto has none).
"""

from __future__ import annotations

import time
from typing import Any

from soa_sdk.sandbox.providers.aws.base import AwsResource
from soa_sdk.sandbox.providers.aws.common import drop_none, missing, one, timestamp
from soa_sdk.sandbox.providers.aws.ec2_common import prefixed_unique_id
from soa_sdk.sandbox.providers.framework import ProviderError, State

WAIT_SECONDS = 30.0

LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")


class EksTagged(AwsResource):
    tagged = True

    def update_eks_tags(self, arn: str, prior: State, planned: State) -> None:
        eks = self.client("eks")
        old, new = prior.get("tags_all") or {}, planned.get("tags_all") or {}
        removed = [k for k in old if k not in new]
        if removed:
            eks.untag_resource(resourceArn=arn, tagKeys=removed)
        changed = {k: v for k, v in new.items() if old.get(k) != v}
        if changed:
            eks.tag_resource(resourceArn=arn, tags=changed)


def _logging(types: Any) -> dict[str, Any]:
    wanted = set(types or [])
    return {
        "clusterLogging": [
            {"types": sorted(wanted), "enabled": True},
            {"types": sorted(set(LOG_TYPES) - wanted), "enabled": False},
        ]
    }


def _wait_gone(describe: Any) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while describe() is not None and time.monotonic() < deadline:
        time.sleep(0.2)


class EksCluster(EksTagged):
    type_name = "aws_eks_cluster"

    def create(self, planned: State, config: State) -> State:
        vpc = one(planned.get("vpc_config")) or {}
        arguments: dict[str, Any] = {
            "name": planned["name"],
            "roleArn": planned["role_arn"],
            "resourcesVpcConfig": drop_none(
                {
                    "subnetIds": sorted(vpc.get("subnet_ids") or []),
                    "securityGroupIds": sorted(vpc.get("security_group_ids") or []),
                    "endpointPrivateAccess": bool(vpc.get("endpoint_private_access")),
                    "endpointPublicAccess": vpc.get("endpoint_public_access") is not False,
                    "publicAccessCidrs": sorted(vpc["public_access_cidrs"])
                    if isinstance(vpc.get("public_access_cidrs"), list)
                    else None,
                }
            ),
            "logging": _logging(planned.get("enabled_cluster_log_types")),
        }
        if isinstance(planned.get("version"), str):
            arguments["version"] = planned["version"]
        encryption = one(planned.get("encryption_config"))
        if encryption:
            arguments["encryptionConfig"] = [
                {
                    "resources": sorted(encryption["resources"]),
                    "provider": {"keyArn": one(encryption["provider"])["key_arn"]},
                }
            ]
        access = one(planned.get("access_config"))
        if access:
            arguments["accessConfig"] = drop_none(
                {
                    "authenticationMode": access.get("authentication_mode")
                    if isinstance(access.get("authentication_mode"), str)
                    else None,
                    "bootstrapClusterCreatorAdminPermissions": access.get(
                        "bootstrap_cluster_creator_admin_permissions"
                    ),
                }
            )
        network = one(planned.get("kubernetes_network_config"))
        if network:
            arguments["kubernetesNetworkConfig"] = drop_none(
                {
                    "serviceIpv4Cidr": network.get("service_ipv4_cidr")
                    if isinstance(network.get("service_ipv4_cidr"), str)
                    else None,
                    "ipFamily": network.get("ip_family")
                    if isinstance(network.get("ip_family"), str)
                    else None,
                }
            )
        if planned.get("tags_all"):
            arguments["tags"] = planned["tags_all"]
        self.client("eks").create_cluster(**arguments)
        return self.read({**planned, "id": planned["name"]}) or {}

    def _describe(self, name: str) -> dict[str, Any] | None:
        found = missing(
            lambda: self.client("eks").describe_cluster(name=name), "ResourceNotFoundException"
        )
        cluster = found["cluster"] if found else None
        if cluster is None or cluster.get("status") == "DELETING":
            return None
        return cluster

    def read(self, state: State) -> State | None:
        cluster = self._describe(state["id"])
        if cluster is None:
            return None
        vpc = cluster.get("resourcesVpcConfig", {})
        enabled = sorted(
            t
            for entry in cluster.get("logging", {}).get("clusterLogging", [])
            if entry.get("enabled")
            for t in entry.get("types", [])
        )
        encryption = cluster.get("encryptionConfig") or []
        access = cluster.get("accessConfig")
        network = cluster.get("kubernetesNetworkConfig")
        oidc = (cluster.get("identity") or {}).get("oidc")
        state = {
            **state,
            "id": cluster["name"],
            "name": cluster["name"],
            "arn": cluster["arn"],
            "role_arn": cluster["roleArn"],
            "version": cluster.get("version"),
            "platform_version": cluster.get("platformVersion"),
            "status": cluster.get("status"),
            "endpoint": cluster.get("endpoint"),
            "cluster_id": cluster.get("id") or "",
            "created_at": timestamp(cluster.get("createdAt")),
            "certificate_authority": [
                {"data": (cluster.get("certificateAuthority") or {}).get("data")}
            ],
            "identity": [{"oidc": [{"issuer": oidc.get("issuer")}]}] if oidc else [],
            "enabled_cluster_log_types": enabled or None,
            "vpc_config": [
                {
                    "subnet_ids": sorted(vpc.get("subnetIds") or []),
                    "security_group_ids": sorted(vpc.get("securityGroupIds") or []),
                    "endpoint_private_access": bool(vpc.get("endpointPrivateAccess")),
                    "endpoint_public_access": bool(vpc.get("endpointPublicAccess", True)),
                    "public_access_cidrs": sorted(vpc.get("publicAccessCidrs") or ["0.0.0.0/0"]),
                    "cluster_security_group_id": vpc.get("clusterSecurityGroupId") or "",
                    "vpc_id": vpc.get("vpcId") or "",
                }
            ],
            "encryption_config": [
                {
                    "resources": sorted(e.get("resources") or []),
                    "provider": [{"key_arn": (e.get("provider") or {}).get("keyArn")}],
                }
                for e in encryption[:1]
            ],
            # moto keeps no access configuration: what was declared stands.
            "access_config": [
                {
                    "authentication_mode": access.get("authenticationMode"),
                    "bootstrap_cluster_creator_admin_permissions": access.get(
                        "bootstrapClusterCreatorAdminPermissions", True
                    ),
                }
            ]
            if access
            else state.get("access_config") or [],
            "kubernetes_network_config": [
                {
                    "service_ipv4_cidr": network.get("serviceIpv4Cidr"),
                    "ip_family": network.get("ipFamily", "ipv4"),
                    "service_ipv6_cidr": network.get("serviceIpv6Cidr", ""),
                }
            ]
            if network and state.get("kubernetes_network_config")
            else state.get("kubernetes_network_config") or [],
            "upgrade_policy": state.get("upgrade_policy") or [],
            "bootstrap_self_managed_addons": state.get("bootstrap_self_managed_addons", True),
        }
        return self.with_tags(state, cluster.get("tags") or {})

    def update(self, prior: State, planned: State, config: State) -> State:
        eks, name = self.client("eks"), prior["id"]
        if planned.get("version") != prior.get("version") and planned.get("version"):
            eks.update_cluster_version(name=name, version=planned["version"])
        if set(planned.get("enabled_cluster_log_types") or []) != set(
            prior.get("enabled_cluster_log_types") or []
        ):
            eks.update_cluster_config(
                name=name, logging=_logging(planned.get("enabled_cluster_log_types"))
            )
        old, new = one(prior.get("vpc_config")) or {}, one(planned.get("vpc_config")) or {}
        keys = ("endpoint_private_access", "endpoint_public_access", "public_access_cidrs")
        if any(old.get(k) != new.get(k) for k in keys):
            eks.update_cluster_config(
                name=name,
                resourcesVpcConfig={
                    "endpointPrivateAccess": bool(new.get("endpoint_private_access")),
                    "endpointPublicAccess": bool(new.get("endpoint_public_access")),
                },
            )
        if planned.get("encryption_config") != prior.get("encryption_config"):
            raise ProviderError("Changing an EKS cluster's encryption_config is not supported here")
        self.update_eks_tags(prior["arn"], prior, planned)
        return self.read(planned) or {}

    def delete(self, prior: State) -> None:
        self.client("eks").delete_cluster(name=prior["id"])
        _wait_gone(lambda: self._describe(prior["id"]))


def _scaling(planned: State) -> dict[str, int]:
    scaling = one(planned.get("scaling_config")) or {}
    return {
        "minSize": int(scaling["min_size"]),
        "maxSize": int(scaling["max_size"]),
        "desiredSize": int(scaling["desired_size"]),
    }


def _update_config(planned: State) -> dict[str, int] | None:
    update = one(planned.get("update_config"))
    if not update:
        return None
    return drop_none(
        {
            "maxUnavailable": int(update["max_unavailable"])
            if update.get("max_unavailable") is not None
            else None,
            "maxUnavailablePercentage": int(update["max_unavailable_percentage"])
            if update.get("max_unavailable_percentage") is not None
            else None,
        }
    )


class EksNodeGroup(EksTagged):
    type_name = "aws_eks_node_group"

    def create(self, planned: State, config: State) -> State:
        name = planned.get("node_group_name")
        if not isinstance(name, str):
            name = prefixed_unique_id(planned.get("node_group_name_prefix") or "terraform-")
        arguments: dict[str, Any] = {
            "clusterName": planned["cluster_name"],
            "nodegroupName": name,
            "nodeRole": planned["node_role_arn"],
            "subnets": sorted(planned["subnet_ids"]),
            "scalingConfig": _scaling(planned),
        }
        for key, api in (
            ("ami_type", "amiType"),
            ("capacity_type", "capacityType"),
            ("release_version", "releaseVersion"),
            ("version", "version"),
        ):
            if isinstance(planned.get(key), str):
                arguments[api] = planned[key]
        if isinstance(planned.get("instance_types"), list):
            arguments["instanceTypes"] = planned["instance_types"]
        if isinstance(planned.get("disk_size"), int | float):
            arguments["diskSize"] = int(planned["disk_size"])
        if planned.get("labels"):
            arguments["labels"] = planned["labels"]
        if planned.get("taint"):
            arguments["taints"] = [
                drop_none({"key": t["key"], "value": t.get("value"), "effect": t["effect"]})
                for t in planned["taint"]
            ]
        template = one(planned.get("launch_template"))
        if template:
            arguments["launchTemplate"] = drop_none(
                {
                    "id": template.get("id") if isinstance(template.get("id"), str) else None,
                    "name": template.get("name")
                    if isinstance(template.get("name"), str) and not template.get("id")
                    else None,
                    "version": str(template["version"]),
                }
            )
        if planned.get("tags_all"):
            arguments["tags"] = planned["tags_all"]
        eks = self.client("eks")
        eks.create_nodegroup(**arguments)
        self.made({**planned, "id": f"{planned['cluster_name']}:{name}"})
        update = _update_config(planned)
        if update:
            eks.update_nodegroup_config(
                clusterName=planned["cluster_name"], nodegroupName=name, updateConfig=update
            )
        state = {**planned, "id": f"{planned['cluster_name']}:{name}"}
        return self.read(state) or {}

    def _describe(self, node_group_id: str) -> dict[str, Any] | None:
        cluster, _, name = node_group_id.partition(":")
        found = missing(
            lambda: self.client("eks").describe_nodegroup(clusterName=cluster, nodegroupName=name),
            "ResourceNotFoundException",
        )
        group = found["nodegroup"] if found else None
        if group is None or group.get("status") == "DELETING":
            return None
        return group

    def read(self, state: State) -> State | None:
        group = self._describe(state["id"])
        if group is None:
            return None
        scaling = group.get("scalingConfig", {})
        update = group.get("updateConfig")
        template = group.get("launchTemplate")
        wanted_template = one(state.get("launch_template")) or {}
        resources = group.get("resources") or {}
        state = {
            **state,
            "id": f"{group['clusterName']}:{group['nodegroupName']}",
            "arn": group["nodegroupArn"],
            "cluster_name": group["clusterName"],
            "node_group_name": group["nodegroupName"],
            "node_group_name_prefix": state.get("node_group_name_prefix")
            if isinstance(state.get("node_group_name_prefix"), str)
            else "",
            "node_role_arn": group["nodeRole"],
            "subnet_ids": sorted(group.get("subnets") or []),
            "instance_types": group.get("instanceTypes"),
            "ami_type": group.get("amiType"),
            "capacity_type": group.get("capacityType"),
            "disk_size": group.get("diskSize", 0) if not template else 0,
            "labels": group.get("labels") or None,
            "release_version": group.get("releaseVersion"),
            "version": group.get("version"),
            "status": group.get("status"),
            "scaling_config": [
                {
                    "min_size": scaling.get("minSize"),
                    "max_size": scaling.get("maxSize"),
                    "desired_size": scaling.get("desiredSize"),
                }
            ],
            "update_config": [
                {
                    "max_unavailable": update.get("maxUnavailable"),
                    "max_unavailable_percentage": update.get("maxUnavailablePercentage"),
                }
            ]
            if update
            else state.get("update_config") or [],
            "launch_template": [
                {
                    "id": template.get("id"),
                    "name": template.get("name") or wanted_template.get("name"),
                    "version": str(template.get("version")),
                }
            ]
            if template
            else [],
            "taint": [
                {"key": t["key"], "value": t.get("value"), "effect": t["effect"]}
                for t in group.get("taints") or []
            ],
            "resources": [
                {
                    "autoscaling_groups": [
                        {"name": a["name"]} for a in resources.get("autoScalingGroups", [])
                    ],
                    "remote_access_security_group_id": resources.get(
                        "remoteAccessSecurityGroup", ""
                    ),
                }
            ],
        }
        return self.with_tags(state, group.get("tags") or {})

    def update(self, prior: State, planned: State, config: State) -> State:
        cluster, _, name = prior["id"].partition(":")
        arguments: dict[str, Any] = {"clusterName": cluster, "nodegroupName": name}
        if planned.get("scaling_config") != prior.get("scaling_config"):
            arguments["scalingConfig"] = _scaling(planned)
        update = _update_config(planned)
        if update and planned.get("update_config") != prior.get("update_config"):
            arguments["updateConfig"] = update
        if planned.get("labels") != prior.get("labels"):
            old, new = prior.get("labels") or {}, planned.get("labels") or {}
            arguments["labels"] = drop_none(
                {
                    "addOrUpdateLabels": new or None,
                    "removeLabels": [k for k in old if k not in new] or None,
                }
            )
        if len(arguments) > 2:
            self.client("eks").update_nodegroup_config(**arguments)
        old_template = one(prior.get("launch_template")) or {}
        new_template = one(planned.get("launch_template")) or {}
        if str(old_template.get("version")) != str(new_template.get("version")) or planned.get(
            "version"
        ) != prior.get("version"):
            raise ProviderError(
                "Updating a node group's version or launch template version is not supported "
                "here (moto has no UpdateNodegroupVersion)"
            )
        self.update_eks_tags(prior["arn"], prior, planned)
        return self.read(planned) or {}

    def delete(self, prior: State) -> None:
        cluster, _, name = prior["id"].partition(":")
        self.client("eks").delete_nodegroup(clusterName=cluster, nodegroupName=name)
        _wait_gone(lambda: self._describe(prior["id"]))
