"""The CloudFront policy APIs the sandbox adds to moto, through boto3 over HTTP: the AWS
managed cache and origin request policies by their published ids and names, response headers
policies per account with CloudFront's ETag rules, and an origin's access control kept on a
distribution."""

from __future__ import annotations

from typing import Any

import botocore.exceptions
import pytest

OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"

HEADERS = {
    "Name": "store-security-headers",
    "Comment": "security headers",
    "SecurityHeadersConfig": {
        "ContentTypeOptions": {"Override": True},
        "FrameOptions": {"FrameOption": "DENY", "Override": True},
    },
}


def _code(error: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_managed_cache_policies_by_their_published_ids(aws: Any) -> None:
    cloudfront = aws.client("cloudfront")
    listing = cloudfront.list_cache_policies(Type="managed")["CachePolicyList"]
    names = {
        i["CachePolicy"]["Id"]: i["CachePolicy"]["CachePolicyConfig"]["Name"]
        for i in listing["Items"]
    }
    assert names[OPTIMIZED] == "Managed-CachingOptimized"
    assert names[DISABLED] == "Managed-CachingDisabled"
    assert all(i["Type"] == "managed" for i in listing["Items"])
    disabled = cloudfront.get_cache_policy(Id=DISABLED)["CachePolicy"]["CachePolicyConfig"]
    assert (disabled["MinTTL"], disabled["DefaultTTL"], disabled["MaxTTL"]) == (0, 0, 0)
    assert not cloudfront.list_cache_policies(Type="custom")["CachePolicyList"].get("Items")
    with pytest.raises(botocore.exceptions.ClientError) as error:
        cloudfront.get_cache_policy(Id="00000000-0000-0000-0000-000000000000")
    assert _code(error) == "NoSuchCachePolicy"


def test_managed_origin_request_policy_forwards_all_but_host(aws: Any) -> None:
    cloudfront = aws.client("cloudfront")
    found = cloudfront.get_origin_request_policy(Id=ALL_VIEWER_EXCEPT_HOST)["OriginRequestPolicy"]
    config = found["OriginRequestPolicyConfig"]
    assert config["Name"] == "Managed-AllViewerExceptHostHeader"
    assert config["HeadersConfig"]["HeaderBehavior"] == "allExcept"
    assert config["HeadersConfig"]["Headers"]["Items"] == ["host"]


def test_response_headers_policy_lifecycle_with_etags(aws: Any, member: Any) -> None:
    cloudfront = aws.client("cloudfront", **member.keys)
    created = cloudfront.create_response_headers_policy(ResponseHeadersPolicyConfig=HEADERS)
    policy_id = created["ResponseHeadersPolicy"]["Id"]
    with pytest.raises(botocore.exceptions.ClientError) as error:
        cloudfront.create_response_headers_policy(ResponseHeadersPolicyConfig=HEADERS)
    assert _code(error) == "ResponseHeadersPolicyAlreadyExists"
    # Another account does not see it.
    assert (
        not aws.client("cloudfront")
        .list_response_headers_policies()["ResponseHeadersPolicyList"]
        .get("Items")
    )

    got = cloudfront.get_response_headers_policy_config(Id=policy_id)
    assert got["ResponseHeadersPolicyConfig"] == HEADERS and got["ETag"] == created["ETag"]
    changed = {**HEADERS, "Comment": "changed"}
    updated = cloudfront.update_response_headers_policy(
        Id=policy_id, IfMatch=got["ETag"], ResponseHeadersPolicyConfig=changed
    )
    assert updated["ETag"] != got["ETag"]
    with pytest.raises(botocore.exceptions.ClientError) as error:
        cloudfront.delete_response_headers_policy(Id=policy_id, IfMatch=got["ETag"])
    assert _code(error) == "PreconditionFailed"
    cloudfront.delete_response_headers_policy(Id=policy_id, IfMatch=updated["ETag"])
    with pytest.raises(botocore.exceptions.ClientError) as error:
        cloudfront.get_response_headers_policy(Id=policy_id)
    assert _code(error) == "NoSuchResponseHeadersPolicy"


def test_a_distribution_keeps_its_origin_access_control(aws: Any) -> None:
    cloudfront = aws.client("cloudfront")
    control = cloudfront.create_origin_access_control(
        OriginAccessControlConfig={
            "Name": "site",
            "SigningProtocol": "sigv4",
            "SigningBehavior": "always",
            "OriginAccessControlOriginType": "s3",
        }
    )["OriginAccessControl"]["Id"]
    policy = cloudfront.create_response_headers_policy(
        ResponseHeadersPolicyConfig={**HEADERS, "Name": "in-use"}
    )
    origin = {
        "Id": "site",
        "DomainName": "site.s3.us-east-1.amazonaws.com",
        "OriginAccessControlId": control,
        "S3OriginConfig": {"OriginAccessIdentity": ""},
    }
    behaviour = {
        "TargetOriginId": "site",
        "ViewerProtocolPolicy": "redirect-to-https",
        "CachePolicyId": OPTIMIZED,
        "ResponseHeadersPolicyId": policy["ResponseHeadersPolicy"]["Id"],
    }
    distribution = cloudfront.create_distribution(
        DistributionConfig={
            "CallerReference": "site",
            "Comment": "site",
            "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [origin]},
            "DefaultCacheBehavior": behaviour,
        }
    )["Distribution"]
    config = cloudfront.get_distribution_config(Id=distribution["Id"])["DistributionConfig"]
    assert config["Origins"]["Items"][0]["OriginAccessControlId"] == control
    with pytest.raises(botocore.exceptions.ClientError) as error:
        cloudfront.delete_response_headers_policy(
            Id=policy["ResponseHeadersPolicy"]["Id"], IfMatch=policy["ETag"]
        )
    assert _code(error) == "ResponseHeadersPolicyInUse"
