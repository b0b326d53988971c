"""Notebook 05 executed headless by papermill against the session's sandbox."""

from __future__ import annotations

import pytest

from soa_sdk import outcomes
from soa_sdk.paths import notebooks_root
from soa_sdk.runner import run_notebook

from .secrets_scan import assert_no_secret_in_outputs

pytestmark = pytest.mark.slow


def test_notebook_05_adds_a_runtime_that_takes_over_on_failure(sandbox, run_folder):
    result = run_notebook(
        notebooks_root() / "05_add_runtime.ipynb", run_folder / "05_add_runtime.ipynb"
    )
    assert result.ok, f"cell {result.failed_cell}: {result.error}"
    outcome = outcomes.read(result.output)
    assert outcome["runtime"] == "runtime-eks-west"
    assert outcome["kind"] == "eks" and outcome["region"] == "us-west-2"
    assert outcome["checks_ok"] is True
    assert set(outcome["checks"]) == {"parse", "fmt", "conventions", "checkov"}
    assert outcome["failover"] == {"payments": {"primary": "ec2", "targets": ["eks-west"]}}
    assert outcome["status_before"] == 200
    assert "runtime-eks-west" not in outcome["answer_before"]
    assert outcome["status_during_failure"] == 200
    assert outcome["answer_during_failure"] == "payments v1 (runtime-eks-west)"
    assert outcome["status_after_restore"] == 200
    assert "runtime-eks-west" not in outcome["answer_after_restore"]
    assert outcome["removed"] is True
    assert outcome["repository_clean"] is True
    assert outcome["scratch_left"] is False  # no soa-lab-step5-* copy of terraform/ is left
    assert_no_secret_in_outputs(result.output, sandbox)
