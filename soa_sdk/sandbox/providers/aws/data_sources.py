"""Data sources: partition, caller identity, region, IAM policy documents, zones, SSM parameters."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from soa_sdk.sandbox.providers.framework import (
    DataSource,
    ProviderError,
    State,
)


class Partition(DataSource):
    type_name = "aws_partition"

    def read(self, config: State) -> State:
        return {
            "id": "aws",
            "partition": "aws",
            "dns_suffix": "amazonaws.com",
            "reverse_dns_prefix": "com.amazonaws",
        }


class CallerIdentity(DataSource):
    type_name = "aws_caller_identity"

    def read(self, config: State) -> State:
        identity = self.provider.client("sts").get_caller_identity()
        return {
            "id": identity["Account"],
            "account_id": identity["Account"],
            "arn": identity["Arn"],
            "user_id": identity["UserId"],
        }


class Region(DataSource):
    type_name = "aws_region"

    def read(self, config: State) -> State:
        region = self.provider.region
        return {
            "id": region,
            "name": region,
            "region": region,
            "endpoint": f"ec2.{region}.amazonaws.com",
            "description": region,
        }


def _one_or_list(values: list[str]) -> str | list[str]:
    ordered = sorted(set(values))
    return ordered[0] if len(ordered) == 1 else ordered


class PolicyDocument(DataSource):
    """``aws_iam_policy_document``: the JSON the real data source renders (single values as
    strings, several as a list; ``principals { type = "*" identifiers = ["*"] }`` as
    ``"Principal": "*"``). Left out: ``source_policy_documents`` and
    ``override_policy_documents`` merging (not used by the monorepo)."""

    type_name = "aws_iam_policy_document"

    def read(self, config: State) -> State:
        if config.get("source_policy_documents") or config.get("override_policy_documents"):
            raise ProviderError("source/override_policy_documents are not supported here")
        statements = []
        for statement in config.get("statement") or []:
            rendered: dict[str, Any] = {}
            if statement.get("sid"):
                rendered["Sid"] = statement["sid"]
            rendered["Effect"] = statement.get("effect") or "Allow"
            for name, key in (
                ("actions", "Action"),
                ("not_actions", "NotAction"),
                ("resources", "Resource"),
                ("not_resources", "NotResource"),
            ):
                if statement.get(name):
                    rendered[key] = _one_or_list(statement[name])
            for name, key in (("principals", "Principal"), ("not_principals", "NotPrincipal")):
                principals = statement.get(name) or []
                if not principals:
                    continue
                if any(p["type"] == "*" for p in principals):
                    rendered[key] = "*"
                    continue
                grouped: dict[str, list[str]] = {}
                for principal in principals:
                    grouped.setdefault(principal["type"], []).extend(principal["identifiers"])
                rendered[key] = {t: _one_or_list(ids) for t, ids in sorted(grouped.items())}
            conditions: dict[str, dict[str, Any]] = {}
            for condition in statement.get("condition") or []:
                values = condition["values"]
                conditions.setdefault(condition["test"], {})[condition["variable"]] = (
                    values[0] if len(values) == 1 else values
                )
            if conditions:
                rendered["Condition"] = conditions
            statements.append(rendered)
        document: dict[str, Any] = {"Version": config.get("version") or "2012-10-17"}
        if config.get("policy_id"):
            document["Id"] = config["policy_id"]
        document["Statement"] = statements
        text = json.dumps(document, indent=2)
        return {
            **config,
            "json": text,
            "minified_json": json.dumps(document, separators=(",", ":")),
            "id": str(int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)),
        }


class AvailabilityZones(DataSource):
    """``aws_availability_zones``: ``DescribeAvailabilityZones`` in the provider's region,
    ``state`` and ``filter`` sent as the API's filters, ``exclude_*`` applied after, names in
    the API's order (sorted), as the real data source has them."""

    type_name = "aws_availability_zones"

    def read(self, config: State) -> State:
        filters = [
            {"Name": f["name"], "Values": sorted(f["values"])} for f in config.get("filter") or []
        ]
        if config.get("state"):
            filters.append({"Name": "state", "Values": [config["state"]]})
        arguments: dict[str, Any] = {"Filters": filters}
        if config.get("all_availability_zones"):
            arguments["AllAvailabilityZones"] = True
        zones = self.provider.client("ec2").describe_availability_zones(**arguments)[
            "AvailabilityZones"
        ]
        excluded_names = set(config.get("exclude_names") or [])
        excluded_ids = set(config.get("exclude_zone_ids") or [])
        zones = sorted(
            (
                z
                for z in zones
                if z["ZoneName"] not in excluded_names and z.get("ZoneId") not in excluded_ids
            ),
            key=lambda z: z["ZoneName"],
        )
        return {
            **config,
            "id": self.provider.region,
            "names": [z["ZoneName"] for z in zones],
            "zone_ids": [z.get("ZoneId", "") for z in zones],
            "group_names": sorted({z.get("GroupName", self.provider.region) for z in zones}),
        }


class SsmParameter(DataSource):
    """``aws_ssm_parameter``: ``GetParameter`` (decrypted unless ``with_decryption`` is false),
    ``value`` sensitive and ``insecure_value`` only for a parameter that is not a
    SecureString, as the real data source has them."""

    type_name = "aws_ssm_parameter"

    def read(self, config: State) -> State:
        decrypt = config.get("with_decryption") is not False
        parameter = self.provider.client("ssm").get_parameter(
            Name=config["name"], WithDecryption=decrypt
        )["Parameter"]
        secure = parameter.get("Type") == "SecureString"
        return {
            **config,
            "id": parameter["Name"],
            "arn": parameter.get("ARN"),
            "type": parameter.get("Type"),
            "value": parameter["Value"],
            "insecure_value": None if secure else parameter["Value"],
            "version": parameter.get("Version"),
        }
