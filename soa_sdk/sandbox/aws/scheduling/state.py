"""What the sandbox's scheduler runs from, read from moto's backends in process; and ECS's
counts as the scheduler reports them.

moto keeps ECS services, EKS node groups and Auto Scaling groups but runs nothing for them.
The sandbox's scheduler (:mod:`soa_sdk.sandbox.scheduler`) starts workloads to match; it
reads this module's :func:`snapshot` (every account and Region moto holds, in one read,
instead of signed List/Describe calls into each account) through the root-only route of
:mod:`.middleware`.

ECS's counts: moto answers ``runningCount = 0`` after ``CreateService`` and copies
``desiredCount`` into ``runningCount`` on ``UpdateService``, so neither says what runs.
:class:`EcsCounts` keeps what the scheduler last reported (instances per task definition
revision) and writes it into moto's service as ECS reports it: ``runningCount`` and
``pendingCount``, and ``deployments`` with a ``PRIMARY`` deployment for the service's task
definition and an ``ACTIVE`` one for each older revision still running (``rolloutState``
``IN_PROGRESS`` until the primary runs the desired count alone, then ``COMPLETED``). Then
``DescribeServices`` and the ``services_stable`` waiter (one deployment, running = desired)
tell the truth. Left out: ECS tasks (``ListTasks``/``DescribeTasks`` show none; moto cannot
tie a task to a service), service events, the circuit breaker.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

Key = tuple[str, str, str, str]
"""(account, Region, cluster, service name)."""


def _items(mapping: Any) -> list[tuple[Any, Any]]:
    """A copy of a moto dict's items, without creating backends (``dict.items``, not the
    ``BackendDict``'s lazy ``__getitem__``), retried when a request thread changes it."""
    for _ in range(5):
        try:
            return list(dict.items(mapping))
        except RuntimeError:  # changed size during iteration
            continue
    return list(dict.items(mapping))


def _backends(backend_dict: Any) -> list[tuple[str, str, Any]]:
    return [
        (account, region, backend)
        for account, regions in _items(backend_dict)
        for region, backend in _items(regions)
    ]


def _task_definition(backend: Any, arn: str | None) -> dict[str, Any] | None:
    if not arn:
        return None
    family, _, revision = arn.rsplit("/", 1)[-1].partition(":")
    definition = (backend.task_definitions.get(family) or {}).get(int(revision or 0))
    if definition is None:
        return None
    return {
        "arn": definition.arn,
        "family": definition.family,
        "revision": definition.revision,
        "containerDefinitions": list(definition.container_definitions),
    }


def ecs_services() -> list[dict[str, Any]]:
    """Every ECS service moto holds, with its task definition's containers."""
    from moto.ecs.models import ecs_backends

    found = []
    for account, region, backend in _backends(ecs_backends):
        clusters = dict(_items(backend.clusters))
        for _, service in _items(backend.services):
            cluster = clusters.get(service.cluster_name)
            found.append(
                {
                    "account": account,
                    "region": region,
                    "cluster": service.cluster_name,
                    "clusterStatus": getattr(cluster, "status", "INACTIVE"),
                    "serviceName": service.name,
                    "serviceArn": service.arn,
                    "status": service.status,
                    "desiredCount": int(service.desired_count or 0),
                    "taskDefinition": _task_definition(backend, service.task_definition),
                }
            )
    return found


def eks_nodegroups() -> list[dict[str, Any]]:
    """Every EKS managed node group moto holds, with its scaling and its cluster's tags."""
    from moto.eks.models import eks_backends

    found = []
    for account, region, backend in _backends(eks_backends):
        for name, cluster in _items(backend.clusters):
            for group_name, group in _items(cluster.nodegroups):
                found.append(
                    {
                        "account": account,
                        "region": region,
                        "cluster": name,
                        "nodegroupName": group_name,
                        "status": group.status,
                        "scalingConfig": dict(group.scaling_config or {}),
                        "tags": dict(cluster.tags or {}),
                    }
                )
    return found


def autoscaling_groups() -> list[dict[str, Any]]:
    """Every Auto Scaling group moto holds, with its desired capacity and tags."""
    from moto.autoscaling.models import autoscaling_backends

    found = []
    for account, region, backend in _backends(autoscaling_backends):
        for name, group in _items(backend.autoscaling_groups):
            found.append(
                {
                    "account": account,
                    "region": region,
                    "autoScalingGroupName": name,
                    "desiredCapacity": int(group.desired_capacity or 0),
                    "tags": _group_tags(group),
                    "launchTemplate": _launch_template(group),
                }
            )
    return found


def _launch_template(group: Any) -> dict[str, Any] | None:
    """The group's launch template version as it would launch now (the version it names,
    ``$Latest`` and ``$Default`` resolved), with that version's ``UserData`` (base64)."""
    template = getattr(group, "ec2_launch_template", None)
    if template is None:
        return None
    asked = getattr(group, "provided_launch_template_version", None) or "$Default"
    try:
        version = template.get_version(asked)
    except Exception:  # a version that no longer exists: nothing to launch
        return None
    return {
        "id": template.id,
        "name": template.name,
        "version": int(version.number),
        "userData": str(version.data.get("UserData") or ""),
    }


def _group_tags(group: Any) -> dict[str, str]:
    """An Auto Scaling group's tags; moto keeps them as the API's ``Key``/``Value`` items."""
    tags = getattr(group, "tags", None) or []
    return {str(t.get("Key", t.get("key"))): str(t.get("Value", t.get("value"))) for t in tags}


def snapshot(seq: int) -> dict[str, Any]:
    """What the scheduler runs from: ECS services, EKS node groups, Auto Scaling groups."""
    return {
        "seq": seq,
        "ecs": ecs_services(),
        "eks": eks_nodegroups(),
        "autoscaling": autoscaling_groups(),
    }


class EcsCounts:
    """The instances the scheduler runs per ECS service and task definition revision, and
    how they are written into moto's services (module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[Key, dict[str, int]] = {}
        self._deployments: dict[tuple[Key, str], dict[str, Any]] = {}

    def report(self, services: list[dict[str, Any]]) -> int:
        """Keep the scheduler's report (``[{account, region, cluster, serviceName,
        running: {task definition ARN: count}}]``) and write it into moto; how many
        services it named."""
        with self._lock:
            for item in services:
                key = (item["account"], item["region"], item["cluster"], item["serviceName"])
                self._running[key] = {
                    str(arn): int(n) for arn, n in (item.get("running") or {}).items() if n
                }
        for item in services:
            self.apply(item["account"], item["region"], item["cluster"], item["serviceName"])
        return len(services)

    def apply(self, account: str, region: str, cluster: str, name: str) -> None:
        """Write the counts into moto's service (after the scheduler's report, and after each
        ``CreateService`` / ``UpdateService``, whose own counts moto makes up)."""
        from moto.ecs.models import ecs_backends

        regions = dict.get(ecs_backends, account)
        backend = dict.get(regions, region) if regions is not None else None
        service = backend.services.get(f"{cluster}:{name}") if backend is not None else None
        if service is None:
            return
        key = (account, region, cluster, name)
        with self._lock:
            running = dict(self._running.get(key, {}))
            primary = str(service.task_definition or "")
            if service.status != "ACTIVE":
                running.pop(primary, None)
            desired = int(service.desired_count or 0)
            on_primary = running.get(primary, 0)
            older = {arn: n for arn, n in running.items() if arn != primary}
            done = on_primary == desired and not older
            deployments = [self._deployment(service, key, primary, desired, on_primary, done)]
            deployments += [
                self._deployment(service, key, arn, 0, n, False, "ACTIVE")
                for arn, n in sorted(older.items())
            ]
            service.running_count = sum(running.values())
            service.pending_count = max(desired - on_primary, 0)
            if service.deployment_controller.get("type", "ECS") == "ECS":
                service.deployments = deployments
            if service.status != "ACTIVE" and not running:
                self._running.pop(key, None)

    def _deployment(
        self,
        service: Any,
        key: Key,
        arn: str,
        desired: int,
        running: int,
        done: bool,
        status: str = "PRIMARY",
    ) -> dict[str, Any]:
        """One entry of ``deployments`` (the shape moto and ECS give), kept per revision so
        that its id and ``createdAt`` stay."""
        now = datetime.now(UTC)
        kept = self._deployments.setdefault(
            (key, arn),
            {"id": f"ecs-svc/{abs(hash((key, arn))) % 10**19:019d}", "createdAt": now},
        )
        state = "COMPLETED" if done else "IN_PROGRESS"
        return {
            "createdAt": kept["createdAt"],
            "desiredCount": desired,
            "failedTasks": 0,
            "id": kept["id"],
            "launchType": service.launch_type,
            "pendingCount": max(desired - running, 0),
            "rolloutState": state,
            "rolloutStateReason": f"ECS deployment {kept['id']} {state.lower().replace('_', ' ')}.",
            "runningCount": running,
            "platformVersion": service.platform_version,
            "networkConfiguration": service.network_configuration,
            "platformFamily": "EC2" if service.launch_type == "EC2" else "FARGATE",
            "status": status,
            "taskDefinition": arn,
            "updatedAt": now,
        }

    def clear(self) -> None:
        with self._lock:
            self._running.clear()
            self._deployments.clear()
