"""CloudTrail: trails."""

from __future__ import annotations

from typing import Any

from soa_sdk.sandbox.providers.aws.base import AwsResource
from soa_sdk.sandbox.providers.aws.common import missing, tag_dict, tag_list
from soa_sdk.sandbox.providers.framework import (
    State,
)


class Trail(AwsResource):
    type_name = "aws_cloudtrail"
    tagged = True

    def _arguments(self, planned: State) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "Name": planned["name"],
            "S3BucketName": planned["s3_bucket_name"],
            "IncludeGlobalServiceEvents": bool(planned.get("include_global_service_events")),
            "IsMultiRegionTrail": bool(planned.get("is_multi_region_trail")),
            "EnableLogFileValidation": bool(planned.get("enable_log_file_validation")),
            "IsOrganizationTrail": bool(planned.get("is_organization_trail")),
        }
        for name, key in (
            ("s3_key_prefix", "S3KeyPrefix"),
            ("kms_key_id", "KmsKeyId"),
            ("sns_topic_name", "SnsTopicName"),
            ("cloud_watch_logs_group_arn", "CloudWatchLogsLogGroupArn"),
            ("cloud_watch_logs_role_arn", "CloudWatchLogsRoleArn"),
        ):
            if planned.get(name):
                arguments[key] = planned[name]
        return arguments

    def create(self, planned: State, config: State) -> State:
        cloudtrail = self.client("cloudtrail")
        arguments = self._arguments(planned)
        tags = planned.get("tags_all") or {}
        if tags:
            arguments["TagsList"] = tag_list(tags)
        trail = cloudtrail.create_trail(**arguments)
        self.made({**planned, "id": planned["name"]})
        if planned.get("enable_logging", True):
            cloudtrail.start_logging(Name=trail["TrailARN"])
        return self.read({**planned, "id": planned["name"]}) or {}

    def read(self, state: State) -> State | None:
        cloudtrail = self.client("cloudtrail")
        found = missing(lambda: cloudtrail.get_trail(Name=state["id"]), "TrailNotFoundException")
        if found is None:
            return None
        trail = found["Trail"]
        status = cloudtrail.get_trail_status(Name=trail["TrailARN"])
        tags = cloudtrail.list_tags(ResourceIdList=[trail["TrailARN"]])["ResourceTagList"]
        state = {
            **state,
            "id": trail["Name"],
            "name": trail["Name"],
            "arn": trail["TrailARN"],
            "home_region": trail.get("HomeRegion"),
            "s3_bucket_name": trail["S3BucketName"],
            "s3_key_prefix": trail.get("S3KeyPrefix"),
            "kms_key_id": trail.get("KmsKeyId"),
            "include_global_service_events": trail.get("IncludeGlobalServiceEvents", False),
            "is_multi_region_trail": trail.get("IsMultiRegionTrail", False),
            "is_organization_trail": trail.get("IsOrganizationTrail", False),
            "enable_log_file_validation": trail.get("LogFileValidationEnabled", False),
            "enable_logging": bool(status.get("IsLogging")),
            "sns_topic_name": trail.get("SnsTopicName"),
            "sns_topic_arn": trail.get("SnsTopicARN"),
            "cloud_watch_logs_group_arn": trail.get("CloudWatchLogsLogGroupArn"),
            "cloud_watch_logs_role_arn": trail.get("CloudWatchLogsRoleArn"),
            "region": self.provider.region,
        }
        return self.with_tags(state, tag_dict(tags[0].get("TagsList") if tags else []))

    def update(self, prior: State, planned: State, config: State) -> State:
        cloudtrail = self.client("cloudtrail")
        cloudtrail.update_trail(**self._arguments(planned))
        if planned.get("enable_logging") != prior.get("enable_logging"):
            if planned.get("enable_logging"):
                cloudtrail.start_logging(Name=prior["arn"])
            else:
                cloudtrail.stop_logging(Name=prior["arn"])
        old, new = prior.get("tags_all") or {}, planned.get("tags_all") or {}
        removed = [{"Key": k} for k in old if k not in new]
        if removed:
            cloudtrail.remove_tags(ResourceId=prior["arn"], TagsList=removed)
        changed = {k: v for k, v in new.items() if old.get(k) != v}
        if changed:
            cloudtrail.add_tags(ResourceId=prior["arn"], TagsList=tag_list(changed))
        return self.read(planned) or {}

    def delete(self, prior: State) -> None:
        self.client("cloudtrail").delete_trail(Name=prior["id"])
