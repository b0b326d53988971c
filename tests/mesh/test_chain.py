"""Discovery-chain and intention decisions, evaluated on config entries in a memory catalog."""

from __future__ import annotations

from collections import Counter

import pytest

from soa_sdk.sandbox.mesh import chain, intentions
from soa_sdk.sandbox.mesh.http1 import Request
from soa_sdk.sandbox.mesh.view import CachedView, MemoryCatalog


def req(target: str = "/", method: str = "GET", **headers: str) -> Request:
    return Request(
        method, target, "HTTP/1.1", [(k.replace("_", "-"), v) for k, v in headers.items()]
    )


@pytest.fixture
def catalog() -> MemoryCatalog:
    cat = MemoryCatalog()
    cat.put_config_entry(
        {
            "Kind": "service-resolver",
            "Name": "inventory",
            "DefaultSubset": "v1",
            "Subsets": {
                "v1": {"Filter": 'Service.Meta.version == "v1"'},
                "v2": {"Filter": 'Service.Meta.version == "v2"', "OnlyPassing": True},
            },
        }
    )
    return cat


def test_router_matches_in_order_with_rewrite_query_methods_and_invert(catalog: MemoryCatalog):
    catalog.put_config_entry(
        {
            "Kind": "service-router",
            "Name": "inventory",
            "Routes": [
                {
                    "Match": {"HTTP": {"PathPrefix": "/api/v2/", "Methods": ["GET"]}},
                    "Destination": {
                        "ServiceSubset": "v2",
                        "PrefixRewrite": "/",
                        "RequestTimeout": "2s",
                        "NumRetries": 3,
                        "RetryOnStatusCodes": [503],
                    },
                },
                {
                    "Match": {"HTTP": {"QueryParam": [{"Name": "beta", "Exact": "1"}]}},
                    "Destination": {"ServiceSubset": "v2"},
                },
                {
                    "Match": {
                        "HTTP": {"Header": [{"Name": "x-user", "Regex": "qa-.*", "Invert": True}]}
                    },
                    "Destination": {"Service": "legacy"},
                },
            ],
        }
    )
    view = CachedView(catalog)
    d = chain.route(view, "inventory", "default", req("/api/v2/items?x=1"))
    assert (d.targets[0].subset, d.path, d.timeout, d.num_retries) == ("v2", "/items?x=1", 2.0, 3)
    assert d.retry_on_status == {503}
    # Same path, wrong method: falls through to the third route (no x-user header).
    d = chain.route(view, "inventory", "default", req("/api/v2/items", "POST"))
    assert d.targets[0].service == "legacy"
    d = chain.route(view, "inventory", "default", req("/x?beta=1"))
    assert d.targets[0].subset == "v2" and d.targets[0].only_passing
    # A qa user matches nothing: default route, the resolver's DefaultSubset.
    d = chain.route(view, "inventory", "default", req("/x", x_user="qa-7"))
    assert (d.targets[0].service, d.targets[0].subset, d.timeout) == ("inventory", "v1", 15.0)


def test_splitter_weights_headers_and_nested_service(catalog: MemoryCatalog):
    catalog.put_config_entry(
        {
            "Kind": "service-splitter",
            "Name": "inventory",
            "Splits": [
                {"Weight": 50, "ServiceSubset": "v1"},
                {
                    "Weight": 50,
                    "Service": "inventory-next",
                    "RequestHeaders": {"Set": {"x-s": "n"}},
                },
            ],
        }
    )
    catalog.put_config_entry(
        {"Kind": "service-splitter", "Name": "inventory-next", "Splits": [{"Weight": 100}]}
    )
    view = CachedView(catalog)
    seen = Counter()
    for _ in range(400):
        d = chain.route(view, "inventory", "default", req())
        t = d.targets[0]
        seen[(t.service, t.subset)] += 1
        if t.service == "inventory-next":
            assert d.request_headers == [{"Set": {"x-s": "n"}}]
    assert set(seen) == {("inventory", "v1"), ("inventory-next", "")}
    assert 140 <= seen[("inventory", "v1")] <= 260


def test_resolver_redirect_and_failover_targets(catalog: MemoryCatalog):
    catalog.put_config_entry(
        {"Kind": "service-resolver", "Name": "old", "Redirect": {"Service": "inventory"}}
    )
    catalog.put_config_entry(
        {
            "Kind": "service-resolver",
            "Name": "payments",
            "Failover": {
                "*": {
                    "Targets": [
                        {"Partition": "ecs"},
                        {"Peer": "dc2-peer"},
                        {"Service": "inventory", "ServiceSubset": "v2"},
                    ]
                }
            },
        }
    )
    view = CachedView(catalog)
    d = chain.route(view, "old", "default", req())
    assert [(t.service, t.subset) for t in d.targets] == [("inventory", "v1")]
    d = chain.route(view, "payments", "default", req())
    assert [(t.service, t.partition, t.peer, t.subset) for t in d.targets] == [
        ("payments", "default", None, ""),
        ("payments", "ecs", None, ""),
        ("payments", "default", "dc2-peer", ""),
        ("inventory", "default", None, "v2"),
    ]
    catalog.put_config_entry(
        {
            "Kind": "service-router",
            "Name": "payments",
            "Routes": [{"Destination": {"ServiceSubset": "nope"}}],
        }
    )
    with pytest.raises(chain.ChainError):
        chain.route(CachedView(catalog), "payments", "default", req())


def test_intention_precedence_and_permissions(catalog: MemoryCatalog):
    view = CachedView(catalog)

    def allowed(source: str, r: Request | None = None, default: bool = True) -> bool:
        caller = intentions.Caller(source, "default")
        return intentions.decide(view.config, caller, "inventory", "default", r or req(), default)

    assert allowed("web") and not allowed("web", default=False)
    catalog.put_config_entry(
        {
            "Kind": "service-intentions",
            "Name": "*",
            "Sources": [{"Name": "*", "Action": "deny"}, {"Name": "web", "Action": "allow"}],
        }
    )
    catalog.put_config_entry(
        {
            "Kind": "service-intentions",
            "Name": "inventory",
            "Sources": [
                {"Name": "*", "Action": "allow"},
                {
                    "Name": "store",
                    "Permissions": [
                        {"Action": "allow", "HTTP": {"PathExact": "/items", "Methods": ["GET"]}},
                        {
                            "Action": "deny",
                            "HTTP": {"Header": [{"Name": "x-debug", "Present": True}]},
                        },
                    ],
                },
            ],
        }
    )
    view.invalidate()
    # Exact destination + wildcard source (8) beats wildcard destination + exact source (6).
    assert allowed("web") and allowed("anyone")
    assert allowed("store", req("/items"))
    assert not allowed("store", req("/items", "DELETE", x_debug="1"))
    # No permission matches: the default intention behaviour applies.
    assert allowed("store", req("/other")) and not allowed("store", req("/other"), default=False)
    # Asked at L4 (the check API has no request), an L7 intention counts as deny.
    assert not intentions.decide(
        view.config, intentions.Caller("store"), "inventory", "default", None, True
    )
    # A caller from another partition matches only a source naming that partition; with
    # default deny, the local wildcards above let it through nowhere.
    ecs_web = intentions.Caller("web", "ecs")
    assert not intentions.decide(view.config, ecs_web, "inventory", "default", req(), False)
    catalog.put_config_entry(
        {
            "Kind": "service-intentions",
            "Name": "inventory",
            "Sources": [{"Name": "web", "Partition": "ecs", "Action": "allow"}],
        }
    )
    view.invalidate()
    assert intentions.decide(view.config, ecs_web, "inventory", "default", req(), False)
    # ...and that source names ecs's web only: another ecs service is still denied.
    ecs_store = intentions.Caller("store", "ecs")
    assert not intentions.decide(view.config, ecs_store, "inventory", "default", req(), False)
