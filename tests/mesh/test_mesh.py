"""The mesh end to end: workloads registered in Consul, traffic through sidecars and ingress.

Every test runs against each environment of conftest.py (in-memory catalog, and the real
Consul emulator over HTTP once it exists).
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import requests

HTTP = requests.Session()
DEADLINE = 30.0  # seconds: generous; outcomes are tested here, speeds in benchmarks/


def http_defaults(env: Any, *names: str) -> None:
    for name in names:
        env.put_config({"Kind": "service-defaults", "Name": name, "Protocol": "http"})


def version_subsets(env: Any, name: str, default: str | None = None, **extra: Any) -> None:
    entry: dict[str, Any] = {
        "Kind": "service-resolver",
        "Name": name,
        "Subsets": {
            "v1": {"Filter": 'Service.Meta.version == "v1"'},
            "v2": {"Filter": 'Service.Meta.version == "v2"'},
        },
        **extra,
    }
    if default:
        entry["DefaultSubset"] = default
    env.put_config(entry)


def upstream_url(workload: dict[str, Any], name: str) -> str:
    for up in workload["upstreams"]:
        if up["name"] == name:
            return f"http://127.0.0.1:{up['local_bind_port']}"
    raise KeyError(name)


def telemetry(env: Any, **params: Any) -> list[dict[str, Any]]:
    resp = HTTP.get(
        env.admin_url + "/telemetry", params=params, timeout=5, headers=env.admin_headers
    )
    resp.raise_for_status()
    return resp.json()["records"]


def test_weighted_split_90_10(env: Any) -> None:
    http_defaults(env, "inventory", "web")
    env.start("inventory", "v1")
    env.start("inventory", "v2")
    (web,) = env.start("web", upstreams=["inventory"])
    version_subsets(env, "inventory")
    env.put_config(
        {
            "Kind": "service-splitter",
            "Name": "inventory",
            "Splits": [
                {"Weight": 90, "ServiceSubset": "v1"},
                {"Weight": 10, "ServiceSubset": "v2"},
            ],
        }
    )
    url = upstream_url(web, "inventory")
    seen = Counter(HTTP.get(url, timeout=5).json()["body"] for _ in range(2000))
    assert set(seen) == {"inventory v1", "inventory v2"}
    share = seen["inventory v1"] / 2000
    assert 0.87 <= share <= 0.93, seen


def test_header_route_sends_only_tagged_requests_to_v2(env: Any) -> None:
    http_defaults(env, "inventory", "web")
    env.start("inventory", "v1")
    env.start("inventory", "v2")
    (web,) = env.start("web", upstreams=["inventory"])
    version_subsets(env, "inventory", default="v1")
    env.put_config(
        {
            "Kind": "service-router",
            "Name": "inventory",
            "Routes": [
                {
                    "Match": {"HTTP": {"Header": [{"Name": "x-canary", "Exact": "true"}]}},
                    "Destination": {"ServiceSubset": "v2"},
                }
            ],
        }
    )
    url = upstream_url(web, "inventory")
    plain = Counter(HTTP.get(url, timeout=5).json()["body"] for _ in range(100))
    tagged = Counter(
        HTTP.get(url, headers={"x-canary": "true"}, timeout=5).json()["body"] for _ in range(100)
    )
    other = Counter(
        HTTP.get(url, headers={"x-canary": "no"}, timeout=5).json()["body"] for _ in range(50)
    )
    assert plain == {"inventory v1": 100}
    assert tagged == {"inventory v2": 100}
    assert other == {"inventory v1": 50}
    # The workload appends inbound headers to its upstream calls, as fake-service does,
    # so a tagged request to web reaches inventory v2 through web's sidecar.
    reply = HTTP.get(web["url"], headers={"x-canary": "true"}, timeout=5).json()
    assert [c["body"] for c in reply["upstream_calls"].values()] == ["inventory v2"]


def test_intentions_deny_then_allow(env: Any) -> None:
    http_defaults(env, "inventory", "web")
    env.start("inventory", "v1")
    (web,) = env.start("web", upstreams=["inventory"])
    url = upstream_url(web, "inventory")
    # No intention: Consul's default intention behaviour, from the ACL default policy. The
    # consul env runs with ACLs on and default deny (conftest's allow-all removed here).
    env.delete_config("service-intentions", "*")
    default_deny = env.name == "consul"
    nothing = HTTP.get(url, timeout=5)
    if default_deny:
        assert (nothing.status_code, nothing.text) == (403, "RBAC: access denied")
    else:
        assert nothing.status_code == 200

    def intentions(sources: list[dict[str, Any]]) -> None:
        env.put_config({"Kind": "service-intentions", "Name": "inventory", "Sources": sources})

    intentions([{"Name": "web", "Action": "deny"}])
    denied = HTTP.get(url, timeout=5)
    assert (denied.status_code, denied.text) == (403, "RBAC: access denied")
    chained = HTTP.get(web["url"], timeout=5)
    assert chained.status_code == 500
    assert [c["code"] for c in chained.json()["upstream_calls"].values()] == [403]

    # A wildcard allow has lower precedence than the exact deny...
    intentions([{"Name": "web", "Action": "deny"}, {"Name": "*", "Action": "allow"}])
    assert HTTP.get(url, timeout=5).status_code == 403
    # ...and an exact allow restores traffic.
    intentions([{"Name": "web", "Action": "allow"}])
    assert HTTP.get(url, timeout=5).status_code == 200

    # L7: permissions are evaluated in order, the first match decides.
    intentions(
        [
            {
                "Name": "web",
                "Permissions": [
                    {"Action": "deny", "HTTP": {"PathPrefix": "/admin"}},
                    {"Action": "allow", "HTTP": {"PathPrefix": "/", "Methods": ["GET"]}},
                ],
            }
        ]
    )
    assert HTTP.get(url + "/admin/users", timeout=5).status_code == 403
    assert HTTP.get(url + "/items", timeout=5).status_code == 200
    records = telemetry(env, service="inventory", source="web")
    assert [r["code"] for r in records[-2:]] == [403, 200]


def _served_by(env: Any, url: str, n: int) -> Counter[str]:
    """Which inventory instance served each of n requests, from the mesh's telemetry."""
    after = _last_seq(env)
    for _ in range(n):
        HTTP.get(url, timeout=5)
    return Counter(r["instance"] for r in telemetry(env, after=after, service="inventory"))


def _last_seq(env: Any) -> int:
    return HTTP.get(
        env.admin_url + "/telemetry", params={"limit": 0}, headers=env.admin_headers
    ).json()["last_seq"]


def test_failing_check_leaves_routing_and_returns(env: Any) -> None:
    http_defaults(env, "inventory", "web")
    first, second = env.start("inventory", "v1", count=2)
    (web,) = env.start("web", upstreams=["inventory"])
    url = upstream_url(web, "inventory")
    assert set(_served_by(env, url, 20)) == {first["id"], second["id"]}

    # Consul runs the check every interval; a failing instance leaves the load-balancing set
    # and comes back once it recovers. How fast is measured in benchmarks/, not here: each
    # outcome must only come before a generous deadline.
    env.update(second["id"], health_code=500)
    deadline = time.monotonic() + DEADLINE
    while set(_served_by(env, url, 20)) != {first["id"]}:
        assert time.monotonic() < deadline, "still routed to the failing one"
    assert set(_served_by(env, url, 20)) == {first["id"]}

    env.update(second["id"], health_code=200)
    deadline = time.monotonic() + DEADLINE
    while second["id"] not in _served_by(env, url, 4):
        assert time.monotonic() < deadline, "the recovered instance did not come back"
        time.sleep(0.01)
    assert set(_served_by(env, url, 20)) == {first["id"], second["id"]}


def test_failover_target_takes_traffic_when_all_local_instances_are_down(env: Any) -> None:
    http_defaults(env, "payments", "payments-dr", "web")
    local = env.start("payments", "v1", count=2)
    env.start("payments-dr", "v1")
    (web,) = env.start("web", upstreams=["payments"])
    url = upstream_url(web, "payments")
    env.put_config(
        {
            "Kind": "service-resolver",
            "Name": "payments",
            "Failover": {"*": {"Targets": [{"Service": "payments-dr"}]}},
        }
    )
    assert {HTTP.get(url, timeout=5).json()["name"] for _ in range(10)} == {"payments"}

    for w in local:
        env.update(w["id"], health_code=503)
    deadline = time.monotonic() + DEADLINE
    while HTTP.get(url, timeout=5).json()["name"] != "payments-dr":
        assert time.monotonic() < deadline, "failover did not take over"
        time.sleep(0.01)
    assert {HTTP.get(url, timeout=5).json()["name"] for _ in range(20)} == {"payments-dr"}
    records = telemetry(env, service="payments", limit=100000)
    assert records[-1]["destination"] == "payments-dr"
    assert records[-1]["upstream"] == "payments"

    # Without the failover, nothing healthy is left: Envoy's answer.
    env.delete_config("service-resolver", "payments")
    resp = HTTP.get(url, timeout=5)
    assert (resp.status_code, resp.text) == (503, "no healthy upstream")


def _ingress_store(env: Any) -> tuple[str, dict[str, Any]]:
    from soa_sdk.sandbox.ports import free_port

    http_defaults(env, "store", "inventory", "customers", "payments")
    for name in ("inventory", "customers", "payments"):
        env.start(name, "v1")
    (store,) = env.start("store", upstreams=["inventory", "customers", "payments"])
    port = free_port()
    env.put_config(
        {
            "Kind": "ingress-gateway",
            "Name": "ingress-gateway",
            "Listeners": [{"Port": port, "Protocol": "http", "Services": [{"Name": "store"}]}],
        }
    )
    env.register_ingress("ingress-gateway", port)
    return f"http://127.0.0.1:{port}", store


def test_ingress_to_store_shows_the_call_chain(env: Any) -> None:
    ingress, _ = _ingress_store(env)
    resp = HTTP.get(ingress + "/", timeout=5)
    assert resp.status_code == 200
    reply = resp.json()
    assert (reply["name"], reply["code"], reply["body"]) == ("store", 200, "store v1")
    calls = reply["upstream_calls"]
    assert sorted(c["name"] for c in calls.values()) == ["customers", "inventory", "payments"]
    for uri, call in calls.items():
        assert call["uri"] == uri and call["code"] == 200 and call["type"] == "HTTP"
        assert {"start_time", "end_time", "duration", "ip_addresses"} <= set(call)


def test_telemetry_records_match_what_was_served(env: Any) -> None:
    ingress, store = _ingress_store(env)
    HTTP.get(ingress, timeout=5)  # warm up
    before = {w["id"]: sum(w["served"].values()) for w in env.workloads()}
    after_seq = _last_seq(env)
    t0 = time.time()
    n = 50
    for i in range(n):
        assert HTTP.get(f"{ingress}/order/{i}", timeout=5).status_code == 200
    records = telemetry(env, after=after_seq)
    assert all(r["time"] >= t0 and r["code"] == 200 for r in records)
    by_edge = Counter((r["mode"], r["source"], r["destination"]) for r in records)
    assert by_edge == {
        ("ingress", "ingress-gateway", "store"): n,
        ("sidecar", "store", "inventory"): n,
        ("sidecar", "store", "customers"): n,
        ("sidecar", "store", "payments"): n,
    }
    served = {w["id"]: sum(w["served"].values()) - before.get(w["id"], 0) for w in env.workloads()}
    by_instance = Counter(r["instance"] for r in records)
    assert by_instance == {wid: count for wid, count in served.items() if count}
    assert {r["version"] for r in records} == {"v1"}
    assert {r["path"] for r in records if r["mode"] == "ingress"} == {
        f"/order/{i}" for i in range(n)
    }
    # The aggregate counters saw at least as much as the records we sent.
    stats = HTTP.get(env.admin_url + "/stats", timeout=5, headers=env.admin_headers).json()["stats"]
    counted = {(s["service"], s["code"]): s["count"] for s in stats}
    assert counted[("store", 200)] >= n + 1
    # since= narrows by request start time.
    assert len(telemetry(env, since=t0, service="store", source="ingress-gateway")) == n
    assert store["id"] in by_instance
