"""Notebook 02 executed headless by papermill against the session's sandbox."""

from __future__ import annotations

import pytest

from soa_sdk import outcomes
from soa_sdk.paths import notebooks_root
from soa_sdk.runner import run_notebook

from .figures import keep_figures
from .secrets_scan import assert_no_secret_in_outputs

pytestmark = pytest.mark.slow


def test_notebook_02_observes_and_manages_the_runtime(sandbox, lab, run_folder, artifact_folder):
    result = run_notebook(notebooks_root() / "02_observe.ipynb", run_folder / "02_observe.ipynb")
    assert result.ok, f"cell {result.failed_cell}: {result.error}"
    figures = keep_figures(result.output, artifact_folder("figures"))
    assert len(figures) >= 2, "the notebook's figures were rendered"
    outcome = outcomes.read(result.output)
    spec = lab.runtime.spec(outcome["runtime"])
    assert outcome["creation_events"] >= 1
    # Step 1's terraform apply made the VPC, in the role step 0 made, named by the folder's
    # provider block (session_name = "terraform-<runtime>").
    assert outcome["creation_identity"] == [
        "assumed-role/OrganizationAccountAccessRole/terraform-runtime-ecs"
    ]
    assert {"management", spec.account} <= set(outcome["accounts_seen"])
    assert outcome["published_records"] > 0 and outcome["republished_records"] == 0
    assert outcome["metrics_requests"] == outcome["mesh_requests"] >= 500
    # An incident one period long: the faulty version's 5xx reach the users, then stop.
    periods = outcome["periods"]
    assert [p["label"] for p in periods] == ["steady"] * 2 + ["incident"] + ["recovered"] * 2
    assert outcome["fault"].startswith("payments v1 (runtime-ec2): 30% of requests answer 500")
    for period in periods:
        store = period["services"]["store v1"]
        assert store["requests"] == period["sent"], "the mesh recorded each request sent"
        assert store["5xx"] == period["client_5xx"], "and each 5xx the client got"
        assert store["p50_ms"] is not None and store["p50_ms"] <= store["p99_ms"]
        if period["label"] != "incident":
            assert not any(s["5xx"] for s in period["services"].values()), period
    incident = periods[2]["services"]
    assert incident["payments v1"]["5xx"] == incident["store v1"]["5xx"] > 0
    assert incident["inventory v1"]["5xx"] == incident["customers v1"]["5xx"] == 0
    assert outcome["log_events_found"] >= 1
    assert outcome["alarm_state"] in ("OK", "ALARM")
    assert outcome["alarm_evaluated_by"] == "soa-lab (sandbox)"
    declared = {f"{s.name}->{u}" for s in spec.services for u in s.upstreams}
    assert declared | {"runtime-ecs-ingress->store"} <= set(outcome["topology_edges"])
    # Default deny at work: the call the intentions refuse is answered as Envoy does, and drawn.
    assert outcome["denied_call"] == {"status": 403, "body": "RBAC: access denied"}
    assert "inventory->store" in outcome["topology_edges"]
    assert outcome["healthy_instances"] == sum(s.replicas * len(s.versions) for s in spec.services)
    assert outcome["scaled_instance_served"] > 0
    assert outcome["requests_to_broken"] == 0
    assert outcome["broken_status"] == "critical"  # how fast: benchmarks/health_reaction.py
    assert outcome["ok_after"] == outcome["ok_before"]
    assert_no_secret_in_outputs(result.output, sandbox)
