"""The unchanged runtime folders (terraform/runtime_ecs, runtime_eks, runtime_ec2 with the
modules they call), applied by real Terraform through the local hashicorp/aws provider into
each runtime's own account, which step 0 makes first (``lab.org.require()`` applies
terraform/org; the folders' provider assumes the role the organization created there), in a
sandbox of the module's own (the session's may hold step 1's runtimes, which the SDK still
makes with boto3): apply, no changes, a drift made through boto3
that the next plan shows, an update in place that puts it back, import of what every runtime
has (the plan after says no changes), destroy leaving nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from soa_sdk.paths import terraform_root
from soa_sdk.sandbox.state import SandboxState
from soa_sdk.sandbox.terraform.run import Terraform

ISSUER = "https://vault.sandbox.soa-lab.test/v1/identity/oidc"
Client = Callable[[str], Any]


def _runtime(folder: str) -> dict[str, Any]:
    path = terraform_root() / folder / "runtime.auto.tfvars.json"
    return json.loads(path.read_text())["runtime"]


def _workloads(runtime: dict[str, Any]) -> dict[str, int]:
    """Replicas by workload (service-version), as the modules key them."""
    return {f"{s['name']}-{v}": s["replicas"] for s in runtime["services"] for v in s["versions"]}


@pytest.fixture(scope="module")
def accounts(sandbox: SandboxState) -> dict[str, str]:
    """The organization's accounts by name: step 0's organization, as a later step gets it
    (``lab.org.require()``: terraform/org applied when it is not there yet)."""
    from soa_sdk import Lab

    lab = Lab.connect("sandbox", home=sandbox.home, start=False)
    return {a.name: a.id for a in lab.org.require().accounts}


def _member(aws_client: Callable[..., Any], account_id: str) -> Client:
    """boto3 in a member account, through the role the organization made there."""
    role = f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole"
    reply = aws_client("sts").assume_role(RoleArn=role, RoleSessionName="test-runtime")
    credentials = reply["Credentials"]
    return lambda service: aws_client(
        service,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


# --- per kind: what the apply made, a drift through the API, what destroy leaves --------------


def _ecs_applied(member: Client, runtime: dict[str, Any]) -> None:
    ecs, name = member("ecs"), runtime["name"]
    assert ecs.describe_clusters(clusters=[name])["clusters"][0]["status"] == "ACTIVE"
    arns = ecs.list_services(cluster=name)["serviceArns"]
    services = ecs.describe_services(cluster=name, services=arns)["services"]
    # Named as their task definitions' families: <runtime>-<service>-<version>.
    wanted = {f"{name}-{workload}": count for workload, count in _workloads(runtime).items()}
    assert {s["serviceName"]: s["desiredCount"] for s in services} == wanted


def _ecs_drift(member: Client, runtime: dict[str, Any]) -> str:
    workload = next(iter(_workloads(runtime)))
    service = f"{runtime['name']}-{workload}"
    member("ecs").update_service(cluster=runtime["name"], service=service, desiredCount=5)
    return f'module.compute.aws_ecs_service.this["{workload}"]'


def _ecs_destroyed(member: Client, runtime: dict[str, Any]) -> None:
    ecs = member("ecs")
    clusters = ecs.describe_clusters(clusters=[runtime["name"]])["clusters"]
    assert all(c["status"] == "INACTIVE" for c in clusters)
    assert not ecs.list_task_definitions(status="ACTIVE")["taskDefinitionArns"]


def _eks_applied(member: Client, runtime: dict[str, Any]) -> None:
    eks, name = member("eks"), runtime["name"]
    cluster = eks.describe_cluster(name=name)["cluster"]
    assert not cluster["resourcesVpcConfig"]["endpointPublicAccess"]
    assert cluster["encryptionConfig"][0]["resources"] == ["secrets"]
    assert eks.list_nodegroups(clusterName=name)["nodegroups"] == [f"{name}-default"]


def _eks_drift(member: Client, runtime: dict[str, Any]) -> str:
    eks, name = member("eks"), runtime["name"]
    group = eks.describe_nodegroup(clusterName=name, nodegroupName=f"{name}-default")
    scaling = dict(group["nodegroup"]["scalingConfig"])
    scaling["maxSize"] += 1
    eks.update_nodegroup_config(
        clusterName=name, nodegroupName=f"{name}-default", scalingConfig=scaling
    )
    return "module.compute.aws_eks_node_group.this"


def _eks_destroyed(member: Client, runtime: dict[str, Any]) -> None:
    assert runtime["name"] not in member("eks").list_clusters()["clusters"]
    assert not member("ec2").describe_launch_templates()["LaunchTemplates"]


def _ec2_applied(member: Client, runtime: dict[str, Any]) -> None:
    groups = member("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
    by_workload = {
        next(t["Value"] for t in g["Tags"] if t["Key"] == "Service")
        + "-"
        + next(t["Value"] for t in g["Tags"] if t["Key"] == "Version"): g["DesiredCapacity"]
        for g in groups
    }
    assert by_workload == _workloads(runtime)


def _ec2_drift(member: Client, runtime: dict[str, Any]) -> str:
    autoscaling = member("autoscaling")
    workload, replicas = next(iter(_workloads(runtime).items()))
    group = next(
        g
        for g in autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
        if g["AutoScalingGroupName"].startswith(f"{runtime['name']}-{workload}-")
    )
    autoscaling.update_auto_scaling_group(
        AutoScalingGroupName=group["AutoScalingGroupName"], MaxSize=replicas * 2 + 3
    )
    return f'module.compute.aws_autoscaling_group.this["{workload}"]'


def _ec2_destroyed(member: Client, runtime: dict[str, Any]) -> None:
    assert not member("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
    assert not member("ec2").describe_launch_templates()["LaunchTemplates"]
    assert not member("iam").list_instance_profiles()["InstanceProfiles"]


# What every runtime folder has, imported again (by the id the real provider imports it with)
# after ``terraform state rm``: the next plan says no changes. Not here: resources holding a
# JSON policy (an imported role's trust policy is the API's JSON, which the plan shows as a
# whitespace change: the real provider's SDK suppresses it under the legacy type system).
IMPORTS: dict[str, Callable[[dict[str, Any]], str]] = {
    "module.network.aws_vpc.this": lambda v: v["id"],
    "module.network.aws_subnet.private[0]": lambda v: v["id"],
    "module.network.aws_route.public_internet": lambda v: (
        f"{v['route_table_id']}_{v['destination_cidr_block']}"
    ),
    "module.network.aws_route_table_association.public[0]": lambda v: (
        f"{v['subnet_id']}/{v['route_table_id']}"
    ),
    "module.network.aws_cloudwatch_log_group.flow_logs": lambda v: v["name"],
    "module.workload_identity.aws_iam_openid_connect_provider.this": lambda v: v["arn"],
}


def _state_values(terraform: Terraform) -> dict[str, dict[str, Any]]:
    """Every resource's values in state, by address (``terraform show -json``)."""
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


def _import_again(terraform: Terraform) -> None:
    values = _state_values(terraform)
    for address, import_id in IMPORTS.items():
        code, output = terraform.run("state", "rm", "-no-color", address)
        assert code == 0, output[-2000:]
        code, output = terraform.run("import", "-no-color", address, import_id(values[address]))
        assert code == 0, output[-2000:]
    replanned = terraform.plan()
    assert replanned.no_changes, replanned.output[-3000:]


KINDS = {
    "runtime_ecs": (_ecs_applied, _ecs_drift, _ecs_destroyed),
    "runtime_eks": (_eks_applied, _eks_drift, _eks_destroyed),
    "runtime_ec2": (_ec2_applied, _ec2_drift, _ec2_destroyed),
}


@pytest.mark.parametrize("folder", list(KINDS))
def test_runtime_round_trip(
    folder: str,
    sandbox: SandboxState,
    accounts: dict[str, str],
    aws_client: Callable[..., Any],
) -> None:
    runtime = _runtime(folder)
    applied_check, drift, destroyed_check = KINDS[folder]
    member = _member(aws_client, accounts[runtime["account"]])
    variables = {
        "account_id": accounts[runtime["account"]],
        "consul": json.dumps({"server_address": "consul.sandbox.internal", "datacenter": "dc1"}),
        "vault_oidc_issuer": ISSUER,
    }
    with Terraform(folder, sandbox, variables=variables) as terraform:
        terraform.init()
        applied = terraform.apply()
        assert applied.add > 0 and applied.add == len(applied.created), applied.output[-3000:]
        assert not applied.changed and not applied.destroyed

        # What Terraform made is in the runtime's account, as declared.
        applied_check(member, runtime)
        ec2, name = member("ec2"), runtime["name"]
        cidr = [{"Name": "cidr", "Values": [runtime["vpc_cidr"]]}]
        vpcs = ec2.describe_vpcs(Filters=cidr)["Vpcs"]
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

        assert terraform.plan().no_changes

        # A drift made through the API: the next plan shows it; apply puts it back in place.
        address = drift(member, runtime)
        drifted = terraform.plan()
        assert drifted.changed == (address,) and drifted.add == 0, drifted.output[-3000:]
        fixed = terraform.apply()
        assert fixed.changed == (address,) and not fixed.created and not fixed.destroyed
        assert terraform.plan().no_changes

        _import_again(terraform)

        destroyed = terraform.destroy()
        assert set(destroyed.destroyed) == set(applied.created), destroyed.output[-3000:]
        assert terraform.state_list() == []
    destroyed_check(member, runtime)
    assert not ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Vpcs"]
    left = {r["RoleName"] for r in member("iam").list_roles()["Roles"]}
    assert not {r for r in left if r.startswith(name[:20])}
    assert not member("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"]
    groups = member("logs").describe_log_groups()["logGroups"]
    assert not [g for g in groups if name in g["logGroupName"]]
    assert not ec2.describe_addresses()["Addresses"]
