"""Notebook 04 executed headless by papermill against the session's sandbox."""

from __future__ import annotations

import json

import pytest

from soa_sdk import outcomes
from soa_sdk.paths import notebooks_root
from soa_sdk.runner import run_notebook

from .secrets_scan import assert_no_secret_in_outputs

pytestmark = pytest.mark.slow

QUERIES = [
    "SELECT count(*) AS orders FROM orders",
    "SELECT customer, total FROM orders ORDER BY total DESC LIMIT 3",
    "SELECT current_user LIKE 'v-%' AS user_made_by_vault",
]


def test_notebook_04_grants_just_in_time_and_replays_the_session(sandbox, lab, run_folder):
    result = run_notebook(
        notebooks_root() / "04_secure_access.ipynb", run_folder / "04_secure_access.ipynb"
    )
    assert result.ok, f"cell {result.failed_cell}: {result.error}"
    outcome = outcomes.read(result.output)
    assert outcome["setup_changes_on_second_run"] == []
    assert set(outcome["terraform_first_run"]) == {
        "shared_services/vault",
        "shared_services/boundary",
    }
    assert outcome["granted_group"] == "dba"
    assert outcome["alice_authorized"] is True
    assert outcome["alice_queries"] == len(QUERIES)
    assert outcome["brokered_user_made_by_vault"] is True
    assert outcome["bob_status"] == 403
    assert outcome["grant_removed"] is True
    assert outcome["session_after_expiry"] == "terminated"
    assert outcome["alice_status_after_expiry"] == 403
    assert outcome["replayed_statements"] == QUERIES
    assert outcome["auditor_session_status"] == 403
    assert outcome["database_users_left"] == 0
    assert outcome["credentials_work_after_revoke"] is False
    assert_no_secret_in_outputs(result.output, sandbox)
    # Nor the secrets of step 4: the users' passwords (shared_services/boundary's input).
    shown = json.dumps(
        [c.get("outputs", []) for c in json.loads(result.output.read_text())["cells"]]
    )
    for user in lab.access.spec.users:
        password = lab.access.ctx.password(user.name)
        assert password not in shown, f"the notebook shows {user.name}'s password"
    # And after the run alice holds no grant and no PostgreSQL user made by Vault is left.
    assert all(g.user != "alice" for g in lab.access.grants())
    assert lab.access.database_users() == []
