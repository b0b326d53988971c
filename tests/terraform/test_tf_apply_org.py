"""The unchanged terraform/org, applied by real Terraform to the sandbox through the local
hashicorp/aws provider: apply, no changes, drift through the API, destroy leaving nothing.
Plus the schema check: every argument org's .tf files use is in the provider's schema."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import hcl2
import pytest

from soa_sdk.paths import terraform_root
from soa_sdk.sandbox import lifecycle
from soa_sdk.sandbox.providers.aws.provider import SCHEMA_FILE, AwsProvider
from soa_sdk.sandbox.providers.framework import ProviderError
from soa_sdk.sandbox.providers.schema import Block, ProviderSchema
from soa_sdk.sandbox.state import SandboxState
from soa_sdk.sandbox.terraform.run import Terraform

META = {"provider", "alias", "for_each", "count", "depends_on", "lifecycle"}


def _check_block(block: Block, body: dict[str, Any], where: str) -> list[str]:
    problems = []
    for name, value in body.items():
        name = name.strip('"')
        if name in META or name.startswith("__"):
            continue
        if name in block.blocks:
            for item in value if isinstance(value, list) else [value]:
                problems += _check_block(block.blocks[name].block, item, f"{where}.{name}")
        elif name in block.attributes:
            value = value.strip('"') if isinstance(value, str) else value
            attribute = block.attributes[name]
            if not (attribute.required or attribute.optional):
                problems.append(f"{where}.{name} is computed only")
            kind = attribute.type if isinstance(attribute.type, str) else attribute.type[0]
            literal_ok = {
                "string": (str,),
                "number": (int, float, str),
                "bool": (bool, str),
                "list": (list, str),
                "set": (list, str),
                "map": (dict, str),
            }[kind]
            if not isinstance(value, literal_ok):
                problems.append(f"{where}.{name}: {type(value).__name__} for {attribute.type}")
        else:
            problems.append(f"{where}.{name} is not in the schema")
    for name, attribute in block.attributes.items():
        if attribute.required and name not in body:
            problems.append(f"{where}.{name} is required and missing")
    return problems


def test_every_argument_org_uses_is_in_the_schema() -> None:
    schema = ProviderSchema.load(SCHEMA_FILE)
    problems: list[str] = []
    for path in sorted((terraform_root() / "org").glob("*.tf")):
        document = hcl2.load(path.open())
        for kind, section in (("resource", schema.resources), ("data", schema.data_sources)):
            for entry in document.get(kind, []):
                for quoted, instances in entry.items():
                    type_name = quoted.strip('"')
                    assert type_name in section, f"{type_name} has no schema"
                    for name, body in instances.items():
                        where = f"{path.name}: {type_name}.{name}"
                        problems += _check_block(section[type_name].block, body, where)
        for entry in document.get("provider", []):
            for _, body in entry.items():
                problems += _check_block(schema.provider.block, body, f"{path.name}: provider")
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxState]:
    """A sandbox of this module's own: terraform/org creates the organization, which the
    session's sandbox already has once other tests (step 0, the notebooks) have run."""
    home = tmp_path_factory.mktemp("tf-org-home")
    state, _ = lifecycle.up(home)
    try:
        yield state
    finally:
        lifecycle.down(home)


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


def test_folder_is_untouched() -> None:
    folder = terraform_root() / "org"
    assert not (folder / ".terraform").exists()
    assert not (folder / ".terraform.lock.hcl").exists()
    assert isinstance(folder, Path)
