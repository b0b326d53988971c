"""Every HTTP route of every sandbox service, called as an attacker on the same machine
would: without credentials, and with a made-up token (issue 12).

The routes come from the services' own route tables (Consul's ``urls.ROUTES``, Boundary's
``urls.OPERATIONS`` and sandbox routes, the workload host's ``api.ROUTES``), so a route added
later is swept too. Only what the real product leaves open may answer with data:

- Consul with ACLs on and default deny: ``/v1/status/leader``, ``/v1/status/peers`` and
  ``/v1/catalog/datacenters`` need no token; reads that Consul filters by ACL answer 200
  with nothing in them (the anonymous token may read nothing); everything else is 403
  (``Permission denied`` for the anonymous token, ``ACL not found`` for a made-up one);
- Boundary: the anonymous user of ``boundary dev`` may list scopes and auth methods and
  authenticate (with real credentials), nothing else (401);
- the workload host: nothing (401 without a token, 403 with a wrong one);
- the scheduler (``scheduler.api.ROUTES``): ``GET /v1/health`` only;
- the CloudFront edge's control API (``frontend.CONTROL_ROUTES``): ``GET /sandbox/health``
  only (its viewers' paths are the public site, as a distribution's are);

- the Envoy (every listener it has, from its own ``/listeners``): its admin URL, every
  endpoint of Envoy's own ``/help``, answers 401 without a token and 403 with a wrong one
  (``GET /ready`` answers ``LIVE``; test_envoy_admin.py has the details); the sidecars'
  public listeners (mTLS) refuse a client without a certificate of the mesh's CA at the
  handshake, and say nothing to plain HTTP; the ingress gateways answer (what they are for);
- Consul's gRPC port (xDS): a stream without a token or with a made-up one gets no config
  (test_xds_acl.py has the details).

The sidecars' upstream listeners are not on the loopback: the workload host registers them
on Unix sockets in each workload's own folder (test_upstream_sockets.py), so the sweep finds
none among the Envoy's TCP listeners.

And nothing changes: the state read with the administrators' credentials before the sweep
equals the state after it.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import ssl
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from soa_sdk.errors import NotFound
from soa_sdk.sandbox.boundary import urls as boundary_urls
from soa_sdk.sandbox.consul import urls as consul_urls
from soa_sdk.sandbox.frontend import CONTROL_ROUTES as FRONTEND_ROUTES
from soa_sdk.sandbox.scheduler.api import ROUTES as SCHEDULER_ROUTES
from soa_sdk.sandbox.workloads import api as workloads_api

from .test_envoy_admin import admin_routes

WRONG = "00000000-dead-beef-0000-000000000000"
ANONYMOUS = "00000000-0000-0000-0000-000000000002"
SERVICE = "sweep-target"
QUERY = "sweep-query"  # a prepared query on SERVICE
NODE = "sandbox"  # the emulator's node name (``consul agent -dev`` names it after the host)
GLOBAL_MANAGEMENT_POLICY = "00000000-0000-0000-0000-000000000001"
KV_KEY = "sweep/protected"

# Consul endpoints that need no ACL token at all (Consul's API docs: "ACL Required: none";
# their handlers resolve no token, so a made-up one is not refused either).
CONSUL_OPEN = {
    ("GET", "/v1/status/leader"),
    ("GET", "/v1/status/peers"),
    ("GET", "/v1/catalog/datacenters"),
    # api-docs/coordinate "Read WAN Coordinates": ACL Required none (Coordinate.ListDatacenters
    # is called without the request's token).
    ("GET", "/v1/coordinate/datacenters"),
    # api-docs/connect/ca "List CA Root Certificates": ACL Required none; the agent's
    # AgentConnectCARoots serves the same roots from its cache, with no ACL check. Public
    # certificates: what every proxy needs to verify its peers.
    ("GET", "/v1/connect/ca/roots"),
    ("GET", "/v1/agent/connect/ca/roots"),
    # api-docs/acl: bootstrap and login need no token (ACL Required: none); bootstrap is
    # spent (403 "ACL bootstrap no longer allowed") and login needs a bearer token the
    # auth method accepts; the state comparison shows neither made a token.
    ("PUT", "/v1/acl/bootstrap"),
    ("POST", "/v1/acl/login"),
}
# Open to the anonymous token: reading one's own token (the anonymous one), and the names of
# the admin partitions (the emulator lets any token read them, as Consul Enterprise lets a
# token read partitions; their names and descriptions, nothing in them).
CONSUL_OPEN_ANONYMOUS = {
    ("GET", "/v1/acl/token/self"),
    ("GET", "/v1/partitions"),
    ("GET", "/v1/partition/<name>"),
}
# Boundary's anonymous user (``boundary dev``'s "Login and Default Grants" role):
# ids=*;type=scope;actions=list,no-op and ids=*;type=auth-method;actions=authenticate,list.
BOUNDARY_OPEN = {
    ("GET", "/v1/scopes"),
    ("GET", "/v1/auth-methods"),
    ("POST", "/v1/auth-methods/{id}:authenticate"),
}
EXISTING = ("/global", "ampw_1234567890", "u_1234567890", "acctpw_1234567890")
# Sandbox-only and static: the list of Boundary operations the sandbox does not serve.
BOUNDARY_SANDBOX_OPEN = {("GET", "/sandbox/unimplemented")}


@pytest.fixture(scope="module")
def protected(lab: Any) -> Iterator[dict[str, Any]]:
    """Something worth protecting in every service: a workload (with its service-identity
    token), a config entry, an intention, a KV key; yields the names and ids the routes
    need."""
    consul = lab.consul
    consul.client.kv.put(KV_KEY, "protected")
    consul.request(
        "PUT", "config", json={"Kind": "service-defaults", "Name": SERVICE, "Protocol": "http"}
    )
    (workload,) = lab.workloads.start(SERVICE, "v1")
    # The legacy API gives the intention an ID (the ID-based routes need one).
    intention = consul.request(
        "POST",
        "connect/intentions",
        json={"SourceName": "web", "DestinationName": SERVICE, "Action": "deny"},
    )
    session = consul.request("PUT", "session/create", json={"Name": "sweep-lock", "Node": NODE})
    query = consul.request("POST", "query", json={"Name": QUERY, "Service": {"Service": SERVICE}})
    (management,) = [
        t
        for t in consul.request("GET", "acl/tokens")
        if any(p["ID"] == GLOBAL_MANAGEMENT_POLICY for p in t.get("Policies") or [])
    ]
    try:
        yield {
            "workload": workload,
            "intention_id": intention["ID"],
            "token_accessor": management["AccessorID"],
            "session_id": session["ID"],
            "query_id": query["ID"],
        }
    finally:
        consul.request("DELETE", f"query/{query['ID']}")
        consul.request("PUT", f"session/destroy/{session['ID']}")
        lab.workloads.stop(workload["id"])
        consul.request("DELETE", f"connect/intentions/{intention['ID']}")
        consul.request("DELETE", f"config/service-defaults/{SERVICE}")
        consul.client.kv.delete(KV_KEY)


# -- the routes ------------------------------------------------------------------------------
def consul_calls(ids: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], str]]:
    """(method, concrete path, requests kwargs, route) for every Consul route, with names
    and ids that exist."""
    wid = ids["workload"]["id"]
    calls = []
    for route in consul_urls.ROUTES:
        path = route.path
        if "/acl/policy/" in path:
            the_id = GLOBAL_MANAGEMENT_POLICY
        elif "/acl/token/" in path:
            the_id = ids["token_accessor"]
        else:
            the_id = ids["intention_id"]
        values = {
            "service": SERVICE,
            "service_id": wid,
            "check_id": f"service:{wid}",
            "node": NODE,
            "path:key": KV_KEY,  # a real key
            "kind": "service-defaults",
            "path:name": SERVICE,
            "id": the_id,
            "state": "any",
            # a session that exists: Consul's Session.Apply/Renew answer true/404 for an
            # unknown id to any valid token (the anonymous one too) and check session:write
            # only on a session they find
            "uuid": ids["session_id"],
            "name": "default" if path.startswith("/v1/partition") else "global-management",
        }
        if path.startswith("/v1/peering/"):
            values["name"] = "sweep-peer"
        if path.startswith("/v1/query/"):
            values["uuid"] = ids["query_id"]
        values["query"] = QUERY
        values["gateway"] = SERVICE
        concrete = re.sub(r"<([^>]+)>", lambda m, v=values: str(v[m.group(1)]), path)
        for method in route.methods:
            calls.append((method, concrete, consul_body(method, path, ids), path))
    return calls


def consul_body(method: str, path: str, ids: dict[str, Any]) -> dict[str, Any]:
    """A body that would succeed with the right token (so the ACL check is what refuses)."""
    if method in ("GET", "DELETE"):
        if path.startswith("/v1/connect/intentions/exact") or path.endswith("/check"):
            return {"params": {"source": "web", "destination": SERVICE}}
        if path.endswith("/match"):
            return {"params": {"by": "destination", "name": SERVICE}}
        return {}
    service = {"ID": ids["workload"]["id"], "Name": SERVICE, "Port": 1}
    bodies: dict[str, Any] = {
        "/v1/agent/service/register": service,
        "/v1/agent/check/update/<check_id>": {"Status": "passing", "Output": "forged"},
        "/v1/agent/check/register": {"Name": "sweep", "TTL": "10s", "ServiceID": service["ID"]},
        "/v1/catalog/register": {"Node": NODE, "Address": "127.0.0.1", "Service": service},
        "/v1/catalog/deregister": {"Node": NODE, "ServiceID": service["ID"]},
        "/v1/config": {"Kind": "service-defaults", "Name": SERVICE, "Protocol": "tcp"},
        "/v1/connect/intentions": {
            "SourceName": "impostor",
            "DestinationName": SERVICE,
            "Action": "allow",
        },
        "/v1/connect/intentions/<id>": {
            "SourceName": "web",
            "DestinationName": SERVICE,
            "Action": "allow",
        },
        "/v1/acl/policy": {"Name": "sweep", "Rules": 'service_prefix "" { policy = "write" }'},
        "/v1/acl/policy/<id>": {"Name": "global-management", "Rules": ""},
        "/v1/acl/token": {"Policies": [{"ID": GLOBAL_MANAGEMENT_POLICY}]},
        "/v1/acl/token/<id>": {"Policies": [{"ID": GLOBAL_MANAGEMENT_POLICY}]},
        "/v1/acl/role": {"Name": "sweep", "Policies": [{"ID": GLOBAL_MANAGEMENT_POLICY}]},
        "/v1/acl/role/<id>": {"Name": "sweep", "Policies": [{"ID": GLOBAL_MANAGEMENT_POLICY}]},
        "/v1/acl/auth-method": {
            "Name": "sweep",
            "Type": "jwt",
            "Config": {"JWKSURL": "http://127.0.0.1:1/keys"},
        },
        "/v1/acl/auth-method/<name>": {"Type": "jwt", "Config": {"JWKSURL": "http://x/keys"}},
        "/v1/acl/binding-rule": {"AuthMethod": "sweep", "BindType": "service", "BindName": "x"},
        "/v1/acl/binding-rule/<id>": {
            "AuthMethod": "sweep",
            "BindType": "service",
            "BindName": "x",
        },
        "/v1/partition": {"Name": "sweep"},
        "/v1/partition/<name>": {"Description": "changed"},
        "/v1/peering/token": {"PeerName": "sweep-peer"},
        "/v1/peering/establish": {"PeerName": "sweep-peer", "PeeringToken": "e30="},
        "/v1/agent/connect/authorize": {
            "Target": SERVICE,
            "ClientCertURI": "spiffe://sweep.consul/ns/default/dc/dc1/svc/impostor",
        },
        "/v1/query": {"Name": "sweep-new", "Service": {"Service": SERVICE}},
        "/v1/query/<uuid>": {"Name": QUERY, "Service": {"Service": "elsewhere"}},
    }
    # Consul checks these parameters and bodies before the token (agent/agent_endpoint.go
    # AgentNodeMaintenance, txn_endpoint.go convertOps, coordinate_endpoint.go and
    # operator_autopilot_endpoint.go decode first): send ones that would succeed.
    if path.startswith("/v1/kv/"):
        return {"data": b"overwritten"}
    if path in ("/v1/agent/maintenance", "/v1/agent/service/maintenance/<service_id>"):
        return {"params": {"enable": "true", "reason": "sweep"}}
    if path == "/v1/txn":
        value = base64.b64encode(b"overwritten").decode()
        return {"json": [{"KV": {"Verb": "set", "Key": KV_KEY, "Value": value}}]}
    if path == "/v1/coordinate/update":
        coord = {"Vec": [0.5] * 8, "Error": 1.5, "Adjustment": 0.0, "Height": 1e-5}
        return {"json": {"Node": NODE, "Coord": coord}}
    if path == "/v1/operator/autopilot/configuration":
        return {"json": {"CleanupDeadServers": False, "MaxTrailingLogs": 1}}
    if path == "/v1/connect/intentions/exact":
        return {"params": {"source": "web", "destination": SERVICE}, "json": {"Action": "allow"}}
    if path in bodies:
        return {"json": bodies[path]}
    return {}


def boundary_calls(lab: Any) -> list[tuple[str, str, dict[str, Any], str]]:
    """(method, concrete path, kwargs, route) for every Boundary operation the sandbox serves
    and its sandbox-only routes, with ids that exist where one is known."""
    # Ids that exist (what ``boundary dev`` creates) or are well formed (Boundary checks an
    # id's prefix before it authorizes, and answers 400 for a malformed one).
    known = {
        "scopes": "global",
        "auth-methods": "ampw_1234567890",
        "users": "u_1234567890",
        "accounts": "acctpw_1234567890",
        "auth-tokens": "at_1234567890",
        "credential-libraries": "clvlt_1234567890",
        "credential-stores": "csvlt_1234567890",
        "groups": "g_1234567890",
        "host-catalogs": "hcst_1234567890",
        "host-sets": "hsst_1234567890",
        "hosts": "hst_1234567890",
        "roles": "r_1234567890",
        "sessions": "s_1234567890",
        "session-recordings": "sr_1234567890",
        "storage-buckets": "sb_1234567890",
        "targets": "ttcp_1234567890",
    }
    parents = {
        "accounts": {"auth_method_id": "ampw_1234567890"},
        "host-sets": {"host_catalog_id": "hcst_1234567890"},
        "hosts": {"host_catalog_id": "hcst_1234567890"},
        "credential-libraries": {"credential_store_id": "csvlt_1234567890"},
    }
    calls = []
    for method, collection, has_id, action in sorted(boundary_urls.OPERATIONS):
        route = f"/v1/{collection}" + ("/{id}" if has_id else "") + (f":{action}" if action else "")
        path = route.replace("{id}", known[collection])
        kwargs: dict[str, Any] = {}
        if not has_id:
            kwargs["params"] = parents.get(collection) or {
                "scope_id": "global",
                "recursive": "true",
            }
        if method in ("POST", "PATCH"):
            body: dict[str, Any] = {"version": 1}
            if action == "authenticate":
                body = {"attributes": {"login_name": "admin", "password": "not-the-password"}}
            elif not has_id:
                body = {"scope_id": "global", "name": "sweep", **parents.get(collection, {})}
                if collection in ("targets", "host-catalogs", "credential-stores"):
                    body["scope_id"] = "p_1234567890"  # these live in projects
                    body["type"] = {"targets": "tcp", "host-catalogs": "static"}.get(
                        collection, "vault"
                    )
            kwargs["json"] = body
        calls.append((method, path, kwargs, route))
    forged = {"json": {"authorization_token": "forged-authorization-token"}}
    for op in ("reset", "connect", "unimplemented"):
        for method in ("GET", "POST"):
            calls.append((method, f"/sandbox/{op}", forged, f"/sandbox/{op}"))
    return calls


# -- state ---------------------------------------------------------------------------------
def consul_state(lab: Any) -> dict[str, Any]:
    c = lab.consul
    partitions = sorted(p["Name"] for p in c.request("GET", "partitions"))
    state: dict[str, Any] = {"partitions": partitions}
    for p in partitions:
        q = {"partition": p}
        state[f"services/{p}"] = c.request("GET", "catalog/services", params=q)
        state[f"agent/{p}"] = c.request("GET", "agent/services", params=q)
        state[f"checks/{p}"] = sorted(c.request("GET", "agent/checks", params=q))
        try:
            state[f"kv/{p}"] = c.request("GET", "kv/", params={**q, "recurse": "true"})
        except NotFound:  # Consul answers 404 for a partition whose KV store is empty
            state[f"kv/{p}"] = []
        for kind in ("service-defaults", "service-intentions", "proxy-defaults"):
            state[f"config/{kind}/{p}"] = c.request("GET", f"config/{kind}", params=q)
    state["intentions"] = c.request("GET", "connect/intentions")
    state["tokens"] = c.request("GET", "acl/tokens")
    state["policies"] = c.request("GET", "acl/policies")
    state["roles"] = c.request("GET", "acl/roles")
    state["auth-methods"] = c.request("GET", "acl/auth-methods")
    state["binding-rules"] = c.request("GET", "acl/binding-rules")
    state["peerings"] = c.request("GET", "peerings")
    state["sessions"] = c.request("GET", "session/list")
    state["coordinates"] = c.request("GET", "coordinate/nodes")
    state["autopilot"] = c.request("GET", "operator/autopilot/configuration")
    state["events"] = c.request("GET", "event/list")
    state["queries"] = c.request("GET", "query")
    return state


def boundary_state(lab: Any, token: str) -> dict[str, Any]:
    out = {}
    headers = {"Authorization": f"Bearer {token}"}
    for collection in ("scopes", "users", "auth-methods", "roles", "groups", "targets",
                       "host-catalogs", "credential-stores", "storage-buckets", "sessions",
                       "session-recordings", "auth-tokens"):  # fmt: skip
        reply = requests.get(
            f"{lab.endpoints.boundary_url}/v1/{collection}",
            params={"scope_id": "global", "recursive": "true"},
            headers=headers,
            timeout=10,
        )
        if reply.status_code != 200:
            out[collection] = reply.status_code
            continue
        doc = reply.json()
        doc.pop("list_token", None)  # a fresh one for every list
        if collection == "auth-tokens":  # using a token updates its last-used time
            doc = sorted(item["id"] for item in doc.get("items") or [])
        out[collection] = doc
    return out


def boundary_admin_token(lab: Any) -> str:
    reply = requests.post(
        f"{lab.endpoints.boundary_url}/v1/auth-methods/ampw_1234567890:authenticate",
        json={
            "attributes": {
                "login_name": "admin",
                "password": lab.credentials.boundary_admin_password,
            }
        },
        timeout=10,
    )
    reply.raise_for_status()
    return reply.json()["attributes"]["token"]


def everything(lab: Any, boundary_token: str) -> dict[str, Any]:
    edge = requests.get(
        lab.endpoints.extra["frontend_url"] + "/sandbox/distribution",
        headers={"Authorization": f"Bearer {lab.credentials.frontend_token}"},
        timeout=10,
    )
    return {
        "frontend": (edge.status_code, edge.text),
        "consul": consul_state(lab),
        "boundary": boundary_state(lab, boundary_token),
        "workloads": sorted(
            (w["id"], w["health_code"], w["error_rate"]) for w in lab.workloads.list()
        ),
    }


# -- verdicts --------------------------------------------------------------------------------
def reveals_nothing(reply: requests.Response) -> bool:
    """A 200 whose body is empty ([], {}, null, or an object of such): Consul's answer when
    ACLs filter out everything (``/match`` answers ``{"<name>": []}``)."""
    try:
        doc = reply.json()
    except ValueError:
        return not reply.content
    if isinstance(doc, dict):
        return all(value in ([], {}, None) for value in doc.values())
    return doc in ([], None)


def test_anonymous_and_wrong_token_sweep(lab: Any, protected: dict[str, Any]) -> None:
    boundary_token = boundary_admin_token(lab)
    before = everything(lab, boundary_token)
    leaks: list[str] = []
    session = requests.Session()

    def call(base: str, method: str, path: str, headers: dict[str, str], **kwargs: Any):
        return session.request(method, base + path, headers=headers, timeout=10, **kwargs)

    consul = lab.endpoints.consul_url
    for method, path, kwargs, route in consul_calls(protected):
        for who, headers in (("anonymous", {}), ("wrong token", {"X-Consul-Token": WRONG})):
            reply = call(consul, method, path, headers, **kwargs)
            if (method, route) in CONSUL_OPEN:
                continue
            if (
                who == "anonymous"
                and (method, route) in CONSUL_OPEN_ANONYMOUS
                and reply.status_code == 200
            ):
                doc = reply.json()
                if route.endswith("/self") and doc.get("AccessorID") != ANONYMOUS:
                    leaks.append(f"consul {who} {method} {path}: {reply.status_code} {doc}")
                continue
            if reply.status_code == 403:
                expected = ("ACL not found",)
                if who == "anonymous":
                    expected += ("Permission denied",)
                if not reply.text.startswith(expected):
                    leaks.append(f"consul {who} {method} {path}: 403 {reply.text[:120]!r}")
                continue
            if (method, route) == ("PUT", "/v1/txn") and reply.status_code == 409:
                # Txn.Apply's preCheck refuses each operation: 409 with the ACL errors
                whats = [e["What"] for e in reply.json()["Errors"]]
                if who == "wrong token" or not all(
                    w.startswith("Permission denied") for w in whats
                ):
                    leaks.append(f"consul {who} {method} {path}: 409 {whats}")
                continue
            if (
                route == "/v1/query/<query>/execute"
                and who == "anonymous"
                and reply.status_code == 200
                and reply.json()["Nodes"] == []
            ):
                # PreparedQuery.Execute asks no ACL of the query (its name is the caller's
                # to know); the instances are read with the caller's token: none
                continue
            if method == "GET" and reply.status_code == 200 and reveals_nothing(reply):
                if who == "wrong token":
                    leaks.append(f"consul {who} {method} {path}: 200 (Consul: ACL not found)")
                continue
            leaks.append(f"consul {who} {method} {path}: {reply.status_code} {reply.text[:120]!r}")

    boundary = lab.endpoints.boundary_url
    for method, path, kwargs, route in boundary_calls(lab):
        for who, headers in (
            ("anonymous", {}),
            ("wrong token", {"Authorization": "Bearer at_1234567890_" + "x" * 40}),
        ):
            reply = call(boundary, method, path, headers, **kwargs)
            if (method, route) in BOUNDARY_OPEN:
                if route.endswith(":authenticate"):
                    if reply.status_code != 401:  # a wrong password logs nobody in
                        leaks.append(f"boundary {who} {method} {path}: {reply.status_code}")
                elif reply.status_code != 200:
                    leaks.append(f"boundary {who} {method} {path}: {reply.status_code} (open)")
                continue
            if (method, route) in BOUNDARY_SANDBOX_OPEN and reply.status_code == 200:
                continue
            # Boundary looks an id up before it authorizes: an id that does not exist is 404,
            # the global scope cannot be deleted (400); neither reveals or changes anything.
            if reply.status_code == 404 and not any(i in path for i in EXISTING):
                continue
            if (method, path) == ("DELETE", "/v1/scopes/global") and reply.status_code == 400:
                continue
            if reply.status_code in (401, 403, 501) or (
                route.startswith("/sandbox/") and reply.status_code in (400, 405)
            ):
                continue
            leaks.append(
                f"boundary {who} {method} {path}: {reply.status_code} {reply.text[:120]!r}"
            )

    host = lab.endpoints.extra["workloads_url"]
    wid = protected["workload"]["id"]
    for method, route, _ in workloads_api.ROUTES:
        path = route.replace("{id}", wid)
        body = {"json": {"name": "inventory", "version": "v2.1"}} if method == "POST" else {}
        if method == "PATCH":
            body = {"json": {"error_rate": 1.0}}
        for who, headers, status in (
            ("anonymous", {}, 401),
            ("wrong token", {"Authorization": "Bearer " + WRONG}, 403),
        ):
            reply = call(host, method, path, headers, **body)
            if reply.status_code != status or "error" not in reply.json():
                leaks.append(f"workloads {who} {method} {path}: {reply.status_code}")

    scheduler = lab.endpoints.extra["scheduler_url"]
    for method, path in SCHEDULER_ROUTES:
        if (method, path) == ("GET", "/v1/health"):
            continue
        for who, headers, status in (
            ("anonymous", {}, 401),
            ("wrong token", {"Authorization": "Bearer " + WRONG}, 403),
        ):
            reply = call(scheduler, method, path, headers)
            if reply.status_code != status or "error" not in reply.json():
                leaks.append(f"scheduler {who} {method} {path}: {reply.status_code}")

    edge = lab.endpoints.extra["frontend_url"]
    for method, path in FRONTEND_ROUTES:
        if (method, path) == ("GET", "/sandbox/health"):
            continue
        body = {"json": {"account_id": "1", "distribution_id": "E1"}} if method == "PUT" else {}
        for who, headers, status in (
            ("anonymous", {}, 401),
            ("wrong token", {"Authorization": "Bearer " + WRONG}, 403),
        ):
            reply = call(edge, method, path, headers, **body)
            if reply.status_code != status or "error" not in reply.json():
                leaks.append(f"frontend {who} {method} {path}: {reply.status_code}")

    after = everything(lab, boundary_token)
    assert leaks == [], "\n".join(leaks)
    changed = [key for key in before if before[key] != after[key]]
    assert changed == [], json.dumps({k: [before[k], after[k]] for k in changed})[:2000]


# AWS: moto serves hundreds of operations; a representative set, one per protocol family
# the lab uses (query, JSON, REST-XML, REST-JSON). The signing checks themselves are tested
# in tests/aws/test_signing.py.
AWS_CALLS = (
    ("sts", "get_caller_identity", {}),
    ("iam", "list_roles", {}),
    ("organizations", "list_accounts", {}),
    ("s3", "list_buckets", {}),
    ("ecs", "list_clusters", {}),
    ("logs", "describe_log_groups", {}),
    ("cloudtrail", "lookup_events", {}),
    ("cloudwatch", "list_metrics", {}),
)


def test_aws_refuses_unsigned_requests_and_made_up_keys(lab: Any) -> None:
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config
    from botocore.exceptions import ClientError

    answered = []
    for who, session, config in (
        ("unsigned", boto3.Session(region_name="us-east-1"), Config(signature_version=UNSIGNED)),
        (
            "made-up keys",
            boto3.Session(
                aws_access_key_id="MADEUPACCESSKEY00001",
                aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                region_name="us-east-1",
            ),
            Config(),
        ),
    ):
        for service, operation, kwargs in AWS_CALLS:
            client = session.client(service, endpoint_url=lab.endpoints.aws_url, config=config)
            try:
                getattr(client, operation)(**kwargs)
            except ClientError as error:
                status = error.response["ResponseMetadata"]["HTTPStatusCode"]
                if status not in (400, 403):
                    answered.append(f"{who} {service}.{operation}: {status}")
                continue
            answered.append(f"{who} {service}.{operation}: answered")
    assert answered == []


def envoy_listeners(lab: Any, sandbox: Any) -> dict[str, list[int]]:
    """The Envoy's TCP listeners by kind (``guard``, ``public``, ``ingress``, ``upstream``),
    from its own ``/listeners`` (Consul's names: ``public_listener:<addr>``,
    ``<service>:<addr>`` for an upstream, ``<protocol>:<addr>`` for a gateway's); listeners on
    Unix sockets (pipes) are left out."""
    listeners = requests.get(
        sandbox.services["envoy"].url + "/listeners",
        params={"format": "json"},
        headers=lab.sandbox.envoy_admin_headers,
        timeout=5,
    ).json()["listener_statuses"]
    kinds: dict[str, list[int]] = {"guard": [], "public": [], "ingress": [], "upstream": []}
    for item in listeners:
        if "socket_address" not in item["local_address"]:
            continue
        name, port = item["name"], item["local_address"]["socket_address"]["port_value"]
        if name.startswith("envoy_admin_guard"):
            kinds["guard"].append(port)
        elif name.startswith("public_listener:"):
            kinds["public"].append(port)
        elif name.split(":", 1)[0] in ("http", "http2", "grpc", "tcp"):
            kinds["ingress"].append(port)
        else:
            kinds["upstream"].append(port)
    return kinds


def _no_certificate(port: int) -> str:
    """What a TLS client without a certificate (and one trusting anything) meets."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        with raw, context.wrap_socket(raw) as tls:
            tls.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = tls.recv(64)
    except (ssl.SSLError, ConnectionError, OSError) as error:
        return f"refused: {type(error).__name__}"
    return f"answered {answer[:40]!r}" if answer else "refused: closed"


def _plain_http(port: int) -> str:
    try:
        reply = requests.get(f"http://127.0.0.1:{port}/", timeout=5)
    except requests.RequestException as error:
        return f"refused: {type(error).__name__}"
    return f"answered {reply.status_code}"


def test_envoy_listeners_and_admin_sweep(lab: Any, sandbox: Any, protected: dict[str, Any]) -> None:
    kinds = envoy_listeners(lab, sandbox)
    assert kinds["guard"] == [int(sandbox.services["envoy"].url.rsplit(":", 1)[1])]
    assert kinds["public"], "the protected workload's sidecar has a public listener"
    assert kinds["upstream"] == [], "upstream listeners are on the workloads' Unix sockets"
    leaks = []
    for port in kinds["public"]:
        for who, outcome in (("no cert", _no_certificate(port)), ("plain", _plain_http(port))):
            if not outcome.startswith("refused"):
                leaks.append(f"public listener {port} {who}: {outcome}")
    admin = sandbox.services["envoy"].url
    routes = admin_routes(sandbox, dict(lab.sandbox.envoy_admin_headers))
    paths = sorted({path for _, path in routes})
    assert "/config_dump" in paths and "/quitquitquit" in paths
    for path in paths:
        for method in ("GET", "POST"):
            for who, headers, status in (
                ("anonymous", {}, 401),
                ("wrong token", {"Authorization": "Bearer " + WRONG}, 403),
            ):
                reply = requests.request(method, admin + path, headers=headers, timeout=5)
                if (method, path) == ("GET", "/ready") and reply.text.strip() == "LIVE":
                    continue
                if reply.status_code != status:
                    leaks.append(f"envoy admin {who} {method} {path}: {reply.status_code}")
    assert leaks == []
    assert requests.get(admin + "/ready", timeout=5).text.strip() == "LIVE"  # still serving
