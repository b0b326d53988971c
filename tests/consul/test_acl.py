"""ACLs: default deny, observer tokens, rejected writes that change nothing, token forms."""

from __future__ import annotations

from typing import Any as Running

import consul
import pytest

OBSERVER_RULES = """
# read-only view of the mesh, as an operator dashboard would hold
service_prefix "" { policy = "read" }
node_prefix "" { policy = "read" }
key_prefix "" { policy = "read" }
agent_prefix "" { policy = "read" }
"""


def _observer(root: consul.Consul) -> str:
    policy = root.acl.policy.create("observer", rules=OBSERVER_RULES)
    token = root.acl.tokens.create({"Description": "observer", "Policies": [{"ID": policy["ID"]}]})
    return token["SecretID"]


def test_write_without_token_is_denied_and_changes_nothing(
    cs: Running, root: consul.Consul
) -> None:
    before = cs.backend.index
    anon = cs.client()
    with pytest.raises(consul.ACLPermissionDenied) as err:
        anon.agent.service.register("web", port=80)
    assert str(err.value) == (
        "Permission denied: anonymous token lacks permission 'service:write' on \"web\". "
        "The anonymous token is used implicitly when a request does not specify a token."
    )
    r = cs.http("PUT", "/v1/config", token=None, json={"Kind": "service-defaults", "Name": "web"})
    assert r.status_code == 403
    assert cs.backend.index == before
    assert root.agent.services() == {}
    # ...and the emulator keeps serving
    assert root.agent.service.register("web", port=80)


def test_unknown_token(cs: Running) -> None:
    r = cs.http("GET", "/v1/agent/services", token="not-a-token")
    assert r.status_code == 403 and r.text == "ACL not found"


def test_anonymous_reads_are_filtered(cs: Running, root: consul.Consul) -> None:
    root.agent.service.register("web", port=80)
    anon = cs.client()
    assert anon.agent.services() == {}
    assert anon.catalog.services()[1] == {}
    assert anon.health.service("web")[1] == []


def test_observer_reads_but_cannot_write(cs: Running, root: consul.Consul) -> None:
    root.agent.service.register("web", port=80, meta={"version": "v1"})
    root.config.put({"Kind": "service-defaults", "Name": "web", "Protocol": "http"})
    secret = _observer(root)
    obs = cs.client(secret)
    assert list(obs.agent.services()) == ["web"]
    assert obs.health.service("web")[1][0]["Service"]["Meta"] == {"version": "v1"}
    assert obs.config.get("service-defaults", "web")["Protocol"] == "http"
    assert obs.agent.self()["Config"]["NodeName"] == "sandbox"
    before = cs.backend.index
    with pytest.raises(consul.ACLPermissionDenied) as err:
        obs.config.put({"Kind": "service-defaults", "Name": "web", "Protocol": "tcp"})
    assert "lacks permission 'service:write' on \"web\"" in str(err.value)
    with pytest.raises(consul.ACLPermissionDenied):
        obs.agent.service.deregister("web")
    with pytest.raises(consul.ACLPermissionDenied):
        obs.kv.put("k", "v")
    assert cs.backend.index == before
    assert root.config.get("service-defaults", "web")["Protocol"] == "http"


def test_token_forms_and_self(cs: Running, root: consul.Consul) -> None:
    secret = _observer(root)
    bearer = cs.http(
        "GET", "/v1/acl/token/self", token=None, headers={"Authorization": f"Bearer {secret}"}
    )
    assert bearer.status_code == 200 and bearer.json()["Description"] == "observer"
    query = cs.http("GET", "/v1/acl/token/self", token=None, params={"token": secret})
    assert query.json()["AccessorID"] == bearer.json()["AccessorID"]
    token = root.acl.tokens.get(bearer.json()["AccessorID"])
    assert token["Policies"][0]["Name"] == "observer"
    assert {p["Name"] for p in root.acl.policy.list()} == {"global-management", "observer"}
    # An observer may not manage ACLs.
    r = cs.http("GET", "/v1/acl/policies", token=secret)
    assert r.status_code == 403
    assert root.acl.tokens.delete(token["AccessorID"])
    assert cs.http("GET", "/v1/acl/token/self", token=secret).text == "ACL not found"


def test_service_identity_and_bad_rules(cs: Running, root: consul.Consul) -> None:
    token = root.acl.tokens.create({"ServiceIdentities": [{"ServiceName": "store"}]})
    workload = cs.client(token["SecretID"])
    assert workload.agent.service.register("store", port=1)
    with pytest.raises(consul.ACLPermissionDenied):
        workload.agent.service.register("payments", port=2)
    r = cs.http(
        "PUT",
        "/v1/acl/policy",
        json={"Name": "broken", "Rules": 'service "x" { policy = "sometimes" }'},
    )
    assert r.status_code == 400 and "Failed to parse ACL rules" in r.text
