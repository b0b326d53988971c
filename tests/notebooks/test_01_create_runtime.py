"""Notebook 01 executed headless by papermill against the session's sandbox."""

from __future__ import annotations

import re

import pytest

from soa_sdk import outcomes
from soa_sdk.paths import notebooks_root
from soa_sdk.runner import run_notebook

from .secrets_scan import assert_no_secret_in_outputs

pytestmark = pytest.mark.slow


def test_notebook_01_creates_the_production_runtime(sandbox, run_folder):
    result = run_notebook(
        notebooks_root() / "01_create_runtime.ipynb", run_folder / "01_create_runtime.ipynb"
    )
    assert result.ok, f"cell {result.failed_cell}: {result.error}"
    outcome = outcomes.read(result.output)
    assert outcome["runtime"] == "runtime-ecs"
    assert outcome["kind"] == "ecs"
    assert outcome["status"] == 200
    assert outcome["call_chain"] == ["customers", "inventory", "payments", "store"]
    assert outcome["rerun_changed_nothing"] is True
    assert outcome["store_may_call_inventory"] is True
    assert outcome["inventory_may_call_store"] is False
    # The frontend is Terraform's (terraform/runtime_frontend applied, then planned again with
    # no change), and its /api/* behaviour reaches the store through the ingress's TLS listener.
    assert outcome["frontend_rerun_changed_nothing"] is True
    assert outcome["frontend_api_status"] == 200
    assert outcome["frontend_api_service"] == "store"
    # The identity Envoy's store sidecar presents: its leaf from the Connect CA, in Consul's
    # SPIFFE format with the runtime's admin partition.
    assert re.fullmatch(
        r"spiffe://[0-9a-f-]+\.consul/ap/ecs/ns/default/dc/dc1/svc/store",
        outcome["store_sidecar_identity"],
    ), outcome["store_sidecar_identity"]
    assert_no_secret_in_outputs(result.output, sandbox)
