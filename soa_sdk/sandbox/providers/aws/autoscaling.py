"""EC2 Auto Scaling groups: ``aws_autoscaling_group``.

As terraform-provider-aws has it: ``CreateAutoScalingGroup`` with a launch template (by id
or name, and a version), subnets (``vpc_zone_identifier``), sizes and ``tag`` blocks (each
with ``propagate_at_launch``); sizes, health checks, subnets and the launch template change
in place (``UpdateAutoScalingGroup``), tags with ``CreateOrUpdateTags`` / ``DeleteTags``; a
changed launch template with ``instance_refresh`` starts an instance refresh; destroy
deletes with ``ForceDelete`` when asked, else after scaling to zero.

Left out: mixed instances policies, warm pools, lifecycle hooks, load balancer and target
group attachment, waiting for capacity (moto's instances are running at once).
"""

from __future__ import annotations

from typing import Any

from soa_sdk.sandbox.providers.aws.base import AwsResource
from soa_sdk.sandbox.providers.aws.common import drop_none, one
from soa_sdk.sandbox.providers.aws.ec2_common import name_from, name_prefix_of
from soa_sdk.sandbox.providers.framework import State


def _launch_template(planned: State) -> dict[str, Any] | None:
    template = one(planned.get("launch_template"))
    if not template:
        return None
    return drop_none(
        {
            "LaunchTemplateId": template.get("id") if isinstance(template.get("id"), str) else None,
            "LaunchTemplateName": template.get("name")
            if isinstance(template.get("name"), str) and not template.get("id")
            else None,
            "Version": str(template["version"]) if template.get("version") is not None else None,
        }
    )


def _tags(group: str, tags: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "ResourceId": group,
            "ResourceType": "auto-scaling-group",
            "Key": t["key"],
            "Value": t["value"],
            "PropagateAtLaunch": bool(t["propagate_at_launch"]),
        }
        for t in tags
    ]


class AutoScalingGroup(AwsResource):
    type_name = "aws_autoscaling_group"

    def _sizes(self, planned: State) -> dict[str, Any]:
        sizes: dict[str, Any] = {
            "MinSize": int(planned["min_size"]),
            "MaxSize": int(planned["max_size"]),
        }
        if isinstance(planned.get("desired_capacity"), int | float):
            sizes["DesiredCapacity"] = int(planned["desired_capacity"])
        if isinstance(planned.get("health_check_type"), str):
            sizes["HealthCheckType"] = planned["health_check_type"]
        if isinstance(planned.get("health_check_grace_period"), int | float):
            sizes["HealthCheckGracePeriod"] = int(planned["health_check_grace_period"])
        if isinstance(planned.get("vpc_zone_identifier"), list):
            sizes["VPCZoneIdentifier"] = ",".join(sorted(planned["vpc_zone_identifier"]))
        if isinstance(planned.get("default_cooldown"), int | float):
            sizes["DefaultCooldown"] = int(planned["default_cooldown"])
        if planned.get("termination_policies"):
            sizes["TerminationPolicies"] = planned["termination_policies"]
        if planned.get("max_instance_lifetime"):
            sizes["MaxInstanceLifetime"] = int(planned["max_instance_lifetime"])
        if isinstance(planned.get("capacity_rebalance"), bool):
            sizes["CapacityRebalance"] = planned["capacity_rebalance"]
        template = _launch_template(planned)
        if template:
            sizes["LaunchTemplate"] = template
        elif isinstance(planned.get("launch_configuration"), str):
            sizes["LaunchConfigurationName"] = planned["launch_configuration"]
        return sizes

    def create(self, planned: State, config: State) -> State:
        name, prefix = name_from(planned)
        arguments = {"AutoScalingGroupName": name, **self._sizes(planned)}
        if isinstance(planned.get("availability_zones"), list) and planned["availability_zones"]:
            arguments["AvailabilityZones"] = sorted(planned["availability_zones"])
        if planned.get("tag"):
            arguments["Tags"] = _tags(name, planned["tag"])
        if planned.get("protect_from_scale_in"):
            arguments["NewInstancesProtectedFromScaleIn"] = True
        self.client("autoscaling").create_auto_scaling_group(**arguments)
        return self.read({**planned, "id": name, "name_prefix": prefix}) or {}

    def _describe(self, name: str) -> dict[str, Any] | None:
        groups = self.client("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[name]
        )["AutoScalingGroups"]
        group = groups[0] if groups else None
        if group is None or group.get("Status") == "Delete in progress":
            return None
        return group

    def read(self, state: State) -> State | None:
        group = self._describe(state["id"])
        if group is None:
            return None
        template = group.get("LaunchTemplate")
        wanted = one(state.get("launch_template")) or {}
        zones = group.get("VPCZoneIdentifier") or ""
        state = {
            **state,
            "id": group["AutoScalingGroupName"],
            "name": group["AutoScalingGroupName"],
            "name_prefix": name_prefix_of(state),
            "arn": group["AutoScalingGroupARN"],
            "min_size": group["MinSize"],
            "max_size": group["MaxSize"],
            "desired_capacity": group["DesiredCapacity"],
            "default_cooldown": group.get("DefaultCooldown", 300),
            "health_check_type": group.get("HealthCheckType", "EC2"),
            "health_check_grace_period": group.get("HealthCheckGracePeriod", 300),
            "availability_zones": sorted(group.get("AvailabilityZones") or []),
            "vpc_zone_identifier": sorted(z for z in zones.split(",") if z),
            # Optional, not computed: false stays null unless declared.
            "capacity_rebalance": group.get("CapacityRebalance")
            if isinstance(state.get("capacity_rebalance"), bool) or group.get("CapacityRebalance")
            else None,
            "service_linked_role_arn": group.get("ServiceLinkedRoleARN") or "",
            "target_group_arns": sorted(group.get("TargetGroupARNs") or []),
            "load_balancers": sorted(group.get("LoadBalancerNames") or []),
            "protect_from_scale_in": bool(group.get("NewInstancesProtectedFromScaleIn")),
            "predicted_capacity": group.get("PredictedCapacity", 0),
            "warm_pool_size": group.get("WarmPoolSize", 0),
            "launch_configuration": group.get("LaunchConfigurationName")
            or state.get("launch_configuration"),
            "launch_template": [
                {
                    "id": template.get("LaunchTemplateId"),
                    "name": template.get("LaunchTemplateName"),
                    # $Latest / $Default and a number the state wrote as given stand.
                    "version": template.get("Version") or wanted.get("version"),
                }
            ]
            if template
            else [],
            "tag": [
                {
                    "key": t["Key"],
                    "value": t["Value"],
                    "propagate_at_launch": bool(t.get("PropagateAtLaunch")),
                }
                for t in group.get("Tags") or []
            ],
        }
        return state

    def update(self, prior: State, planned: State, config: State) -> State:
        autoscaling, name = self.client("autoscaling"), prior["id"]
        autoscaling.update_auto_scaling_group(AutoScalingGroupName=name, **self._sizes(planned))
        old = {t["key"]: t for t in prior.get("tag") or []}
        new = {t["key"]: t for t in planned.get("tag") or []}
        removed = [old[k] for k in old if k not in new]
        if removed:
            autoscaling.delete_tags(Tags=_tags(name, removed))
        changed = [t for k, t in new.items() if old.get(k) != t]
        if changed:
            autoscaling.create_or_update_tags(Tags=_tags(name, changed))
        refresh = one(planned.get("instance_refresh"))
        if refresh and planned.get("launch_template") != prior.get("launch_template"):
            preferences = one(refresh.get("preferences")) or {}
            autoscaling.start_instance_refresh(
                AutoScalingGroupName=name,
                Strategy=refresh["strategy"],
                Preferences=drop_none(
                    {
                        "MinHealthyPercentage": int(preferences["min_healthy_percentage"])
                        if preferences.get("min_healthy_percentage") is not None
                        else None,
                    }
                ),
            )
        return self.read(planned) or {}

    def delete(self, prior: State) -> None:
        self.client("autoscaling").delete_auto_scaling_group(
            AutoScalingGroupName=prior["id"], ForceDelete=True
        )
