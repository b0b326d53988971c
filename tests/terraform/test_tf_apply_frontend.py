"""terraform/runtime_frontend (module static_site), unchanged, applied by real Terraform
through the local hashicorp/aws provider into the frontend account that step 0's
organization made (``lab.org.require()``), in a sandbox of the module's own: apply (the
bucket, its KMS key, the WAF web ACL and its logs, the origin access control, the response
headers policy and the distribution, on the AWS managed cache and origin request policies),
no changes, a drift made through boto3 that the next plan shows and an apply puts back in
place, import (the next plan says no changes), destroy leaving nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from soa_sdk.paths import terraform_root
from soa_sdk.sandbox.state import SandboxState
from soa_sdk.sandbox.terraform.run import Terraform

# The store's public API: the store runtime's ingress load balancer (a name; CloudFront is
# not asked to reach it here).
API_ORIGIN = {"domain_name": "ingress.runtime-ecs.sandbox.soa-lab.test", "protocol": "https-only"}
OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
DISTRIBUTION = "module.site.aws_cloudfront_distribution.this"
WEB_ACL = "module.site.aws_wafv2_web_acl.this"
BUCKET_POLICY = "module.site.aws_s3_bucket_policy.this"
Client = Callable[[str], Any]


def _frontend() -> dict[str, Any]:
    path = terraform_root() / "runtime_frontend" / "frontend.auto.tfvars.json"
    return json.loads(path.read_text())["frontend"]


@pytest.fixture(scope="module")
def accounts(sandbox: SandboxState) -> dict[str, str]:
    """The organization's accounts by name (``lab.org.require()`` applies terraform/org)."""
    from soa_sdk import Lab

    lab = Lab.connect("sandbox", home=sandbox.home, start=False)
    return {a.name: a.id for a in lab.org.require().accounts}


def _member(aws_client: Callable[..., Any], account_id: str) -> Client:
    role = f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole"
    reply = aws_client("sts").assume_role(RoleArn=role, RoleSessionName="test-frontend")
    credentials = reply["Credentials"]
    return lambda service: aws_client(
        service,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def _distribution(cloudfront: Any, site: str) -> dict[str, Any]:
    items = cloudfront.list_distributions()["DistributionList"].get("Items") or []
    (found,) = [d for d in items if d["Comment"] == site]
    return dict(cloudfront.get_distribution_config(Id=found["Id"]))


def _state_values(terraform: Terraform) -> dict[str, dict[str, Any]]:
    code, output = terraform.run("show", "-json", "-no-color")
    assert code == 0, output[-2000:]
    shown = json.loads(next(line for line in output.splitlines() if line.startswith("{")))
    values: dict[str, dict[str, Any]] = {}
    pending = [shown["values"]["root_module"]]
    while pending:
        module = pending.pop()
        values.update({r["address"]: r["values"] for r in module.get("resources", [])})
        pending += module.get("child_modules", [])
    return values


# Imported again by the id the real provider imports each with, after ``terraform state rm``.
IMPORTS: dict[str, Callable[[dict[str, Any]], str]] = {
    DISTRIBUTION: lambda v: v["id"],
    "module.site.aws_cloudfront_origin_access_control.this": lambda v: v["id"],
    "module.site.aws_cloudfront_response_headers_policy.this": lambda v: v["id"],
    WEB_ACL: lambda v: f"{v['id']}/{v['name']}/{v['scope']}",
    "module.site.aws_wafv2_web_acl_logging_configuration.this": lambda v: v["id"],
}


def test_frontend_round_trip(
    sandbox: SandboxState, accounts: dict[str, str], aws_client: Callable[..., Any]
) -> None:
    frontend = _frontend()
    site = frontend["site"]
    member = _member(aws_client, accounts[frontend["account"]])
    cloudfront, wafv2 = member("cloudfront"), member("wafv2")
    variables = {
        "account_id": accounts[frontend["account"]],
        "api_origin": json.dumps(API_ORIGIN),
    }
    with Terraform("runtime_frontend", sandbox, variables=variables) as terraform:
        terraform.init()
        applied = terraform.apply()
        assert applied.add > 0 and applied.add == len(applied.created), applied.output[-3000:]
        assert DISTRIBUTION in applied.created and WEB_ACL in applied.created

        # What Terraform made is in the frontend account, as the module declares it.
        config = _distribution(cloudfront, site)["DistributionConfig"]
        origins = {o["Id"]: o for o in config["Origins"]["Items"]}
        assert origins["site"]["OriginAccessControlId"]
        assert origins["api"]["DomainName"] == API_ORIGIN["domain_name"]
        assert config["DefaultCacheBehavior"]["CachePolicyId"] == OPTIMIZED
        (api,) = config["CacheBehaviors"]["Items"]
        assert api["PathPattern"] == "/api/*" and api["CachePolicyId"] == DISABLED
        assert api["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST
        headers = cloudfront.get_response_headers_policy_config(
            Id=config["DefaultCacheBehavior"]["ResponseHeadersPolicyId"]
        )["ResponseHeadersPolicyConfig"]
        assert headers["SecurityHeadersConfig"]["FrameOptions"]["FrameOption"] == "DENY"
        acls = wafv2.list_web_acls(Scope="CLOUDFRONT")["WebACLs"]
        (acl,) = [a for a in acls if a["Name"] == site]
        assert config["WebACLId"] == acl["ARN"]
        logging_config = wafv2.get_logging_configuration(ResourceArn=acl["ARN"])
        assert logging_config["LoggingConfiguration"]["LogDestinationConfigs"][0].endswith(
            f":log-group:aws-waf-logs-{site}"
        )

        planned = terraform.plan()
        assert planned.no_changes, planned.output[-4000:]

        # A drift made through the API: the next plan shows it; apply puts it back in place.
        current = _distribution(cloudfront, site)
        changed = {**current["DistributionConfig"], "PriceClass": "PriceClass_All"}
        distribution_id = next(
            d["Id"]
            for d in cloudfront.list_distributions()["DistributionList"]["Items"]
            if d["Comment"] == site
        )
        cloudfront.update_distribution(
            Id=distribution_id, IfMatch=current["ETag"], DistributionConfig=changed
        )
        # The bucket policy's document names the distribution, so Terraform reads it again
        # at apply (a data source depending on a resource with changes pending).
        drifted = terraform.plan()
        assert set(drifted.changed) == {DISTRIBUTION, BUCKET_POLICY}, drifted.output[-3000:]
        assert drifted.add == 0 and drifted.destroy == 0
        fixed = terraform.apply()
        assert set(fixed.changed) == {DISTRIBUTION, BUCKET_POLICY}, fixed.output[-3000:]
        assert not fixed.created and not fixed.destroyed
        config = _distribution(cloudfront, site)["DistributionConfig"]
        assert config["PriceClass"] == frontend["price_class"]
        assert terraform.plan().no_changes

        # A WAF rule changed through the API: only the web ACL is planned, and put back.
        found = wafv2.get_web_acl(Name=site, Scope="CLOUDFRONT", Id=acl["Id"])
        rules = found["WebACL"]["Rules"]
        rate = next(r for r in rules if "RateBasedStatement" in r["Statement"])
        rate["Statement"]["RateBasedStatement"]["Limit"] = 100
        wafv2.update_web_acl(
            Name=site,
            Scope="CLOUDFRONT",
            Id=acl["Id"],
            LockToken=found["LockToken"],
            DefaultAction=found["WebACL"]["DefaultAction"],
            Rules=rules,
            VisibilityConfig=found["WebACL"]["VisibilityConfig"],
            Description=found["WebACL"]["Description"],
        )
        drifted = terraform.plan()
        assert drifted.changed == (WEB_ACL,) and drifted.add == 0, drifted.output[-3000:]
        fixed = terraform.apply()
        assert fixed.changed == (WEB_ACL,) and not fixed.created and not fixed.destroyed
        found = wafv2.get_web_acl(Name=site, Scope="CLOUDFRONT", Id=acl["Id"])["WebACL"]
        limits = [
            r["Statement"]["RateBasedStatement"]["Limit"]
            for r in found["Rules"]
            if "RateBasedStatement" in r["Statement"]
        ]
        assert limits == [2000]
        assert terraform.plan().no_changes

        values = _state_values(terraform)
        for address, import_id in IMPORTS.items():
            code, output = terraform.run("state", "rm", "-no-color", address)
            assert code == 0, output[-2000:]
            code, output = terraform.run("import", "-no-color", address, import_id(values[address]))
            assert code == 0, output[-2000:]
        replanned = terraform.plan()
        assert replanned.no_changes, replanned.output[-3000:]

        destroyed = terraform.destroy()
        assert set(destroyed.destroyed) == set(applied.created), destroyed.output[-3000:]
        assert terraform.state_list() == []
    assert not cloudfront.list_distributions()["DistributionList"].get("Items")
    assert not cloudfront.list_origin_access_controls()["OriginAccessControlList"].get("Items")
    policies = cloudfront.list_response_headers_policies(Type="custom")
    assert not policies["ResponseHeadersPolicyList"].get("Items")
    assert not wafv2.list_web_acls(Scope="CLOUDFRONT")["WebACLs"]
    buckets = member("s3").list_buckets()["Buckets"]
    assert not [b for b in buckets if b["Name"].startswith(f"{site}-site-")]
    groups = member("logs").describe_log_groups()["logGroups"]
    assert not [g for g in groups if g["logGroupName"] == f"aws-waf-logs-{site}"]
