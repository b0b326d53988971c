"""What a learner sees of the sandbox's real Envoy: the config versions it accepted and its
NACKs in ``soa-lab status`` (the real CLI, as subprocesses) and in Consul's log, and a
sidecar's listeners, routes, clusters and certificates through the SDK
(``lab.runtime.proxy_config``), read from Envoy's admin ``/config_dump``.

One sandbox with the Envoy data plane; services registered through Consul's HTTP API in the
partition of the declared runtime ``runtime-ecs`` (``store`` calls ``inventory``, v1 and v2),
their workloads small HTTP servers of this test."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from soa_sdk.lab import Lab
from soa_sdk.runtime import proxy
from soa_sdk.sandbox.ports import free_port
from soa_sdk.sandbox.state import SandboxState

from .conftest import _Handler, _Workload, eventually, soa_lab_cli

PARTITION = "ecs"  # runtime-ecs's, in the declared mesh
BAD_REGEX = "/(?=look)ahead"  # RE2, Envoy's regex engine, has no lookahead


class Sandbox:
    def __init__(self, home: Path) -> None:
        self.home = home
        state = SandboxState.load(home)
        self.consul = state.services["consul"].url
        self.consul_log = Path(state.services["consul"].log)
        self.admin = state.services["envoy"].url
        self.admin_headers = {"Authorization": f"Bearer {state.secrets['envoy_admin_token']}"}
        self.headers = {"X-Consul-Token": state.secrets["consul_management_token"]}
        self.inventory_port = free_port()  # store's upstream listener for inventory
        self.workloads: list[_Workload] = []

    def put(self, path: str, body: dict[str, Any]) -> None:
        reply = requests.put(
            f"{self.consul}/v1/{path}",
            params={"partition": PARTITION},
            json=body,
            headers=self.headers,
            timeout=10,
        )
        assert reply.status_code == 200, reply.text

    def workload(self, version: str) -> int:
        server = _Workload(("127.0.0.1", 0), _Handler)
        server.version = version
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.workloads.append(server)
        return server.server_address[1]

    def register(self, name: str, sid: str, version: str, **proxy: Any) -> None:
        self.put(
            "agent/service/register",
            {
                "Name": name,
                "ID": sid,
                "Port": self.workload(version),
                "Meta": {"version": version},
                "Connect": {"SidecarService": {"Port": free_port(), "Proxy": proxy}},
            },
        )

    def router(self, *routes: dict[str, Any]) -> None:
        self.put("config", {"Kind": "service-router", "Name": "inventory", "Routes": list(routes)})

    def call(self, version: str) -> str:
        reply = requests.get(
            f"http://127.0.0.1:{self.inventory_port}/", headers={"x-version": version}, timeout=10
        )
        return str(reply.json()["version"]) if reply.status_code == 200 else reply.text


HEADER_ROUTE = {
    "Match": {"HTTP": {"Header": [{"Name": "x-version", "Exact": "v2"}]}},
    "Destination": {"ServiceSubset": "v2"},
}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    home = tmp_path_factory.mktemp("view") / "home"
    up = soa_lab_cli(home, "up")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        s = Sandbox(home)
        requests.put(
            f"{s.consul}/v1/partition", json={"Name": PARTITION}, headers=s.headers, timeout=10
        ).raise_for_status()
        s.put("config", {"Kind": "service-defaults", "Name": "inventory", "Protocol": "http"})
        s.put(
            "config",
            {
                "Kind": "service-resolver",
                "Name": "inventory",
                "DefaultSubset": "v1",
                "Subsets": {
                    "v1": {"Filter": "Service.Meta.version == v1"},
                    "v2": {"Filter": "Service.Meta.version == v2"},
                },
            },
        )
        s.put(
            "config",
            {
                "Kind": "service-splitter",
                "Name": "inventory",
                "Splits": [
                    {"Weight": 50, "ServiceSubset": "v1"},
                    {"Weight": 50, "ServiceSubset": "v2"},
                ],
            },
        )
        s.router(HEADER_ROUTE)
        s.put(
            "config",
            {
                "Kind": "service-intentions",
                "Name": "inventory",
                "Sources": [{"Name": "store", "Action": "allow"}],
            },
        )
        s.register("inventory", "inventory-v1", "v1")
        s.register("inventory", "inventory-v2", "v2")
        s.register(
            "store",
            "store-1",
            "v1",
            Upstreams=[{"DestinationName": "inventory", "LocalBindPort": s.inventory_port}],
        )
        eventually(lambda: s.call("v2") == "v2")
        yield s
    finally:
        down = soa_lab_cli(home, "down")
        assert down.returncode == 0, down.stdout + down.stderr


def test_status_shows_accepted_versions_then_a_nack_and_the_old_config_serves(
    sandbox: Sandbox,
) -> None:
    status = soa_lab_cli(sandbox.home, "status")
    assert status.returncode == 0, status.stderr
    accepted = [line for line in status.stdout.splitlines() if line.startswith("envoy: xDS")]
    assert accepted and "routes " in accepted[0] and "clusters " in accepted[0], status.stdout
    assert "NACK" not in status.stdout

    # A router Consul's API accepts and Envoy rejects: the write succeeds, Envoy NACKs.
    sandbox.router(
        {"Match": {"HTTP": {"PathRegex": BAD_REGEX}}, "Destination": {"ServiceSubset": "v1"}},
        HEADER_ROUTE,
    )

    def shown() -> str:
        out = soa_lab_cli(sandbox.home, "status").stdout
        return out if "xDS NACK" in out else ""

    text = shown() or eventually(shown)
    nack_line = next(line for line in text.splitlines() if "xDS NACK" in line)
    assert nack_line.startswith("envoy: xDS NACK (1 in all")
    assert "routes version" in nack_line and "Envoy keeps its previous config" in nack_line
    assert "(?=" in nack_line  # Envoy's own message: RE2's "invalid perl operator: (?="

    document = json.loads(soa_lab_cli(sandbox.home, "status", "--json").stdout)
    envoy = next(row for row in document["services"] if row["name"] == "envoy")
    nack = envoy["xds"]["last_nack"]
    assert nack["type_url"].endswith("RouteConfiguration") and nack["node"] == "envoy"
    assert "(?=" in nack["message"]
    assert nack["version"] != envoy["xds"]["acked"][nack["type_url"]]  # not what it holds

    status_file = sandbox.home / "consul" / "xds-status.json"
    assert status_file.stat().st_mode & 0o077 == 0  # the sandbox's user's only

    log = sandbox.consul_log.read_text()
    lines = [line for line in log.splitlines() if "xDS NACK from envoy" in line]
    assert len(lines) == 1 and nack["version"] in lines[0] and "(?=" in lines[0]

    # Envoy keeps the routes it had: the header still reaches v2, through Envoy.
    for _ in range(5):
        assert sandbox.call("v2") == "v2"

    # Fixed: the next version is accepted, and status says the NACK was superseded.
    sandbox.router(HEADER_ROUTE)
    eventually(
        lambda: "a newer version was accepted since" in soa_lab_cli(sandbox.home, "status").stdout
    )
    assert sandbox.call("v2") == "v2"


def test_proxy_config_of_a_sidecar_from_envoy(sandbox: Sandbox) -> None:
    lab = Lab.connect(home=sandbox.home, start=False)
    roots = requests.get(f"{sandbox.consul}/v1/connect/ca/roots", timeout=10).json()
    td = roots["TrustDomain"]
    store_id = f"spiffe://{td}/ap/{PARTITION}/ns/default/dc/dc1/svc/store"
    inventory_id = f"spiffe://{td}/ap/{PARTITION}/ns/default/dc/dc1/svc/inventory"

    view = lab.runtime.proxy_config("runtime-ecs", "store")

    roles = {row["role"]: row for row in view.listeners.rows}
    assert set(roles) == {"public (inbound, mTLS)", "upstream inventory (outbound)"}
    upstream = roles["upstream inventory (outbound)"]
    assert upstream["address"] == f"127.0.0.1:{sandbox.inventory_port}"
    assert upstream["protocol"] == "http"
    # No intention names store as a destination: its public listener lets no one in.
    assert (
        roles["public (inbound, mTLS)"]["intentions (RBAC)"]
        == "ALLOW (no one: every caller denied)"
    )

    targets = view.routes.column("to")
    assert "v2.inventory (ecs)" in targets  # the header route
    assert "v1.inventory (ecs) 50 %, v2.inventory (ecs) 50 %" in targets  # the splitter

    subsets = {row["subset"]: row for row in view.clusters.rows if row["service"] == "inventory"}
    assert set(subsets) == {"v1", "v2"}
    for row in subsets.values():
        assert row["partition"] == PARTITION
        assert row["healthy endpoints"] == "1/1"
        assert row["peer identity"] == inventory_id

    leaf = next(row for row in view.certificates.rows if row["holds"] == "leaf (presents)")
    assert leaf["spiffe id"] == store_id
    root = next(row for row in view.certificates.rows if row["holds"] == "root (trusts)")
    assert root["spiffe id"] == f"spiffe://{td}"
    # The same certificates as Envoy's /certs lists (a chain's leaf, and the roots).
    certs = requests.get(
        f"{sandbox.admin}/certs", headers=sandbox.admin_headers, timeout=10
    ).json()["certificates"]
    chains = {c["serial_number"] for entry in certs for c in entry.get("cert_chain", ())}
    cas = {c["serial_number"] for entry in certs for c in entry.get("ca_cert", ())}
    assert leaf["serial"] in chains and root["serial"] in cas

    # Real Consul inlines the certificates in each TLS context rather than over SDS
    # (agent/xds makeCommonTLSContext): the same dump in that shape shows the same ones.
    dump = proxy.fetch_config_dump(sandbox.admin, headers=sandbox.admin_headers)
    secrets = next(c for c in dump["configs"] if c["@type"].endswith("SecretsConfigDump"))
    by_name = {s["name"]: s["secret"] for s in secrets.pop("dynamic_active_secrets")}
    sidecars = proxy.sidecars_of(lab.consul, "store", PARTITION)
    inline = proxy.proxy_config(_inline_like_consul(dump, by_name), sidecars)
    assert [(r["holds"], r["spiffe id"], r["serial"]) for r in inline.certificates.rows] == [
        (r["holds"], r["spiffe id"], r["serial"]) for r in view.certificates.rows
    ]
    assert all(r["where"].startswith("inline in ") for r in inline.certificates.rows)

    inventory = lab.runtime.proxy_config("runtime-ecs", "inventory")
    public = {row["sidecar"]: row for row in inventory.listeners.rows}
    assert set(public) == {"inventory-v1-sidecar-proxy", "inventory-v2-sidecar-proxy"}
    assert all(row["intentions (RBAC)"] == f"ALLOW {store_id}" for row in public.values())
    assert "<table>" in inventory._repr_html_() and "Listeners of inventory" in str(inventory)


def _inline_like_consul(node: Any, secrets: dict[str, Any]) -> Any:
    """``node`` with each SDS reference of a TLS context replaced by the secret, inline."""
    if isinstance(node, list):
        return [_inline_like_consul(item, secrets) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _inline_like_consul(v, secrets) for k, v in node.items()}
    for ref in out.pop("tls_certificate_sds_secret_configs", ()):
        out.setdefault("tls_certificates", []).append(secrets[ref["name"]]["tls_certificate"])
    roots = out.pop("validation_context_sds_secret_config", None)
    if roots:
        trusted = secrets[roots["name"]]["validation_context"]
        key = "default_validation_context" if "default_validation_context" in out else None
        target = out.setdefault(key or "validation_context", {})
        target.update(trusted)
    return out
