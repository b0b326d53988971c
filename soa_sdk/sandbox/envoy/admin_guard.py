"""The sandbox Envoy's admin behind a token (issue 12, hole 6).

A real sidecar's admin (``consul connect envoy`` binds it to ``127.0.0.1:19000``) has no
authentication of its own: it is reached only from inside the task's or pod's network
namespace. The sandbox's processes all share the machine's loopback, so an admin on
``127.0.0.1`` would answer anyone on the machine: ``/config_dump`` (every listener, route and
certificate chain), ``/stats``, and ``POST /quitquitquit``, ``/runtime_modify``,
``/healthcheck/fail``, ``/reset_counters`` (the canary analysis reads those counters).

So Envoy's own admin listens on a Unix socket (``admin.address.pipe``, mode 0600, in the
sandbox's home, which only its owner may enter), and a static listener on the loopback port
that ``soa-lab status`` shows forwards to it only requests that carry the sandbox's
``envoy_admin_token`` as ``Authorization: Bearer <token>``; built the way Consul's bootstrap
exposes ``/stats/prometheus`` (``envoy_prometheus_bind_addr``: a listener routed to a
``self_admin`` cluster). Everything is Envoy's own routing: no token -> 401 with
``WWW-Authenticate: Bearer``, another token -> 403, both before anything reaches the admin.
``GET /ready`` stays open, as a health endpoint (it says ``LIVE`` and nothing else).

Not implemented: a token per reader, read-only tokens (the token is the admin).
"""

from __future__ import annotations

from typing import Any

SELF_ADMIN = "self_admin"
"""The static cluster that reaches Envoy's own admin socket (Consul's name for it)."""
LISTENER = "envoy_admin_guard"
REALM = 'Bearer realm="envoy-admin"'
UNAUTHENTICATED = (
    "authentication required: send the sandbox's envoy_admin_token as "
    "'Authorization: Bearer <token>'\n"
)
WRONG_TOKEN = "the token is not valid for this Envoy's admin\n"


def _pipe(path: str) -> dict[str, Any]:
    return {"pipe": {"path": path}}


def _refusal(status: int, body: str, header: str) -> dict[str, Any]:
    return {
        "direct_response": {"status": status, "body": {"inline_string": body}},
        "response_headers_to_add": [
            {"header": {"key": "WWW-Authenticate", "value": header}},
        ],
    }


def guard(boot: dict[str, Any], port: int, socket_path: str, token: str) -> dict[str, Any]:
    """``boot`` with its admin on the Unix socket ``socket_path`` and a token-guarded
    listener on ``127.0.0.1:port`` in front of it (see the module docstring)."""
    if not token:
        raise ValueError("the Envoy admin guard needs a token")
    boot["admin"] = {"address": {"pipe": {"path": socket_path, "mode": 0o600}}}
    forward = {"cluster": SELF_ADMIN, "timeout": "30s"}
    routes = [
        {"match": {"path": "/ready", "headers": [_method("GET")]}, "route": forward},
        {
            "match": {
                "prefix": "/",
                "headers": [
                    {"name": "authorization", "string_match": {"exact": f"Bearer {token}"}}
                ],
            },
            "route": forward,
        },
        {
            "match": {"prefix": "/", "headers": [{"name": "authorization", "present_match": True}]},
            **_refusal(403, WRONG_TOKEN, f'{REALM}, error="invalid_token"'),
        },
        {"match": {"prefix": "/"}, **_refusal(401, UNAUTHENTICATED, REALM)},
    ]
    listener = {
        "name": LISTENER,
        "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
        "filter_chains": [
            {
                "filters": [
                    {
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": {
                            "@type": "type.googleapis.com/envoy.extensions.filters.network."
                            "http_connection_manager.v3.HttpConnectionManager",
                            "stat_prefix": LISTENER,
                            "route_config": {
                                "name": LISTENER,
                                "virtual_hosts": [
                                    {"name": "admin", "domains": ["*"], "routes": routes}
                                ],
                            },
                            "http_filters": [
                                {
                                    "name": "envoy.filters.http.router",
                                    "typed_config": {
                                        "@type": "type.googleapis.com/"
                                        "envoy.extensions.filters.http.router.v3.Router"
                                    },
                                }
                            ],
                        },
                    }
                ]
            }
        ],
    }
    cluster = {
        "name": SELF_ADMIN,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": SELF_ADMIN,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": _pipe(socket_path)}}]}],
        },
    }
    static = boot.setdefault("static_resources", {})
    static.setdefault("listeners", []).append(listener)
    static.setdefault("clusters", []).append(cluster)
    return boot


def _method(method: str) -> dict[str, Any]:
    return {"name": ":method", "string_match": {"exact": method}}
