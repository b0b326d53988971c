"""The snapshot builder without Envoy: names, the compiled chain, endpoint health, and RBAC
that decides as the Consul emulator's intention check
(``soa_sdk.sandbox.consul.state.precedence``) does."""

from __future__ import annotations

import re
from typing import Any

import pytest

from soa_sdk.sandbox.connect import ads, snapshot
from soa_sdk.sandbox.consul import ConsulBackend
from soa_sdk.sandbox.consul.exceptions import BadRequest
from soa_sdk.sandbox.consul.state import precedence

TD = "11111111-2222-3333-4444-555555555555.consul"


class FakeCerts:
    trust_domain = TD

    def roots_pem(self) -> str:
        return "ROOTS"

    def leaf(self, service: str, partition: str = "default", dns_sans: Any = ()) -> tuple[str, str]:
        return f"CERT {service}", f"KEY {service}"


@pytest.fixture
def backend() -> ConsulBackend:
    b = ConsulBackend(initial_management_token="t")
    b.partition_upsert("west")
    return b


def _register(b: ConsulBackend, name: str, sid: str, version: str, upstreams=(), part="default"):  # type: ignore[no-untyped-def]
    b.register_service(
        {
            "Name": name,
            "ID": sid,
            "Port": 9000,
            "Meta": {"version": version},
            "Check": {"CheckID": f"{sid}-ttl", "TTL": "1h", "Status": "passing"},
            "Connect": {"SidecarService": {"Port": 21000, "Proxy": {"Upstreams": list(upstreams)}}},
        },
        partition=part,
    )


def test_names_are_consuls() -> None:
    assert snapshot.spiffe_id(TD, "web") == f"spiffe://{TD}/ns/default/dc/dc1/svc/web"
    assert (
        snapshot.spiffe_id(TD, "web", "west") == f"spiffe://{TD}/ap/west/ns/default/dc/dc1/svc/web"
    )
    assert snapshot.sni(TD, "web", subset="v1") == f"v1.web.default.dc1.internal.{TD}"
    assert snapshot.sni(TD, "web", "west") == f"web.default.west.dc1.internal-v1.{TD}"


def _build(b: ConsulBackend, proxy_id: str) -> snapshot.Snapshot:
    held = [p for p in snapshot.proxies(b) if p["ID"] == proxy_id]
    return snapshot.build(b, FakeCerts(), held)


def test_local_app_dials_the_workloads_socket(backend: ConsulBackend) -> None:
    """``LocalServiceSocketPath`` becomes an Envoy pipe address, as Consul's
    ``makePipeEndpoint``; without one, the local address and port."""
    backend.register_service(
        {"Name": "cart", "ID": "cart-1", "Port": 9001, "SocketPath": "/run/cart-1.sock"}
    )
    backend.register_service(
        {
            "Name": "cart-sidecar-proxy",
            "ID": "cart-1-sidecar-proxy",
            "Kind": "connect-proxy",
            "Port": 21001,
            "Proxy": {
                "DestinationServiceName": "cart",
                "DestinationServiceID": "cart-1",
                "LocalServiceSocketPath": "/run/cart-1.sock",
            },
        }
    )
    _register(backend, "web", "web-1", "v1")

    def local_app(proxy_id: str) -> dict[str, Any]:
        cluster = _build(backend, proxy_id).resources[snapshot.T_CLUSTER]["local_app"]
        (endpoint,) = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
        return endpoint["endpoint"]["address"]

    assert local_app("cart-1-sidecar-proxy") == {"pipe": {"path": "/run/cart-1.sock"}}
    address = local_app("web-1-sidecar-proxy")["socket_address"]
    assert (address["address"], address["port_value"]) == ("127.0.0.1", 9000)


def test_an_upstream_on_a_unix_socket_gets_a_pipe_listener(backend: ConsulBackend) -> None:
    """``LocalBindSocketPath`` (no port): Consul's ``makePipeListener``, ``<name>:<path>`` on a
    pipe whose mode is ``LocalBindSocketMode`` read as Go's ``ParseUint(s, 0, 32)`` ("0600"
    is octal); a ``LocalBindPort`` upstream keeps its TCP listener; a port and a socket path
    together are refused at registration, as ``structs.Upstream.Validate`` does."""
    _register(
        backend,
        "store",
        "store-1",
        "v1",
        [
            {
                "DestinationName": "inventory",
                "LocalBindSocketPath": "/run/store-1/u1.sock",
                "LocalBindSocketMode": "0600",
            },
            {"DestinationName": "payments", "LocalBindSocketPath": "/run/store-1/u2.sock"},
            {"DestinationName": "customers", "LocalBindPort": 9292},
        ],
    )
    listeners = _build(backend, "store-1-sidecar-proxy").resources[snapshot.T_LISTENER]
    inventory = listeners["inventory:/run/store-1/u1.sock"]
    assert inventory["address"] == {"pipe": {"path": "/run/store-1/u1.sock", "mode": 0o600}}
    assert inventory["traffic_direction"] == "OUTBOUND"
    assert listeners["payments:/run/store-1/u2.sock"]["address"] == {
        "pipe": {"path": "/run/store-1/u2.sock"}
    }
    tcp = listeners["customers:127.0.0.1:9292"]["address"]["socket_address"]
    assert (tcp["address"], tcp["port_value"]) == ("127.0.0.1", 9292)
    assert not [n for n in listeners if n.startswith(("inventory:127", "payments:127"))]
    (upstreams,) = [
        s["Proxy"]["Upstreams"]
        for s in backend.agent_services().values()
        if s["ID"] == "store-1-sidecar-proxy"
    ]
    assert "LocalBindPort" not in upstreams[0]  # omitempty, as Consul's JSON
    assert upstreams[0]["LocalBindSocketMode"] == "0600"
    assert ads.to_any(snapshot.T_LISTENER, inventory).type_url == snapshot.T_LISTENER
    both = {"DestinationName": "x", "LocalBindPort": 1, "LocalBindSocketPath": "/run/x.sock"}
    with pytest.raises(BadRequest, match="only one of upstream local bind port or local socket"):
        _register(backend, "web", "web-1", "v1", [both])


def test_chain_compiles_to_weighted_clusters_header_routes_and_failover(
    backend: ConsulBackend,
) -> None:
    b = backend
    _register(
        b, "store", "store-1", "v1", [{"DestinationName": "inventory", "LocalBindPort": 9191}]
    )
    _register(b, "inventory", "inv-1", "v1")
    _register(b, "inventory", "inv-2", "v2")
    _register(b, "inventory", "inv-w", "v1", part="west")
    b.config_apply({"Kind": "service-defaults", "Name": "inventory", "Protocol": "http"})
    b.config_apply(
        {
            "Kind": "service-resolver",
            "Name": "inventory",
            "DefaultSubset": "v1",
            "Subsets": {
                "v1": {"Filter": "Service.Meta.version == v1"},
                "v2": {"Filter": "Service.Meta.version == v2"},
            },
            "Failover": {"v1": {"Targets": [{"Partition": "west"}]}},
        }
    )
    b.config_apply(
        {
            "Kind": "service-splitter",
            "Name": "inventory",
            "Splits": [
                {"Weight": 50, "ServiceSubset": "v1"},
                {"Weight": 50, "ServiceSubset": "v2"},
            ],
        }
    )
    b.config_apply(
        {
            "Kind": "service-router",
            "Name": "inventory",
            "Routes": [
                {
                    "Match": {
                        "HTTP": {"PathPrefix": "/beta", "Header": [{"Name": "x-v", "Exact": "2"}]}
                    },
                    "Destination": {"ServiceSubset": "v2", "PrefixRewrite": "/"},
                }
            ],
        }
    )
    b.config_apply(
        {
            "Kind": "exported-services",
            "Name": "west",
            "Services": [{"Name": "inventory", "Consumers": [{"Partition": "default"}]}],
        },
        partition="west",
    )
    snap = _build(b, "store-1-sidecar-proxy")
    assert snap.problems == []
    routes = snap.resources[snapshot.T_ROUTE]["inventory"]["virtual_hosts"][0]["routes"]
    v1 = "failover~" + snapshot.sni(TD, "inventory", subset="v1")
    v2 = snapshot.sni(TD, "inventory", subset="v2")
    assert routes[0]["match"] == {
        "prefix": "/beta",
        "headers": [{"name": "x-v", "string_match": {"exact": "2"}}],
    }
    assert routes[0]["route"]["cluster"] == v2 and routes[0]["route"]["prefix_rewrite"] == "/"
    assert routes[1]["route"]["weighted_clusters"]["clusters"] == [
        {"name": v1, "weight": 5000},
        {"name": v2, "weight": 5000},
    ]
    cla = snap.resources[snapshot.T_ENDPOINT][v1]["endpoints"]
    assert [len(p["lb_endpoints"]) for p in cla] == [1, 1]  # v1 here, then west at priority 1
    assert cla[1]["priority"] == 1
    sans = snap.resources[snapshot.T_CLUSTER][v1]["transport_socket"]["typed_config"][
        "common_tls_context"
    ]["combined_validation_context"]["default_validation_context"]["match_typed_subject_alt_names"]
    assert [s["matcher"]["exact"] for s in sans] == [
        snapshot.spiffe_id(TD, "inventory"),
        snapshot.spiffe_id(TD, "inventory", "west"),
    ]
    b.update_ttl("inv-1-ttl", "critical")
    cla = _build(b, "store-1-sidecar-proxy").resources[snapshot.T_ENDPOINT][v1]["endpoints"]
    assert cla[0]["lb_endpoints"][0]["health_status"] == "UNHEALTHY"
    # every resource is valid Envoy v3 (protobuf encoding checks names and types)
    for type_url, items in snap.resources.items():
        for resource in items.values():
            ads.to_any(type_url, resource)


# --- RBAC decides as precedence.decide --------------------------------------------------------


def _str_match(m: dict[str, Any], value: str) -> bool:
    if "exact" in m:
        return value == m["exact"]
    return re.fullmatch(m["safe_regex"]["regex"].strip("^$"), value) is not None


def _principal(p: dict[str, Any], sid: str) -> bool:
    if "and_ids" in p:
        return all(_principal(x, sid) for x in p["and_ids"]["ids"])
    if "not_id" in p:
        return not _principal(p["not_id"], sid)
    return _str_match(p["authenticated"]["principal_name"], sid)


def _rbac_allows(rules: dict[str, Any], sid: str) -> bool:
    hit = any(
        any(_principal(p, sid) for p in pol["principals"]) for pol in rules["policies"].values()
    )
    return hit if rules["action"] == "ALLOW" else not hit


SOURCES = [
    [{"Name": "store", "Action": "allow"}],
    [{"Name": "store", "Action": "deny"}, {"Name": "*", "Action": "allow"}],
    [
        {"Name": "*", "Action": "allow", "Partition": "west"},
        {"Name": "web", "Action": "deny", "Partition": "west"},
    ],
    [],
]


@pytest.mark.parametrize("sources", SOURCES)
@pytest.mark.parametrize("wildcard", [None, "allow", "deny"])
@pytest.mark.parametrize("default_allow", [False, True])
def test_l4_rbac_agrees_with_the_intention_check(
    backend: ConsulBackend, sources: list[dict[str, Any]], wildcard: str | None, default_allow: bool
) -> None:
    b = backend
    if sources:
        b.config_apply({"Kind": "service-intentions", "Name": "inventory", "Sources": sources})
    if wildcard:
        b.config_apply(
            {
                "Kind": "service-intentions",
                "Name": "*",
                "Sources": [{"Name": "web", "Action": wildcard}],
            }
        )
    rules = snapshot.rbac_rules(b, TD, "inventory", "default", default_allow, l7=True)

    def lookup(kind: str, name: str, part: str) -> dict[str, Any] | None:
        return b.get_config_entry(kind, name, partition=part)

    for caller in ("store", "web", "admin"):
        for part in ("default", "west"):
            want = precedence.decide(
                lookup, precedence.Caller(caller, part), "inventory", "default", default_allow
            )
            got = _rbac_allows(rules, snapshot.spiffe_id(TD, caller, part))
            assert got == want, (caller, part, rules)


def test_l7_permissions_first_match_then_default(backend: ConsulBackend) -> None:
    backend.config_apply(
        {
            "Kind": "service-intentions",
            "Name": "inventory",
            "Sources": [
                {
                    "Name": "web",
                    "Permissions": [
                        {"Action": "deny", "HTTP": {"PathPrefix": "/admin"}},
                        {"Action": "allow", "HTTP": {"PathPrefix": "/", "Methods": ["GET"]}},
                    ],
                }
            ],
        }
    )
    rules = snapshot.rbac_rules(backend, TD, "inventory", "default", False, l7=True)
    (policy,) = rules["policies"].values()
    assert rules["action"] == "ALLOW"
    assert policy["permissions"] == [
        {
            "and_rules": {
                "rules": [
                    {
                        "and_rules": {
                            "rules": [
                                {"url_path": {"path": {"prefix": "/"}}},
                                {
                                    "header": {
                                        "name": ":method",
                                        "string_match": {"safe_regex": {"regex": "GET"}},
                                    }
                                },
                            ]
                        }
                    },
                    {"not_rule": {"url_path": {"path": {"prefix": "/admin"}}}},
                ]
            }
        }
    ]
