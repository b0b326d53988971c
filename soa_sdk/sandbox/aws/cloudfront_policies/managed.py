"""CloudFront's AWS managed cache and origin request policies, as AWS publishes them.

Their ids and names are the same in every account (CloudFront Developer Guide, "Use managed
cache policies" and "Use managed origin request policies"); the configurations are the
documented ones, in CloudFront's API shape (``CachePolicyConfig``, ``OriginRequestPolicyConfig``).
Left out: the managed policies this lab's modules do not name (Elemental MediaPackage,
Amplify, the UserAgentRefererHeaders and CORS-CustomOrigin variants).
"""

from __future__ import annotations

from typing import Any


def _cache(comment: str, ttls: tuple[int, int, int], compressed: bool, name: str) -> dict:
    minimum, default, maximum = ttls
    return {
        "Comment": comment,
        "Name": name,
        "MinTTL": minimum,
        "DefaultTTL": default,
        "MaxTTL": maximum,
        "ParametersInCacheKeyAndForwardedToOrigin": {
            "EnableAcceptEncodingGzip": compressed,
            "EnableAcceptEncodingBrotli": compressed,
            "HeadersConfig": {"HeaderBehavior": "none"},
            "CookiesConfig": {"CookieBehavior": "none"},
            "QueryStringsConfig": {"QueryStringBehavior": "none"},
        },
    }


CACHE_POLICIES: dict[str, dict[str, Any]] = {
    "658327ea-f89d-4fab-a63d-7e88639e58f6": _cache(
        "Policy with caching enabled. Supports Gzip and Brotli compression.",
        (1, 86400, 31536000),
        True,
        "Managed-CachingOptimized",
    ),
    "b2884449-e4de-46a7-ac36-70bc7f1ddd6d": _cache(
        "Default policy when compression is disabled",
        (1, 86400, 31536000),
        False,
        "Managed-CachingOptimizedForUncompressedObjects",
    ),
    "4135ea2d-6df8-44a3-9df3-4b5a84be39ad": _cache(
        "Policy with caching disabled", (0, 0, 0), False, "Managed-CachingDisabled"
    ),
}

ORIGIN_REQUEST_POLICIES: dict[str, dict[str, Any]] = {
    "216adef6-5c7f-47e4-b989-5492eafa07d3": {
        "Comment": "Policy to forward all parameters in viewer requests",
        "Name": "Managed-AllViewer",
        "HeadersConfig": {"HeaderBehavior": "allViewer"},
        "CookiesConfig": {"CookieBehavior": "all"},
        "QueryStringsConfig": {"QueryStringBehavior": "all"},
    },
    "b689b0a8-53d0-40ab-baf2-68738e2966ac": {
        "Comment": "Policy to forward all parameters in viewer requests except for the Host header",
        "Name": "Managed-AllViewerExceptHostHeader",
        "HeadersConfig": {
            "HeaderBehavior": "allExcept",
            "Headers": {"Quantity": 1, "Items": ["host"]},
        },
        "CookiesConfig": {"CookieBehavior": "all"},
        "QueryStringsConfig": {"QueryStringBehavior": "all"},
    },
    "88a5eaf4-2fd4-4709-b370-b4c650ea3fcf": {
        "Comment": "Policy for origin with CORS",
        "Name": "Managed-CORS-S3Origin",
        "HeadersConfig": {
            "HeaderBehavior": "whitelist",
            "Headers": {
                "Quantity": 3,
                "Items": [
                    "origin",
                    "access-control-request-headers",
                    "access-control-request-method",
                ],
            },
        },
        "CookiesConfig": {"CookieBehavior": "none"},
        "QueryStringsConfig": {"QueryStringBehavior": "none"},
    },
}

LAST_MODIFIED = "2020-10-01T00:00:00Z"
"""Managed policies do not change; every answer names the same time."""

__all__ = ["CACHE_POLICIES", "LAST_MODIFIED", "ORIGIN_REQUEST_POLICIES"]
