"""Workloads (fake-service replies) and the workload host's control API over real sockets;
the host registers its workloads and their sidecars with a real (in-process) Consul emulator."""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
import requests

from soa_sdk.sandbox.consul import ConsulBackend, create_server
from soa_sdk.sandbox.workloads import (
    FakeService,
    Timing,
    WorkloadConfig,
    WorkloadHost,
    WorkloadHostClient,
    WorkloadHostError,
)
from soa_sdk.sandbox.workloads.api import ControlAPI
from soa_sdk.sandbox.workloads.http1 import ConnectionPool, HTTPServer, Response
from soa_sdk.sandbox.workloads.service import go_duration


def test_go_duration_strings():
    assert go_duration(0.000000512) == "512ns"
    assert go_duration(0.000202008) == "202.008µs"
    assert go_duration(0.0254975) == "25.4975ms"
    assert go_duration(1.5) == "1.5s"
    assert go_duration(61) == "1m1s"


def test_timing_percentiles_come_out_as_configured():
    t = Timing(p50=10, p90=20, p99=40)
    samples = sorted(t.sample() * 1000 for _ in range(20000))
    assert 9 <= samples[10000] <= 11
    assert 18 <= samples[18000] <= 22
    assert 36 <= samples[19800] <= 44
    with pytest.raises(ValueError):
        Timing(p50=5, p90=1)


def test_reply_has_fake_service_fields_errors_and_health():
    leaf = FakeService(WorkloadConfig("leaf", message='{"items": 3}')).start()
    top = FakeService(
        WorkloadConfig("top", upstream_uris=[leaf.address + "/base"], error_rate=0.0)
    ).start()
    try:
        reply = requests.get(top.address + "/path?q=1", timeout=5).json()
        assert list(reply) == [
            "name",
            "uri",
            "type",
            "ip_addresses",
            "start_time",
            "end_time",
            "duration",
            "body",
            "upstream_calls",
            "code",
        ]
        (call,) = reply["upstream_calls"].values()
        assert call["uri"] == leaf.address + "/base"
        assert call["body"] == {"items": 3} and call["code"] == 200
        top.update(error_rate=1.0, error_code=418)
        resp = requests.get(top.address, timeout=5)
        assert resp.status_code == 418
        assert resp.json() == {
            "name": "top",
            "uri": "/",
            "type": "HTTP",
            "ip_addresses": ["127.0.0.1"],
            "code": 418,
            "error": "Service error automatically injected",
        }
        top.update(error_rate=0.0)
        leaf.update(error_rate=1.0)
        resp = requests.get(top.address, timeout=5)
        assert resp.status_code == 500
        assert [c["code"] for c in resp.json()["upstream_calls"].values()] == [500]
        assert requests.get(leaf.address + "/health", timeout=5).text == "OK"
        leaf.update(health_code=503)
        assert requests.get(leaf.address + "/health", timeout=5).status_code == 503
        with pytest.raises(ValueError):
            leaf.update(error_rate=2)
        with pytest.raises(ValueError):
            leaf.update(nonsense=1)
    finally:
        top.stop()
        leaf.stop()


def test_http1_keep_alive_chunked_and_close():
    calls = Counter()

    def handler(r):
        calls[r.client] += 1
        return Response(200, json.dumps({"len": len(r.body), "m": r.method}).encode())

    server = HTTPServer("127.0.0.1", 0, handler).start()
    pool = ConnectionPool()
    try:
        for _ in range(5):
            assert pool.request("127.0.0.1", server.port, "GET", "/").status == 200
        assert len(calls) == 1  # one connection, reused
        body = requests.post(
            f"http://127.0.0.1:{server.port}/", data=iter([b"ab", b"cde"]), timeout=5
        ).json()
        assert body == {"len": 5, "m": "POST"}  # requests sends a generator chunked
        head = pool.request("127.0.0.1", server.port, "HEAD", "/")
        assert head.status == 200 and head.body == b""
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
            raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := raw.recv(4096):  # the server hangs up after the response
                data += chunk
        assert data.startswith(b"HTTP/1.1 200 OK\r\n") and b"Connection: close" in data
    finally:
        server.close()
        pool.close()


def test_http1_pool_reuses_a_unix_socket_connection(tmp_path):
    """``unix_path``: the pool dials the socket (keyed by its path, kept alive like a TCP
    connection); the Host header is the host given, without a port."""
    hosts = []

    def handler(r):
        hosts.append(r.header("host"))
        return Response(200, b"ok")

    path = str(tmp_path / "up.sock")
    server = HTTPServer("", 0, handler, unix_path=path).start()
    pool = ConnectionPool()
    try:
        sockets = []
        for _ in range(3):
            assert pool.request("localhost", 0, "GET", "/", unix_path=path).body == b"ok"
            (idle,) = pool._idle[(path, 0)]
            sockets.append(idle.sock)
        assert hosts == ["localhost"] * 3
        assert len(set(sockets)) == 1  # one connection, reused
        server.close()
        with pytest.raises(OSError, match="connect to " + path):
            ConnectionPool().request("localhost", 0, "GET", "/", unix_path=path, timeout=2)
    finally:
        server.close()
        pool.close()


@pytest.fixture
def host_client() -> Iterator[tuple[WorkloadHostClient, ConsulBackend]]:
    """A workload host whose registrations land in a Consul emulator (ACLs off: the host's
    own tokens are the security tests' business, tests/security/test_workload_host.py)."""
    catalog = ConsulBackend(acl_enabled=False)
    consul = create_server(catalog, "127.0.0.1", 0)
    threading.Thread(target=consul.serve_forever, daemon=True).start()
    host = WorkloadHost(f"http://127.0.0.1:{consul.server_port}", check_interval="200ms")
    server = HTTPServer("127.0.0.1", 0, ControlAPI(host, "test-api-token").handle).start()
    try:
        yield WorkloadHostClient(f"http://127.0.0.1:{server.port}", "test-api-token"), catalog
    finally:
        host.stop_all()
        server.close()
        consul.shutdown()
        catalog.close()


def test_control_api_registers_workloads_and_sidecars(host_client):
    client, catalog = host_client
    assert client.health()["status"] == "ok"
    (w1, w2) = client.start(
        "inventory",
        "v2",
        count=2,
        runtime="ecs",
        upstreams=["payments"],
        latency_ms={"p50": 1},
        check_interval="200ms",
    )
    assert (w1["id"], w2["id"]) == ("inventory-v2-1", "inventory-v2-2")
    services = catalog.agent_services()
    svc = services["inventory-v2-1"]
    assert svc["Meta"] == {"version": "v2", "runtime": "ecs"} and svc["Port"] == w1["port"]
    sidecar = services["inventory-v2-1-sidecar-proxy"]
    assert sidecar["Kind"] == "connect-proxy"
    assert sidecar["Proxy"]["DestinationServiceName"] == "inventory"
    (up,) = sidecar["Proxy"]["Upstreams"]
    assert up["DestinationName"] == "payments"
    assert up["LocalBindPort"] == w1["upstreams"][0]["local_bind_port"]
    assert requests.get(w1["url"] + "/health", timeout=5).status_code == 200

    changed = client.update("inventory-v2-1", health_code=500, latency_ms={"p50": 0})
    assert changed["health_code"] == 500
    assert requests.get(w1["url"] + "/health", timeout=5).status_code == 500
    assert [w["id"] for w in client.list("inventory")] == ["inventory-v2-1", "inventory-v2-2"]
    client.stop("inventory-v2-1")
    assert "inventory-v2-1" not in catalog.agent_services()
    assert "inventory-v2-1-sidecar-proxy" not in catalog.agent_services()
    with pytest.raises(requests.ConnectionError):
        requests.get(w1["url"] + "/health", timeout=2)
    assert client.stop_all() == 1
    assert catalog.agent_services() == {}


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"name": "bad name!"}, "name"),
        ({"name": "a", "error_rate": 1.5}, "error_rate"),
        ({"name": "a", "error_code": 99}, "error_code"),
        ({"name": "a", "latency_ms": {"p50": 10, "p90": 5}}, "p50 <= p90"),
        ({"name": "a", "count": 0}, "count"),
        ({"name": "a", "upstreams": "payments"}, "upstreams"),
        ({"name": "a", "check_interval": "soon"}, "check_interval"),
        ({"name": "a", "colour": "red"}, "unknown"),
        # A trailing newline is not part of a name (Python's `$` matches before one; Go's,
        # and so Consul's, does not).
        ({"name": "a\n"}, "name"),
        ({"name": "a", "version": "v1\n"}, "version"),
        ({"name": "a", "partition": "ecs\n"}, "partition"),
        ({"name": "a", "id": "a-1\n"}, "id"),
        ({"name": "a", "check_interval": "10s\n"}, "check_interval"),
        ({"name": "a", "consul_login": {"auth_method": "m"}}, "consul_login"),
        ({"name": "a", "consul_login": {"auth_method": "m", "bearer_token": ""}}, "consul_login"),
        (
            {
                "name": "a",
                "consul_token": "t",
                "consul_login": {"auth_method": "m", "bearer_token": "j"},
            },
            "not both",
        ),
    ],
)
def test_control_api_rejects_bad_input_and_changes_nothing(host_client, spec, message):
    client, catalog = host_client
    with pytest.raises(WorkloadHostError) as err:
        client._call("POST", "/v1/workloads", spec)
    assert err.value.status == 400 and message in str(err.value)
    assert client.list() == [] and catalog.agent_services() == {}


def test_control_api_errors(host_client):
    client, _ = host_client
    (w,) = client.start("web")
    with pytest.raises(WorkloadHostError) as err:
        client.get("nope")
    assert err.value.status == 404
    with pytest.raises(WorkloadHostError) as err:
        client.update(w["id"], port=1)
    assert err.value.status == 400
    with pytest.raises(WorkloadHostError) as err:
        client.start("web", id=w["id"])
    assert err.value.status == 409
    assert client.get(w["id"])["error_rate"] == 0.0
    time.sleep(0)  # the host stays usable after errors
    assert len(client.list()) == 1


def _over_unix_socket(path: str, target: str = "/") -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
        raw.settimeout(5)
        raw.connect(path)
        raw.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := raw.recv(4096):
            data += chunk
    return data


def test_a_workload_on_a_unix_socket_is_registered_for_its_sidecar_only(tmp_path) -> None:
    """With a socket folder, each instance gets a folder of its own (0700): the application
    listens on a Unix socket in it (0600) registered as ``SocketPath`` and the sidecar's
    ``LocalServiceSocketPath``, each upstream is registered with ``LocalBindSocketPath`` in it
    and ``LocalBindSocketMode`` 0600 (no port), and the workload calls that socket; the TCP
    port Consul's check calls answers the probes only. Stopping removes the folder."""
    catalog = ConsulBackend(acl_enabled=False)
    consul = create_server(catalog, "127.0.0.1", 0)
    threading.Thread(target=consul.serve_forever, daemon=True).start()
    folder = tmp_path / "sockets"
    host = WorkloadHost(
        f"http://127.0.0.1:{consul.server_port}", check_interval="200ms", socket_dir=str(folder)
    )
    sidecar_listener = None
    try:
        (started,) = host.start({"name": "inventory", "version": "v1", "upstreams": ["payments"]})
        w = started.to_dict()
        path = w["socket_path"]
        own = os.path.dirname(path)
        assert os.path.dirname(own) == str(folder)
        for where, mode in ((folder, 0o700), (own, 0o700), (path, 0o600)):
            assert stat.S_IMODE(os.stat(where).st_mode) == mode, where
        services = catalog.agent_services()
        assert services[w["id"]]["SocketPath"] == path
        proxy = services[w["sidecar_id"]]["Proxy"]
        assert proxy["LocalServiceSocketPath"] == path and not proxy.get("LocalServicePort")
        (up,) = proxy["Upstreams"]
        (mine,) = w["upstreams"]
        assert up["LocalBindSocketPath"] == mine["local_bind_socket_path"]
        assert os.path.dirname(up["LocalBindSocketPath"]) == own
        assert up["LocalBindSocketMode"] == "0600"
        assert not up.get("LocalBindPort") and not mine["local_bind_port"]

        # Stand in for the sidecar's upstream listener (Envoy binds it in the real sandbox).
        def payments(req):  # type: ignore[no-untyped-def]
            doc = {"name": "payments", "uri": req.target, "code": 200}
            return Response(200, json.dumps(doc).encode(), [("Content-Type", "application/json")])

        sidecar_listener = HTTPServer("", 0, payments, unix_path=up["LocalBindSocketPath"]).start()
        reply = _over_unix_socket(path, "/items")
        assert reply.startswith(b"HTTP/1.1 200 OK\r\n")
        doc = json.loads(reply.split(b"\r\n\r\n", 1)[1])
        assert doc["name"] == "inventory"
        ((uri, call),) = doc["upstream_calls"].items()
        assert uri.startswith("http+unix://") and (call["name"], call["code"]) == ("payments", 200)
        assert call["uri"] == uri  # fake-service's: the upstream URI it called
        assert requests.get(w["url"] + "/health", timeout=5).text == "OK"
        direct = requests.get(w["url"] + "/items", timeout=5)
        assert direct.status_code == 404 and "only through its sidecar" in direct.text
        assert w["served"] == {} and host.get(w["id"]).to_dict()["served"] == {"200": 1}
        host.stop(w["id"])
        assert not os.path.exists(own)
    finally:
        if sidecar_listener is not None:
            sidecar_listener.close()
        host.stop_all()
        consul.shutdown()
        catalog.close()
