"""Notebook 00 executed headless by papermill against the session's sandbox."""

from __future__ import annotations

import pytest

from soa_sdk import outcomes
from soa_sdk.paths import notebooks_root
from soa_sdk.runner import run_notebook

from .secrets_scan import assert_no_secret_in_outputs

pytestmark = pytest.mark.slow


def test_notebook_00_builds_the_organization(sandbox, run_folder):
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
    assert outcome["sessions_verified"] is True
    assert outcome["session_source"] == ["sts:AssumeRole OrganizationAccountAccessRole"]
    assert_no_secret_in_outputs(result.output, sandbox)
