"""Checks that really run, admin partitions with exported-services, peering, and the CLI."""

from __future__ import annotations

import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any as Running

import consul
import pytest
import requests

DEADLINE = 30.0  # seconds: generous; the outcome is tested here, not how fast it comes


def _wait_for(predicate: Callable[[], bool], timeout: float = DEADLINE) -> None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout} s")


@pytest.fixture
def app_server() -> Iterator[tuple[int, dict]]:
    """A tiny HTTP server whose /health answers the status in ``state['code']``."""
    state = {"code": 200}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(state["code"])
            self.end_headers()
            self.wfile.write(b"ok" if state["code"] == 200 else b"boom")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], state
    server.shutdown()
    server.server_close()


def _status(root: consul.Consul, check_id: str) -> tuple[str, str]:
    check = root.agent.checks()[check_id]
    return check["Status"], check["Output"]


def test_http_check_flips_with_the_app(
    cs: Running, root: consul.Consul, app_server: tuple[int, dict]
) -> None:
    port, state = app_server
    url = f"http://127.0.0.1:{port}/health"
    root.agent.service.register("api", port=port, check=consul.Check.http(url, "1s", timeout="1s"))
    _wait_for(lambda: _status(root, "service:api")[0] == "passing")
    assert _status(root, "service:api")[1] == f"HTTP GET {url}: 200 OK Output: ok"
    assert len(root.health.service("api", passing=True)[1]) == 1
    state["code"] = 500
    _wait_for(lambda: _status(root, "service:api")[0] == "critical")
    assert (
        _status(root, "service:api")[1] == f"HTTP GET {url}: 500 Internal Server Error Output: boom"
    )
    assert root.health.service("api", passing=True)[1] == []
    state["code"] = 200
    _wait_for(lambda: _status(root, "service:api")[0] == "passing")


def test_tcp_check(cs: Running, root: consul.Consul) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    root.agent.service.register("db", port=port, check=consul.Check.tcp("127.0.0.1", port, "1s"))
    _wait_for(lambda: _status(root, "service:db")[0] == "passing")
    assert _status(root, "service:db")[1] == f"TCP connect 127.0.0.1:{port}: Success"
    listener.close()
    _wait_for(lambda: _status(root, "service:db")[0] == "critical")
    assert "connection refused" in _status(root, "service:db")[1]


def test_partitions_and_exported_services(cs: Running, root: consul.Consul) -> None:
    assert cs.http("PUT", "/v1/partition", json={"Name": "runtime-ecs"}).status_code == 200
    assert cs.http("PUT", "/v1/partition", json={"Name": "runtime-eks"}).status_code == 200
    assert {p["Name"] for p in cs.http("GET", "/v1/partitions").json()} == {
        "default",
        "runtime-ecs",
        "runtime-eks",
    }
    body = {"Name": "inventory", "Port": 9000, "Check": {"TTL": "30s", "Status": "passing"}}
    assert cs.http(
        "PUT", "/v1/agent/service/register", params={"partition": "runtime-ecs"}, json=body
    ).ok
    assert cs.http("GET", "/v1/health/service/inventory").json() == []  # not in default
    in_ecs = cs.http(
        "GET", "/v1/health/service/inventory", params={"partition": "runtime-ecs"}
    ).json()
    assert in_ecs[0]["Service"]["Partition"] == "runtime-ecs"
    # A token living in runtime-eks sees runtime-ecs's inventory only once it is exported to it.
    policy = root.acl.policy.create("eks-reader", rules='service_prefix "" { policy = "read" }')
    eks = root.acl.tokens.create({"Partition": "runtime-eks", "Policies": [{"ID": policy["ID"]}]})[
        "SecretID"
    ]
    query = {"partition": "runtime-ecs"}
    assert cs.http("GET", "/v1/health/service/inventory", token=eks, params=query).json() == []
    exported = {
        "Kind": "exported-services",
        "Name": "runtime-ecs",
        "Services": [{"Name": "inventory", "Consumers": [{"Partition": "runtime-eks"}]}],
    }
    assert cs.http("PUT", "/v1/config", params=query, json=exported).json() is True
    seen = cs.http("GET", "/v1/health/service/inventory", token=eks, params=query).json()
    assert [e["Service"]["ID"] for e in seen] == ["inventory"]
    assert cs.backend.health_service("inventory", "runtime-ecs", consumer_partition="runtime-eks")
    assert not cs.backend.health_service("inventory", "runtime-ecs", consumer_partition="default")


def test_peering_imports_only_exported(cs: Running, root: consul.Consul) -> None:
    cs.http("PUT", "/v1/partition", json={"Name": "west"})
    root.agent.service.register("payments", port=7000)
    root.agent.service.register("secret-sauce", port=7001)
    token = cs.http("POST", "/v1/peering/token", json={"PeerName": "west-peer"}).json()[
        "PeeringToken"
    ]
    assert cs.http("GET", "/v1/peering/west-peer").json()["PeeringState"] == "PENDING"
    r = cs.http(
        "POST",
        "/v1/peering/establish",
        params={"partition": "west"},
        json={"PeerName": "east", "PeeringToken": token},
    )
    assert r.status_code == 200, r.text
    assert cs.http("GET", "/v1/peering/west-peer").json()["PeeringState"] == "ACTIVE"
    assert [
        p["Name"] for p in cs.http("GET", "/v1/peerings", params={"partition": "west"}).json()
    ] == ["east"]
    query = {"partition": "west", "peer": "east"}
    assert cs.http("GET", "/v1/health/service/payments", params=query).json() == []
    root.config.put(
        {
            "Kind": "exported-services",
            "Name": "default",
            "Services": [{"Name": "payments", "Consumers": [{"Peer": "west-peer"}]}],
        }
    )
    imported = cs.http("GET", "/v1/health/service/payments", params=query).json()
    assert imported[0]["Service"]["PeerName"] == "east"
    assert cs.http("GET", "/v1/health/service/secret-sauce", params=query).json() == []
    assert cs.http("DELETE", "/v1/peering/east", params={"partition": "west"}).status_code == 200
    assert cs.http("GET", "/v1/peering/west-peer").json()["PeeringState"] == "TERMINATED"


def test_subscribe_sees_writes(cs: Running, root: consul.Consul) -> None:
    seen: list[int] = []
    cs.backend.subscribe(seen.append)
    root.agent.service.register("web", port=1)
    assert seen and seen[-1] == cs.backend.index


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_runs_standalone_and_stops_on_sigterm() -> None:
    port = _free_port()
    env = dict(os.environ, CONSUL_ACL_INITIAL_MANAGEMENT="")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "soa_sdk.sandbox.consul",
            "--port",
            str(port),
            "--acl-initial-management",
            "cli-root",
            "--node-name",
            "cli-node",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return requests.get(f"{url}/v1/status/leader", timeout=1).ok
            except requests.ConnectionError:
                return False

        _wait_for(up)
        c = consul.Consul("127.0.0.1", port, token="cli-root")
        assert c.agent.self()["Config"]["NodeName"] == "cli-node"
        assert c.agent.service.register("web", port=80)
        assert "web" in c.agent.services()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert b"cli-root" not in out + err  # the token is never printed


def test_list_unimplemented() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "soa_sdk.sandbox.consul", "--list-unimplemented"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    assert "/v1/internal/*" in out and "PUT /v1/_sandbox/reset" in out
    assert "/v1/session/*" not in out and "Enterprise" in out
    assert "state.sessions" not in out  # sessions end with their checks now
    for served in (
        "/v1/lock",
        "/v1/query*",
        "/v1/agent/health/service",
        "/v1/agent/connect/authorize",
    ):
        assert served not in out
    assert "/v1/catalog/gateway-services" not in out.split("Parameters and fields")[0]


def test_a_trailing_newline_is_not_part_of_a_name(cs: Running, root: consul.Consul) -> None:
    """Consul matches names with Go regexps, whose `$` is the end of the text: a name with a
    trailing newline is refused (Python's `re.match` with `$` would take it)."""
    r = cs.http("PUT", "/v1/partition", json={"Name": "runtime-zz\n"})
    assert r.status_code == 400, r.text
    assert "runtime-zz\n" not in {p["Name"] for p in cs.http("GET", "/v1/partitions").json()}
    resolver = {"Kind": "service-resolver", "Name": "x", "Subsets": {"v1\n": {}}}
    r = cs.http("PUT", "/v1/config", json=resolver)
    assert r.status_code == 500 and "is invalid" in r.text, r.text
    r = cs.http("PUT", "/v1/acl/token", json={"ServiceIdentities": [{"ServiceName": "store\n"}]})
    assert r.status_code == 400 and "has an invalid name" in r.text, r.text
