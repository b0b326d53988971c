"""The sandbox with the Envoy data plane: one Envoy holding every partition, started after
Consul (whose process runs the Connect CA on the sandbox's Vault and the xDS server), health
checked on ``/ready``, listed by ``soa-lab status`` with its admin URL (which needs the
sandbox's ``envoy_admin_token``), stopped by ``down``."""

from __future__ import annotations

import json
from pathlib import Path

import requests

from .conftest import soa_lab_cli


def test_up_status_down_with_envoys(tmp_path: Path) -> None:
    home = tmp_path / "home"
    up = soa_lab_cli(home, "up")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        status = soa_lab_cli(home, "status", "--json")
        assert status.returncode == 0, status.stderr
        doc = json.loads(status.stdout)
        rows = doc["services"] if isinstance(doc, dict) else doc
        by_name = {row["name"]: row for row in rows}
        row = by_name["envoy"]
        assert row["health"] == "healthy"
        admin = row["url"]
        assert requests.get(admin + "/ready", timeout=5).text.strip() == "LIVE"
        token = json.loads((home / "secrets.json").read_text())["envoy_admin_token"]
        assert requests.get(admin + "/config_dump", timeout=5).status_code == 401
        headers = {"Authorization": f"Bearer {token}"}
        dump = requests.get(admin + "/config_dump", headers=headers, timeout=5).json()
        bootstrap = next(c for c in dump["configs"] if "BootstrapConfigDump" in c["@type"])
        assert bootstrap["bootstrap"]["node"]["metadata"] == {"partition": "*"}
        consul = by_name["consul"]["url"]
        roots = requests.get(consul + "/v1/connect/ca/roots", timeout=5).json()
        assert roots["Roots"] and roots["TrustDomain"].endswith(".consul")
    finally:
        down = soa_lab_cli(home, "down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert not (home / "envoy").exists()
