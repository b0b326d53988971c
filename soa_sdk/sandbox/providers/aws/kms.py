"""KMS: keys and aliases."""

from __future__ import annotations

from typing import Any

from soa_sdk.sandbox.providers.aws.base import AwsResource
from soa_sdk.sandbox.providers.aws.common import (
    missing,
    policy_as_written,
    same_json,
    tag_dict,
    tag_list,
)
from soa_sdk.sandbox.providers.cty import UNKNOWN
from soa_sdk.sandbox.providers.framework import (
    ProviderError,
    State,
)


class KmsKey(AwsResource):
    type_name = "aws_kms_key"
    tagged = True

    def create(self, planned: State, config: State) -> State:
        kms = self.client("kms")
        arguments: dict[str, Any] = {
            "KeyUsage": planned["key_usage"],
            "KeySpec": planned["customer_master_key_spec"],
            "BypassPolicyLockoutSafetyCheck": bool(
                planned.get("bypass_policy_lockout_safety_check")
            ),
            "Tags": tag_list(planned.get("tags_all") or {}, "TagKey", "TagValue"),
        }
        if isinstance(planned.get("description"), str):
            arguments["Description"] = planned["description"]
        if isinstance(planned.get("policy"), str):
            arguments["Policy"] = planned["policy"]
        if planned.get("multi_region"):
            arguments["MultiRegion"] = True
        key = kms.create_key(**arguments)["KeyMetadata"]
        self.made({**planned, "id": key["KeyId"], "key_id": key["KeyId"]})
        if planned.get("enable_key_rotation"):
            kms.enable_key_rotation(KeyId=key["KeyId"])
        if planned.get("is_enabled") is False:
            kms.disable_key(KeyId=key["KeyId"])
        return self.read({**planned, "id": key["KeyId"], "key_id": key["KeyId"]}) or {}

    def read(self, state: State) -> State | None:
        kms = self.client("kms")
        found = missing(lambda: kms.describe_key(KeyId=state["id"]), "NotFoundException")
        if found is None or found["KeyMetadata"]["KeyState"] == "PendingDeletion":
            return None
        key = found["KeyMetadata"]
        policy = kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"]
        rotation = kms.get_key_rotation_status(KeyId=key["KeyId"])
        tags = tag_dict(kms.list_resource_tags(KeyId=key["KeyId"])["Tags"], "TagKey", "TagValue")
        state = {
            **state,
            "id": key["KeyId"],
            "key_id": key["KeyId"],
            "arn": key["Arn"],
            "description": key.get("Description", ""),
            "key_usage": key["KeyUsage"],
            "customer_master_key_spec": key.get("KeySpec", key.get("CustomerMasterKeySpec")),
            "is_enabled": key["Enabled"],
            "multi_region": bool(key.get("MultiRegion")),
            "enable_key_rotation": bool(rotation.get("KeyRotationEnabled")),
            "rotation_period_in_days": rotation.get("RotationPeriodInDays")
            or state.get("rotation_period_in_days"),
            "policy": policy_as_written(state, "policy", policy),
            "region": self.provider.region,
        }
        if state.get("rotation_period_in_days") is None and state["enable_key_rotation"]:
            state["rotation_period_in_days"] = 365
        return self.with_tags(state, tags)

    def update(self, prior: State, planned: State, config: State) -> State:
        kms, key_id = self.client("kms"), prior["id"]
        if planned.get("description") != prior.get("description"):
            kms.update_key_description(KeyId=key_id, Description=planned.get("description") or "")
        if isinstance(planned.get("policy"), str) and not same_json(
            planned["policy"], prior.get("policy")
        ):
            kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=planned["policy"])
        if planned.get("enable_key_rotation") != prior.get("enable_key_rotation"):
            if planned.get("enable_key_rotation"):
                kms.enable_key_rotation(KeyId=key_id)
            else:
                kms.disable_key_rotation(KeyId=key_id)
        if planned.get("is_enabled") != prior.get("is_enabled"):
            (kms.enable_key if planned.get("is_enabled") else kms.disable_key)(KeyId=key_id)
        old, new = prior.get("tags_all") or {}, planned.get("tags_all") or {}
        removed = [k for k in old if k not in new]
        if removed:
            kms.untag_resource(KeyId=key_id, TagKeys=removed)
        changed = {k: v for k, v in new.items() if old.get(k) != v}
        if changed:
            kms.tag_resource(KeyId=key_id, Tags=tag_list(changed, "TagKey", "TagValue"))
        return self.read(planned) or {}

    def delete(self, prior: State) -> None:
        self.client("kms").schedule_key_deletion(
            KeyId=prior["id"], PendingWindowInDays=int(prior.get("deletion_window_in_days") or 30)
        )

    def import_state(self, import_id: str) -> State | None:
        return self.read({"id": import_id, "bypass_policy_lockout_safety_check": False})


class KmsAlias(AwsResource):
    type_name = "aws_kms_alias"

    def plan(self, planned: State, prior: State | None, config: State) -> State:
        planned = super().plan(planned, prior, config)
        if planned.get("name") is UNKNOWN and config.get("name_prefix") is None:
            planned["name_prefix"] = None if prior is None else prior.get("name_prefix")
        return planned

    def create(self, planned: State, config: State) -> State:
        name = planned.get("name")
        if not isinstance(name, str):
            raise ProviderError("aws_kms_alias needs a name here (name_prefix is not supported)")
        self.client("kms").create_alias(AliasName=name, TargetKeyId=planned["target_key_id"])
        return self.read({**planned, "id": name}) or {}

    def read(self, state: State) -> State | None:
        kms = self.client("kms")
        for page in kms.get_paginator("list_aliases").paginate():
            for alias in page["Aliases"]:
                if alias["AliasName"] == state["id"] and alias.get("TargetKeyId"):
                    key = kms.describe_key(KeyId=alias["TargetKeyId"])["KeyMetadata"]
                    target = state.get("target_key_id")
                    return {
                        **state,
                        "id": alias["AliasName"],
                        "name": alias["AliasName"],
                        "name_prefix": state.get("name_prefix"),
                        "arn": alias["AliasArn"],
                        "target_key_id": target
                        if target in (key["KeyId"], key["Arn"])
                        else key["KeyId"],
                        "target_key_arn": key["Arn"],
                        "region": self.provider.region,
                    }
        return None

    def update(self, prior: State, planned: State, config: State) -> State:
        self.client("kms").update_alias(AliasName=prior["id"], TargetKeyId=planned["target_key_id"])
        return self.read(planned) or {}

    def delete(self, prior: State) -> None:
        self.client("kms").delete_alias(AliasName=prior["id"])
