"""A runtime folder rendered from the template: the committed ones are exactly that, a new
one passes every check, and bad input is refused before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from soa_sdk import org_spec
from soa_sdk.errors import Conflict, SpecificationError, ValidationError
from soa_sdk.tf import checks, template
from soa_sdk.tf import lab_spec as spec


@pytest.mark.parametrize("folder", ["runtime_ecs", "runtime_eks", "runtime_ec2"])
def test_committed_runtime_folders_are_the_template_rendered(
    terraform_dir: Path, folder: str
) -> None:
    runtime = spec.load_runtime(terraform_dir / folder)
    rendered = template.render_runtime_folder(runtime)
    on_disk = {p.name: p.read_text() for p in (terraform_dir / folder).iterdir() if p.is_file()}
    assert on_disk == rendered


def _new_runtime() -> spec.RuntimeSpec:
    return template.runtime_spec(
        "runtime-ecs-west",
        "ecs",
        "us-west-2",
        vpc_cidr="10.4.0.0/16",
        account="runtime-ecs",
        services=[
            template.service("inventory-west", versions=("v1",)),
            {"name": "reviews", "upstreams": ["inventory", "inventory-west"], "replicas": 3},
        ],
    )


def test_a_new_runtime_folder_passes_every_check(
    tree_copy: Path, terraform_dir: Path, checkov_path: Path
) -> None:
    organization = org_spec.load(terraform_dir / "org" / "organization.auto.tfvars.json")
    folder = template.write_runtime_folder(
        _new_runtime(), tree_copy, account_names=[a.name for a in organization.accounts]
    )
    assert folder == tree_copy / "runtime_ecs_west"
    assert spec.load_runtime(folder) == _new_runtime()
    for result in checks.run_all(folder):
        assert result.ok, "\n".join(map(str, result.findings))
    # The shared services pick it up: it is part of the mesh now.
    mesh = spec.load_mesh(tree_copy)
    assert ("reviews", "inventory") in {(i.source, i.destination) for i in mesh.intentions()}


@pytest.mark.parametrize("kind", ["eks", "ec2"])
def test_every_kind_renders_and_passes_the_offline_checks(tree_copy: Path, kind: str) -> None:
    runtime = template.runtime_spec(
        f"runtime-{kind}-eu",
        kind,
        "eu-west-1",
        vpc_cidr="10.9.0.0/16",
        services=[template.service(f"{kind}-echo")],
    )
    folder = template.write_runtime_folder(runtime, tree_copy)
    for result in checks.run_all(folder, checkov=False):
        assert result.ok, "\n".join(map(str, result.findings))


def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Runtime-West"}, "not a valid runtime name"),
        ({"name": "runtime-../../etc"}, "not a valid runtime name"),
        ({"name": "ecs-west"}, "not a valid runtime name"),
        ({"kind": "lambda"}, "kind"),
        ({"region": "mars-1"}, "not a valid AWS region"),
        ({"vpc_cidr": "10.4.0.0/24"}, "/16"),
        ({"services": [{"name": "Bad Name"}]}, "not a valid service name"),
        ({"services": [{"name": "web", "traffic": {"v1": 90}}]}, "adding up to 100"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(
    tree_copy: Path, kwargs: dict, message: str
) -> None:
    before = _listing(tree_copy)
    arguments = {"name": "runtime-west", "kind": "ecs", "region": "us-west-2"}
    arguments.update({k: v for k, v in kwargs.items() if k in arguments})
    extra = {k: v for k, v in kwargs.items() if k not in arguments}
    with pytest.raises(ValidationError, match=message):
        runtime = template.runtime_spec(
            arguments["name"],
            arguments["kind"],
            arguments["region"],
            vpc_cidr=extra.get("vpc_cidr", "10.4.0.0/16"),
            services=extra.get("services", ()),
        )
        template.write_runtime_folder(runtime, tree_copy)
    assert _listing(tree_copy) == before


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"services": [template.service("store")]}, ValidationError, "declared by both"),
        ({"vpc_cidr": "10.1.0.0/16"}, ValidationError, "overlap"),
        ({"consul_partition": "ecs"}, ValidationError, "consul partition"),
        ({"services": [template.service("web", upstreams=["nope"])]}, ValidationError, "'nope'"),
        ({"name": "runtime-ecs"}, Conflict, "already exists"),
        ({"account": "runtime-nowhere"}, SpecificationError, "does not declare"),
    ],
)
def test_a_runtime_that_would_break_the_mesh_is_refused(
    tree_copy: Path, terraform_dir: Path, change: dict, error: type, message: str
) -> None:
    before = _listing(tree_copy)
    fields = {
        "name": "runtime-west",
        "kind": "ecs",
        "region": "us-west-2",
        "vpc_cidr": "10.4.0.0/16",
        "account": "runtime-ecs",
    }
    fields.update(change)
    runtime = template.runtime_spec(
        fields.pop("name"), fields.pop("kind"), fields.pop("region"), **fields
    )
    accounts = [
        a.name
        for a in org_spec.load(terraform_dir / "org" / "organization.auto.tfvars.json").accounts
    ]
    with pytest.raises(error, match=message):
        template.write_runtime_folder(runtime, tree_copy, account_names=accounts)
    assert _listing(tree_copy) == before


def test_render_writes_nothing_and_next_vpc_cidr_is_free(terraform_dir: Path) -> None:
    mesh = spec.load_mesh(terraform_dir)
    cidr = template.next_vpc_cidr(mesh)
    runtime = template.runtime_spec("runtime-next", "ec2", "us-east-2", vpc_cidr=cidr)
    files = template.render_runtime_folder(runtime)
    assert not (terraform_dir / "runtime_next").exists()
    assert set(files) == {
        "main.tf",
        "outputs.tf",
        "providers.tf",
        "variables.tf",
        "versions.tf",
        spec.RUNTIME_FILE,
    }
    assert json.loads(files[spec.RUNTIME_FILE])["runtime"]["vpc_cidr"] == cidr
    spec.validate_mesh(spec.MeshSpec((*mesh.runtimes, runtime)))
