"""The unchanged terraform/runtime_ecs (modules network, ecs_runtime, workload_identity),
applied by real Terraform through the local hashicorp/aws provider into the runtime's own
account, which terraform/org makes first (the folder's provider assumes the role the
organization created there): apply, no changes, a drift made through boto3 that the next
plan shows, an update in place that puts it back, destroy leaving nothing."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from soa_sdk.paths import terraform_root
from soa_sdk.sandbox.state import SandboxState
from soa_sdk.sandbox.terraform.run import Terraform

RUNTIME = json.loads((terraform_root() / "runtime_ecs" / "runtime.auto.tfvars.json").read_text())[
    "runtime"
]
ISSUER = "https://vault.sandbox.soa-lab.test/v1/identity/oidc"


@pytest.fixture(scope="module")
def account_id(sandbox: SandboxState, aws_client: Callable[..., Any]) -> Iterator[str]:
    """The runtime's account, made by terraform/org (applied here, destroyed at the end)."""
    with Terraform("org", sandbox) as org:
        org.init()
        org.apply()
        try:
            accounts = aws_client("organizations").list_accounts()["Accounts"]
            yield next(a["Id"] for a in accounts if a["Name"] == RUNTIME["account"])
        finally:
            org.destroy()


@pytest.fixture(scope="module")
def runtime(sandbox: SandboxState, account_id: str) -> Iterator[Terraform]:
    variables = {
        "account_id": account_id,
        "consul": json.dumps({"server_address": "consul.sandbox.internal", "datacenter": "dc1"}),
        "vault_oidc_issuer": ISSUER,
    }
    with Terraform("runtime_ecs", sandbox, variables=variables) as terraform:
        terraform.init()
        yield terraform


@pytest.fixture(scope="module")
def member(aws_client: Callable[..., Any], account_id: str) -> Callable[[str], Any]:
    """boto3 in the runtime's account, through the role the organization made there."""
    role = f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole"
    reply = aws_client("sts").assume_role(RoleArn=role, RoleSessionName="test-runtime-ecs")
    credentials = reply["Credentials"]
    return lambda service: aws_client(
        service,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def _workloads() -> list[str]:
    return [f"{s['name']}-{v}" for s in RUNTIME["services"] for v in s["versions"]]


def test_runtime_ecs_round_trip(runtime: Terraform, member: Callable[[str], Any]) -> None:
    applied = runtime.apply()
    assert applied.add > 0 and applied.add == len(applied.created), applied.output[-3000:]
    assert not applied.changed and not applied.destroyed
    for workload in _workloads():
        assert f'module.compute.aws_ecs_service.this["{workload}"]' in applied.created

    # What Terraform made is in the runtime's account, as declared.
    ecs, ec2 = member("ecs"), member("ec2")
    name = RUNTIME["name"]
    cluster = ecs.describe_clusters(clusters=[name])["clusters"][0]
    assert cluster["status"] == "ACTIVE"
    arns = ecs.list_services(cluster=name)["serviceArns"]
    services = ecs.describe_services(cluster=name, services=arns)["services"]
    replicas = {
        f"{s['name']}-{v}": s["replicas"] for s in RUNTIME["services"] for v in s["versions"]
    }
    assert {s["serviceName"]: s["desiredCount"] for s in services} == replicas
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "cidr", "Values": [RUNTIME["vpc_cidr"]]}])["Vpcs"]
    assert len(vpcs) == 1
    vpc_id = vpcs[0]["VpcId"]
    tags = {t["Key"]: t["Value"] for t in vpcs[0]["Tags"]}
    assert tags["Name"] == name and tags["ManagedBy"] == "terraform"  # default_tags
    default_group = ec2.describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "group-name", "Values": ["default"]},
        ]
    )["SecurityGroups"][0]
    assert not default_group["IpPermissions"] and not default_group["IpPermissionsEgress"]
    roles = {r["RoleName"] for r in member("iam").list_roles()["Roles"]}
    assert f"{name}-workloads" in roles

    assert runtime.plan().no_changes

    # A drift made through the API: the next plan shows it, and apply puts it back in place.
    store = next(s for s in services if s["serviceName"] == _workloads()[0])
    ecs.update_service(cluster=name, service=store["serviceArn"], desiredCount=5)
    drifted = runtime.plan()
    address = f'module.compute.aws_ecs_service.this["{_workloads()[0]}"]'
    assert drifted.changed == (address,) and drifted.add == 0, drifted.output[-3000:]
    fixed = runtime.apply()
    assert fixed.changed == (address,) and not fixed.created and not fixed.destroyed
    again = ecs.describe_services(cluster=name, services=[store["serviceArn"]])["services"][0]
    assert again["desiredCount"] == replicas[_workloads()[0]]
    assert runtime.plan().no_changes

    destroyed = runtime.destroy()
    assert set(destroyed.destroyed) == set(applied.created), destroyed.output[-3000:]
    assert runtime.state_list() == []
    assert not ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Vpcs"]
    clusters = ecs.describe_clusters(clusters=[name])["clusters"]
    assert all(c["status"] == "INACTIVE" for c in clusters)
    assert not ecs.list_task_definitions(status="ACTIVE")["taskDefinitionArns"]
    left = {r["RoleName"] for r in member("iam").list_roles()["Roles"]}
    assert not {r for r in left if r.startswith(name[:20])}
    assert not member("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"]
    groups = member("logs").describe_log_groups()["logGroups"]
    assert not [g for g in groups if name in g["logGroupName"]]
    addresses = ec2.describe_addresses()["Addresses"]
    assert not addresses
