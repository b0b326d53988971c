"""``aws_cloudfront_distribution``: CloudFront's ``DistributionConfig``, from and to Terraform.

Created with ``CreateDistributionWithTags`` (``CreateDistribution`` when untagged) and a
unique ``CallerReference``; read with ``GetDistribution``; updated in place
(``UpdateDistribution`` with the ``ETag`` as ``If-Match``, the same caller reference) as the
real provider does for every argument but ``staging``; tags with ``TagResource`` /
``UntagResource``. Deleted as the real provider deletes it: disabled first, then
``DeleteDistribution`` (``retain_on_delete``: only disabled). An origin without
``s3_origin_config`` or ``custom_origin_config`` is sent with an empty S3 origin config (the
API wants one of them; the real provider does the same). What the API answers empty
(``""``, no items) reads as unset, as the real provider's SDK sees it; an origin shield that
is off is no ``origin_shield`` block.

Left out: origin groups, Lambda@Edge and CloudFront Functions associations,
``forwarded_values`` (legacy cache settings: behaviours here name a cache policy), VPC origins,
continuous deployment, waiting for deployment (the sandbox's distributions are deployed at once),
``trusted_signers`` / ``trusted_key_groups`` top-level attributes.
"""

from __future__ import annotations

import uuid
from typing import Any

from soa_sdk.sandbox.providers.aws.base import AwsResource
from soa_sdk.sandbox.providers.aws.common import missing, one, tag_dict, tag_list, timestamp
from soa_sdk.sandbox.providers.framework import State

HOSTED_ZONE_ID = "Z2FDTNDATAQYW2"
"""Route 53's hosted zone of every CloudFront distribution (for alias records)."""


def _items(values: list[Any] | None) -> dict[str, Any]:
    values = list(values or [])
    return {"Quantity": len(values), "Items": values} if values else {"Quantity": 0}


def _empty(value: Any) -> Any:
    """What the API answers as "" or no items reads as unset."""
    return value if value not in ("", [], None) else None


# --- Terraform -> API --------------------------------------------------------------------


def _origin(origin: State) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Id": origin["origin_id"],
        "DomainName": origin["domain_name"],
        "OriginPath": origin.get("origin_path") or "",
        "ConnectionAttempts": int(origin.get("connection_attempts") or 3),
        "ConnectionTimeout": int(origin.get("connection_timeout") or 10),
        "CustomHeaders": _items(
            [
                {"HeaderName": h["name"], "HeaderValue": h["value"]}
                for h in origin.get("custom_header") or []
            ]
        ),
    }
    if origin.get("origin_access_control_id"):
        out["OriginAccessControlId"] = origin["origin_access_control_id"]
    custom = one(origin.get("custom_origin_config"))
    s3 = one(origin.get("s3_origin_config"))
    if custom is not None:
        out["CustomOriginConfig"] = {
            "HTTPPort": int(custom["http_port"]),
            "HTTPSPort": int(custom["https_port"]),
            "OriginProtocolPolicy": custom["origin_protocol_policy"],
            "OriginSslProtocols": _items(sorted(custom["origin_ssl_protocols"])),
            "OriginReadTimeout": int(custom.get("origin_read_timeout") or 30),
            "OriginKeepaliveTimeout": int(custom.get("origin_keepalive_timeout") or 5),
        }
    else:
        identity = s3["origin_access_identity"] if s3 else ""
        out["S3OriginConfig"] = {"OriginAccessIdentity": identity}
    shield = one(origin.get("origin_shield"))
    if shield is not None:
        out["OriginShield"] = {"Enabled": shield["enabled"]}
        if shield.get("origin_shield_region"):
            out["OriginShield"]["OriginShieldRegion"] = shield["origin_shield_region"]
    return out


def _behaviour(behaviour: State) -> dict[str, Any]:
    out: dict[str, Any] = {
        "TargetOriginId": behaviour["target_origin_id"],
        "ViewerProtocolPolicy": behaviour["viewer_protocol_policy"],
        "AllowedMethods": {
            **_items(sorted(behaviour["allowed_methods"])),
            "CachedMethods": _items(sorted(behaviour["cached_methods"])),
        },
        "Compress": bool(behaviour.get("compress")),
        "SmoothStreaming": bool(behaviour.get("smooth_streaming")),
        "FieldLevelEncryptionId": behaviour.get("field_level_encryption_id") or "",
        "TrustedSigners": {"Enabled": False, **_items(behaviour.get("trusted_signers"))},
        "TrustedKeyGroups": {"Enabled": False, **_items(behaviour.get("trusted_key_groups"))},
        "LambdaFunctionAssociations": {"Quantity": 0},
        "FunctionAssociations": {"Quantity": 0},
    }
    if behaviour.get("path_pattern"):
        out["PathPattern"] = behaviour["path_pattern"]
    for argument, key in (
        ("cache_policy_id", "CachePolicyId"),
        ("origin_request_policy_id", "OriginRequestPolicyId"),
        ("response_headers_policy_id", "ResponseHeadersPolicyId"),
        ("realtime_log_config_arn", "RealtimeLogConfigArn"),
    ):
        if behaviour.get(argument):
            out[key] = behaviour[argument]
    if not behaviour.get("cache_policy_id"):
        for argument, key in (
            ("min_ttl", "MinTTL"),
            ("default_ttl", "DefaultTTL"),
            ("max_ttl", "MaxTTL"),
        ):
            if behaviour.get(argument) is not None:
                out[key] = int(behaviour[argument])
    return out


def distribution_config(planned: State, caller_reference: str) -> dict[str, Any]:
    """The ``DistributionConfig`` that ``planned`` declares."""
    certificate = one(planned.get("viewer_certificate")) or {}
    viewer: dict[str, Any] = {
        "CloudFrontDefaultCertificate": bool(certificate.get("cloudfront_default_certificate")),
        "MinimumProtocolVersion": certificate.get("minimum_protocol_version") or "TLSv1",
    }
    for argument, key in (
        ("acm_certificate_arn", "ACMCertificateArn"),
        ("iam_certificate_id", "IAMCertificateId"),
        ("ssl_support_method", "SSLSupportMethod"),
    ):
        if certificate.get(argument):
            viewer[key] = certificate[argument]
    geo = one((one(planned.get("restrictions")) or {}).get("geo_restriction")) or {}
    logging_config = one(planned.get("logging_config"))
    errors = [
        {
            k: v
            for k, v in {
                "ErrorCode": int(e["error_code"]),
                "ResponseCode": str(int(e["response_code"])) if e.get("response_code") else None,
                "ResponsePagePath": e.get("response_page_path"),
                "ErrorCachingMinTTL": int(e["error_caching_min_ttl"])
                if e.get("error_caching_min_ttl") is not None
                else None,
            }.items()
            if v is not None
        }
        for e in planned.get("custom_error_response") or []
    ]
    return {
        "CallerReference": caller_reference,
        "Aliases": _items(sorted(planned.get("aliases") or [])),
        "DefaultRootObject": planned.get("default_root_object") or "",
        "Origins": _items([_origin(o) for o in planned.get("origin") or []]),
        "OriginGroups": {"Quantity": 0},
        "DefaultCacheBehavior": _behaviour(one(planned.get("default_cache_behavior")) or {}),
        "CacheBehaviors": _items(
            [_behaviour(b) for b in planned.get("ordered_cache_behavior") or []]
        ),
        "CustomErrorResponses": _items(errors),
        "Comment": planned.get("comment") or "",
        "Logging": {
            "Enabled": logging_config is not None,
            "IncludeCookies": bool((logging_config or {}).get("include_cookies")),
            "Bucket": (logging_config or {}).get("bucket", ""),
            "Prefix": (logging_config or {}).get("prefix") or "",
        },
        "PriceClass": planned.get("price_class") or "PriceClass_All",
        "Enabled": bool(planned["enabled"]),
        "ViewerCertificate": viewer,
        "Restrictions": {
            "GeoRestriction": {
                "RestrictionType": geo.get("restriction_type", "none"),
                **_items(sorted(geo.get("locations") or [])),
            }
        },
        "WebACLId": planned.get("web_acl_id") or "",
        "HttpVersion": planned.get("http_version") or "http2",
        "IsIPV6Enabled": bool(planned.get("is_ipv6_enabled")),
    }


# --- API -> Terraform --------------------------------------------------------------------


def _origin_state(origin: dict[str, Any]) -> State:
    custom = origin.get("CustomOriginConfig")
    s3 = origin.get("S3OriginConfig") or {}
    shield = origin.get("OriginShield") or {}
    return {
        "origin_id": origin["Id"],
        "domain_name": origin["DomainName"],
        "origin_path": origin.get("OriginPath", ""),
        "connection_attempts": origin.get("ConnectionAttempts", 3),
        "connection_timeout": origin.get("ConnectionTimeout", 10),
        "origin_access_control_id": _empty(origin.get("OriginAccessControlId")),
        "custom_header": [
            {"name": h["HeaderName"], "value": h["HeaderValue"]}
            for h in (origin.get("CustomHeaders") or {}).get("Items") or []
        ],
        "custom_origin_config": [
            {
                "http_port": custom["HTTPPort"],
                "https_port": custom["HTTPSPort"],
                "origin_protocol_policy": custom["OriginProtocolPolicy"],
                "origin_ssl_protocols": custom["OriginSslProtocols"].get("Items") or [],
                "origin_read_timeout": custom.get("OriginReadTimeout", 30),
                "origin_keepalive_timeout": custom.get("OriginKeepaliveTimeout", 5),
            }
        ]
        if custom
        else [],
        "s3_origin_config": [{"origin_access_identity": s3["OriginAccessIdentity"]}]
        if s3.get("OriginAccessIdentity")
        else [],
        "origin_shield": [
            {"enabled": True, "origin_shield_region": shield.get("OriginShieldRegion")}
        ]
        if shield.get("Enabled")
        else [],
    }


def _behaviour_state(behaviour: Any) -> State:
    methods = behaviour.get("AllowedMethods") or {}
    state: State = {
        "target_origin_id": behaviour["TargetOriginId"],
        "viewer_protocol_policy": behaviour["ViewerProtocolPolicy"],
        "allowed_methods": methods.get("Items") or [],
        "cached_methods": (methods.get("CachedMethods") or {}).get("Items") or [],
        "compress": bool(behaviour.get("Compress")),
        "smooth_streaming": behaviour.get("SmoothStreaming") or None,
        "field_level_encryption_id": _empty(behaviour.get("FieldLevelEncryptionId")),
        "realtime_log_config_arn": _empty(behaviour.get("RealtimeLogConfigArn")),
        "cache_policy_id": _empty(behaviour.get("CachePolicyId")),
        "origin_request_policy_id": _empty(behaviour.get("OriginRequestPolicyId")),
        "response_headers_policy_id": _empty(behaviour.get("ResponseHeadersPolicyId")),
        "min_ttl": behaviour.get("MinTTL", 0),
        "default_ttl": behaviour.get("DefaultTTL", 0),
        "max_ttl": behaviour.get("MaxTTL", 0),
        "trusted_signers": (behaviour.get("TrustedSigners") or {}).get("Items") or [],
        "trusted_key_groups": (behaviour.get("TrustedKeyGroups") or {}).get("Items") or [],
    }
    if behaviour.get("PathPattern"):
        state["path_pattern"] = behaviour["PathPattern"]
    return state


def distribution_state(config: dict[str, Any]) -> State:
    """The arguments a ``DistributionConfig`` holds, as Terraform's state has them."""
    viewer = config.get("ViewerCertificate") or {}
    default_certificate = bool(viewer.get("CloudFrontDefaultCertificate"))
    geo = (config.get("Restrictions") or {}).get("GeoRestriction") or {}
    logging_config = config.get("Logging") or {}
    return {
        "aliases": _empty((config.get("Aliases") or {}).get("Items")),
        "comment": _empty(config.get("Comment")),
        "default_root_object": _empty(config.get("DefaultRootObject")),
        "enabled": config["Enabled"],
        "http_version": config.get("HttpVersion"),
        "is_ipv6_enabled": config.get("IsIPV6Enabled"),
        "price_class": config.get("PriceClass"),
        "web_acl_id": _empty(config.get("WebACLId")),
        "origin": [_origin_state(o) for o in (config.get("Origins") or {}).get("Items") or []],
        "default_cache_behavior": [_behaviour_state(config["DefaultCacheBehavior"])],
        "ordered_cache_behavior": [
            _behaviour_state(b) for b in (config.get("CacheBehaviors") or {}).get("Items") or []
        ],
        "custom_error_response": [
            {
                "error_code": e["ErrorCode"],
                "response_code": int(e["ResponseCode"]) if e.get("ResponseCode") else None,
                "response_page_path": _empty(e.get("ResponsePagePath")),
                "error_caching_min_ttl": e.get("ErrorCachingMinTTL"),
            }
            for e in (config.get("CustomErrorResponses") or {}).get("Items") or []
        ],
        "logging_config": [
            {
                "bucket": logging_config.get("Bucket"),
                "include_cookies": bool(logging_config.get("IncludeCookies")),
                "prefix": logging_config.get("Prefix", ""),
            }
        ]
        if logging_config.get("Enabled")
        else [],
        "restrictions": [
            {
                "geo_restriction": [
                    {
                        "restriction_type": geo.get("RestrictionType", "none"),
                        "locations": geo.get("Items") or [],
                    }
                ]
            }
        ],
        "viewer_certificate": [
            {
                "cloudfront_default_certificate": default_certificate,
                "acm_certificate_arn": _empty(viewer.get("ACMCertificateArn")),
                "iam_certificate_id": _empty(viewer.get("IAMCertificateId")),
                "minimum_protocol_version": viewer.get("MinimumProtocolVersion", "TLSv1"),
                # The default *.cloudfront.net certificate has no SSL support method.
                "ssl_support_method": None
                if default_certificate
                else _empty(viewer.get("SSLSupportMethod")),
            }
        ],
    }


class Distribution(AwsResource):
    type_name = "aws_cloudfront_distribution"
    tagged = True

    def create(self, planned: State, config: State) -> State:
        cloudfront = self.client("cloudfront")
        wanted = distribution_config(planned, str(uuid.uuid4()))
        tags = planned.get("tags_all") or {}
        if tags:
            reply = cloudfront.create_distribution_with_tags(
                DistributionConfigWithTags={
                    "DistributionConfig": wanted,
                    "Tags": {"Items": tag_list(tags)},
                }
            )
        else:
            reply = cloudfront.create_distribution(DistributionConfig=wanted)
        return self.read({**planned, "id": reply["Distribution"]["Id"]}) or {}

    def read(self, state: State) -> State | None:
        cloudfront = self.client("cloudfront")
        reply = missing(lambda: cloudfront.get_distribution(Id=state["id"]), "NoSuchDistribution")
        if reply is None:
            return None
        found = reply["Distribution"]
        config = found["DistributionConfig"]
        tags = cloudfront.list_tags_for_resource(Resource=found["ARN"])["Tags"].get("Items")
        state = {
            **state,
            **distribution_state(config),
            "id": found["Id"],
            "arn": found["ARN"],
            "caller_reference": config["CallerReference"],
            "domain_name": found["DomainName"],
            "etag": reply.get("ETag"),
            "hosted_zone_id": HOSTED_ZONE_ID,
            "in_progress_validation_batches": found.get("InProgressInvalidationBatches", 0),
            "last_modified_time": timestamp(found.get("LastModifiedTime")),
            "status": found.get("Status"),
            "retain_on_delete": bool(state.get("retain_on_delete")),
            "wait_for_deployment": state.get("wait_for_deployment", True) is not False,
            "staging": bool(state.get("staging")),
        }
        return self.with_tags(state, tag_dict(tags))

    def update(self, prior: State, planned: State, config: State) -> State:
        cloudfront = self.client("cloudfront")
        current = cloudfront.get_distribution_config(Id=prior["id"])
        wanted = distribution_config(planned, current["DistributionConfig"]["CallerReference"])
        if wanted != current["DistributionConfig"]:
            cloudfront.update_distribution(
                Id=prior["id"], IfMatch=current["ETag"], DistributionConfig=wanted
            )
        old, new = prior.get("tags_all") or {}, planned.get("tags_all") or {}
        removed = [k for k in old if k not in new]
        if removed:
            cloudfront.untag_resource(Resource=prior["arn"], TagKeys={"Items": removed})
        changed = {k: v for k, v in new.items() if old.get(k) != v}
        if changed:
            cloudfront.tag_resource(Resource=prior["arn"], Tags={"Items": tag_list(changed)})
        return self.read({**planned, "id": prior["id"]}) or {}

    def delete(self, prior: State) -> None:
        cloudfront = self.client("cloudfront")
        current = missing(
            lambda: cloudfront.get_distribution_config(Id=prior["id"]), "NoSuchDistribution"
        )
        if current is None:
            return
        config = current["DistributionConfig"]
        etag = current["ETag"]
        if config.get("Enabled"):
            disabled = distribution_config({**prior, "enabled": False}, config["CallerReference"])
            etag = cloudfront.update_distribution(
                Id=prior["id"], IfMatch=etag, DistributionConfig=disabled
            )["ETag"]
        if not prior.get("retain_on_delete"):
            cloudfront.delete_distribution(Id=prior["id"], IfMatch=etag)
