"""Statuses and shapes Consul answers (issue 16, first part): ACL 403s, token clone, agent
and catalog shapes, ``?filter=`` selectors checked as go-bexpr checks them."""

from __future__ import annotations

from typing import Any as Running

import consul
import pytest


def test_unknown_token_and_policy_are_403_acl_not_found(cs: Running, root: consul.Consul) -> None:
    for path in (
        "/v1/acl/token/6a1253d2-1785-24fd-91c2-f8e78c745511",
        "/v1/acl/policy/6a1253d2-1785-24fd-91c2-f8e78c745511",
        "/v1/acl/policy/name/nope",
    ):
        r = cs.http("GET", path)
        assert (r.status_code, r.text) == (403, "ACL not found"), path
    token = root.acl.tokens.create({"Description": "doomed"})
    root.acl.tokens.delete(token["AccessorID"])
    r = cs.http("GET", f"/v1/acl/token/{token['AccessorID']}")
    assert (r.status_code, r.text) == (403, "ACL not found")


def test_token_clone(cs: Running, root: consul.Consul) -> None:
    policy = root.acl.policy.create(name="ro", rules='key_prefix "" { policy = "read" }')
    token = cs.http(
        "PUT",
        "/v1/acl/token",
        json={
            "Description": "orig",
            "Policies": [{"ID": policy["ID"]}],
            "ServiceIdentities": [{"ServiceName": "web", "Datacenters": ["dc1"]}],
        },
    ).json()
    assert token["ServiceIdentities"] == [{"ServiceName": "web", "Datacenters": ["dc1"]}]
    c = root.acl.tokens.clone(description="copy", accessor_id=token["AccessorID"])
    assert c["AccessorID"] != token["AccessorID"] and c["SecretID"] != token["SecretID"]
    assert c["Description"] == "copy"
    assert c["Policies"] == token["Policies"]
    assert c["ServiceIdentities"] == token["ServiceIdentities"]
    r = cs.http("PUT", "/v1/acl/token/6a1253d2-1785-24fd-91c2-f8e78c745511/clone")
    assert (r.status_code, r.text) == (403, "ACL not found")


def test_agent_checks_leave_out_serf_health(cs: Running, root: consul.Consul) -> None:
    assert "serfHealth" not in root.agent.checks()
    _, checks = root.health.node("sandbox")
    assert [c["CheckID"] for c in checks] == ["serfHealth"]  # the catalog keeps it


def test_agent_self_stats_leader_addr(cs: Running, root: consul.Consul) -> None:
    stats = root.agent.self()["Stats"]["consul"]
    assert stats["leader"] == "true" and stats["leader_addr"] == "127.0.0.1:8300"


def test_agent_services_in_ce_shape(cs: Running, root: consul.Consul) -> None:
    root.agent.service.register("web", service_id="web-1", port=80)
    svc = root.agent.services()["web-1"]
    assert "Partition" not in svc and "Namespace" not in svc
    assert "Partition" not in cs.http("GET", "/v1/agent/service/web-1").json()


def test_catalog_services_list_consul(cs: Running, root: consul.Consul) -> None:
    assert root.catalog.services()[1] == {"consul": []}
    _, nodes = root.catalog.service("consul")
    assert [(n["ServiceID"], n["ServicePort"], n["Node"]) for n in nodes] == [
        ("consul", 8300, "sandbox")
    ]
    anon = cs.client()
    assert anon.catalog.services()[1] == {}


def test_catalog_register_other_datacenter_is_no_path(cs: Running) -> None:
    r = cs.http(
        "PUT", "/v1/catalog/register", json={"Datacenter": "dc2", "Node": "n", "Address": "1.1.1.1"}
    )
    assert (r.status_code, r.text) == (500, "No path to datacenter")


def test_catalog_node_filter(cs: Running, root: consul.Consul) -> None:
    root.catalog.register("n1", "10.0.0.1", service={"Service": "a", "ID": "a1", "Tags": ["x"]})
    root.catalog.register("n1", "10.0.0.1", service={"Service": "b", "ID": "b1"})
    r = cs.http("GET", "/v1/catalog/node/n1", params={"filter": "x in Tags"})
    assert r.status_code == 200 and list(r.json()["Services"]) == ["a1"]
    r = cs.http("GET", "/v1/catalog/node/n1", params={"filter": "Tagz contains x"})
    assert r.status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        "/v1/agent/services",
        "/v1/agent/checks",
        "/v1/catalog/nodes",
        "/v1/catalog/services",
        "/v1/catalog/service/web",
        "/v1/health/service/web",
        "/v1/health/checks/web",
        "/v1/health/state/any",
    ],
)
def test_filter_unknown_selector_is_400(cs: Running, path: str) -> None:
    r = cs.http("GET", path, params={"filter": "Nope != x"})
    assert r.status_code == 400
    assert r.text == ('Failed to create boolean expression evaluator: Selector "Nope" is not valid')


def test_filter_known_selectors_still_select(cs: Running, root: consul.Consul) -> None:
    root.agent.service.register("web", service_id="web-1", port=80, tags=["v1"])
    r = cs.http("GET", "/v1/health/service/web", params={"filter": "Service.Meta.x is empty"})
    assert r.status_code == 200 and len(r.json()) == 1
    r = cs.http("GET", "/v1/agent/services", params={"filter": '"v2" in Tags'})
    assert r.json() == {}


def test_resolver_subset_filter_checked_at_write(cs: Running) -> None:
    entry = {
        "Kind": "service-resolver",
        "Name": "web",
        "Subsets": {"v2": {"Filter": "Service.Meta.version == v2"}},
    }
    assert cs.http("PUT", "/v1/config", json=entry).status_code == 200
    entry["Subsets"] = {"v2": {"Filter": "Service.Metadata.version == v2"}}
    r = cs.http("PUT", "/v1/config", json=entry)
    assert r.status_code == 500
    assert 'Filter for subset "v2" is not a valid expression' in r.text
    assert 'Selector "Service.Metadata.version" is not valid' in r.text
