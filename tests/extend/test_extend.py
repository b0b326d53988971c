"""Step 5 against the sandbox: a runtime added from the template, failover across runtimes."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest

from soa_sdk.errors import Conflict, ValidationError
from soa_sdk.extend import RECORD_PREFIX

NAME = "runtime-eks-test"


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def consul_entries(lab, partition: str) -> list[str]:
    found = []
    for kind in (
        "service-defaults",
        "service-intentions",
        "service-resolver",
        "exported-services",
        "ingress-gateway",
    ):
        try:
            found += [
                f"{kind}:{e['Name']}"
                for e in lab.consul.request(
                    "GET", f"config/{kind}", params={"partition": partition}
                )
            ]
        except Exception:  # the partition is gone: nothing can be in it
            pass
    return found


def partitions(lab) -> list[str]:
    return [p["Name"] for p in lab.consul.request("GET", "partitions")]


def workload_ids(lab) -> list[str]:
    return sorted(w["id"] for w in lab.workloads.list())


def account_names(lab) -> list[str]:
    client = lab.aws.client("organizations")
    return [a["Name"] for a in client.list_accounts()["Accounts"]]


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"name": "runtime-ecs"}, Conflict, "already used"),
        ({"name": "Runtime_West"}, ValidationError, "not a valid runtime"),
        ({"name": "west"}, ValidationError, "not a valid runtime"),
        ({"kind": "lambda"}, ValidationError, "not supported"),
        ({"region": "mars-north-1"}, ValidationError, "not a supported AWS region"),
        ({"account": "Bad_Account"}, ValidationError, "not a valid account name"),
        ({"account": "runtime-ecs"}, Conflict, "already belongs"),
        ({"services": ("billing",)}, ValidationError, "No runtime runs a service"),
        ({"name": "runtime-aaa"}, ValidationError, "sorts before runtime-ec2"),
    ],
)
def test_bad_input_writes_no_folder_and_creates_nothing(
    base, scratch_tree: Path, arguments: dict, error: type, message: str
) -> None:
    lab = base
    before_tree, before_accounts = listing(scratch_tree), account_names(lab)
    before_partitions, before_workloads = partitions(lab), workload_ids(lab)
    fields = {"name": NAME, "kind": "eks", "region": "us-west-2", **arguments}
    with pytest.raises(error, match=message):
        lab.extend.add_runtime(**fields, terraform_root=scratch_tree, checkov=False)
    assert listing(scratch_tree) == before_tree
    assert account_names(lab) == before_accounts
    assert partitions(lab) == before_partitions
    assert workload_ids(lab) == before_workloads
    assert lab.extend.added() == []


def test_add_fails_over_then_remove_leaves_nothing(base, scratch_tree: Path) -> None:
    lab = base
    before_tree = listing(scratch_tree)
    report = lab.extend.add_runtime(
        NAME, "eks", "us-west-2", terraform_root=scratch_tree, checkov=False
    )
    assert report.checks_ok, [str(f) for r in report.checks for f in r.findings]
    assert (scratch_tree / "runtime_eks_test" / "runtime.auto.tfvars.json").is_file()
    assert report.runtime.partition == "eks-test" and report.runtime.account == NAME
    assert report.failover == {"payments": {"primary": "ec2", "targets": ["eks-test"]}}
    # The resolver as shared_services/consul, applied from the scratch copy, declares it.
    resolver = lab.extend.failover_resolver("payments", "ec2")
    assert resolver["Failover"]["*"]["Targets"] == [
        {"Partition": "eks-test", "Namespace": "default"}
    ]
    assert "eks-test" in partitions(lab)
    assert NAME in lab.extend.added()
    # Adding the same runtime again adopts it.
    again = lab.extend.add_runtime(
        NAME, "eks", "us-west-2", terraform_root=scratch_tree, checkov=False
    )
    assert again.runtime.network == report.runtime.network
    # While it exists, step 1 applies the mesh's policy from the copy that holds it: nothing
    # to change (from terraform/, Terraform would plan the new partition away).
    assert lab.runtime.extension_root().resolve() == scratch_tree.resolve()
    assert lab.runtime.apply_mesh_policy().no_changes
    # Every runtime step 5 adds goes into that one copy: another is refused before any change.
    other = scratch_tree.parent / "other"
    other.mkdir()
    with pytest.raises(Conflict, match="one copy of terraform/"):
        lab.extend.add_runtime("runtime-eks-other", "eks", "us-west-2", terraform_root=other)
    assert list(other.iterdir()) == [] and "runtime-eks-other" not in lab.extend.added()

    # Break the primary's health: the request through the ECS ingress still succeeds.
    local = [w for w in lab.workloads.list() if w["runtime"] == "runtime-ec2"]
    try:
        for w in local:
            lab.workloads.update(w["id"], health_code=500)
        deadline, answer = time.monotonic() + 60, None  # generous: the outcome is tested
        while time.monotonic() < deadline:
            status, reply = lab.runtime.call("runtime-ecs")
            answer = lab.extend.answer_of(reply, "payments")
            if status == 200 and answer and NAME in answer:
                break
            time.sleep(0.3)
        assert status == 200 and NAME in (answer or ""), (status, answer)
    finally:
        for w in local:
            lab.workloads.update(w["id"], health_code=200)

    account_id = report.account_id
    removed = lab.extend.remove_runtime(NAME)
    assert removed
    assert listing(scratch_tree) == before_tree
    assert "eks-test" not in partitions(lab)
    assert consul_entries(lab, "eks-test") == []
    assert "Failover" not in (lab.extend.failover_resolver("payments", "ec2") or {})
    assert [w for w in lab.workloads.list() if w["runtime"] == NAME] == []
    assert NAME not in account_names(lab)
    assert lab.consul.client.kv.get(f"{RECORD_PREFIX}{NAME}")[1] is None
    # What lived in the account is gone too (moto still lets us look inside it).
    sts = lab.aws.client("sts")
    credentials = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole",
        RoleSessionName="soa-lab-check",
    )["Credentials"]
    import boto3

    inside = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name="us-west-2",
    )
    url = lab.endpoints.aws_url
    vpcs = inside.client("ec2", endpoint_url=url).describe_vpcs(
        Filters=[{"Name": "tag:Runtime", "Values": [NAME]}]  # the folder's default_tags
    )["Vpcs"]
    assert vpcs == []
    assert NAME not in inside.client("eks", endpoint_url=url).list_clusters()["clusters"]
    # The mesh is back to one runtime for payments: once the local instances pass their
    # checks again (one check interval after their health was restored), requests succeed.
    status, reply, _ = lab.extend.wait_for_answer(
        "runtime-ecs", "payments", lambda answer: NAME not in answer
    )
    assert status == 200 and NAME not in (lab.extend.answer_of(reply, "payments") or "")


def test_the_labs_scratch_copy_goes_with_the_last_runtime_in_it(
    base, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each run of notebook 05 used to leave a soa-lab-step5-* copy of terraform/ behind."""
    lab = base
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the system's temporary folder
    scratch = lab.extend.scratch_terraform()
    assert scratch.parent.parent == tmp_path and scratch.parent.name.startswith("soa-lab-step5-")
    # Another name than the other tests': a name removed and added again in one sandbox
    # is not covered yet (see the closing note of this change).
    name = "runtime-eks-scratch"
    lab.extend.add_runtime(name, "eks", "us-west-2", terraform_root=scratch, checkov=False)
    assert (scratch / "runtime_eks_scratch").is_dir()
    removed = lab.extend.remove_runtime(name)
    assert f"scratch:{scratch.parent}" in removed
    assert list(tmp_path.glob("soa-lab-step5-*")) == []
    # A folder the caller names is the caller's: it stays (a str is taken as well as a Path).
    own = lab.extend.scratch_terraform(str(tmp_path / "mine"))
    assert own == tmp_path / "mine" / "terraform" and own.is_dir()
    assert lab.extend._drop_scratch(own) is False and own.is_dir()
