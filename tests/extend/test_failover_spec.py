"""The specification rule step 5 relies on: a service may run in several runtimes."""

from __future__ import annotations

import pytest

from soa_sdk.errors import ValidationError
from soa_sdk.runtime import mesh as runtime_mesh
from soa_sdk.tf import lab_spec as tfspec
from soa_sdk.tf import template


def with_copy(services=None, name="runtime-eks-west") -> tfspec.MeshSpec:
    declared = tfspec.load_mesh()
    payments = declared.services()["payments"][0]
    copy = template.runtime_spec(
        name,
        "eks",
        "us-west-2",
        vpc_cidr=template.next_vpc_cidr(declared),
        services=services if services is not None else [payments],
    )
    return tfspec.MeshSpec((*declared.runtimes, copy))


def test_the_first_runtime_stays_primary_and_the_copy_is_its_failover_target() -> None:
    mesh = with_copy()
    tfspec.validate_mesh(mesh)
    assert [r.name for r in mesh.placements("payments")] == ["runtime-ec2", "runtime-eks-west"]
    assert mesh.services()["payments"][1].name == "runtime-ec2"
    assert [r.name for r in mesh.failover_targets("payments")] == ["runtime-eks-west"]
    assert mesh.failover_targets("store") == []
    to_payments = [(i.source, i.destination_partition) for i in mesh.intentions()]
    assert ("store", "ec2") in to_payments and ("store", "eks-west") in to_payments


def test_the_primary_resolver_fails_over_and_the_copy_is_exported_to_its_callers() -> None:
    mesh = with_copy()
    ec2, west = mesh.runtime("runtime-ec2"), mesh.runtime("runtime-eks-west")
    resolver = runtime_mesh.resolver_entry(ec2.service("payments"), ec2, mesh)
    assert resolver["Failover"] == {"*": {"Targets": [{"Partition": "eks-west"}]}}
    assert runtime_mesh.resolver_entry(west.service("payments"), west, mesh) is None
    exports = runtime_mesh.exported_services(west, mesh)
    assert exports["Services"] == [{"Name": "payments", "Consumers": [{"Partition": "ecs"}]}]
    sources = runtime_mesh.intentions_entry(west.service("payments"), west, mesh)["Sources"]
    assert {"Name": "store", "Partition": "ecs", "Action": "allow"} in sources
    assert sources[-1] == {"Name": "*", "Action": "deny"}
    # Without a copy, the primary keeps no resolver at all (one version, no failover).
    alone = tfspec.load_mesh()
    assert runtime_mesh.resolver_entry(ec2.service("payments"), ec2, alone) is None


def test_two_different_services_with_one_name_are_still_refused() -> None:
    mesh = with_copy(services=[template.service("payments", port=9191)])
    with pytest.raises(ValidationError, match="unique across the mesh"):
        tfspec.validate_mesh(mesh)
