"""The unchanged terraform/org, applied by real Terraform to the sandbox through the local
hashicorp/aws provider: apply, no changes, drift through the API, destroy leaving nothing.
The schema check of every folder is test_tf_schema."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from soa_sdk.paths import terraform_root
from soa_sdk.sandbox.providers.aws.provider import AwsProvider
from soa_sdk.sandbox.providers.framework import ProviderError
from soa_sdk.sandbox.state import SandboxState
from soa_sdk.sandbox.terraform.run import Terraform, TerraformFailed


@pytest.fixture(scope="module")
def org(sandbox: SandboxState) -> Iterator[Terraform]:
    with Terraform("org", sandbox) as terraform:
        terraform.init()
        yield terraform


def _client(sandbox: SandboxState, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=sandbox.url("aws"),
        region_name="us-east-1",
        aws_access_key_id=sandbox.secret("aws_access_key_id"),
        aws_secret_access_key=sandbox.secret("aws_secret_access_key"),
    )


def test_org_round_trip(org: Terraform, sandbox: SandboxState) -> None:
    applied = org.apply()
    assert applied.add == 23, applied.output[-2000:]
    assert len(applied.created) == 23 and not applied.changed and not applied.destroyed
    assert 'aws_organizations_account.this["runtime-ecs"]' in applied.created
    organizations = _client(sandbox, "organizations")
    accounts = {a["Name"] for a in organizations.list_accounts()["Accounts"]}
    assert {"shared-services", "runtime-ec2", "frontend"} <= accounts
    trail = _client(sandbox, "cloudtrail").get_trail(Name="soa-lab-organization-trail")["Trail"]
    assert trail["IsOrganizationTrail"]

    assert org.plan().no_changes
    _check_credentials(org, sandbox)

    # Drift made through the API: the next plan shows it (read is the truth).
    bucket = trail["S3BucketName"]
    _client(sandbox, "s3").put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={"Status": "Suspended"}
    )
    drifted = org.plan()
    assert drifted.change == 1, drifted.output[-2000:]
    assert drifted.changed == ("aws_s3_bucket_versioning.trail",)

    destroyed = org.destroy()
    assert destroyed.destroy == 23 and set(destroyed.destroyed) == set(applied.created)
    assert org.state_list() == []
    assert _client(sandbox, "organizations").list_roots  # client still usable
    with pytest.raises(Exception, match="AWSOrganizationsNotInUse"):
        organizations.describe_organization()
    buckets = {b["Name"] for b in _client(sandbox, "s3").list_buckets()["Buckets"]}
    assert bucket not in buckets
    trails = _client(sandbox, "cloudtrail").describe_trails()["trailList"]
    assert not [t for t in trails if t["Name"] == "soa-lab-organization-trail"]
    keys = _client(sandbox, "kms").list_aliases()["Aliases"]
    assert not [a for a in keys if a["AliasName"] == "alias/soa-lab-organization-trail"]


def _check_credentials(org: Terraform, sandbox: SandboxState) -> None:
    """Terraform ran with a web identity token, no static key; the provider's
    assume_role_with_web_identity and chained assume_role reach a member account."""
    environment = org.environment(reattach=False)
    assert "AWS_ACCESS_KEY_ID" not in environment and "AWS_SECRET_ACCESS_KEY" not in environment
    assert environment["AWS_ROLE_ARN"].endswith(":role/soa-lab-terraform")
    token_file = Path(environment["AWS_WEB_IDENTITY_TOKEN_FILE"])
    assert token_file.stat().st_mode & 0o077 == 0, "the token file is the owner's only"

    member = next(
        a["Id"]
        for a in _client(sandbox, "organizations").list_accounts()["Accounts"]
        if a["Name"] == "runtime-ecs"
    )
    provider = AwsProvider()
    old = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_ROLE_ARN")}
    os.environ["AWS_ENDPOINT_URL"] = sandbox.url("aws")
    os.environ.pop("AWS_ROLE_ARN", None)
    try:
        provider.configure(
            {
                "region": "us-east-1",
                "allowed_account_ids": [member],
                "assume_role_with_web_identity": [
                    {
                        "role_arn": environment["AWS_ROLE_ARN"],
                        "web_identity_token_file": str(token_file),
                        "session_name": "terraform-test",
                    }
                ],
                "assume_role": [
                    {
                        "role_arn": f"arn:aws:iam::{member}:role/OrganizationAccountAccessRole",
                        "session_name": "terraform-runtime-ecs",
                        "duration": "15m",
                    }
                ],
            }
        )
        assert provider.account_id == member
        caller = provider.client("sts").get_caller_identity()["Arn"]
        assert caller.endswith(":assumed-role/OrganizationAccountAccessRole/terraform-runtime-ecs")
        with pytest.raises(ProviderError, match="web identity"):
            AwsProvider().configure(
                {
                    "assume_role_with_web_identity": [
                        {"role_arn": environment["AWS_ROLE_ARN"], "web_identity_token": "x.y.z"}
                    ]
                }
            )
    finally:
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def test_a_failed_create_stays_in_state_tainted_and_a_rerun_converges(
    org: Terraform, sandbox: SandboxState, tree_copy: Path
) -> None:
    """A create that fails half-way (the organization made, then a service principal
    Organizations does not know) names the resource and the reason, keeps the organization in
    state as tainted, plans its replacement; fixed, the next apply converges."""
    org.destroy()  # whatever another test left: this one starts from nothing
    main = tree_copy / "org" / "main.tf"
    good = main.read_text()
    assert '"sso.amazonaws.com",' in good
    main.write_text(
        good.replace('"sso.amazonaws.com",', '"sso.amazonaws.com", "nothing.example.com",')
    )
    address = "aws_organizations_organization.this"
    with Terraform("org", sandbox, root=tree_copy) as terraform:
        terraform.init()
        with pytest.raises(TerraformFailed) as failed:
            terraform.apply()
        message = str(failed.value)
        assert f"with {address}" in message and "unrecognized service principal" in message
        managed = _managed(terraform)
        assert address in managed  # what depends on it was never tried
        assert not [a for a in managed if a.startswith("aws_organizations_account.")]
        _, pulled = terraform.run("state", "pull")
        (resource,) = [
            r for r in json.loads(pulled)["resources"] if r["type"] == address.split(".")[0]
        ]
        assert resource["instances"][0]["status"] == "tainted"
        organizations = _client(sandbox, "organizations")
        made = organizations.describe_organization()["Organization"]["Id"]
        assert resource["instances"][0]["attributes"]["id"] == made

        main.write_text(good)
        planned = terraform.plan()
        assert f"{address} is tainted, so must be replaced" in planned.output
        assert address in planned.created and address in planned.destroyed
        converged = terraform.apply()
        assert converged.destroy == 1 and address in converged.created, converged.output[-2000:]
        assert len(_managed(terraform)) == 23
        assert organizations.describe_organization()["Organization"]["Id"] != made
        assert terraform.plan().no_changes
        destroyed = terraform.destroy()
        assert destroyed.destroy == 23 and terraform.state_list() == []
    with pytest.raises(Exception, match="AWSOrganizationsNotInUse"):
        organizations.describe_organization()


def _managed(terraform: Terraform) -> list[str]:
    """The managed resources in the folder's state (its data sources left out)."""
    return [a for a in terraform.state_list() if not a.startswith("data.")]


def test_folder_is_untouched() -> None:
    folder = terraform_root() / "org"
    assert not (folder / ".terraform").exists()
    assert not (folder / ".terraform.lock.hcl").exists()
    assert isinstance(folder, Path)
