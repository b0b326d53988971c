"""EC2 launch templates: ``aws_launch_template``.

As terraform-provider-aws has it: ``CreateLaunchTemplate`` with the template data; a change
in place is a new version (``CreateLaunchTemplateVersion``), made the default one when
``update_default_version`` is set (``ModifyLaunchTemplate``); read is the latest version's
data (``DescribeLaunchTemplateVersions``), so a version made outside Terraform shows as drift.
A block's nullable booleans (``ebs.encrypted``, ``delete_on_termination``) are strings,
``"true"`` / ``"false"``, as the real schema has them.

Left out: network interfaces, placement, CPU options, capacity reservations, license and
instance requirements, spot market options, hibernation and enclave options.
"""

from __future__ import annotations

from typing import Any

from soa_sdk.sandbox.providers.aws.common import drop_none, missing, one, tag_dict, tag_list
from soa_sdk.sandbox.providers.aws.ec2_common import Ec2Resource, name_from, name_prefix_of
from soa_sdk.sandbox.providers.cty import UNKNOWN
from soa_sdk.sandbox.providers.framework import State


def _bool_text(value: Any) -> bool | None:
    if value in ("true", True):
        return True
    if value in ("false", False):
        return False
    return None


def _text_bool(value: Any) -> str:
    return "" if value is None else ("true" if value else "false")


def _template_data(planned: State) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, key in (
        ("image_id", "ImageId"),
        ("instance_type", "InstanceType"),
        ("key_name", "KeyName"),
        ("user_data", "UserData"),
        ("kernel_id", "KernelId"),
        ("ram_disk_id", "RamDiskId"),
        ("instance_initiated_shutdown_behavior", "InstanceInitiatedShutdownBehavior"),
    ):
        if isinstance(planned.get(name), str) and planned[name]:
            data[key] = planned[name]
    if _bool_text(planned.get("ebs_optimized")) is not None:
        data["EbsOptimized"] = _bool_text(planned["ebs_optimized"])
    for name, key in (
        ("disable_api_stop", "DisableApiStop"),
        ("disable_api_termination", "DisableApiTermination"),
    ):
        if isinstance(planned.get(name), bool):
            data[key] = planned[name]
    if planned.get("vpc_security_group_ids"):
        data["SecurityGroupIds"] = sorted(planned["vpc_security_group_ids"])
    if planned.get("security_group_names"):
        data["SecurityGroups"] = sorted(planned["security_group_names"])
    metadata = one(planned.get("metadata_options"))
    if metadata:
        data["MetadataOptions"] = drop_none(
            {
                "HttpEndpoint": metadata.get("http_endpoint"),
                "HttpTokens": metadata.get("http_tokens"),
                "HttpPutResponseHopLimit": int(metadata["http_put_response_hop_limit"])
                if isinstance(metadata.get("http_put_response_hop_limit"), int | float)
                else None,
                "HttpProtocolIpv6": metadata.get("http_protocol_ipv6"),
                "InstanceMetadataTags": metadata.get("instance_metadata_tags"),
            }
        )
    mappings = []
    for mapping in planned.get("block_device_mappings") or []:
        ebs = one(mapping.get("ebs"))
        mappings.append(
            drop_none(
                {
                    "DeviceName": mapping.get("device_name"),
                    "NoDevice": mapping.get("no_device"),
                    "VirtualName": mapping.get("virtual_name"),
                    "Ebs": drop_none(
                        {
                            "DeleteOnTermination": _bool_text(ebs.get("delete_on_termination")),
                            "Encrypted": _bool_text(ebs.get("encrypted")),
                            "Iops": ebs.get("iops") if isinstance(ebs.get("iops"), int) else None,
                            "KmsKeyId": ebs.get("kms_key_id"),
                            "SnapshotId": ebs.get("snapshot_id"),
                            "Throughput": ebs.get("throughput")
                            if isinstance(ebs.get("throughput"), int)
                            else None,
                            "VolumeSize": int(ebs["volume_size"])
                            if isinstance(ebs.get("volume_size"), int | float)
                            else None,
                            "VolumeType": ebs.get("volume_type")
                            if isinstance(ebs.get("volume_type"), str)
                            else None,
                        }
                    )
                    if ebs
                    else None,
                }
            )
        )
    if mappings:
        data["BlockDeviceMappings"] = mappings
    specifications = [
        {"ResourceType": s["resource_type"], "Tags": tag_list(s.get("tags") or {})}
        for s in planned.get("tag_specifications") or []
    ]
    if specifications:
        data["TagSpecifications"] = specifications
    profile = one(planned.get("iam_instance_profile"))
    if profile:
        data["IamInstanceProfile"] = drop_none(
            {"Arn": profile.get("arn"), "Name": profile.get("name")}
        )
    monitoring = one(planned.get("monitoring"))
    if monitoring:
        data["Monitoring"] = {"Enabled": bool(monitoring.get("enabled"))}
    return data


def _state_from_data(state: State, data: dict[str, Any]) -> State:
    metadata = data.get("MetadataOptions")
    profile = data.get("IamInstanceProfile")
    monitoring = data.get("Monitoring")
    return {
        "image_id": data.get("ImageId"),
        "instance_type": data.get("InstanceType"),
        "key_name": data.get("KeyName"),
        "user_data": data.get("UserData"),
        "kernel_id": data.get("KernelId"),
        "ram_disk_id": data.get("RamDiskId"),
        "instance_initiated_shutdown_behavior": data.get("InstanceInitiatedShutdownBehavior"),
        "ebs_optimized": _text_bool(data.get("EbsOptimized")) or state.get("ebs_optimized"),
        "disable_api_stop": data.get("DisableApiStop", state.get("disable_api_stop")),
        "disable_api_termination": data.get(
            "DisableApiTermination", state.get("disable_api_termination")
        ),
        "vpc_security_group_ids": sorted(data["SecurityGroupIds"])
        if data.get("SecurityGroupIds")
        else None,
        "security_group_names": sorted(data["SecurityGroups"])
        if data.get("SecurityGroups")
        else None,
        "metadata_options": [
            {
                "http_endpoint": metadata.get("HttpEndpoint"),
                "http_tokens": metadata.get("HttpTokens"),
                "http_put_response_hop_limit": metadata.get("HttpPutResponseHopLimit"),
                "http_protocol_ipv6": metadata.get("HttpProtocolIpv6"),
                "instance_metadata_tags": metadata.get("InstanceMetadataTags"),
            }
        ]
        if metadata
        else [],
        "block_device_mappings": [
            {
                "device_name": m.get("DeviceName"),
                "no_device": m.get("NoDevice"),
                "virtual_name": m.get("VirtualName"),
                "ebs": [
                    {
                        "delete_on_termination": _text_bool(m["Ebs"].get("DeleteOnTermination"))
                        or None,
                        "encrypted": _text_bool(m["Ebs"].get("Encrypted")) or None,
                        "iops": m["Ebs"].get("Iops", 0),
                        "kms_key_id": m["Ebs"].get("KmsKeyId"),
                        "snapshot_id": m["Ebs"].get("SnapshotId"),
                        "throughput": m["Ebs"].get("Throughput", 0),
                        "volume_size": m["Ebs"].get("VolumeSize", 0),
                        "volume_type": m["Ebs"].get("VolumeType", ""),
                    }
                ]
                if m.get("Ebs")
                else [],
            }
            for m in data.get("BlockDeviceMappings") or []
        ],
        "tag_specifications": [
            {"resource_type": s["ResourceType"], "tags": tag_dict(s.get("Tags")) or None}
            for s in data.get("TagSpecifications") or []
            # moto files the template's own tags (CreateLaunchTemplate's) with the data's.
            if s.get("ResourceType") != "launch-template"
        ],
        "iam_instance_profile": [{"arn": profile.get("Arn"), "name": profile.get("Name")}]
        if profile
        else [],
        "monitoring": [{"enabled": bool(monitoring.get("Enabled"))}] if monitoring else [],
    }


class LaunchTemplate(Ec2Resource):
    type_name = "aws_launch_template"
    resource_type = "launch-template"

    def create(self, planned: State, config: State) -> State:
        name, prefix = name_from(planned)
        arguments: dict[str, Any] = {
            "LaunchTemplateName": name,
            "LaunchTemplateData": _template_data(planned),
            "TagSpecifications": self.tag_specifications(planned),
        }
        if isinstance(planned.get("description"), str):
            arguments["VersionDescription"] = planned["description"]
        template = self.client("ec2").create_launch_template(**arguments)["LaunchTemplate"]
        state = {**planned, "id": template["LaunchTemplateId"], "name_prefix": prefix}
        return self.read(state) or {}

    def read(self, state: State) -> State | None:
        ec2 = self.client("ec2")
        found = missing(
            lambda: ec2.describe_launch_templates(LaunchTemplateIds=[state["id"]]),
            "InvalidLaunchTemplateId.NotFound",
            "InvalidLaunchTemplateId.Malformed",
        )
        templates = found["LaunchTemplates"] if found else []
        if not templates:
            return None
        template = templates[0]
        latest = template["LatestVersionNumber"]
        version = ec2.describe_launch_template_versions(
            LaunchTemplateId=template["LaunchTemplateId"], Versions=[str(latest)]
        )["LaunchTemplateVersions"][0]
        state = {
            **state,
            **_state_from_data(state, version.get("LaunchTemplateData", {})),
            "id": template["LaunchTemplateId"],
            "arn": self.ec2_arn("launch-template", template["LaunchTemplateId"]),
            "name": template["LaunchTemplateName"],
            "name_prefix": name_prefix_of(state),
            "description": version.get("VersionDescription"),
            "latest_version": latest,
            "default_version": template["DefaultVersionNumber"],
        }
        return self.tagged_state(state, template)

    def update(self, prior: State, planned: State, config: State) -> State:
        ec2 = self.client("ec2")
        template_keys = set(self.schema.block.blocks) | {
            "image_id",
            "instance_type",
            "key_name",
            "user_data",
            "ebs_optimized",
            "vpc_security_group_ids",
            "security_group_names",
            "disable_api_stop",
            "disable_api_termination",
            "kernel_id",
            "ram_disk_id",
            "instance_initiated_shutdown_behavior",
            "description",
        }
        if any(planned.get(k) != prior.get(k) for k in template_keys):
            arguments: dict[str, Any] = {
                "LaunchTemplateId": prior["id"],
                "LaunchTemplateData": _template_data(planned),
            }
            if isinstance(planned.get("description"), str):
                arguments["VersionDescription"] = planned["description"]
            version = ec2.create_launch_template_version(**arguments)["LaunchTemplateVersion"]
            if planned.get("update_default_version"):
                ec2.modify_launch_template(
                    LaunchTemplateId=prior["id"],
                    DefaultVersion=str(version["VersionNumber"]),
                )
        elif isinstance(planned.get("default_version"), int | float) and planned.get(
            "default_version"
        ) != prior.get("default_version"):
            ec2.modify_launch_template(
                LaunchTemplateId=prior["id"], DefaultVersion=str(int(planned["default_version"]))
            )
        self.update_tags(prior["id"], prior, planned)
        return self.read(planned) or {}

    def plan(self, planned: State, prior: State | None, config: State) -> State:
        planned = super().plan(planned, prior, config)
        if prior is not None:
            changed = any(
                planned.get(k) != prior.get(k)
                for k in planned
                if k not in ("tags", "tags_all", "latest_version", "default_version")
            )
            if changed:
                planned["latest_version"] = UNKNOWN
                if planned.get("update_default_version") and config.get("default_version") is None:
                    planned["default_version"] = UNKNOWN
        return planned

    def delete(self, prior: State) -> None:
        self.client("ec2").delete_launch_template(LaunchTemplateId=prior["id"])
