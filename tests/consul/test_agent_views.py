"""Agent-local health, Connect authorize, node and gateway service lists, exported and
imported services (issue 16), through python-consul2 where it has a method, raw HTTP else."""

from __future__ import annotations

from typing import Any as Running

import consul
import pytest

TD = "spiffe://11111111-2222-3333-4444-555555555555.consul"


def _token(root: consul.Consul, name: str, rules: str) -> str:
    policy = root.acl.policy.create(name, rules=rules)
    return root.acl.tokens.create({"Policies": [{"ID": policy["ID"]}]})["SecretID"]


def _with_sidecar(cs: Running, name: str) -> None:
    body = {"Name": name, "Port": 80, "Connect": {"SidecarService": {}}}
    assert cs.http("PUT", "/v1/agent/service/register", json=body).status_code == 200


def _ttl(root: consul.Consul, service_id: str, name: str) -> None:
    check = consul.Check.ttl("60s")
    root.agent.service.register(name, service_id=service_id, port=80, check=check)


# ---------------------------------------------------------------- agent health


def test_agent_health_by_id_follows_the_checks(cs: Running, root: consul.Consul) -> None:
    _ttl(root, "web-1", "web")
    path = "/v1/agent/health/service/id/web-1"
    r = cs.http("GET", path)
    assert r.status_code == 503 and r.json()["AggregatedStatus"] == "critical"
    assert r.json()["Service"]["ID"] == "web-1" and "Partition" not in r.json()["Service"]
    [check] = r.json()["Checks"]
    assert check["CheckID"] == "service:web-1" and check["ServiceName"] == "web"
    root.agent.check.ttl_pass("service:web-1")
    r = cs.http("GET", path)
    assert (r.status_code, r.json()["AggregatedStatus"]) == (200, "passing")
    root.agent.check.ttl_warn("service:web-1")
    assert cs.http("GET", path).status_code == 429
    text = cs.http("GET", path, params={"format": "text"})
    assert (text.status_code, text.text) == (429, "warning")
    assert text.headers["Content-Type"].startswith("text/plain")
    accept = cs.http("GET", path, headers={"Accept": "text/plain"})
    assert accept.text == "warning"
    # a node check of the agent counts; maintenance wins over everything
    root.agent.check.register("disk", check=consul.Check.ttl("60s"))
    assert cs.http("GET", path, params={"format": "text"}).text == "critical"
    root.agent.check.ttl_pass("disk")
    cs.http("PUT", "/v1/agent/service/maintenance/web-1", params={"enable": "true"})
    r = cs.http("GET", path)
    assert (r.status_code, r.json()["AggregatedStatus"]) == (503, "maintenance")


def test_agent_health_by_id_unknown_and_denied(cs: Running, root: consul.Consul) -> None:
    r = cs.http("GET", "/v1/agent/health/service/id/ghost")
    assert r.status_code == 404
    assert r.json() == {"AggregatedStatus": "critical", "Checks": None, "Service": None}
    r = cs.http("GET", "/v1/agent/health/service/id/ghost", params={"format": "text"})
    assert (r.status_code, r.text) == (404, "ServiceId ghost not found")
    _ttl(root, "web-1", "web")
    r = cs.http("GET", "/v1/agent/health/service/id/web-1", token=None)
    assert r.status_code == 403 and "lacks permission 'service:read' on \"web\"" in r.text


def test_agent_health_by_name_takes_the_worst(cs: Running, root: consul.Consul) -> None:
    _ttl(root, "api-1", "api")
    _ttl(root, "api-2", "api")
    root.agent.check.ttl_pass("service:api-1")
    r = cs.http("GET", "/v1/agent/health/service/name/api")
    assert r.status_code == 503
    assert [(e["Service"]["ID"], e["AggregatedStatus"]) for e in r.json()] == [
        ("api-1", "passing"),
        ("api-2", "critical"),
    ]
    root.agent.check.ttl_warn("service:api-2")
    r = cs.http("GET", "/v1/agent/health/service/name/api", params={"format": "text"})
    assert (r.status_code, r.text) == (429, "warning")
    root.agent.check.ttl_pass("service:api-2")
    assert cs.http("GET", "/v1/agent/health/service/name/api").status_code == 200
    r = cs.http("GET", "/v1/agent/health/service/name/nope")
    assert (r.status_code, r.json()) == (404, [])
    r = cs.http("GET", "/v1/agent/health/service/name/nope", params={"format": "text"})
    assert r.text == "ServiceName nope Not Found"
    r = cs.http("GET", "/v1/agent/health/service/name/nope", token=None)
    assert r.status_code == 403  # the name is checked before anything is looked up


# ---------------------------------------------------------------- connect authorize


def test_connect_authorize_follows_intentions(cs: Running, root: consul.Consul) -> None:
    auth = root.agent.connect.authorize
    web = f"{TD}/ns/default/dc/dc1/svc/web"
    assert auth("api", web, "aa:bb") == {
        "Authorized": False,
        "Reason": "Default behavior configured by ACLs",
    }
    root.config.put(
        {
            "Kind": "service-intentions",
            "Name": "api",
            "Sources": [
                {"Name": "web", "Action": "allow"},
                {"Name": "*", "Action": "deny"},
            ],
        }
    )
    assert auth("api", web, "aa:bb") == {
        "Authorized": True,
        "Reason": "Matched L4 intention: default/web => default/api (Precedence: 9, Action: ALLOW)",
    }
    other = auth("api", f"{TD}/ns/default/dc/dc1/svc/billing", "aa:bb")
    assert other == {
        "Authorized": False,
        "Reason": "Matched L4 intention: default/* => default/api (Precedence: 8, Action: DENY)",
    }
    root.config.put(
        {
            "Kind": "service-intentions",
            "Name": "db",
            "Sources": [
                {"Name": "web", "Permissions": [{"Action": "allow", "HTTP": {"PathPrefix": "/"}}]}
            ],
        }
    )
    l7 = auth("db", web, "aa:bb")
    assert l7["Authorized"] is False
    assert l7["Reason"] == (
        "Matched L7 intention: default/web => default/db (Precedence: 9, Permissions: 1)"
    )
    legacy_id = cs.http(
        "POST",
        "/v1/connect/intentions",
        json={"SourceName": "web", "DestinationName": "cache", "Action": "allow"},
    ).json()["ID"]
    assert auth("cache", web, "aa:bb")["Reason"] == (
        f"Matched L4 intention: default/web => default/cache (ID: {legacy_id}, Precedence: 9,"
        " Action: ALLOW)"
    )


def test_connect_authorize_errors(cs: Running, root: consul.Consul) -> None:
    web = f"{TD}/ns/default/dc/dc1/svc/web"

    def post(body: dict, token: str | None = cs.root, **kw: object) -> tuple[int, str]:
        r = cs.http("POST", "/v1/agent/connect/authorize", token=token, json=body, **kw)
        return r.status_code, r.text

    assert post({"ClientCertURI": web}) == (400, "Target service must be specified")
    bad = (400, "ClientCertURI not a valid Connect identifier")
    assert post({"Target": "api", "ClientCertURI": "https://example.com/svc/web"}) == bad
    assert post({"Target": "api", "ClientCertURI": f"{TD}/svc/web"}) == bad
    agent_uri = f"{TD}/agent/client/dc/dc1/id/11111111-2222-3333-4444-555555555555"
    assert post({"Target": "api", "ClientCertURI": agent_uri}) == (
        400,
        "ClientCertURI not a valid Service identifier",
    )
    code, text = post({"Target": "api", "ClientCertURI": web}, token=None)
    assert code == 403 and "lacks permission 'service:write' on \"api\"" in text
    reader = _token(root, "api-reader", 'service "api" { policy = "read" }')
    assert post({"Target": "api", "ClientCertURI": web}, token=reader)[0] == 403
    writer = _token(root, "api-writer", 'service "api" { policy = "write" }')
    assert post({"Target": "api", "ClientCertURI": web}, token=writer)[0] == 200
    cs.http("PUT", "/v1/partition", json={"Name": "runtime-ecs"})
    ecs = f"{TD}/ap/runtime-ecs/ns/default/dc/dc1/svc/web"
    assert post({"Target": "api", "ClientCertURI": ecs}) == (
        400,
        'Mismatched partitions: "runtime-ecs" != "default"',
    )
    code, _ = post({"Target": "api", "ClientCertURI": ecs}, params={"partition": "runtime-ecs"})
    assert code == 200
    r = cs.http("POST", "/v1/agent/connect/authorize", data="{nope")
    assert r.status_code == 400 and "Request decode failed" in r.text


def test_connect_authorize_default_intention_policy(open_consul: Running) -> None:
    # ACLs off: no token needed, the default allows (Consul CE with ACLs disabled)
    r = open_consul.http(
        "POST",
        "/v1/agent/connect/authorize",
        token=None,
        json={"Target": "api", "ClientCertURI": f"{TD}/ns/default/dc/dc1/svc/web"},
    )
    assert r.json() == {"Authorized": True, "Reason": "Default behavior configured by ACLs"}


# ---------------------------------------------------------------- catalog lists


def test_catalog_node_services(cs: Running, root: consul.Consul) -> None:
    root.agent.service.register("web", service_id="web-1", port=80, tags=["v1"])
    body = cs.http("GET", "/v1/catalog/node-services/sandbox").json()
    assert body["Node"]["Node"] == "sandbox"
    by_id = {s["ID"]: s for s in body["Services"]}
    assert set(by_id) == {"consul", "web-1"} and by_id["web-1"]["Tags"] == ["v1"]
    # the same services as /v1/catalog/node/:node, as a list
    _, node = root.catalog.node("sandbox")
    assert sorted(by_id) == sorted(node["Services"])
    assert cs.http("GET", "/v1/catalog/node-services/ghost").json() == {
        "Node": None,
        "Services": None,
    }
    filtered = cs.http(
        "GET", "/v1/catalog/node-services/sandbox", params={"filter": 'Service == "web"'}
    ).json()
    assert [s["ID"] for s in filtered["Services"]] == ["web-1"]
    bad = cs.http("GET", "/v1/catalog/node-services/sandbox", params={"filter": "Nope == 1"})
    assert bad.status_code == 400
    anon = cs.http("GET", "/v1/catalog/node-services/sandbox", token=None).json()
    assert anon == {"Node": None, "Services": None}  # no node:read


INGRESS = {
    "Kind": "ingress-gateway",
    "Name": "edge",
    "Listeners": [
        {
            "Port": 8080,
            "Protocol": "http",
            "Services": [{"Name": "store", "Hosts": ["store.example.com"]}, {"Name": "*"}],
        },
        {"Port": 9000, "Protocol": "tcp", "Services": [{"Name": "db"}]},
    ],
}


def test_catalog_gateway_services(cs: Running, root: consul.Consul) -> None:
    root.config.put({"Kind": "service-defaults", "Name": "store", "Protocol": "http"})
    for name in ("store", "inventory", "payments"):
        _with_sidecar(cs, name)
    root.config.put(INGRESS)
    r = cs.http("GET", "/v1/catalog/gateway-services/edge")
    assert r.status_code == 200 and int(r.headers["X-Consul-Index"]) > 0
    rows = [(g["Service"]["Name"], g.get("Port"), g.get("FromWildcard", False)) for g in r.json()]
    # the wildcard links every typical service not named on its own (no sidecars)
    assert rows == [
        ("store", 8080, False),
        ("inventory", 8080, True),
        ("payments", 8080, True),
        ("db", 9000, False),
    ]
    first = r.json()[0]
    assert first["Gateway"] == {"Name": "edge"} and first["GatewayKind"] == "ingress-gateway"
    assert first["Protocol"] == "http" and first["Hosts"] == ["store.example.com"]
    assert first["CreateIndex"] > 0 and "Hosts" not in r.json()[3]
    assert cs.http("GET", "/v1/catalog/gateway-services/nope").json() is None
    denied = cs.http("GET", "/v1/catalog/gateway-services/edge", token=None)
    assert denied.status_code == 403 and "'service:read' on \"edge\"" in denied.text
    # services the token may not read are left out
    token = _token(
        root, "edge-reader", 'service "edge" { policy = "read" }\nservice "db" { policy = "read" }'
    )
    seen = cs.http("GET", "/v1/catalog/gateway-services/edge", token=token).json()
    assert [g["Service"]["Name"] for g in seen] == ["db"]


# ---------------------------------------------------------------- exported / imported


def _peer_west(cs: Running) -> None:
    """default <-> west: default calls the peering "west-peer", west calls it "east"."""
    cs.http("PUT", "/v1/partition", json={"Name": "west"})
    token = cs.http("POST", "/v1/peering/token", json={"PeerName": "west-peer"}).json()
    r = cs.http(
        "POST",
        "/v1/peering/establish",
        params={"partition": "west"},
        json={"PeerName": "east", "PeeringToken": token["PeeringToken"]},
    )
    assert r.status_code == 200, r.text


def test_exported_and_imported_services(cs: Running, root: consul.Consul) -> None:
    assert cs.http("GET", "/v1/exported-services").json() == []
    _peer_west(cs)
    cs.http("PUT", "/v1/partition", json={"Name": "runtime-ecs"})
    for name in ("payments", "inventory"):
        _with_sidecar(cs, name)
    root.config.put(
        {
            "Kind": "exported-services",
            "Name": "default",
            "Services": [
                {"Name": "payments", "Consumers": [{"Peer": "west-peer"}]},
                {"Name": "*", "Consumers": [{"Partition": "runtime-ecs"}]},
                {"Name": "consul", "Consumers": [{"Peer": "west-peer"}]},
            ],
        }
    )
    r = cs.http("GET", "/v1/exported-services")
    assert r.status_code == 200 and int(r.headers["X-Consul-Index"]) > 0
    # the wildcard expands to typical services only; "consul" is never exported
    assert r.json() == [
        {"Service": "inventory", "Consumers": {"Partitions": ["runtime-ecs"]}},
        {
            "Service": "payments",
            "Consumers": {"Peers": ["west-peer"], "Partitions": ["runtime-ecs"]},
        },
    ]
    west = cs.http("GET", "/v1/imported-services", params={"partition": "west"})
    assert west.json() == [{"Service": "payments", "SourcePeer": "east"}]
    ecs = cs.http("GET", "/v1/imported-services", params={"partition": "runtime-ecs"})
    assert ecs.json() == [
        {"Service": "inventory", "SourcePartition": "default"},
        {"Service": "payments", "SourcePartition": "default"},
    ]
    assert cs.http("GET", "/v1/imported-services").json() == []
    # the peering's counts agree (the wildcard's sidecars and "consul" are not counted)
    assert cs.http("GET", "/v1/peering/west-peer").json()["ExportedServiceCount"] == 1
    east = cs.http("GET", "/v1/peering/east", params={"partition": "west"}).json()
    assert east["ImportedServiceCount"] == 1


def test_exported_services_need_mesh_read(cs: Running, root: consul.Consul) -> None:
    for path in ("/v1/exported-services", "/v1/imported-services"):
        r = cs.http("GET", path, token=None)
        assert r.status_code == 403 and "lacks permission 'mesh:read'" in r.text
    assert cs.http("GET", "/v1/exported-services", token="no-such-token").status_code == 403
    for rules in ('mesh = "read"', 'operator = "read"'):
        token = _token(root, f"p-{len(rules)}", rules)
        assert cs.http("GET", "/v1/exported-services", token=token).status_code == 200
    r = cs.http("GET", "/v1/exported-services", params={"partition": "nope"})
    assert r.status_code == 400 and 'Partition "nope" does not exist' in r.text


@pytest.mark.parametrize("path", ["/v1/exported-services", "/v1/catalog/gateway-services/edge"])
def test_new_reads_refuse_other_datacenters(cs: Running, path: str) -> None:
    r = cs.http("GET", path, params={"dc": "dc2"})
    assert (r.status_code, r.text) == (500, "No path to datacenter")
