"""CloudFront's origin access controls, response headers policies and managed policies.

``aws_cloudfront_origin_access_control``: ``CreateOriginAccessControl``, read with
``GetOriginAccessControl`` (its ``ETag`` is the ``etag``), every argument updated in place
(``UpdateOriginAccessControl`` with ``If-Match``), as the real provider does.
``aws_cloudfront_response_headers_policy``: ``CreateResponseHeadersPolicy``, read and updated
in place with ``If-Match`` the same way; the security headers, custom headers and removed
headers blocks and the server-timing header. ``data.aws_cloudfront_cache_policy`` and
``data.aws_cloudfront_origin_request_policy``: by ``id`` (``Get*Policy``) or by ``name``
(``List*Policies``, managed and custom), as the real data sources find them.

Left out: ``cors_config`` of response headers policies, and the data sources' nested
configurations (``parameters_in_cache_key_and_forwarded_to_origin``, ``headers_config``...):
this lab's modules only take the policies' ids.
"""

from __future__ import annotations

from typing import Any

from soa_sdk.sandbox.providers.aws.base import AwsResource
from soa_sdk.sandbox.providers.aws.common import missing, one
from soa_sdk.sandbox.providers.framework import DataSource, ProviderError, State

NOT_FOUND = ("NoSuchOriginAccessControl", "NoSuchResponseHeadersPolicy", "NoSuchCachePolicy")


class OriginAccessControl(AwsResource):
    type_name = "aws_cloudfront_origin_access_control"

    @staticmethod
    def _config(planned: State) -> dict[str, Any]:
        return {
            "Name": planned["name"],
            "Description": planned.get("description") or "",
            "SigningProtocol": planned["signing_protocol"],
            "SigningBehavior": planned["signing_behavior"],
            "OriginAccessControlOriginType": planned["origin_access_control_origin_type"],
        }

    def create(self, planned: State, config: State) -> State:
        reply = self.client("cloudfront").create_origin_access_control(
            OriginAccessControlConfig=self._config(planned)
        )
        return self.read({**planned, "id": reply["OriginAccessControl"]["Id"]}) or {}

    def read(self, state: State) -> State | None:
        reply = missing(
            lambda: self.client("cloudfront").get_origin_access_control(Id=state["id"]),
            *NOT_FOUND,
        )
        if reply is None:
            return None
        config = reply["OriginAccessControl"]["OriginAccessControlConfig"]
        return {
            **state,
            "id": reply["OriginAccessControl"]["Id"],
            "arn": f"arn:aws:cloudfront::{self.provider.account_id}:origin-access-control/"
            + reply["OriginAccessControl"]["Id"],
            "etag": reply.get("ETag"),
            "name": config["Name"],
            "description": config.get("Description", ""),
            "signing_protocol": config["SigningProtocol"],
            "signing_behavior": config["SigningBehavior"],
            "origin_access_control_origin_type": config["OriginAccessControlOriginType"],
        }

    def update(self, prior: State, planned: State, config: State) -> State:
        cloudfront = self.client("cloudfront")
        etag = cloudfront.get_origin_access_control(Id=prior["id"])["ETag"]
        cloudfront.update_origin_access_control(
            Id=prior["id"], IfMatch=etag, OriginAccessControlConfig=self._config(planned)
        )
        return self.read({**planned, "id": prior["id"]}) or {}

    def delete(self, prior: State) -> None:
        cloudfront = self.client("cloudfront")
        found = missing(lambda: cloudfront.get_origin_access_control(Id=prior["id"]), *NOT_FOUND)
        if found is not None:
            cloudfront.delete_origin_access_control(Id=prior["id"], IfMatch=found["ETag"])


# --- response headers policies: Terraform's blocks <-> the API's ResponseHeadersPolicyConfig --

_SECURITY = {
    # block: (API key, {argument: API field})
    "content_security_policy": (
        "ContentSecurityPolicy",
        {"content_security_policy": "ContentSecurityPolicy", "override": "Override"},
    ),
    "content_type_options": ("ContentTypeOptions", {"override": "Override"}),
    "frame_options": ("FrameOptions", {"frame_option": "FrameOption", "override": "Override"}),
    "referrer_policy": (
        "ReferrerPolicy",
        {"referrer_policy": "ReferrerPolicy", "override": "Override"},
    ),
    "strict_transport_security": (
        "StrictTransportSecurity",
        {
            "access_control_max_age_sec": "AccessControlMaxAgeSec",
            "include_subdomains": "IncludeSubdomains",
            "override": "Override",
            "preload": "Preload",
        },
    ),
    "xss_protection": (
        "XSSProtection",
        {
            "mode_block": "ModeBlock",
            "override": "Override",
            "protection": "Protection",
            "report_uri": "ReportUri",
        },
    ),
}
_NUMBERS = {"access_control_max_age_sec"}


def _headers_config(planned: State) -> dict[str, Any]:
    config: dict[str, Any] = {"Name": planned["name"]}
    if planned.get("comment"):
        config["Comment"] = planned["comment"]
    security = one(planned.get("security_headers_config"))
    if security is not None:
        section: dict[str, Any] = {}
        for block, (key, fields) in _SECURITY.items():
            value = one(security.get(block))
            if value is not None:
                section[key] = {
                    api: int(value[arg]) if arg in _NUMBERS else value[arg]
                    for arg, api in fields.items()
                    if value.get(arg) is not None
                }
        config["SecurityHeadersConfig"] = section
    custom = one(planned.get("custom_headers_config"))
    if custom is not None:
        items = [
            {"Header": i["header"], "Value": i["value"], "Override": i["override"]}
            for i in custom.get("items") or []
        ]
        config["CustomHeadersConfig"] = {"Quantity": len(items), "Items": items}
    removed = one(planned.get("remove_headers_config"))
    if removed is not None:
        items = [{"Header": i["header"]} for i in removed.get("items") or []]
        config["RemoveHeadersConfig"] = {"Quantity": len(items), "Items": items}
    timing = one(planned.get("server_timing_headers_config"))
    if timing is not None:
        config["ServerTimingHeadersConfig"] = {
            "Enabled": timing["enabled"],
            "SamplingRate": float(timing["sampling_rate"]),
        }
    return config


def _headers_state(config: dict[str, Any]) -> State:
    state: State = {
        "name": config["Name"],
        "comment": config.get("Comment") or None,
        "security_headers_config": [],
        "custom_headers_config": [],
        "remove_headers_config": [],
        "server_timing_headers_config": [],
    }
    security = config.get("SecurityHeadersConfig")
    if security:
        state["security_headers_config"] = [
            {
                block: [{arg: security[key].get(api) for arg, api in fields.items()}]
                if key in security
                else []
                for block, (key, fields) in _SECURITY.items()
            }
        ]
    for block, key, fields in (
        ("custom_headers_config", "CustomHeadersConfig", ("header", "value", "override")),
        ("remove_headers_config", "RemoveHeadersConfig", ("header",)),
    ):
        if key in config:
            items = [
                {f: i.get(f.capitalize()) for f in fields} for i in config[key].get("Items") or []
            ]
            state[block] = [{"items": items}]
    timing = config.get("ServerTimingHeadersConfig")
    if timing:
        state["server_timing_headers_config"] = [
            {"enabled": timing["Enabled"], "sampling_rate": timing.get("SamplingRate")}
        ]
    return state


class ResponseHeadersPolicy(AwsResource):
    type_name = "aws_cloudfront_response_headers_policy"

    def create(self, planned: State, config: State) -> State:
        reply = self.client("cloudfront").create_response_headers_policy(
            ResponseHeadersPolicyConfig=_headers_config(planned)
        )
        return self.read({**planned, "id": reply["ResponseHeadersPolicy"]["Id"]}) or {}

    def read(self, state: State) -> State | None:
        reply = missing(
            lambda: self.client("cloudfront").get_response_headers_policy(Id=state["id"]),
            *NOT_FOUND,
        )
        if reply is None:
            return None
        policy = reply["ResponseHeadersPolicy"]
        return {
            **state,
            **_headers_state(policy["ResponseHeadersPolicyConfig"]),
            "id": policy["Id"],
            "etag": reply["ETag"],
        }

    def update(self, prior: State, planned: State, config: State) -> State:
        cloudfront = self.client("cloudfront")
        etag = cloudfront.get_response_headers_policy(Id=prior["id"])["ETag"]
        cloudfront.update_response_headers_policy(
            Id=prior["id"], IfMatch=etag, ResponseHeadersPolicyConfig=_headers_config(planned)
        )
        return self.read({**planned, "id": prior["id"]}) or {}

    def delete(self, prior: State) -> None:
        cloudfront = self.client("cloudfront")
        found = missing(lambda: cloudfront.get_response_headers_policy(Id=prior["id"]), *NOT_FOUND)
        if found is not None:
            cloudfront.delete_response_headers_policy(Id=prior["id"], IfMatch=found["ETag"])


# --- data sources --------------------------------------------------------------------------


def _find(listing: dict[str, Any], kind: str, name: str) -> str | None:
    for item in listing.get("Items") or []:
        policy = item[kind]
        if policy[f"{kind}Config"]["Name"] == name:
            return str(policy["Id"])
    return None


class CachePolicyData(DataSource):
    """``data.aws_cloudfront_cache_policy``: by id, or the policy of that name."""

    type_name = "aws_cloudfront_cache_policy"

    def read(self, config: State) -> State:
        cloudfront = self.provider.client("cloudfront")  # type: ignore[attr-defined]
        policy_id = config.get("id")
        if not policy_id and config.get("name"):
            listing = cloudfront.list_cache_policies()["CachePolicyList"]
            policy_id = _find(listing, "CachePolicy", config["name"])
        if not policy_id:
            raise ProviderError(
                "no matching CloudFront cache policy", f"name {config.get('name')!r}"
            )
        reply = cloudfront.get_cache_policy(Id=policy_id)
        policy = reply["CachePolicy"]["CachePolicyConfig"]
        account = self.provider.account_id  # type: ignore[attr-defined]
        return {
            "id": policy_id,
            "name": policy["Name"],
            "arn": f"arn:aws:cloudfront::{account}:cache-policy/{policy_id}",
            "etag": reply["ETag"],
            "comment": policy.get("Comment"),
            "min_ttl": policy.get("MinTTL"),
            "default_ttl": policy.get("DefaultTTL"),
            "max_ttl": policy.get("MaxTTL"),
        }


class OriginRequestPolicyData(DataSource):
    """``data.aws_cloudfront_origin_request_policy``: by id, or the policy of that name."""

    type_name = "aws_cloudfront_origin_request_policy"

    def read(self, config: State) -> State:
        cloudfront = self.provider.client("cloudfront")  # type: ignore[attr-defined]
        policy_id = config.get("id")
        if not policy_id and config.get("name"):
            listing = cloudfront.list_origin_request_policies()["OriginRequestPolicyList"]
            policy_id = _find(listing, "OriginRequestPolicy", config["name"])
        if not policy_id:
            raise ProviderError(
                "no matching CloudFront origin request policy", f"name {config.get('name')!r}"
            )
        reply = cloudfront.get_origin_request_policy(Id=policy_id)
        policy = reply["OriginRequestPolicy"]["OriginRequestPolicyConfig"]
        return {
            "id": policy_id,
            "name": policy["Name"],
            "etag": reply["ETag"],
            "comment": policy.get("Comment"),
        }
