"""Terraform on terraform/org, then terraform/runtime_ecs (or the folders given), against a
fresh sandbox: init, apply, no-change plan (twice), destroy, for each folder, side by side.

runtime_ecs goes into the account org makes (its provider assumes the role there), so org is
applied first and destroyed last.

Run: ``SOA_LAB_HOME=/tmp/bench python benchmarks/terraform_apply.py [--folders org runtime_ecs]``.
Prints seconds per step and folder (targets on a 2-core machine: no-change plan <= 2 s, org
apply <= 5 s). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import time
from contextlib import ExitStack

import boto3

from soa_sdk.paths import terraform_root
from soa_sdk.sandbox import lifecycle
from soa_sdk.sandbox.state import SandboxState, sandbox_home
from soa_sdk.sandbox.terraform.run import Terraform

STEPS = ("init", "apply", "plan", "plan")


def runtime_variables(state: SandboxState, folder: str) -> dict[str, str]:
    """A runtime folder's variables on the sandbox: its account's id (made by org), where
    Consul and Vault's issuer are, or for runtime_frontend the store's API origin
    (placeholders: nothing here dials them)."""
    if folder == "runtime_frontend":
        spec = terraform_root() / folder / "frontend.auto.tfvars.json"
        frontend = json.loads(spec.read_text())["frontend"]
        return {
            "account_id": _account_id(state, frontend["account"]),
            "api_origin": json.dumps({"domain_name": "ingress.runtime-ecs.sandbox.soa-lab.test"}),
        }
    runtime = json.loads((terraform_root() / folder / "runtime.auto.tfvars.json").read_text())
    return {
        "account_id": _account_id(state, runtime["runtime"]["account"]),
        "consul": json.dumps({"server_address": "consul.sandbox.internal", "datacenter": "dc1"}),
        "vault_oidc_issuer": "https://vault.sandbox.soa-lab.test/v1/identity/oidc",
    }


def _account_id(state: SandboxState, name: str) -> str:
    """The id of the organization's account ``name``."""
    organizations = boto3.client(
        "organizations",
        endpoint_url=state.url("aws"),
        region_name="us-east-1",
        aws_access_key_id=state.secret("aws_access_key_id"),
        aws_secret_access_key=state.secret("aws_secret_access_key"),
    )
    accounts = organizations.list_accounts()["Accounts"]
    return str(next(a["Id"] for a in accounts if a["Name"] == name))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folders", nargs="+", default=["org", "runtime_ecs"])
    folders = parser.parse_args().folders
    home = sandbox_home()
    state, _ = lifecycle.up(home)
    times: dict[str, dict[str, float]] = {}
    counts: dict[str, str] = {}
    try:
        with ExitStack() as stack:
            applied: list[Terraform] = []
            for folder in folders:
                variables = runtime_variables(state, folder) if folder != "org" else None
                terraform = stack.enter_context(Terraform(folder, state, variables=variables))
                times[folder] = {}
                for i, step in enumerate(STEPS):
                    start = time.monotonic()
                    result = getattr(terraform, step)()
                    label = f"{step} {i - 1}" if step == "plan" else step
                    times[folder][label] = time.monotonic() - start
                    if step == "apply":
                        counts[folder] = f"{result.add} added"
                applied.append(terraform)
            for terraform in reversed(applied):
                start = time.monotonic()
                terraform.destroy()
                times[terraform.folder]["destroy"] = time.monotonic() - start
    finally:
        lifecycle.down(home)
    labels = list(next(iter(times.values())))
    print(f"{'seconds':10s}" + "".join(f"{f:>14s}" for f in folders))
    for label in labels:
        print(f"{label:10s}" + "".join(f"{times[f].get(label, 0.0):14.2f}" for f in folders))
    print(f"{'resources':10s}" + "".join(f"{counts.get(f, ''):>14s}" for f in folders))


if __name__ == "__main__":
    main()
