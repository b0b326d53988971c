"""Issue 12, hole 6: the mesh's admin and telemetry endpoints answered anyone on the machine.

The sandbox Envoy's admin listens on a Unix socket in the home (mode 0600); the loopback URL
``soa-lab status`` shows forwards to it only with the sandbox's ``envoy_admin_token``
(soa_sdk.sandbox.envoy.admin_guard). Every admin endpoint, taken from Envoy's own ``/help``
(its route table), is swept anonymously and with a wrong token, the POSTs included
(``/quitquitquit``, ``/healthcheck/fail``, ``/reset_counters``...): 401 and 403, and the Envoy
still serves as before. ``GET /ready`` stays open, as a health endpoint."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import requests

from soa_sdk.sandbox.state import SandboxState
from soa_sdk.telemetry import MeshMetrics

WRONG = {"Authorization": "Bearer not-the-envoy-admin-token"}


def admin(sandbox: SandboxState) -> str:
    return sandbox.services["envoy"].url


def token_headers(lab: Any) -> dict[str, str]:
    return dict(lab.sandbox.envoy_admin_headers)


def admin_routes(sandbox: SandboxState, headers: dict[str, str]) -> list[tuple[str, str]]:
    """(method, path) of every admin endpoint, from Envoy's ``/help``: ``  /path (POST): ...``
    lines name the POST-only ones."""
    text = requests.get(admin(sandbox) + "/help", headers=headers, timeout=5).text
    routes = []
    for line in text.splitlines():
        if not line.startswith("  /"):
            continue
        path, _, _help = line.strip().partition(":")
        path, _, method = path.partition(" ")
        routes.append(("POST" if method == "(POST)" else "GET", path))
    return routes


def test_every_admin_endpoint_needs_the_token(lab: Any, sandbox: SandboxState) -> None:
    headers = token_headers(lab)
    routes = admin_routes(sandbox, headers)
    assert ("POST", "/quitquitquit") in routes and ("GET", "/config_dump") in routes
    before = requests.get(admin(sandbox) + "/server_info", headers=headers, timeout=5).json()
    answered = []
    for method, path in routes:
        for who, sent, status in (("anonymous", {}, 401), ("wrong token", WRONG, 403)):
            reply = requests.request(method, admin(sandbox) + path, headers=sent, timeout=5)
            if (method, path) == ("GET", "/ready"):
                if (reply.status_code, reply.text.strip()) != (200, "LIVE"):
                    answered.append(f"{who} GET /ready: {reply.status_code}")
                continue
            challenge = reply.headers.get("WWW-Authenticate", "")
            if reply.status_code != status or not challenge.startswith("Bearer"):
                answered.append(f"{who} {method} {path}: {reply.status_code} {reply.text[:80]!r}")
            elif "token" not in reply.text:
                answered.append(f"{who} {method} {path}: {reply.text[:80]!r}")
    assert answered == []
    # Nothing happened to it: the same process, still LIVE and serving its config.
    after = requests.get(admin(sandbox) + "/server_info", headers=headers, timeout=5).json()
    assert after["state"] == "LIVE" and after["node"] == before["node"]
    assert after["command_line_options"]["restart_epoch"] == 0
    assert int(after["uptime_current_epoch"].rstrip("s")) >= int(
        before["uptime_current_epoch"].rstrip("s")
    )


def test_the_token_opens_it_and_the_lab_reads_the_telemetry(
    lab: Any, sandbox: SandboxState
) -> None:
    headers = token_headers(lab)
    assert headers, "the sandbox has an envoy_admin_token"
    dump = requests.get(admin(sandbox) + "/config_dump", headers=headers, timeout=5)
    assert dump.status_code == 200 and dump.json()["configs"]
    text = MeshMetrics.from_envoy_admins([admin(sandbox)], headers)
    assert text.read() is not None  # answers Prometheus text (no 401 raised)


def test_the_admin_itself_is_a_unix_socket_only_its_owner_opens(
    lab: Any, sandbox: SandboxState
) -> None:
    headers = token_headers(lab)
    dump = requests.get(admin(sandbox) + "/config_dump", headers=headers, timeout=5).json()
    boot = next(c for c in dump["configs"] if "BootstrapConfigDump" in c["@type"])["bootstrap"]
    path = Path(boot["admin"]["address"]["pipe"]["path"])
    assert "socket_address" not in boot["admin"]["address"]
    mode = os.stat(path).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
    # The bootstrap carries tokens: only the owner may read it; argv names no token.
    folder = path.parent
    assert stat.S_IMODE(os.stat(folder / "bootstrap.json").st_mode) == 0o600
    secrets = json.loads((Path(os.environ["SOA_LAB_HOME"]) / "secrets.json").read_text())
    with open(f"/proc/{sandbox.services['envoy'].pid}/cmdline", "rb") as handle:
        cmdline = handle.read()
    assert secrets["envoy_admin_token"].encode() not in cmdline
    assert secrets["envoy_consul_token"].encode() not in cmdline
    # No TCP listener of the Envoy is its admin: each is the guard or the mesh's.
    listeners = requests.get(
        admin(sandbox) + "/listeners", params={"format": "json"}, headers=headers, timeout=5
    ).json()["listener_statuses"]
    names = [item["name"] for item in listeners]
    assert "envoy_admin_guard" in names
