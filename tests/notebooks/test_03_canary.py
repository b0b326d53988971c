"""Notebook 03 executed headless by papermill against the session's sandbox."""

from __future__ import annotations

import pytest

from soa_sdk import outcomes
from soa_sdk.paths import notebooks_root
from soa_sdk.runner import run_notebook

from .figures import keep_figures
from .secrets_scan import assert_no_secret_in_outputs

pytestmark = pytest.mark.slow


def test_notebook_03_rolls_back_the_bug_and_promotes_the_fix(sandbox, run_folder, artifact_folder):
    result = run_notebook(notebooks_root() / "03_canary.ipynb", run_folder / "03_canary.ipynb")
    assert result.ok, f"cell {result.failed_cell}: {result.error}"
    figures = keep_figures(result.output, artifact_folder("figures"))
    assert len(figures) >= 1, "the notebook's figures were rendered"
    outcome = outcomes.read(result.output)
    buggy, fixed = outcome["buggy"], outcome["fixed"]
    assert (buggy["canary"], buggy["baseline"], buggy["outcome"]) == ("v2", "v1", "rolled back")
    assert "100%" not in buggy["steps_reached"]
    assert buggy["canary_errors"] > 0
    assert (fixed["canary"], fixed["baseline"], fixed["outcome"]) == ("v2.1", "v1", "promoted")
    assert fixed["steps_reached"] == ["testers", "5%", "25%", "50%", "100%"]
    assert fixed["canary_errors"] == 0
    assert outcome["buggy_steps_within_share"] is True
    assert outcome["fixed_steps_within_share"] is True
    assert outcome["serving_after_promotion"] == {"v2.1": 200}
    assert outcome["current_version"] == "v2.1"
    # Every weight change and decision of both releases is in the audit trail.
    assert outcome["events_in_audit_trail"] == outcome["events_published"]
    assert outcome["events_published"] > fixed["windows"]
    assert_no_secret_in_outputs(result.output, sandbox)
