"""lab.tf's runners without a sandbox: the folder must be one of terraform/, and the runner
for real endpoints says what it needs before Terraform runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from soa_sdk.errors import ValidationError
from soa_sdk.paths import terraform_root
from soa_sdk.tf.runner import STATE_BUCKET_VARIABLE, FolderRunner, RegistryRunner


@pytest.mark.parametrize("folder", ["../notebooks", "modules/../../soa_sdk", "no-such", "."])
def test_a_folder_outside_the_monorepo_is_refused(folder: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="not a Terraform folder"):
        FolderRunner(folder, tmp_path)
    assert list(tmp_path.iterdir()) == [], "nothing written"


def test_the_working_data_stays_out_of_the_checkout(tmp_path: Path) -> None:
    runner = FolderRunner("org", tmp_path)
    assert runner.path == (terraform_root() / "org").resolve()
    assert runner.data_dir == tmp_path / "org"
    assert runner.environment(reattach=False)["TF_DATA_DIR"] == str(tmp_path / "org")
    assert runner.variable_arguments(None) == []
    (argument,) = runner.variable_arguments({"organization": {"name": "x"}})
    assert argument == f"-var-file={tmp_path / 'org' / 'soa-lab.tfvars.json'}"


def test_real_endpoints_need_a_state_bucket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(STATE_BUCKET_VARIABLE, raising=False)
    with pytest.raises(ValidationError, match=STATE_BUCKET_VARIABLE):
        RegistryRunner("org", tmp_path, "us-east-1", {"management_account_id": "111122223333"})
    assert list(tmp_path.iterdir()) == []

    monkeypatch.setenv(STATE_BUCKET_VARIABLE, "my-state")
    monkeypatch.setenv("TF_VAR_region", "eu-west-1")
    monkeypatch.delenv("TF_CLI_CONFIG_FILE", raising=False)
    runner = RegistryRunner(
        "org", tmp_path, "eu-west-1", {"management_account_id": "111122223333", "region": "x"}
    )
    assert runner.backend_config() == {
        "bucket": "my-state",
        "key": "org/terraform.tfstate",
        "region": "eu-west-1",
        "use_lockfile": "true",
    }
    environment = runner.environment(reattach=False)
    assert environment["TF_VAR_management_account_id"] == "111122223333"
    assert environment["TF_VAR_region"] == "eu-west-1", "the caller's own variable wins"
    assert "TF_CLI_CONFIG_FILE" not in environment, (
        "the registry (or the caller's own configuration), not the sandbox's mirror"
    )


def test_init_is_skipped_only_for_the_same_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STATE_BUCKET_VARIABLE, "my-state")
    runner = RegistryRunner("org", tmp_path, "us-east-1", {})
    assert not runner.initialised(), "never initialised"
    backend_file = runner.data_dir / "terraform.tfstate"
    # What `terraform init` leaves in TF_DATA_DIR: the backend's configuration and providers.
    backend = {"type": "s3", "config": {"bucket": "my-state", "key": "org/terraform.tfstate"}}
    backend_file.write_text(json.dumps({"version": 3, "backend": backend}))
    assert not runner.initialised(), "no providers installed yet"
    (runner.data_dir / "providers").mkdir()
    assert runner.initialised()
    monkeypatch.setenv(STATE_BUCKET_VARIABLE, "another-bucket")
    assert not RegistryRunner("org", tmp_path, "us-east-1", {}).initialised()
    backend_file.write_text("{not json")
    assert not runner.initialised()
