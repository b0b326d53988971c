"""WAFv2 web ACLs and their logging configurations.

``aws_wafv2_web_acl``: ``CreateWebACL`` (tags with it), read with ``GetWebACL`` by name, scope
and id (the real provider's id is the ACL's id; import by ``ID/NAME/SCOPE`` as the real one),
updated in place with ``UpdateWebACL`` and the current ``LockToken`` (description, default
action, rules, visibility, token domains), tags with ``TagResource`` / ``UntagResource``;
``name`` and ``scope`` replace it. Rules: the ``action`` or ``override_action`` (empty blocks),
the managed rule group and rate-based statements, visibility and rule labels.
``aws_wafv2_web_acl_logging_configuration``: ``PutLoggingConfiguration`` for one ACL (its
id is the ACL's ARN), read with ``GetLoggingConfiguration``.

Left out: the other statements (byte match, IP sets, geo, nested and/or/not, scope-down
statements, rule action overrides, managed rule group configs), custom requests and
responses, CAPTCHA and challenge configs, ``rule_json``, association config; logging's
``redacted_fields`` and ``logging_filter``.
"""

from __future__ import annotations

from typing import Any

from soa_sdk.sandbox.providers.aws.base import AwsResource
from soa_sdk.sandbox.providers.aws.common import missing, one, tag_dict, tag_list
from soa_sdk.sandbox.providers.framework import State

_ACTIONS = ("allow", "block", "captcha", "challenge", "count")


def _action(block: State | None, names: tuple[str, ...]) -> dict[str, Any] | None:
    """``{ allow {} }`` -> ``{"Allow": {}}``."""
    if block is None:
        return None
    for name in names:
        if block.get(name):
            return {name.capitalize(): {}}
    return None


def _action_state(value: dict[str, Any] | None, names: tuple[str, ...]) -> list[State]:
    if not value:
        return []
    return [{name: [{}] if name.capitalize() in value else [] for name in names}]


def _visibility(block: State | None) -> dict[str, Any]:
    block = block or {}
    return {
        "SampledRequestsEnabled": bool(block.get("sampled_requests_enabled")),
        "CloudWatchMetricsEnabled": bool(block.get("cloudwatch_metrics_enabled")),
        "MetricName": block.get("metric_name", ""),
    }


def _visibility_state(value: dict[str, Any]) -> list[State]:
    return [
        {
            "sampled_requests_enabled": value["SampledRequestsEnabled"],
            "cloudwatch_metrics_enabled": value["CloudWatchMetricsEnabled"],
            "metric_name": value["MetricName"],
        }
    ]


def _statement(block: State) -> dict[str, Any]:
    managed = one(block.get("managed_rule_group_statement"))
    if managed is not None:
        statement = {"VendorName": managed["vendor_name"], "Name": managed["name"]}
        if managed.get("version"):
            statement["Version"] = managed["version"]
        return {"ManagedRuleGroupStatement": statement}
    rate = one(block.get("rate_based_statement"))
    if rate is not None:
        return {
            "RateBasedStatement": {
                "Limit": int(rate["limit"]),
                "AggregateKeyType": rate.get("aggregate_key_type") or "IP",
                "EvaluationWindowSec": int(rate.get("evaluation_window_sec") or 300),
            }
        }
    return {}


def _statement_state(value: dict[str, Any]) -> list[State]:
    managed = value.get("ManagedRuleGroupStatement")
    rate = value.get("RateBasedStatement")
    return [
        {
            "managed_rule_group_statement": [
                {
                    "vendor_name": managed["VendorName"],
                    "name": managed["Name"],
                    "version": managed.get("Version"),
                }
            ]
            if managed
            else [],
            "rate_based_statement": [
                {
                    "limit": rate["Limit"],
                    "aggregate_key_type": rate.get("AggregateKeyType", "IP"),
                    "evaluation_window_sec": rate.get("EvaluationWindowSec", 300),
                }
            ]
            if rate
            else [],
        }
    ]


def _rule(rule: State) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Name": rule["name"],
        "Priority": int(rule["priority"]),
        "Statement": _statement(one(rule.get("statement")) or {}),
        "VisibilityConfig": _visibility(one(rule.get("visibility_config"))),
    }
    action = _action(one(rule.get("action")), _ACTIONS)
    if action is not None:
        out["Action"] = action
    override = _action(one(rule.get("override_action")), ("count", "none"))
    if override is not None:
        out["OverrideAction"] = override
    if rule.get("rule_label"):
        out["RuleLabels"] = [{"Name": label["name"]} for label in rule["rule_label"]]
    return out


def _rule_state(rule: dict[str, Any]) -> State:
    return {
        "name": rule["Name"],
        "priority": rule["Priority"],
        "action": _action_state(rule.get("Action"), _ACTIONS),
        "override_action": _action_state(rule.get("OverrideAction"), ("count", "none")),
        "statement": _statement_state(rule.get("Statement") or {}),
        "visibility_config": _visibility_state(rule["VisibilityConfig"]),
        "rule_label": [{"name": label["Name"]} for label in rule.get("RuleLabels") or []],
    }


class WebAcl(AwsResource):
    type_name = "aws_wafv2_web_acl"
    tagged = True

    def _arguments(self, planned: State) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "Name": planned["name"],
            "Scope": planned["scope"],
            "DefaultAction": _action(one(planned.get("default_action")), ("allow", "block"))
            or {"Allow": {}},
            "Rules": sorted(
                (_rule(r) for r in planned.get("rule") or []), key=lambda r: r["Priority"]
            ),
            "VisibilityConfig": _visibility(one(planned.get("visibility_config"))),
            "Description": planned.get("description") or "",
        }
        if planned.get("token_domains"):
            arguments["TokenDomains"] = sorted(planned["token_domains"])
        return arguments

    def create(self, planned: State, config: State) -> State:
        arguments = self._arguments(planned)
        if not arguments["Description"]:
            del arguments["Description"]
        if planned.get("tags_all"):
            arguments["Tags"] = tag_list(planned["tags_all"])
        summary = self.client("wafv2").create_web_acl(**arguments)["Summary"]
        return self.read({**planned, "id": summary["Id"]}) or {}

    def read(self, state: State) -> State | None:
        wafv2 = self.client("wafv2")
        reply = missing(
            lambda: wafv2.get_web_acl(Name=state["name"], Scope=state["scope"], Id=state["id"]),
            "WAFNonexistentItemException",
        )
        if reply is None:
            return None
        acl = reply["WebACL"]
        listing = wafv2.list_tags_for_resource(ResourceARN=acl["ARN"])
        tags = tag_dict((listing.get("TagInfoForResource") or {}).get("TagList"))
        state = {
            **state,
            "id": acl["Id"],
            "arn": acl["ARN"],
            "name": acl["Name"],
            "name_prefix": state.get("name_prefix"),
            "description": acl.get("Description") or None,
            "capacity": acl.get("Capacity", 0),
            "lock_token": reply["LockToken"],
            "application_integration_url": reply.get("ApplicationIntegrationURL"),
            "token_domains": acl.get("TokenDomains") or None,
            "default_action": _action_state(acl["DefaultAction"], ("allow", "block")),
            "rule": [_rule_state(r) for r in acl.get("Rules") or []],
            "visibility_config": _visibility_state(acl["VisibilityConfig"]),
        }
        return self.with_tags(state, tags)

    def import_state(self, import_id: str) -> State | None:
        acl_id, name, scope = import_id.split("/")
        return self.read({"id": acl_id, "name": name, "scope": scope, "tags": {}})

    def update(self, prior: State, planned: State, config: State) -> State:
        wafv2 = self.client("wafv2")
        current = wafv2.get_web_acl(Name=prior["name"], Scope=prior["scope"], Id=prior["id"])
        wafv2.update_web_acl(
            Id=prior["id"], LockToken=current["LockToken"], **self._arguments(planned)
        )
        old, new = prior.get("tags_all") or {}, planned.get("tags_all") or {}
        removed = [k for k in old if k not in new]
        if removed:
            wafv2.untag_resource(ResourceARN=prior["arn"], TagKeys=removed)
        changed = {k: v for k, v in new.items() if old.get(k) != v}
        if changed:
            wafv2.tag_resource(ResourceARN=prior["arn"], Tags=tag_list(changed))
        return self.read({**planned, "id": prior["id"]}) or {}

    def delete(self, prior: State) -> None:
        wafv2 = self.client("wafv2")
        current = missing(
            lambda: wafv2.get_web_acl(Name=prior["name"], Scope=prior["scope"], Id=prior["id"]),
            "WAFNonexistentItemException",
        )
        if current is not None:
            wafv2.delete_web_acl(
                Name=prior["name"],
                Scope=prior["scope"],
                Id=prior["id"],
                LockToken=current["LockToken"],
            )


class WebAclLoggingConfiguration(AwsResource):
    type_name = "aws_wafv2_web_acl_logging_configuration"

    def create(self, planned: State, config: State) -> State:
        self.client("wafv2").put_logging_configuration(
            LoggingConfiguration={
                "ResourceArn": planned["resource_arn"],
                "LogDestinationConfigs": sorted(planned["log_destination_configs"]),
            }
        )
        return self.read({**planned, "id": planned["resource_arn"]}) or {}

    def read(self, state: State) -> State | None:
        reply = missing(
            lambda: self.client("wafv2").get_logging_configuration(ResourceArn=state["id"]),
            "WAFNonexistentItemException",
        )
        if reply is None:
            return None
        found = reply["LoggingConfiguration"]
        return {
            **state,
            "id": found["ResourceArn"],
            "resource_arn": found["ResourceArn"],
            "log_destination_configs": found["LogDestinationConfigs"],
        }

    def delete(self, prior: State) -> None:
        missing(
            lambda: self.client("wafv2").delete_logging_configuration(ResourceArn=prior["id"]),
            "WAFNonexistentItemException",
        )
