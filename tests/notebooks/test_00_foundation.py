"""Notebook 00 executed headless by papermill against the session's sandbox."""

from __future__ import annotations

import pytest

from soa_sdk import outcomes
from soa_sdk.paths import notebooks_root
from soa_sdk.runner import run_notebook

from .secrets_scan import assert_no_secret_in_outputs

pytestmark = pytest.mark.slow


def test_notebook_00_applies_the_organizations_terraform(sandbox, run_folder):
    result = run_notebook(
        notebooks_root() / "00_foundation.ipynb", run_folder / "00_foundation.ipynb"
    )
    assert result.ok, f"cell {result.failed_cell}: {result.error}"
    outcome = outcomes.read(result.output)
    assert outcome["accounts"] == {
        "shared-services": "shared",
        "runtime-ec2": "runtimes",
        "runtime-ecs": "runtimes",
        "runtime-eks": "runtimes",
        "frontend": "frontend",
    }
    assert outcome["account_ids_unique"] is True
    assert outcome["created_on_second_run"] == []
    # terraform/org applied by real Terraform: 23 resources on the session's sandbox when the
    # notebook ran first, nothing when another test had applied the folder before it.
    first = outcome["terraform_first"]
    assert (first["change"], first["destroy"]) == (0, 0)
    assert first["add"] in (0, 23)
    assert len(outcome["terraform_created"]) == first["add"]
    if first["add"]:
        assert 'aws_organizations_account.this["runtime-ecs"]' in outcome["terraform_created"]
        assert "aws_cloudtrail.this" in outcome["terraform_created"]
    assert outcome["terraform_second_no_changes"] is True
    assert outcome["organization_trail"] is True
    assert outcome["policies_by_ou"] == {
        ou: ["soa-lab-guardrails"] for ou in ("shared", "runtimes", "frontend")
    }
    assert outcome["sessions_verified"] is True
    assert outcome["session_source"] == ["sts:AssumeRole OrganizationAccountAccessRole"]
    assert_no_secret_in_outputs(result.output, sandbox)
