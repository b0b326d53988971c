"""Step 1 against the sandbox: boto3 in the member account, python-consul2, the mesh."""

from __future__ import annotations

import dataclasses

import pytest

from soa_sdk.errors import Conflict, NotFound, ValidationError


@pytest.fixture(scope="module")
def organization(lab):
    return lab.org.ensure()


def vpcs(lab, runtime):
    ec2 = lab.org.session(runtime.account).client("ec2", region_name=runtime.region)
    found = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [runtime.name]}])
    return found["Vpcs"]


def consul_entries(lab, runtime):
    found = []
    for kind in ("service-defaults", "service-intentions", "service-resolver", "ingress-gateway"):
        found += lab.consul.request(
            "GET", f"config/{kind}", params={"partition": runtime.consul_partition}
        )
    return [
        e
        for e in found
        if e["Name"] in {s.name for s in runtime.services} or e["Name"].startswith(runtime.name)
    ]


def test_create_then_destroy_leaves_nothing(lab, organization):
    runtime = lab.runtime.spec("runtime-eks")
    report = lab.runtime.create("runtime-eks")
    assert report.compute.cluster == "runtime-eks"
    assert report.compute.node_group == "runtime-eks-default"  # modules/eks_runtime's name
    # The mesh's policy and the runtime came from terraform/, through real Terraform.
    assert set(report.terraform) == {"shared_services/consul", "runtime_eks"}  # no upstreams
    assert lab.tf.plan("shared_services/consul").no_changes
    assert lab.tf.plan("runtime_eks", {"account_id": report.account_id}).no_changes
    assert "service-intentions:customers" in report.consul_entries
    assert vpcs(lab, runtime)
    assert consul_entries(lab, runtime)
    status, reply = lab.runtime.call("runtime-eks")
    assert status == 200, reply
    # A later step's require reads it back and runs no Terraform.
    again = lab.runtime.require("runtime-eks")
    assert again.terraform == {}
    assert (again.ingress_url, again.compute) == (report.ingress_url, report.compute)

    removed = lab.runtime.destroy("runtime-eks")
    assert "terraform/runtime_eks:module.compute.aws_eks_cluster.this" in removed
    assert vpcs(lab, runtime) == []
    assert consul_entries(lab, runtime) == []
    assert [w for w in lab.workloads.list() if w["runtime"] == "runtime-eks"] == []
    eks = lab.org.session(runtime.account).client("eks", region_name=runtime.region)
    assert "runtime-eks" not in eks.list_clusters()["clusters"]
    with pytest.raises(NotFound, match="create it first"):
        lab.runtime.call("runtime-eks")


def test_an_unknown_runtime_is_refused_naming_the_declared_ones(lab):
    with pytest.raises(NotFound, match=r"no runtime named 'runtime-mars'.*runtime-ecs"):
        lab.runtime.create("runtime-mars")


def test_an_unsupported_kind_is_refused_before_any_change(lab, organization):
    runtime = dataclasses.replace(
        lab.runtime.spec("runtime-ec2"), name="runtime-lambda", kind="lambda"
    )
    with pytest.raises(ValidationError, match="kind 'lambda'"):
        lab.runtime.create(spec=runtime)
    assert vpcs(lab, runtime) == []


def test_an_account_that_does_not_exist_is_refused(lab, organization):
    runtime = dataclasses.replace(lab.runtime.spec("runtime-ec2"), account="runtime-nowhere")
    with pytest.raises(NotFound, match="'runtime-nowhere', which does not exist"):
        lab.runtime.create(spec=runtime)


def test_a_name_taken_by_another_account_is_refused(lab, organization):
    lab.runtime.create("runtime-ec2")
    try:
        stolen = dataclasses.replace(
            lab.runtime.spec("runtime-ec2"), account="runtime-eks", vpc_cidr="10.99.0.0/16"
        )
        with pytest.raises(Conflict, match="already taken by the account 'runtime-ec2'"):
            lab.runtime.create(spec=stolen)
        assert vpcs(lab, stolen) == []
    finally:
        lab.runtime.destroy("runtime-ec2")


def test_a_runtime_no_folder_declares_is_refused_before_any_change(lab, organization):
    # Step 1 builds a runtime by terraform apply of its folder; one with none has nothing to
    # apply (step 5 renders a folder first and passes its copy of terraform/).
    runtime = dataclasses.replace(
        lab.runtime.spec("runtime-ec2"), name="runtime-ec2-copy", consul_partition="ec2-copy"
    )
    with pytest.raises(ValidationError, match="No folder of terraform/ declares"):
        lab.runtime.create(spec=runtime)
    assert vpcs(lab, runtime) == []
    assert lab.runtime.record(runtime.name) is None
