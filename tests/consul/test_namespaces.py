"""Namespaces as Consul Community Edition has them: only ``default``; nothing else is stored,
and an ACL ``namespace`` block grants nothing (it never widens into the whole cluster)."""

from __future__ import annotations

from typing import Any as Running

import consul
import pytest

CE = "Namespaces are a Consul Enterprise feature"


def _token(root: consul.Consul, rules: str) -> str:
    policy = root.acl.policy.create("ns-rules", rules=rules)
    token = root.acl.tokens.create({"Description": "ns", "Policies": [{"ID": policy["ID"]}]})
    return token["SecretID"]


def test_namespace_rule_does_not_widen_to_every_service(cs: Running, root: consul.Consul) -> None:
    secret = _token(
        root,
        'namespace "team-a" { service_prefix "" { policy = "write" } }\n'
        'namespace_prefix "" { key_prefix "" { policy = "write" } }\n',
    )
    before = cs.backend.index
    r = cs.http("PUT", "/v1/agent/service/register", token=secret, json={"Name": "web"})
    assert r.status_code == 403 and "lacks permission 'service:write'" in r.text
    entry = {"Kind": "service-defaults", "Name": "web", "Protocol": "http"}
    assert cs.http("PUT", "/v1/config", token=secret, json=entry).status_code == 403
    assert cs.http("PUT", "/v1/kv/app/x", token=secret, data=b"1").status_code == 403
    assert cs.backend.index == before
    assert root.agent.services() == {} and root.config.list("service-defaults") == []


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/kv/app?recurse"), ("GET", "/v1/catalog/services"), ("PUT", "/v1/kv/app/x")],
)
def test_ns_query_and_header_are_refused_as_ce(cs: Running, method: str, path: str) -> None:
    before = cs.backend.index
    r = cs.http(method, path, params={"ns": "team-a"}, data=b"1")
    assert (r.status_code, r.text) == (
        400,
        f'Bad request: Invalid query parameter: "ns" - {CE}',
    )
    r = cs.http(method, path, headers={"X-Consul-Namespace": "team-a"}, data=b"1")
    assert (r.status_code, r.text) == (
        400,
        f'Bad request: Invalid header: "X-Consul-Namespace" - {CE}',
    )
    assert cs.backend.index == before
    # The default namespace, which our answers name, is accepted.
    assert cs.http("GET", "/v1/catalog/services", params={"ns": "default"}).status_code == 200


def test_config_entries_with_a_namespace_are_refused(cs: Running, root: consul.Consul) -> None:
    assert root.config.put({"Kind": "service-defaults", "Name": "web", "Protocol": "http"})
    before = cs.backend.index
    other = {"Kind": "service-defaults", "Name": "web", "Namespace": "team-a", "Protocol": "tcp"}
    r = cs.http("PUT", "/v1/config", json=other)
    assert (r.status_code, r.text) == (
        400,
        "Bad request: Request decoding failed: 1 error occurred:\n"
        '\t* invalid config key "Namespace", namespaces are a consul enterprise feature\n\n',
    )
    nested = {
        "Kind": "service-intentions",
        "Name": "web",
        "Sources": [{"Name": "store", "Namespace": "team-a", "Action": "allow"}],
    }
    r = cs.http("PUT", "/v1/config", json=nested)
    assert r.status_code == 400 and '"Sources[0].Namespace"' in r.text
    legacy = {"SourceName": "store", "SourceNS": "team-a", "DestinationName": "web"}
    r = cs.http("POST", "/v1/connect/intentions", json=dict(legacy, Action="allow"))
    assert (r.status_code, r.text) == (
        400,
        "Bad request: Invalid SourceNS(team-a): Namespaces is a Consul Enterprise feature",
    )
    assert cs.backend.index == before
    # One web, in the one namespace; an entry read back (Namespace "default") goes back in.
    (web,) = root.config.list("service-defaults")
    assert (web["Namespace"], web["Protocol"]) == ("default", "http")
    assert root.config.put(web) is True
    assert [e["Name"] for e in root.config.list("service-defaults")] == ["web"]


def test_partition_prefix_grants_the_partitions_it_names_and_no_others(cs: Running) -> None:
    """``partition_prefix "e"`` is every partition whose name starts with ``e`` (Consul
    Enterprise's rule; it was read as the one partition named ``e``); the longest prefix wins,
    an exact ``partition`` block wins over prefixes, and other partitions get nothing."""
    for name in ("ecs", "eks", "exo", "west"):
        assert cs.http("PUT", "/v1/partition", json={"Name": name}).status_code == 200
    rules = (
        'partition_prefix "e" { service_prefix "" { policy = "write" } }\n'
        'partition_prefix "ek" { service_prefix "" { policy = "read" } }\n'
        'partition "ecs" { service "web" { policy = "write" } }\n'
    )
    policy = cs.http("PUT", "/v1/acl/policy", json={"Name": "p", "Rules": rules}).json()
    token = cs.http("PUT", "/v1/acl/token", json={"Policies": [{"ID": policy["ID"]}]}).json()

    def register(partition: str, name: str) -> int:
        return cs.http(
            "PUT",
            "/v1/agent/service/register",
            token=token["SecretID"],
            params={"partition": partition},
            json={"Name": name, "Port": 1},
        ).status_code

    assert register("exo", "api") == 200  # "e": write
    assert register("ecs", "web") == 200  # the exact block
    assert register("ecs", "api") == 403  # the exact block names web only
    assert register("eks", "api") == 403  # "ek" (read) is longer than "e" (write)
    assert register("west", "api") == 403  # no block names it
    assert register("default", "api") == 403  # the token's home: no top-level rule
