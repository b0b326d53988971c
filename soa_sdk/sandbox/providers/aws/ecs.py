"""ECS: clusters, their capacity providers, task definitions and services.

As terraform-provider-aws has them: a cluster's ``setting`` and ``configuration`` change in
place (``UpdateCluster``); ``aws_ecs_cluster_capacity_providers`` is the cluster's
``PutClusterCapacityProviders`` (destroying it puts empty lists); a task definition is
immutable (every argument replaces it: a new revision), destroyed by
``DeregisterTaskDefinition`` (an ``INACTIVE`` revision reads as gone); a service's
``desired_count``, ``task_definition``, network and deployment settings change in place with
``UpdateService``, and it is scaled to 0 and deleted on destroy. ``container_definitions`` is
kept as written when the API holds the same containers (the real provider compares them with
the API's defaults left out).

Left out: load balancers, service discovery and Service Connect, placement strategies,
capacity provider strategies on services, waiting for a steady state (nothing runs tasks in
moto; the sandbox's scheduler stand-in reads the services).
"""

from __future__ import annotations

import json
from typing import Any

from soa_sdk.sandbox.providers.aws.base import AwsResource
from soa_sdk.sandbox.providers.aws.common import drop_none, one, tag_list
from soa_sdk.sandbox.providers.framework import ProviderError, State


def _tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return tag_list(tags, "key", "value")


def _tag_map(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["key"]: t["value"] for t in tags or []}


class EcsTagged(AwsResource):
    tagged = True

    def update_ecs_tags(self, arn: str, prior: State, planned: State) -> None:
        ecs = self.client("ecs")
        old, new = prior.get("tags_all") or {}, planned.get("tags_all") or {}
        removed = [k for k in old if k not in new]
        if removed:
            ecs.untag_resource(resourceArn=arn, tagKeys=removed)
        changed = {k: v for k, v in new.items() if old.get(k) != v}
        if changed:
            ecs.tag_resource(resourceArn=arn, tags=_tags(changed))


def _cluster_configuration(planned: State) -> dict[str, Any] | None:
    configuration = one(planned.get("configuration"))
    if not configuration:
        return None
    out: dict[str, Any] = {}
    execute = one(configuration.get("execute_command_configuration"))
    if execute:
        logging = one(execute.get("log_configuration"))
        out["executeCommandConfiguration"] = drop_none(
            {
                "kmsKeyId": execute.get("kms_key_id"),
                "logging": execute.get("logging"),
                "logConfiguration": drop_none(
                    {
                        "cloudWatchLogGroupName": logging.get("cloud_watch_log_group_name"),
                        "cloudWatchEncryptionEnabled": logging.get(
                            "cloud_watch_encryption_enabled"
                        ),
                        "s3BucketName": logging.get("s3_bucket_name"),
                        "s3EncryptionEnabled": logging.get("s3_bucket_encryption_enabled"),
                        "s3KeyPrefix": logging.get("s3_key_prefix"),
                    }
                )
                if logging
                else None,
            }
        )
    storage = one(configuration.get("managed_storage_configuration"))
    if storage:
        out["managedStorageConfiguration"] = drop_none(
            {
                "fargateEphemeralStorageKmsKeyId": storage.get(
                    "fargate_ephemeral_storage_kms_key_id"
                ),
                "kmsKeyId": storage.get("kms_key_id"),
            }
        )
    return out


def _configuration_state(found: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not found:
        return []
    execute = found.get("executeCommandConfiguration")
    storage = found.get("managedStorageConfiguration")
    logging = (execute or {}).get("logConfiguration")
    return [
        {
            "execute_command_configuration": [
                {
                    "kms_key_id": execute.get("kmsKeyId"),
                    "logging": execute.get("logging", "DEFAULT"),
                    "log_configuration": [
                        {
                            "cloud_watch_log_group_name": logging.get("cloudWatchLogGroupName"),
                            "cloud_watch_encryption_enabled": logging.get(
                                "cloudWatchEncryptionEnabled"
                            ),
                            "s3_bucket_name": logging.get("s3BucketName"),
                            "s3_bucket_encryption_enabled": logging.get("s3EncryptionEnabled"),
                            "s3_key_prefix": logging.get("s3KeyPrefix"),
                        }
                    ]
                    if logging
                    else [],
                }
            ]
            if execute
            else [],
            "managed_storage_configuration": [
                {
                    "fargate_ephemeral_storage_kms_key_id": storage.get(
                        "fargateEphemeralStorageKmsKeyId"
                    ),
                    "kms_key_id": storage.get("kmsKeyId"),
                }
            ]
            if storage
            else [],
        }
    ]


class Cluster(EcsTagged):
    type_name = "aws_ecs_cluster"

    def _describe(self, name_or_arn: str) -> dict[str, Any] | None:
        clusters = self.client("ecs").describe_clusters(
            clusters=[name_or_arn], include=["SETTINGS", "CONFIGURATIONS", "TAGS"]
        )["clusters"]
        cluster = clusters[0] if clusters else None
        if cluster is None or cluster.get("status") == "INACTIVE":
            return None
        return cluster

    def create(self, planned: State, config: State) -> State:
        arguments: dict[str, Any] = {
            "clusterName": planned["name"],
            "settings": [{"name": s["name"], "value": s["value"]} for s in planned["setting"]],
        }
        configuration = _cluster_configuration(planned)
        if configuration:
            arguments["configuration"] = configuration
        defaults = one(planned.get("service_connect_defaults"))
        if defaults:
            arguments["serviceConnectDefaults"] = {"namespace": defaults["namespace"]}
        if planned.get("tags_all"):
            arguments["tags"] = _tags(planned["tags_all"])
        cluster = self.client("ecs").create_cluster(**arguments)["cluster"]
        return self.read({**planned, "id": cluster["clusterArn"]}) or {}

    def read(self, state: State) -> State | None:
        cluster = self._describe(state["id"])
        if cluster is None:
            return None
        defaults = cluster.get("serviceConnectDefaults")
        state = {
            **state,
            "id": cluster["clusterArn"],
            "arn": cluster["clusterArn"],
            "name": cluster["clusterName"],
            "setting": [
                {"name": s["name"], "value": s["value"]} for s in cluster.get("settings") or []
            ],
            "configuration": _configuration_state(cluster.get("configuration")),
            "service_connect_defaults": [{"namespace": defaults["namespace"]}] if defaults else [],
        }
        return self.with_tags(state, _tag_map(cluster.get("tags")))

    def update(self, prior: State, planned: State, config: State) -> State:
        arguments: dict[str, Any] = {
            "cluster": prior["id"],
            "settings": [{"name": s["name"], "value": s["value"]} for s in planned["setting"]],
        }
        configuration = _cluster_configuration(planned)
        if configuration:
            arguments["configuration"] = configuration
        self.client("ecs").update_cluster(**arguments)
        self.update_ecs_tags(prior["id"], prior, planned)
        return self.read(planned) or {}

    def delete(self, prior: State) -> None:
        self.client("ecs").delete_cluster(cluster=prior["id"])


class ClusterCapacityProviders(AwsResource):
    type_name = "aws_ecs_cluster_capacity_providers"

    def _put(self, cluster: str, planned: State) -> None:
        self.client("ecs").put_cluster_capacity_providers(
            cluster=cluster,
            capacityProviders=sorted(planned.get("capacity_providers") or []),
            defaultCapacityProviderStrategy=[
                {
                    "capacityProvider": s["capacity_provider"],
                    "base": int(s.get("base") or 0),
                    "weight": int(s.get("weight") or 0),
                }
                for s in planned.get("default_capacity_provider_strategy") or []
            ],
        )

    def create(self, planned: State, config: State) -> State:
        self._put(planned["cluster_name"], planned)
        return self.read({**planned, "id": planned["cluster_name"]}) or {}

    def read(self, state: State) -> State | None:
        clusters = self.client("ecs").describe_clusters(clusters=[state["id"]])["clusters"]
        cluster = clusters[0] if clusters else None
        if cluster is None or cluster.get("status") == "INACTIVE":
            return None
        return {
            **state,
            "id": cluster["clusterName"],
            "cluster_name": cluster["clusterName"],
            "capacity_providers": sorted(cluster.get("capacityProviders") or []),
            "default_capacity_provider_strategy": [
                {
                    "capacity_provider": s["capacityProvider"],
                    "base": s.get("base", 0),
                    "weight": s.get("weight", 0),
                }
                for s in cluster.get("defaultCapacityProviderStrategy") or []
            ],
        }

    def update(self, prior: State, planned: State, config: State) -> State:
        self._put(prior["id"], planned)
        return self.read(planned) or {}

    def delete(self, prior: State) -> None:
        self._put(prior["id"], {})


def _same_containers(written: str | None, from_api: list[dict[str, Any]]) -> bool:
    """Whether the containers written are those the API holds: every key written has the
    value the API answers (the API adds its defaults: ``cpu: 0``, empty lists, ...)."""

    def covered(mine: Any, theirs: Any) -> bool:
        if isinstance(mine, dict):
            return isinstance(theirs, dict) and all(
                covered(v, theirs.get(k)) for k, v in mine.items()
            )
        if isinstance(mine, list):
            return (
                isinstance(theirs, list)
                and len(mine) == len(theirs)
                and all(covered(a, b) for a, b in zip(mine, theirs, strict=True))
            )
        return mine == theirs

    try:
        mine = json.loads(written or "null")
    except ValueError:
        return False
    return covered(mine, from_api)


class TaskDefinition(EcsTagged):
    type_name = "aws_ecs_task_definition"

    def create(self, planned: State, config: State) -> State:
        try:
            containers = json.loads(planned["container_definitions"])
        except ValueError as error:
            raise ProviderError("container_definitions is not JSON", str(error)) from None
        arguments: dict[str, Any] = {
            "family": planned["family"],
            "containerDefinitions": containers,
        }
        for name, key in (
            ("cpu", "cpu"),
            ("memory", "memory"),
            ("execution_role_arn", "executionRoleArn"),
            ("task_role_arn", "taskRoleArn"),
            ("network_mode", "networkMode"),
            ("ipc_mode", "ipcMode"),
            ("pid_mode", "pidMode"),
        ):
            if isinstance(planned.get(name), str):
                arguments[key] = planned[name]
        if planned.get("requires_compatibilities"):
            arguments["requiresCompatibilities"] = sorted(planned["requires_compatibilities"])
        platform = one(planned.get("runtime_platform"))
        if platform:
            arguments["runtimePlatform"] = drop_none(
                {
                    "operatingSystemFamily": platform.get("operating_system_family"),
                    "cpuArchitecture": platform.get("cpu_architecture"),
                }
            )
        storage = one(planned.get("ephemeral_storage"))
        if storage:
            arguments["ephemeralStorage"] = {"sizeInGiB": int(storage["size_in_gib"])}
        if planned.get("placement_constraints"):
            arguments["placementConstraints"] = [
                drop_none({"type": c["type"], "expression": c.get("expression")})
                for c in planned["placement_constraints"]
            ]
        if planned.get("volume"):
            arguments["volumes"] = [
                drop_none(
                    {
                        "name": v["name"],
                        "host": {"sourcePath": v["host_path"]} if v.get("host_path") else None,
                        "configuredAtLaunch": v.get("configure_at_launch"),
                    }
                )
                for v in planned["volume"]
            ]
        if planned.get("tags_all"):
            arguments["tags"] = _tags(planned["tags_all"])
        found = self.client("ecs").register_task_definition(**arguments)["taskDefinition"]
        return self.read({**planned, "id": planned["family"], "arn": found["taskDefinitionArn"]})

    def read(self, state: State) -> State | None:
        ecs = self.client("ecs")
        try:
            found = ecs.describe_task_definition(taskDefinition=state["arn"], include=["TAGS"])
        except ecs.exceptions.ClientException:
            return None
        definition = found["taskDefinition"]
        if definition.get("status") == "INACTIVE":
            return None
        containers = definition.get("containerDefinitions", [])
        platform = definition.get("runtimePlatform")
        storage = definition.get("ephemeralStorage")
        arn = definition["taskDefinitionArn"]
        state = {
            **state,
            "id": definition["family"],
            "arn": arn,
            "arn_without_revision": arn.rsplit(":", 1)[0],
            "family": definition["family"],
            "revision": definition["revision"],
            "container_definitions": state.get("container_definitions")
            if _same_containers(state.get("container_definitions"), containers)
            else json.dumps(containers),
            "cpu": definition.get("cpu"),
            "memory": definition.get("memory"),
            "execution_role_arn": definition.get("executionRoleArn"),
            "task_role_arn": definition.get("taskRoleArn"),
            "network_mode": definition.get("networkMode", "bridge"),
            "ipc_mode": definition.get("ipcMode"),
            "pid_mode": definition.get("pidMode"),
            "requires_compatibilities": sorted(definition.get("requiresCompatibilities") or [])
            or None,
            "enable_fault_injection": bool(definition.get("enableFaultInjection")),
            "runtime_platform": [
                {
                    "operating_system_family": platform.get("operatingSystemFamily"),
                    "cpu_architecture": platform.get("cpuArchitecture"),
                }
            ]
            if platform
            else [],
            "ephemeral_storage": [{"size_in_gib": storage["sizeInGiB"]}] if storage else [],
            "skip_destroy": bool(state.get("skip_destroy")),
            "track_latest": bool(state.get("track_latest")),
        }
        return self.with_tags(state, _tag_map(found.get("tags")))

    def update(self, prior: State, planned: State, config: State) -> State:
        self.update_ecs_tags(prior["arn"], prior, planned)
        return self.read({**planned, "arn": prior["arn"]}) or {}

    def delete(self, prior: State) -> None:
        if not prior.get("skip_destroy"):
            self.client("ecs").deregister_task_definition(taskDefinition=prior["arn"])

    def import_state(self, import_id: str) -> State | None:
        return self.read({"id": import_id, "arn": import_id})
