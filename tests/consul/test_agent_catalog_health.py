"""Agent, catalog, health, KV and status endpoints, through python-consul2 and raw HTTP."""

from __future__ import annotations

import threading
import time
from typing import Any as Running

import consul
import pytest


def test_register_service_with_check_meta_tags(cs: Running, root: consul.Consul) -> None:
    assert root.agent.service.register(
        "web",
        service_id="web-1",
        port=8080,
        tags=["v1"],
        meta={"version": "v1"},
        check=consul.Check.ttl("30s"),
    )
    services = root.agent.services()
    assert services["web-1"]["Service"] == "web"
    assert services["web-1"]["Meta"] == {"version": "v1"}
    assert services["web-1"]["Tags"] == ["v1"]
    _, entries = root.health.service("web")
    [entry] = entries
    checks = {c["CheckID"]: c for c in entry["Checks"]}
    # Checks start critical unless a Status is given, as Consul's.
    assert checks["service:web-1"]["Status"] == "critical"
    assert checks["service:web-1"]["Type"] == "ttl"
    assert checks["serfHealth"]["Status"] == "passing"
    assert root.health.service("web", passing=True)[1] == []
    assert root.agent.check.ttl_pass("service:web-1", "all good")
    _, passing = root.health.service("web", passing=True)
    assert [e["Service"]["ID"] for e in passing] == ["web-1"]
    assert {c["CheckID"]: c["Output"] for c in passing[0]["Checks"]}["service:web-1"] == "all good"
    r = cs.http("GET", "/v1/agent/service/web-1")
    assert r.status_code == 200 and r.json()["ContentHash"]


def test_filter_tag_and_bad_filter(cs: Running, root: consul.Consul) -> None:
    for sid, version in (("inv-1", "v1"), ("inv-2", "v2")):
        root.agent.service.register(
            "inventory", service_id=sid, port=9000, tags=[version], meta={"version": version}
        )
    r = cs.http(
        "GET", "/v1/health/service/inventory", params={"filter": 'Service.Meta.version == "v2"'}
    )
    assert [e["Service"]["ID"] for e in r.json()] == ["inv-2"]
    r = cs.http(
        "GET", "/v1/catalog/service/inventory", params={"filter": "ServiceMeta.version == v1"}
    )
    assert [e["ServiceID"] for e in r.json()] == ["inv-1"]
    _, tagged = root.health.service("inventory", tag="v1")
    assert [e["Service"]["ID"] for e in tagged] == ["inv-1"]
    r = cs.http("GET", "/v1/health/service/inventory", params={"filter": "Service.Meta.version =="})
    assert r.status_code == 400
    assert r.text.startswith("Failed to create boolean expression evaluator: ")


def test_deregister_unknown_and_known(cs: Running, root: consul.Consul) -> None:
    r = cs.http("PUT", "/v1/agent/service/deregister/nope")
    assert r.status_code == 404
    assert (
        r.text
        == 'Unknown service ID "nope". Ensure that the service ID is passed, not the service name.'
    )
    root.agent.service.register("api", port=1)
    assert root.agent.service.deregister("api")
    assert root.agent.services() == {}
    assert root.health.service("api")[1] == []


def test_sidecar_and_upstreams(cs: Running) -> None:
    body = {
        "Name": "store",
        "ID": "store-1",
        "Port": 9090,
        "Connect": {
            "SidecarService": {
                "Proxy": {"Upstreams": [{"DestinationName": "inventory", "LocalBindPort": 10001}]}
            }
        },
    }
    assert cs.http("PUT", "/v1/agent/service/register", json=body).status_code == 200
    svc = cs.http("GET", "/v1/agent/services").json()["store-1-sidecar-proxy"]
    assert svc["Kind"] == "connect-proxy"
    assert svc["Port"] == 21000
    assert svc["Proxy"]["DestinationServiceName"] == "store"
    assert svc["Proxy"]["LocalServicePort"] == 9090
    assert svc["Proxy"]["Upstreams"][0]["LocalBindPort"] == 10001
    connect = cs.http("GET", "/v1/health/connect/store").json()
    assert [e["Service"]["ID"] for e in connect] == ["store-1-sidecar-proxy"]
    # Deregistering the service takes its sidecar with it, as the agent does.
    cs.http("PUT", "/v1/agent/service/deregister/store-1")
    assert cs.http("GET", "/v1/agent/services").json() == {}


def test_socket_path_and_the_sidecar_that_dials_it(cs: Running) -> None:
    """A service on a Unix socket (``SocketPath``): its sidecar's local service is that
    socket (Consul's sidecarServiceFromNodeService), and the catalog shows it."""
    body = {
        "Name": "inventory",
        "ID": "inventory-1",
        "Port": 9091,
        "SocketPath": "/run/inventory.sock",
        "Connect": {"SidecarService": {}},
    }
    assert cs.http("PUT", "/v1/agent/service/register", json=body).status_code == 200
    services = cs.http("GET", "/v1/agent/services").json()
    assert services["inventory-1"]["SocketPath"] == "/run/inventory.sock"
    proxy = services["inventory-1-sidecar-proxy"]["Proxy"]
    assert proxy["LocalServiceSocketPath"] == "/run/inventory.sock"
    assert not proxy.get("LocalServicePort")
    (entry,) = cs.http("GET", "/v1/catalog/service/inventory").json()
    assert entry["ServiceSocketPath"] == "/run/inventory.sock"
    # The sidecar itself listens on its port (Envoy's public listener), not on a socket.
    assert "SocketPath" not in cs.http("GET", "/v1/agent/service/inventory-1-sidecar-proxy").json()


def test_check_register_ttl_states(cs: Running, root: consul.Consul) -> None:
    assert root.agent.check.register("beat", check=consul.Check.ttl("10s"), check_id="beat")
    assert root.agent.check.ttl_warn("beat", "slow")
    assert root.agent.checks()["beat"]["Status"] == "warning"
    assert [c["CheckID"] for c in root.health.state("warning")[1]] == ["beat"]
    assert root.agent.check.ttl_fail("beat")
    assert [c["CheckID"] for c in root.health.node("sandbox")[1] if c["Status"] == "critical"] == [
        "beat"
    ]
    assert root.agent.check.deregister("beat")
    assert "beat" not in root.agent.checks()
    r = cs.http("PUT", "/v1/agent/check/pass/beat")
    assert r.status_code == 404


def test_catalog_register_nodes_and_deregister(cs: Running, root: consul.Consul) -> None:
    assert root.catalog.register(
        "ecs-node",
        "10.0.0.5",
        service={"Service": "payments", "ID": "pay-1", "Port": 7000, "Tags": ["ecs"]},
        check={"CheckID": "pay-alive", "Name": "alive", "Status": "passing", "ServiceID": "pay-1"},
    )
    assert root.catalog.datacenters() == ["dc1"]
    _, nodes = root.catalog.nodes()
    assert {n["Node"] for n in nodes} == {"sandbox", "ecs-node"}
    _, services = root.catalog.services()
    assert services == {"consul": [], "payments": ["ecs"]}  # servers register "consul"
    _, node = root.catalog.node("ecs-node")
    assert node["Node"]["Address"] == "10.0.0.5" and "pay-1" in node["Services"]
    _, entries = root.health.service("payments", passing=True)
    assert entries[0]["Node"]["Node"] == "ecs-node"
    _, checks = root.health.checks("payments")
    assert [c["CheckID"] for c in checks] == ["pay-alive"]
    assert root.catalog.deregister("ecs-node")
    assert root.catalog.services()[1] == {"consul": []}
    assert root.catalog.node("nope")[1] is None


def test_index_increases_and_blocking_query(cs: Running, root: consul.Consul) -> None:
    first, _ = root.catalog.services()
    root.agent.service.register("a", port=1)
    second, _ = root.catalog.services()
    assert int(second) > int(first)
    r = cs.http("GET", "/v1/health/service/a")
    assert r.headers["X-Consul-KnownLeader"] == "true"
    assert "X-Consul-LastContact" in r.headers

    def later() -> None:
        time.sleep(0.3)
        root.agent.service.register("a", service_id="a-2", port=2)

    threading.Thread(target=later).start()
    # The query would hold for 5 minutes: it returns because of the change, long before.
    started = time.monotonic()
    index, entries = root.health.service("a", index=r.headers["X-Consul-Index"], wait="5m")
    assert time.monotonic() - started < 60
    assert int(index) > int(r.headers["X-Consul-Index"])
    assert {e["Service"]["ID"] for e in entries} == {"a", "a-2"}
    # Nothing changes: the query holds for `wait` and returns the same index.
    started = time.monotonic()
    same, _ = root.catalog.services(index=index, wait="400ms")
    assert time.monotonic() - started >= 0.35  # held for `wait`; no upper bound on a busy machine
    assert same == index


def test_blocking_config_list(cs: Running, root: consul.Consul) -> None:
    r = cs.http("GET", "/v1/config/service-defaults")
    index = r.headers["X-Consul-Index"]
    threading.Timer(0.2, lambda: root.config.put({"Kind": "service-defaults", "Name": "x"})).start()
    r = cs.http("GET", "/v1/config/service-defaults", params={"index": index, "wait": "5s"})
    assert [e["Name"] for e in r.json()] == ["x"]


def test_kv(cs: Running, root: consul.Consul) -> None:
    assert root.kv.put("app/config/db", "postgres", flags=7)
    _, item = root.kv.get("app/config/db")
    assert item["Value"] == b"postgres" and item["Flags"] == 7
    assert item["CreateIndex"] == item["ModifyIndex"] and item["LockIndex"] == 0
    r = cs.http("GET", "/v1/kv/app/config/db")
    assert r.json()[0]["Value"] == "cG9zdGdyZXM="  # base64, as Consul sends it
    assert cs.http("GET", "/v1/kv/app/config/db", params={"raw": ""}).content == b"postgres"
    assert root.kv.put("app/config/db", "mysql", cas=0) is False
    assert root.kv.put("app/config/db", "mysql", cas=item["ModifyIndex"]) is True
    assert root.kv.put("app/other", "1")
    assert root.kv.get("app/", keys=True, separator="/")[1] == ["app/config/", "app/other"]
    assert [i["Key"] for i in root.kv.get("app/", recurse=True)[1]] == [
        "app/config/db",
        "app/other",
    ]
    assert cs.http("GET", "/v1/kv/missing").status_code == 404
    assert root.kv.delete("app/", recurse=True)
    assert root.kv.get("app/", recurse=True)[1] is None


def test_status_self_members_dc(cs: Running, root: consul.Consul) -> None:
    assert root.status.leader().endswith(":8300")
    assert len(root.status.peers()) == 1
    assert root.agent.self()["Config"]["Datacenter"] == "dc1"
    assert root.agent.members()[0]["Name"] == "sandbox"
    r = cs.http("GET", "/v1/catalog/services", params={"dc": "dc9"})
    assert r.status_code == 500 and r.text == "No path to datacenter"
    r = cs.http("PATCH", "/v1/catalog/services")
    assert r.status_code == 405 and r.text == "method PATCH not allowed"
    assert cs.http("GET", "/v1/nothing-here").status_code == 404


@pytest.mark.parametrize("body", ["{not json", "[1, 2]"])
def test_malformed_register_is_400(cs: Running, body: str) -> None:
    r = cs.http("PUT", "/v1/agent/service/register", data=body)
    assert r.status_code == 400
    assert r.text.startswith("Bad request: Request decode failed")
