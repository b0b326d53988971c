"""Step 0 against the sandbox: terraform/org applied by real Terraform (through the local
provider, to moto), read back and entered through boto3 over HTTP."""

from __future__ import annotations

import pytest

from soa_sdk.errors import NotFound, ValidationError
from soa_sdk.org_spec import AccountSpec


@pytest.fixture(scope="module")
def built(lab):
    return lab.org.ensure()


def test_ensure_builds_every_declared_account_in_its_ou(lab, built):
    wanted = {a.name: a.ou for a in lab.org.spec.accounts}
    assert {a.name: a.ou for a in built.accounts} == wanted
    assert all(a.status == "ACTIVE" for a in built.accounts)


def test_ensure_twice_creates_nothing_and_duplicates_nothing(lab, built):
    again = lab.org.ensure()
    assert again.terraform.no_changes, again.terraform.output[-2000:]
    assert again.created == [] and again.changed == []
    assert [(a.name, a.id) for a in again.accounts] == [(a.name, a.id) for a in built.accounts]
    listed = lab.aws.client("organizations").list_accounts()["Accounts"]
    names = [a["Name"] for a in listed]
    assert len(names) == len(set(names)), "no account name appears twice"


def test_what_terraform_declares_around_the_accounts_is_applied(lab, built):
    guardrails = lab.org.guardrails()
    assert guardrails.organization_trail and guardrails.logging
    assert guardrails.policies_by_ou == {
        ou: ["soa-lab-guardrails"] for ou in ("shared", "runtimes", "frontend")
    }
    s3 = lab.aws.client("s3")
    encryption = s3.get_bucket_encryption(Bucket=guardrails.trail_bucket)
    rule = encryption["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    # The state is in the sandbox's S3, one key per folder (not in the checkout).
    bucket = "soa-lab-terraform-state-123456789012"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert "org/terraform.tfstate" in keys


def test_an_account_moved_by_hand_is_put_back_in_its_ou(lab, built):
    organizations = lab.aws.client("organizations")
    account = built.account("runtime-ec2")
    organizations.move_account(
        AccountId=account.id,
        SourceParentId=built.ou_ids["runtimes"],
        DestinationParentId=built.root_id,
    )
    repaired = lab.org.ensure()
    assert repaired.changed == ['aws_organizations_account.this["runtime-ec2"]']
    assert repaired.terraform.counts() == "0 to add, 1 to change, 0 to destroy"
    assert repaired.account("runtime-ec2").ou == "runtimes"


def test_a_later_step_requires_the_organization_without_running_terraform(lab, built):
    required = lab.org.require()
    assert required.terraform is None  # read back through Organizations only
    assert required.organization_id == built.organization_id
    assert [(a.name, a.id, a.ou) for a in required.accounts] == [
        (a.name, a.id, a.ou) for a in built.accounts
    ]


def test_require_applies_the_folder_when_an_account_is_not_where_it_is_declared(lab, built):
    organizations = lab.aws.client("organizations")
    account = built.account("runtime-eks")
    organizations.move_account(
        AccountId=account.id,
        SourceParentId=built.ou_ids["runtimes"],
        DestinationParentId=built.root_id,
    )
    required = lab.org.require()
    assert required.terraform is not None
    assert required.changed == ['aws_organizations_account.this["runtime-eks"]']
    assert required.account("runtime-eks").ou == "runtimes"


def test_an_added_account_is_applied_and_the_file_alone_detaches_it(lab, built):
    from soa_sdk.org import Organization

    extra = AccountSpec("team-t", "aws+team-t@soa-lab.example.com", "runtimes")
    other = Organization(lab.aws, lab.tf)
    added = other.add_account(extra)
    assert added.ou == "runtimes" and added.status == "ACTIVE"
    names = [a["Name"] for a in lab.aws.client("organizations").list_accounts()["Accounts"]]
    assert "team-t" in names

    back = lab.org.ensure()  # the folder's own file: team-t is not declared there
    assert back.terraform.destroyed == ('aws_organizations_account.this["team-t"]',)
    assert "team-t" not in [a.name for a in lab.org.accounts()]
    assert lab.org.ensure().terraform.no_changes


def test_each_session_is_short_lived_and_inside_its_own_account(lab, built):
    session = lab.org.session("runtime-ecs")
    identity = session.client("sts").get_caller_identity()
    assert identity["Account"] == built.account("runtime-ecs").id
    assert ":assumed-role/OrganizationAccountAccessRole/" in identity["Arn"]
    credentials = session.session.get_credentials()
    assert credentials.token, "a session token: temporary credentials, not static keys"
    assert session.expires_at is not None


def test_resources_stay_apart_per_account(lab, built):
    ecs = lab.org.session("runtime-ecs").client("s3")
    eks = lab.org.session("runtime-eks").client("s3")
    ecs.create_bucket(Bucket="soa-lab-isolation-check")
    assert "soa-lab-isolation-check" in [b["Name"] for b in ecs.list_buckets()["Buckets"]]
    assert "soa-lab-isolation-check" not in [b["Name"] for b in eks.list_buckets()["Buckets"]]
    ecs.delete_bucket(Bucket="soa-lab-isolation-check")


@pytest.mark.parametrize(
    ("account", "message"),
    [
        (AccountSpec("team-x", "bad-email", "runtimes"), "not a valid email"),
        (AccountSpec("Team X", "x@soa-lab.example.com", "runtimes"), "not a valid account name"),
        (AccountSpec("team-x", "x@soa-lab.example.com", "nowhere"), "does not exist"),
    ],
)
def test_bad_accounts_are_refused_before_any_call(lab, built, account, message):
    organizations = lab.aws.client("organizations")
    before = organizations.list_accounts()["Accounts"]
    spec_before = lab.org.spec
    with pytest.raises(ValidationError, match=message):
        lab.org.add_account(account)
    assert organizations.list_accounts()["Accounts"] == before
    assert lab.org.spec is spec_before


def test_session_errors_are_clear(lab, built):
    with pytest.raises(ValidationError, match="out of range"):
        lab.org.session("runtime-ecs", duration_seconds=60)
    with pytest.raises(ValidationError, match="no account named 'payroll'"):
        lab.org.session("payroll")


def test_an_undeclared_but_missing_account_says_to_run_step_0(lab):
    from soa_sdk.org import Organization

    spec = lab.org.spec.with_account(AccountSpec("team-z", "z@soa-lab.example.com", "runtimes"))
    with pytest.raises(NotFound, match="run step 0"):
        Organization(lab.aws, lab.tf, spec).session("team-z")


def test_nothing_shows_a_secret(lab, sandbox, built):
    session = lab.org.session("shared-services")
    shown = repr(lab) + repr(session) + repr(lab.aws) + repr(sandbox) + repr(lab._credentials)
    for secret in sandbox.secrets.values():
        assert secret not in shown
    assert session.session.get_credentials().secret_key not in shown
