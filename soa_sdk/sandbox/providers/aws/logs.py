"""CloudWatch Logs log groups, and the VPC flow logs that deliver to them (EC2 API).

``aws_cloudwatch_log_group`` as the real provider has it: ``CreateLogGroup`` (with its KMS
key and tags), ``PutRetentionPolicy`` (0: never expire, ``DeleteRetentionPolicy``),
``AssociateKmsKey`` / ``DisassociateKmsKey`` in place; its ``arn`` without the ``:*`` that
``DescribeLogGroups`` appends. ``aws_flow_log``: ``CreateFlowLogs`` for one VPC, subnet or
network interface; every argument replaces it.

Left out: ``skip_destroy`` (the group is always deleted), data protection policies, flow logs
to S3 with ``destination_options`` (accepted, not sent).
"""

from __future__ import annotations

from typing import Any

from soa_sdk.sandbox.providers.aws.base import AwsResource
from soa_sdk.sandbox.providers.aws.common import missing
from soa_sdk.sandbox.providers.aws.ec2_common import Ec2Resource, name_from, name_prefix_of
from soa_sdk.sandbox.providers.framework import State


class LogGroup(AwsResource):
    type_name = "aws_cloudwatch_log_group"
    tagged = True

    def create(self, planned: State, config: State) -> State:
        logs = self.client("logs")
        name, prefix = name_from(planned)
        arguments: dict[str, Any] = {"logGroupName": name}
        if planned.get("tags_all"):
            arguments["tags"] = planned["tags_all"]
        if isinstance(planned.get("kms_key_id"), str):
            arguments["kmsKeyId"] = planned["kms_key_id"]
        if isinstance(planned.get("log_group_class"), str):
            arguments["logGroupClass"] = planned["log_group_class"]
        logs.create_log_group(**arguments)
        self.made({**planned, "id": name, "name_prefix": prefix})
        if planned.get("retention_in_days"):
            logs.put_retention_policy(
                logGroupName=name, retentionInDays=int(planned["retention_in_days"])
            )
        return self.read({**planned, "id": name, "name_prefix": prefix}) or {}

    def read(self, state: State) -> State | None:
        logs = self.client("logs")
        groups = logs.describe_log_groups(logGroupNamePrefix=state["id"])["logGroups"]
        group = next((g for g in groups if g["logGroupName"] == state["id"]), None)
        if group is None:
            return None
        arn = group["arn"].removesuffix(":*")
        tags = logs.list_tags_for_resource(resourceArn=arn).get("tags", {})
        state = {
            **state,
            "id": group["logGroupName"],
            "name": group["logGroupName"],
            "name_prefix": name_prefix_of(state),
            "arn": arn,
            "retention_in_days": group.get("retentionInDays", 0),
            "kms_key_id": group.get("kmsKeyId") or None,
            "log_group_class": group.get("logGroupClass", "STANDARD"),
            "skip_destroy": bool(state.get("skip_destroy")),
        }
        return self.with_tags(state, tags)

    def update(self, prior: State, planned: State, config: State) -> State:
        logs, name = self.client("logs"), prior["id"]
        if planned.get("retention_in_days") != prior.get("retention_in_days"):
            if planned.get("retention_in_days"):
                logs.put_retention_policy(
                    logGroupName=name, retentionInDays=int(planned["retention_in_days"])
                )
            else:
                logs.delete_retention_policy(logGroupName=name)
        if planned.get("kms_key_id") != prior.get("kms_key_id"):
            if planned.get("kms_key_id"):
                logs.associate_kms_key(logGroupName=name, kmsKeyId=planned["kms_key_id"])
            else:
                logs.disassociate_kms_key(logGroupName=name)
        old, new = prior.get("tags_all") or {}, planned.get("tags_all") or {}
        removed = [k for k in old if k not in new]
        if removed:
            logs.untag_resource(resourceArn=prior["arn"], tagKeys=removed)
        changed = {k: v for k, v in new.items() if old.get(k) != v}
        if changed:
            logs.tag_resource(resourceArn=prior["arn"], tags=changed)
        return self.read(planned) or {}

    def delete(self, prior: State) -> None:
        missing(
            lambda: self.client("logs").delete_log_group(logGroupName=prior["id"]),
            "ResourceNotFoundException",
        )


_FLOW_LOG_SOURCES = (
    ("vpc_id", "VPC"),
    ("subnet_id", "Subnet"),
    ("eni_id", "NetworkInterface"),
    ("transit_gateway_id", "TransitGateway"),
    ("transit_gateway_attachment_id", "TransitGatewayAttachment"),
)


class FlowLog(Ec2Resource):
    type_name = "aws_flow_log"
    resource_type = "vpc-flow-log"

    def create(self, planned: State, config: State) -> State:
        source, kind = next(
            (planned[name], kind)
            for name, kind in _FLOW_LOG_SOURCES
            if isinstance(planned.get(name), str)
        )
        arguments: dict[str, Any] = {
            "ResourceIds": [source],
            "ResourceType": kind,
            "LogDestinationType": planned.get("log_destination_type") or "cloud-watch-logs",
            "MaxAggregationInterval": int(planned.get("max_aggregation_interval") or 600),
            "TagSpecifications": self.tag_specifications(planned),
        }
        if planned.get("traffic_type"):
            arguments["TrafficType"] = planned["traffic_type"]
        for name, key in (
            ("log_destination", "LogDestination"),
            ("log_group_name", "LogGroupName"),
            ("iam_role_arn", "DeliverLogsPermissionArn"),
            ("deliver_cross_account_role", "DeliverCrossAccountRole"),
            ("log_format", "LogFormat"),
        ):
            if isinstance(planned.get(name), str):
                arguments[key] = planned[name]
        reply = self.client("ec2").create_flow_logs(**arguments)
        if reply.get("Unsuccessful"):
            error = reply["Unsuccessful"][0].get("Error", {})
            raise RuntimeError(f"{error.get('Code')}: {error.get('Message')}")
        return self.read({**planned, "id": reply["FlowLogIds"][0]}) or {}

    def read(self, state: State) -> State | None:
        ec2 = self.client("ec2")
        found = ec2.describe_flow_logs(FlowLogIds=[state["id"]])["FlowLogs"]
        if not found:
            return None
        flow = found[0]
        source = flow.get("ResourceId", "")
        state = {
            **state,
            "id": flow["FlowLogId"],
            "arn": self.ec2_arn("vpc-flow-log", flow["FlowLogId"]),
            "traffic_type": flow.get("TrafficType"),
            "log_destination_type": flow.get("LogDestinationType", "cloud-watch-logs"),
            "log_destination": flow.get("LogDestination") or state.get("log_destination"),
            "log_group_name": flow.get("LogGroupName") or "",
            "iam_role_arn": flow.get("DeliverLogsPermissionArn") or state.get("iam_role_arn"),
            "log_format": flow.get("LogFormat"),
            "max_aggregation_interval": flow.get("MaxAggregationInterval", 600),
        }
        for name, _ in _FLOW_LOG_SOURCES:
            prefix = {"vpc_id": "vpc-", "subnet_id": "subnet-", "eni_id": "eni-"}.get(name)
            if prefix and source.startswith(prefix):
                state[name] = source
        return self.tagged_state(state, flow)

    def delete(self, prior: State) -> None:
        self.client("ec2").delete_flow_logs(FlowLogIds=[prior["id"]])
