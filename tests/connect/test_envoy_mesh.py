"""The mesh through a real Envoy: routes, splits, intentions on mTLS identities, failover,
NACKs, CA rotation. Outcomes are asserted before generous deadlines, never durations."""

from __future__ import annotations

import collections
import http.client
import json
import os
import socket
import socketserver
import ssl
import stat
import threading
from typing import Any

import pytest
import requests

from soa_sdk.sandbox.connect import snapshot
from soa_sdk.sandbox.ports import free_port

from .conftest import Mesh, _Handler, eventually, get

INV_PORT = free_port()
PAY_PORT = free_port()
WEB_INV_PORT = free_port()
#: the topology's router: ``x-version: v2`` to subset v2, the rest to the splitter
INVENTORY_ROUTER = {
    "Kind": "service-router",
    "Name": "inventory",
    "Routes": [
        {
            "Match": {"HTTP": {"Header": [{"Name": "x-version", "Exact": "v2"}]}},
            "Destination": {"ServiceSubset": "v2"},
        }
    ],
}


@pytest.fixture(scope="module")
def topo(mesh: Mesh) -> dict[str, int]:
    """store -> inventory (v1, v2) and payments (failover to partition west); web -> inventory."""
    b = mesh.backend
    b.partition_upsert("west")
    # every entry before the first registration: each sidecar's listeners are born with the
    # intentions. A listener updated later keeps serving the connections it had accepted with
    # its old filter chain (Envoy drains them), so a store -> inventory connection pooled
    # before the allow arrived would answer "RBAC: access denied" in the middle of a test.
    for svc in ("inventory", "payments"):
        mesh.apply({"Kind": "service-defaults", "Name": svc, "Protocol": "http"})
    mesh.apply({"Kind": "service-defaults", "Name": "payments", "Protocol": "http"}, "west")
    mesh.apply(
        {
            "Kind": "service-resolver",
            "Name": "inventory",
            "DefaultSubset": "v1",
            "Subsets": {
                "v1": {"Filter": "Service.Meta.version == v1"},
                "v2": {"Filter": "Service.Meta.version == v2"},
            },
        }
    )
    mesh.apply(
        {
            "Kind": "service-splitter",
            "Name": "inventory",
            "Splits": [
                {"Weight": 50, "ServiceSubset": "v1"},
                {"Weight": 50, "ServiceSubset": "v2"},
            ],
        }
    )
    mesh.apply(INVENTORY_ROUTER)
    mesh.apply(
        {
            "Kind": "exported-services",
            "Name": "west",
            "Services": [{"Name": "payments", "Consumers": [{"Partition": "default"}]}],
        },
        "west",
    )
    mesh.apply(
        {
            "Kind": "service-resolver",
            "Name": "payments",
            "Failover": {"*": {"Targets": [{"Partition": "west"}]}},
        }
    )
    for part in ("default", "west"):
        mesh.apply(
            {
                "Kind": "service-intentions",
                "Name": "payments",
                "Sources": [{"Name": "store", "Partition": "default", "Action": "allow"}],
            },
            part,
        )
    mesh.apply(
        {
            "Kind": "service-intentions",
            "Name": "inventory",
            "Sources": [{"Name": "store", "Action": "allow"}],
        }
    )
    ports = {
        "store": mesh.register(
            "store",
            "store-1",
            upstreams=[
                {"DestinationName": "inventory", "LocalBindPort": INV_PORT},
                {"DestinationName": "payments", "LocalBindPort": PAY_PORT},
            ],
        ),
        "web": mesh.register(
            "web",
            "web-1",
            upstreams=[{"DestinationName": "inventory", "LocalBindPort": WEB_INV_PORT}],
        ),
        "inventory-v1": mesh.register("inventory", "inventory-v1", "v1"),
        "inventory-v2": mesh.register("inventory", "inventory-v2", "v2"),
        "payments-east": mesh.register("payments", "payments-1", "east"),
        "payments-west": mesh.register("payments", "payments-w1", "west", partition="west"),
    }
    seen: set[str] = set()

    def both_versions_answer() -> bool:
        r = get(f"http://127.0.0.1:{INV_PORT}/")
        if r.status_code == 200:
            seen.add(r.json()["version"])
        return seen == {"v1", "v2"}

    eventually(both_versions_answer)
    return ports


def test_split_50_50_over_2000_requests(topo: dict[str, int]) -> None:
    s = requests.Session()
    counts = collections.Counter(
        get(f"http://127.0.0.1:{INV_PORT}/items", s).json()["version"] for _ in range(2000)
    )
    assert set(counts) == {"v1", "v2"}
    share = 100 * counts["v1"] / 2000
    assert 46 <= share <= 54, counts


def test_header_route_picks_v2(topo: dict[str, int]) -> None:
    s = requests.Session()
    seen = {
        get(f"http://127.0.0.1:{INV_PORT}/", s, headers={"x-version": "v2"}).json()["version"]
        for _ in range(50)
    }
    assert seen == {"v2"}


def test_identity_is_the_callers_certificate(mesh: Mesh, topo: dict[str, int]) -> None:
    body = get(f"http://127.0.0.1:{INV_PORT}/").json()
    assert f"URI={snapshot.spiffe_id(mesh.ca.trust_domain, 'store')}" in body["xfcc"]


def test_intention_denies_other_callers(topo: dict[str, int]) -> None:
    r = get(f"http://127.0.0.1:{WEB_INV_PORT}/")
    assert r.status_code == 403
    assert r.text == "RBAC: access denied"


def test_intention_allow_on_identity(mesh: Mesh, topo: dict[str, int]) -> None:
    mesh.apply(
        {
            "Kind": "service-intentions",
            "Name": "inventory",
            "Sources": [
                {"Name": "store", "Action": "allow"},
                {
                    "Name": "web",
                    "Permissions": [
                        {"Action": "allow", "HTTP": {"PathPrefix": "/public", "Methods": ["GET"]}}
                    ],
                },
            ],
        }
    )
    try:
        eventually(lambda: get(f"http://127.0.0.1:{WEB_INV_PORT}/public/x").status_code == 200)
        r = get(f"http://127.0.0.1:{WEB_INV_PORT}/private")
        assert (r.status_code, r.text) == (403, "RBAC: access denied")
        assert get(f"http://127.0.0.1:{INV_PORT}/private").status_code == 200
    finally:
        mesh.apply(
            {
                "Kind": "service-intentions",
                "Name": "inventory",
                "Sources": [{"Name": "store", "Action": "allow"}],
            }
        )
        eventually(lambda: get(f"http://127.0.0.1:{WEB_INV_PORT}/public/x").status_code == 403)


def test_no_intention_denies_by_default(mesh: Mesh, topo: dict[str, int]) -> None:
    mesh.delete("service-intentions", "inventory")
    try:
        r = eventually(
            lambda: [x for x in [get(f"http://127.0.0.1:{INV_PORT}/")] if x.status_code == 403]
        )
        assert r[0].text == "RBAC: access denied"
    finally:
        mesh.apply(
            {
                "Kind": "service-intentions",
                "Name": "inventory",
                "Sources": [{"Name": "store", "Action": "allow"}],
            }
        )
        eventually(lambda: all(get(f"http://127.0.0.1:{INV_PORT}/").ok for _ in range(20)))


def _foreign_client_context(tmp_path) -> ssl.SSLContext:  # type: ignore[no-untyped-def]
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "foreign")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.UniformResourceIdentifier(
                        "spiffe://other.consul/ns/default/dc/dc1/svc/store"
                    )
                ]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "k.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    return ctx


def _handshake(ctx: ssl.SSLContext, port: int) -> None:
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    with raw, ctx.wrap_socket(raw) as tls:
        tls.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        if not tls.recv(1):
            raise ConnectionResetError("closed")


def test_foreign_ca_and_no_certificate_refused_at_handshake(topo: dict[str, int], tmp_path) -> None:  # type: ignore[no-untyped-def]
    port = topo["inventory-v1"]
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        _handshake(_foreign_client_context(tmp_path), port)
    bare = ssl.create_default_context()
    bare.check_hostname = False
    bare.verify_mode = ssl.CERT_NONE
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        _handshake(bare, port)


def test_failover_to_another_partition_when_all_primaries_critical(
    mesh: Mesh, topo: dict[str, int]
) -> None:
    s = requests.Session()
    assert get(f"http://127.0.0.1:{PAY_PORT}/", s).json()["version"] == "east"
    mesh.backend.update_ttl("payments-1-ttl", "critical")
    try:
        eventually(lambda: get(f"http://127.0.0.1:{PAY_PORT}/", s).json()["version"] == "west")
        seen = {get(f"http://127.0.0.1:{PAY_PORT}/", s).json()["version"] for _ in range(30)}
        assert seen == {"west"}
    finally:
        mesh.backend.update_ttl("payments-1-ttl", "passing")
        eventually(lambda: get(f"http://127.0.0.1:{PAY_PORT}/", s).json()["version"] == "east")


def test_nack_is_surfaced_and_old_config_keeps_serving(mesh: Mesh, topo: dict[str, int]) -> None:
    before = len(mesh.controller.ads.nacks)
    # RE2 (Envoy's regex engine) has no lookahead: Envoy rejects the route, Consul's write
    # does not check RE2 syntax.
    mesh.apply(
        {
            "Kind": "service-router",
            "Name": "inventory",
            "Routes": [
                {
                    "Match": {"HTTP": {"PathRegex": "/(?=look)ahead"}},
                    "Destination": {"ServiceSubset": "v1"},
                },
                {
                    "Match": {"HTTP": {"Header": [{"Name": "x-version", "Exact": "v2"}]}},
                    "Destination": {"ServiceSubset": "v2"},
                },
            ],
        }
    )
    try:
        nack = eventually(
            lambda: mesh.controller.ads.nacks[before:] and mesh.controller.ads.nacks[-1]
        )
        assert nack["type_url"] == snapshot.T_ROUTE and nack["node"] == "rt"
        assert "(?=" in nack["message"]  # RE2: "invalid perl operator: (?="
        assert mesh.controller.ads.status()["rt"]["last_nack"] == nack
        r = get(f"http://127.0.0.1:{INV_PORT}/", headers={"x-version": "v2"})
        assert r.json()["version"] == "v2"
    finally:
        mesh.apply(INVENTORY_ROUTER)  # the topology's own router again


def test_ca_rotation_keeps_traffic_flowing(mesh: Mesh, topo: dict[str, int]) -> None:
    errors: list[str] = []
    done = threading.Event()
    count = [0]

    def drive() -> None:
        s = requests.Session()
        while not done.is_set():
            try:
                r = get(f"http://127.0.0.1:{INV_PORT}/", s)
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {r.text[:80]}")
            except requests.RequestException as exc:
                errors.append(repr(exc))
            count[0] += 1

    def serials() -> set[str]:
        certs = mesh.envoy.admin("/certs").json()["certificates"]
        return {c["serial_number"] for item in certs for c in item.get("cert_chain") or ()}

    old = serials()
    thread = threading.Thread(target=drive, daemon=True)
    thread.start()
    try:
        mesh.ca.rotate()
        mesh.controller.ads.refresh()
        eventually(lambda: serials().isdisjoint(old))
        mesh.ca.prune()
        mesh.controller.ads.refresh()
        eventually(lambda: json.dumps(mesh.envoy.admin("/certs").json()).count("ca_cert") >= 1)
        start = count[0]
        eventually(lambda: count[0] > start + 50)
    finally:
        done.set()
        thread.join(10)
    assert errors == []


def test_ingress_gateway_splits_and_is_a_caller_like_any_other(
    mesh: Mesh, topo: dict[str, int]
) -> None:
    port = free_port()
    mesh.backend.register_service(
        {"Name": "ingress", "ID": "ingress-1", "Kind": "ingress-gateway", "Port": 8443}
    )
    mesh.apply(
        {
            "Kind": "ingress-gateway",
            "Name": "ingress",
            "Listeners": [
                {
                    "Port": port,
                    "Protocol": "http",
                    "Services": [{"Name": "inventory", "Hosts": ["*"]}],
                }
            ],
        }
    )
    url = f"http://127.0.0.1:{port}/"
    r = eventually(lambda: [x for x in [get(url)] if x.status_code == 403])
    assert r[0].text == "RBAC: access denied"  # no intention for the gateway yet
    mesh.apply(
        {
            "Kind": "service-intentions",
            "Name": "inventory",
            "Sources": [
                {"Name": "store", "Action": "allow"},
                {"Name": "ingress", "Action": "allow"},
            ],
        }
    )
    try:
        eventually(lambda: all(get(url).ok for _ in range(20)))
        s = requests.Session()
        # The talk's canary through the ingress: 50 +- 4 points over 2,000 requests.
        counts = collections.Counter(get(url, s).json()["version"] for _ in range(2000))
        assert set(counts) == {"v1", "v2"}
        assert 46 <= 100 * counts["v1"] / 2000 <= 54, counts
        assert get(f"http://127.0.0.1:{WEB_INV_PORT}/").text == "RBAC: access denied"
    finally:
        mesh.apply(
            {
                "Kind": "service-intentions",
                "Name": "inventory",
                "Sources": [{"Name": "store", "Action": "allow"}],
            }
        )


def test_telemetry_reader_reads_the_envoys_per_subset(mesh: Mesh, topo: dict[str, int]) -> None:
    from soa_sdk.telemetry import MeshMetrics

    metrics = MeshMetrics.from_envoy_admins([mesh.envoy.admin_url])
    before = metrics.service("inventory")
    s = requests.Session()
    for _ in range(200):
        get(f"http://127.0.0.1:{INV_PORT}/items", s)

    def grown() -> dict[str, Any] | None:
        now = metrics.service("inventory")
        delta = {k: v.since(before.get(k, type(v)())) for k, v in now.items()}
        total = sum(d.requests for d in delta.values())
        # Envoy folds its histograms into /stats every flush interval (5 s by default).
        timed = all(d.quantile(0.99) is not None for d in delta.values())
        return delta if total >= 200 and timed else None

    delta = eventually(grown)
    assert {"v1", "v2"} <= set(delta)
    assert all(delta[k].requests > 0 and delta[k].errors_5xx == 0 for k in ("v1", "v2"))
    p99 = delta["v1"].quantile(0.99)
    assert p99 is not None and p99 >= 0


def test_release_windows_from_the_envoys(mesh: Mesh, topo: dict[str, int]) -> None:
    """The canary analysis' windows (MeshTelemetryReader) from the Envoy's admin: every
    request counted once, per subset, with a latency each (the histogram flushes every
    0.25 s in the sandbox's bootstrap)."""
    from soa_sdk.release.telemetry import MeshTelemetryReader
    from soa_sdk.telemetry import MeshMetrics

    reader = MeshTelemetryReader(
        MeshMetrics.from_envoy_admins([mesh.envoy.admin_url]), "inventory", "default"
    )
    s = requests.Session()
    for _ in range(300):
        get(f"http://127.0.0.1:{INV_PORT}/items", s)
    window = reader.window(300, timeout=30.0)
    assert window.total == 300 and {"v1", "v2"} == set(window.by_version)
    assert all(c.errors == 0 for c in window.by_version.values())
    assert len(reader.records_between(window.first_seq, window.last_seq)) == 300
    latencies = [sum(len(c.latencies_ms) for c in window.by_version.values())]
    assert latencies[0] <= 300

    def caught_up() -> bool:
        # A histogram that lagged gives its latencies to the next windows' requests.
        get(f"http://127.0.0.1:{INV_PORT}/items", s)
        later = reader.window(1, timeout=5.0)
        latencies.append(sum(len(c.latencies_ms) for c in later.by_version.values()))
        return sum(latencies) >= 300

    eventually(caught_up)


def test_access_log_gives_the_call_chain(mesh: Mesh, topo: dict[str, int]) -> None:
    """Step 2's records from Envoy's access log: the destination sidecar's line names the
    caller by its certificate (SPIFFE ID), the instance that answered, code and duration."""
    from soa_sdk.telemetry import AccessLog

    assert mesh.controller.access_log
    version = lambda p, s, i: i.rsplit("-", 1)[-1]  # noqa: E731
    log = AccessLog(mesh.controller.access_log, version, [mesh.envoy.admin_url])
    _, before = log.query(after=1 << 62)
    s = requests.Session()
    for _ in range(20):
        get(f"http://127.0.0.1:{INV_PORT}/chain", s)

    def logged() -> list[dict[str, Any]]:
        records = [r for r in log.query(after=before)[0] if r["path"] == "/chain"]
        return records if len(records) >= 20 else []

    records = eventually(logged)
    assert len(records) == 20
    assert {r["source"] for r in records} == {"store"}
    assert {r["destination"] for r in records} == {"inventory"}
    assert {r["instance"] for r in records} <= {"inventory-v1", "inventory-v2"}
    assert {r["version"] for r in records} <= {"v1", "v2"}
    assert all(r["code"] == 200 and r["partition"] == "default" for r in records)
    assert [r["seq"] for r in records] == sorted(r["seq"] for r in records)


# --- ported from the former Python data plane's tests (tests/mesh/) -----------------------


def test_a_critical_instance_leaves_routing_and_returns(mesh: Mesh) -> None:
    """Health reaches Envoy as endpoint health (EDS): of two instances, the critical one
    gets no request until its check passes again."""
    cart_port = free_port()
    mesh.register(
        "shop", "shop-1", upstreams=[{"DestinationName": "cart", "LocalBindPort": cart_port}]
    )
    mesh.register("cart", "cart-a", "a")
    mesh.register("cart", "cart-b", "b")
    mesh.apply({"Kind": "service-defaults", "Name": "cart", "Protocol": "http"})
    mesh.apply(
        {
            "Kind": "service-intentions",
            "Name": "cart",
            "Sources": [{"Name": "shop", "Action": "allow"}],
        }
    )
    s = requests.Session()

    def versions(n: int = 40) -> set[str]:
        return {get(f"http://127.0.0.1:{cart_port}/", s).json()["version"] for _ in range(n)}

    eventually(lambda: versions() == {"a", "b"})
    mesh.backend.update_ttl("cart-a-ttl", "critical")
    try:
        eventually(lambda: versions() == {"b"})
        assert versions(100) == {"b"}
    finally:
        mesh.backend.update_ttl("cart-a-ttl", "passing")
    eventually(lambda: versions() == {"a", "b"})


def test_a_caller_from_another_partition_is_checked_with_its_partition(mesh: Mesh) -> None:
    """Partition west's ``web`` calls default's ``inventory`` (exported to west): an intention
    naming ``web`` means default's web only; the caller's certificate says west, so only a
    source with ``Partition: west`` lets it in, and that source names west's web only."""
    mesh.backend.partition_upsert("west")
    port = free_port()
    upstream = {"DestinationName": "inventory", "DestinationPartition": "default"}
    mesh.register(
        "web", "web-w1", upstreams=[{**upstream, "LocalBindPort": port}], partition="west"
    )
    other_port = free_port()
    mesh.register(
        "store", "store-w1", upstreams=[{**upstream, "LocalBindPort": other_port}], partition="west"
    )
    mesh.apply(
        {
            "Kind": "exported-services",
            "Name": "default",
            "Services": [{"Name": "inventory", "Consumers": [{"Partition": "west"}]}],
        }
    )
    original = {"Name": "store", "Action": "allow"}
    mesh.apply(
        {
            "Kind": "service-intentions",
            "Name": "inventory",
            "Sources": [original, {"Name": "web", "Action": "allow"}],
        }
    )
    try:
        denied = eventually(
            lambda: [r for r in [get(f"http://127.0.0.1:{port}/")] if r.status_code == 403]
        )
        assert denied[0].text == "RBAC: access denied"
        mesh.apply(
            {
                "Kind": "service-intentions",
                "Name": "inventory",
                "Sources": [original, {"Name": "web", "Partition": "west", "Action": "allow"}],
            }
        )
        # The answer that showed the new intention in force is the one read (a second request
        # could meet Envoy still draining the listener the push replaced).
        allowed = eventually(
            lambda: [r for r in [get(f"http://127.0.0.1:{port}/")] if r.status_code == 200]
        )
        body = allowed[0].json()
        assert f"URI={snapshot.spiffe_id(mesh.ca.trust_domain, 'web', 'west')}" in body["xfcc"]
        # West's store is not default's store, and the source names west's web only.
        refused = eventually(
            lambda: [r for r in [get(f"http://127.0.0.1:{other_port}/")] if r.status_code != 503]
        )
        assert (refused[0].status_code, refused[0].text) == (403, "RBAC: access denied")
    finally:
        mesh.apply({"Kind": "service-intentions", "Name": "inventory", "Sources": [original]})


class _UnixHandler(_Handler):
    disable_nagle_algorithm = False  # no TCP here


class _UnixWorkload(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    name = "basket"
    version = "v1"


def test_a_workload_on_a_unix_socket_is_reached_through_its_sidecar(mesh: Mesh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Consul's ``SocketPath``: the workload listens on a Unix socket only, which its
    sidecar's ``local_app`` cluster dials; callers reach it through the mesh as any other."""
    path = str(tmp_path / "basket.sock")
    server = _UnixWorkload(path, _UnixHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    up = free_port()
    try:
        mesh.register(
            "buyer", "buyer-1", upstreams=[{"DestinationName": "basket", "LocalBindPort": up}]
        )
        mesh.backend.register_service(
            {
                "Name": "basket",
                "ID": "basket-1",
                "SocketPath": path,
                "Check": {"CheckID": "basket-1-ttl", "TTL": "1h", "Status": "passing"},
                "Connect": {"SidecarService": {"Port": free_port()}},
            }
        )
        mesh.apply({"Kind": "service-defaults", "Name": "basket", "Protocol": "http"})
        mesh.apply(
            {
                "Kind": "service-intentions",
                "Name": "basket",
                "Sources": [{"Name": "buyer", "Action": "allow"}],
            }
        )
        reply = eventually(lambda: [r for r in [get(f"http://127.0.0.1:{up}/b")] if r.ok])[0]
        body = reply.json()
        assert (body["name"], body["path"]) == ("basket", "/b")
        assert f"URI={snapshot.spiffe_id(mesh.ca.trust_domain, 'buyer')}" in body["xfcc"]
    finally:
        server.shutdown()
        server.server_close()


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=10)
        self.socket_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self.socket_path)


def _get_over(path: str, target: str = "/") -> tuple[int, str]:
    """GET ``target`` over the Unix socket ``path``: (status, body); (0, why) if it fails."""
    conn = _UnixHTTPConnection(path)
    try:
        conn.request("GET", target)
        reply = conn.getresponse()
        return reply.status, reply.read().decode()
    except OSError as error:
        return 0, f"{type(error).__name__}: {error}"
    finally:
        conn.close()


def _answered(reply: tuple[int, str], xfcc: bool = True) -> tuple[int, str] | None:
    """``reply`` if it is the workload's 200, with (or without) the sidecar's XFCC header."""
    status, body = reply
    return reply if status == 200 and bool(json.loads(body)["xfcc"]) == xfcc else None


def test_an_upstream_on_a_unix_socket_calls_as_its_service(mesh: Mesh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Consul's ``LocalBindSocketPath``/``LocalBindSocketMode``: the caller's upstream listener
    is that Unix socket (mode 0600), no TCP port; a request over it reaches the destination
    with the caller's identity, and the listener, rebuilt when the destination's protocol
    changes (HTTP to TCP), stays on the same socket."""
    folder = tmp_path / "shopper-1"
    folder.mkdir(mode=0o700)
    path = str(folder / "u1.sock")
    mesh.register(
        "shopper",
        "shopper-1",
        upstreams=[
            {
                "DestinationName": "shelf",
                "LocalBindSocketPath": path,
                "LocalBindSocketMode": "0600",
            }
        ],
    )
    mesh.register("shelf", "shelf-1")
    mesh.apply({"Kind": "service-defaults", "Name": "shelf", "Protocol": "http"})
    mesh.apply(
        {
            "Kind": "service-intentions",
            "Name": "shelf",
            "Sources": [{"Name": "shopper", "Action": "allow"}],
        }
    )
    try:
        _, body = eventually(lambda: _answered(_get_over(path, "/s")))
        doc = json.loads(body)
        assert (doc["name"], doc["path"]) == ("shelf", "/s")
        assert f"URI={snapshot.spiffe_id(mesh.ca.trust_domain, 'shopper')}" in doc["xfcc"]
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        listeners = mesh.envoy.admin("/listeners?format=json").json()["listener_statuses"]
        shelf = [item for item in listeners if item["name"].startswith("shelf:")]
        assert [item["name"] for item in shelf] == [f"shelf:{path}"]
        assert shelf[0]["local_address"] == {"pipe": {"path": path}}  # the bound socket

        mesh.apply({"Kind": "service-defaults", "Name": "shelf", "Protocol": "tcp"})
        # TCP all the way: the workload answers the bytes, with no XFCC from the sidecar.
        _, body = eventually(lambda: _answered(_get_over(path), xfcc=False))
        assert json.loads(body)["name"] == "shelf"
    finally:
        mesh.delete("service-defaults", "shelf")
        mesh.delete("service-intentions", "shelf")
