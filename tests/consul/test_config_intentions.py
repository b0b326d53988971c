"""Config entries (validation with Consul's texts) and intentions stored as service-intentions."""

from __future__ import annotations

from typing import Any as Running

import consul
import pytest

RESOLVER = {
    "Kind": "service-resolver",
    "Name": "inventory",
    "DefaultSubset": "v1",
    "Subsets": {
        "v1": {"Filter": 'Service.Meta.version == "v1"'},
        "v2": {"Filter": 'Service.Meta.version == "v2"'},
    },
}
SPLITTER = {
    "Kind": "service-splitter",
    "Name": "inventory",
    "Splits": [{"Weight": 90, "ServiceSubset": "v1"}, {"Weight": 10, "ServiceSubset": "v2"}],
}


def test_put_get_list_delete(cs: Running, root: consul.Consul) -> None:
    assert root.config.put({"Kind": "Service-Defaults", "Name": "web", "Protocol": "HTTP"}) is True
    entry = root.config.get("service-defaults", "web")
    assert entry["Kind"] == "service-defaults" and entry["Protocol"] == "http"
    assert entry["CreateIndex"] == entry["ModifyIndex"] > 0
    assert entry["Partition"] == "default" and entry["Namespace"] == "default"
    assert [e["Name"] for e in root.config.list("SERVICE-DEFAULTS")] == ["web"]
    r = cs.http("GET", "/v1/config/service-defaults/nope")
    assert (
        r.status_code == 404 and r.text == 'Config entry not found for "service-defaults" / "nope"'
    )
    assert root.config.delete("service-defaults", "web")
    assert root.config.list("service-defaults") == []


def test_cas(cs: Running, root: consul.Consul) -> None:
    # python-consul2 drops cas=0 (falsy), so the create-only form goes over raw HTTP
    body = {"Kind": "service-defaults", "Name": "api"}
    assert cs.http("PUT", "/v1/config", params={"cas": 0}, json=body).json() is True
    assert cs.http("PUT", "/v1/config", params={"cas": 0}, json=body).json() is False
    index = root.config.get("service-defaults", "api")["ModifyIndex"]
    assert (
        root.config.put({"Kind": "service-defaults", "Name": "api", "Protocol": "http"}, cas=index)
        is True
    )
    r = cs.http("DELETE", "/v1/config/service-defaults/api", params={"cas": index})
    assert r.json() is False
    assert root.config.get("service-defaults", "api")["Protocol"] == "http"


def test_bad_requests(cs: Running) -> None:
    r = cs.http("PUT", "/v1/config", data="{oops")
    assert r.status_code == 400 and r.text.startswith("Bad request: Request decoding failed: ")
    r = cs.http("PUT", "/v1/config", json={"Kind": "service-frobber", "Name": "x"})
    assert r.status_code == 400
    assert (
        r.text == "Bad request: Request decoding failed: invalid config entry kind: service-frobber"
    )
    r = cs.http("PUT", "/v1/config", json={"Kind": "proxy-defaults", "Name": "mine"})
    assert r.status_code == 500 and r.text == 'invalid name ("mine"), only "global" is supported'


def test_l7_routing_validation(cs: Running, root: consul.Consul) -> None:
    root.config.put(RESOLVER)
    before = cs.backend.index
    r = cs.http("PUT", "/v1/config", json=SPLITTER)
    assert r.status_code == 500
    assert r.text == (
        'discovery chain "inventory" uses a protocol "tcp" that does not permit advanced routing '
        "or splitting behavior"
    )
    assert cs.backend.index == before  # the rejected write changed nothing
    root.config.put({"Kind": "proxy-defaults", "Name": "global", "Config": {"protocol": "http"}})
    bad_weights = dict(
        SPLITTER,
        Splits=[{"Weight": 70, "ServiceSubset": "v1"}, {"Weight": 10, "ServiceSubset": "v2"}],
    )
    r = cs.http("PUT", "/v1/config", json=bad_weights)
    assert (
        r.status_code == 500 and r.text == "the sum of all split weights must be 100, not 80.000000"
    )
    undefined = dict(
        SPLITTER,
        Splits=[{"Weight": 50, "ServiceSubset": "v1"}, {"Weight": 50, "ServiceSubset": "v3"}],
    )
    r = cs.http("PUT", "/v1/config", json=undefined)
    assert (
        r.status_code == 500 and r.text == 'service "inventory" does not have a subset named "v3"'
    )
    assert root.config.put(SPLITTER) is True
    # Deleting the resolver would orphan the split: Consul refuses, so do we.
    r = cs.http("DELETE", "/v1/config/service-resolver/inventory")
    assert r.status_code == 500 and "does not have a subset named" in r.text
    router = {
        "Kind": "service-router",
        "Name": "inventory",
        "Routes": [
            {"Match": {"HTTP": {"PathPrefix": "/v2"}}, "Destination": {"ServiceSubset": "v2"}}
        ],
    }
    assert root.config.put(router) is True
    assert (
        cs.backend.get_config_entry("service-router", "inventory")["Routes"][0]["Destination"][
            "ServiceSubset"
        ]
        == "v2"
    )


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"Kind": "service-resolver", "Name": "x", "DefaultSubset": "v9"},
            'DefaultSubset "v9" is not a valid subset',
        ),
        (
            {
                "Kind": "service-resolver",
                "Name": "x",
                "Subsets": {"v1": {"Filter": "Service.Meta =="}},
            },
            'Filter for subset "v1" is not a valid expression',
        ),
        (
            {
                "Kind": "service-intentions",
                "Name": "db",
                "Sources": [{"Name": "web", "Action": "maybe"}],
            },
            "Sources[0].Action must be set to 'allow' or 'deny'",
        ),
        ({"Kind": "service-splitter", "Name": "x", "Splits": []}, "no splits configured"),
    ],
)
def test_entry_validation(cs: Running, entry: dict, message: str) -> None:
    r = cs.http("PUT", "/v1/config", json=entry)
    assert r.status_code == 500 and r.text.startswith(message)


def test_legacy_intentions_are_config_entries(cs: Running, root: consul.Consul) -> None:
    iid = root.connect.intentions.create(
        "web", "db", "consul", "allow", description="web may call db"
    )["ID"]
    entry = root.config.get("service-intentions", "db")
    assert entry["Sources"][0]["Name"] == "web" and entry["Sources"][0]["LegacyID"] == iid
    got = root.connect.intentions.get(iid)
    assert got["SourceName"] == "web" and got["DestinationName"] == "db" and got["Precedence"] == 9
    assert root.connect.intentions.put(iid, action="deny")
    assert root.connect.intentions.get(iid)["Action"] == "deny"
    assert root.connect.intentions.check("web", "db")["Allowed"] is False
    r = cs.http(
        "POST",
        "/v1/connect/intentions",
        json={"SourceName": "web", "DestinationName": "db", "Action": "allow"},
    )
    assert r.status_code == 500 and r.text.startswith("duplicate intention found")
    assert root.connect.intentions.delete(iid)
    assert root.config.list("service-intentions") == []
    assert cs.http("GET", f"/v1/connect/intentions/{iid}").status_code == 404


def test_exact_match_check_precedence(cs: Running, root: consul.Consul) -> None:
    exact = "/v1/connect/intentions/exact"
    assert (
        cs.http(
            "PUT", exact, params={"source": "*", "destination": "payments"}, json={"Action": "deny"}
        ).json()
        is True
    )
    assert cs.http(
        "PUT",
        exact,
        params={"source": "store", "destination": "payments"},
        json={"Action": "allow"},
    ).json()
    assert (
        cs.http("GET", exact, params={"source": "store", "destination": "payments"}).json()[
            "Action"
        ]
        == "allow"
    )
    # The exact source beats the wildcard; any other source hits the wildcard deny.
    assert root.connect.intentions.check("store", "payments")["Allowed"] is True
    assert root.connect.intentions.check("frontend", "payments")["Allowed"] is False
    # With no intention at all: default deny, because ACLs are on with default-deny.
    assert root.connect.intentions.check("store", "inventory")["Allowed"] is False
    matched = root.connect.intentions.list_match("destination", "payments")["payments"]
    assert [i["SourceName"] for i in matched] == ["store", "*"]
    listed = {i["SourceName"] for i in root.connect.intentions.list()}
    assert listed == {"store", "*"}
    assert (
        cs.http("DELETE", exact, params={"source": "store", "destination": "payments"}).json()
        is True
    )
    assert root.connect.intentions.check("store", "payments")["Allowed"] is False


def test_check_precedence_across_entries_and_l7_counts_as_deny(
    cs: Running, root: consul.Consul
) -> None:
    """Exact destination with a wildcard source (8) beats a wildcard destination with an
    exact source (6); an L7 source, having no request to match, counts as deny (Consul's
    ``Intention.Check``). Moved here from the former Python data plane's tests."""
    root.config.put(
        {
            "Kind": "service-intentions",
            "Name": "*",
            "Sources": [{"Name": "*", "Action": "deny"}, {"Name": "web", "Action": "allow"}],
        }
    )
    assert root.connect.intentions.check("web", "inventory")["Allowed"] is True
    assert root.connect.intentions.check("anyone", "inventory")["Allowed"] is False
    root.config.put(
        {
            "Kind": "service-intentions",
            "Name": "inventory",
            "Sources": [
                {"Name": "*", "Action": "deny"},
                {
                    "Name": "store",
                    "Permissions": [{"Action": "allow", "HTTP": {"PathPrefix": "/"}}],
                },
            ],
        }
    )
    assert root.connect.intentions.check("web", "inventory")["Allowed"] is False
    assert root.connect.intentions.check("store", "inventory")["Allowed"] is False
    assert root.connect.intentions.check("web", "payments")["Allowed"] is True


def test_default_allow_when_acls_disabled(open_consul: Running) -> None:
    c = open_consul.client()
    assert c.connect.intentions.check("a", "b")["Allowed"] is True
    r = open_consul.http("GET", "/v1/acl/policies", token=None)
    assert r.status_code == 401 and r.text == "ACL support disabled"
