"""URL patterns of the emulated controller API and the operations they map to.

Paths are Boundary's: ``/v1/<collection>``, ``/v1/<collection>/<id>`` and the custom
actions ``/v1/<collection>/<id>:<action>``. ``/sandbox/...`` routes exist only here.
"""

from __future__ import annotations

import re

url_paths: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^/v1/(?P<collection>[a-z-]+)$"), "collection"),
    (
        re.compile(r"^/v1/(?P<collection>[a-z-]+)/(?P<id>[A-Za-z0-9_]+)(?::(?P<action>[a-z-]+))?$"),
        "item",
    ),
    (re.compile(r"^/sandbox/(?P<op>reset|connect|unimplemented)$"), "sandbox"),
]

_CRUD = ("scopes", "auth-methods", "accounts", "users", "groups", "roles", "host-catalogs",
         "host-sets", "hosts", "targets", "credential-stores", "credential-libraries",
         "storage-buckets")  # fmt: skip
_MEMBERSHIP = {
    "groups": "members",
    "roles": ("principals", "grants", "grant-scopes"),
    "host-sets": "hosts",
    "targets": ("host-sources", "credential-sources"),
    "users": "accounts",
}

#: (method, collection, has id, action) -> name of the handler in responses.py
OPERATIONS: dict[tuple[str, str, bool, str], str] = {}
for _c in _CRUD:
    OPERATIONS.update({
        ("GET", _c, False, ""): "list",
        ("POST", _c, False, ""): "create",
        ("GET", _c, True, ""): "read",
        ("PATCH", _c, True, ""): "update",
        ("DELETE", _c, True, ""): "delete",
    })  # fmt: skip
for _c, _things in _MEMBERSHIP.items():
    for _thing in (_things,) if isinstance(_things, str) else _things:
        for _op in ("add", "set", "remove"):
            OPERATIONS[("POST", _c, True, f"{_op}-{_thing}")] = "membership"
OPERATIONS.update({
    ("POST", "auth-methods", True, "authenticate"): "authenticate",
    ("POST", "targets", True, "authorize-session"): "authorize_session",
    ("GET", "sessions", False, ""): "list",
    ("GET", "sessions", True, ""): "read",
    ("POST", "sessions", True, "cancel"): "cancel_session",
    ("GET", "session-recordings", False, ""): "list",
    ("GET", "session-recordings", True, ""): "read",
    ("DELETE", "session-recordings", True, ""): "delete",
    ("GET", "session-recordings", True, "download"): "download",
    ("GET", "auth-tokens", False, ""): "list",
    ("GET", "auth-tokens", True, ""): "read",
    ("DELETE", "auth-tokens", True, ""): "delete",
})  # fmt: skip

#: Every operation of Boundary's controller API (controller.swagger.json, v0.21), to tell
#: "not implemented in the sandbox" (501) from "no such operation" (405/404).
BOUNDARY_OPERATIONS = """
GET,POST /v1/accounts; GET,DELETE,PATCH /v1/accounts/{id}
POST /v1/accounts/{id}:change-password; POST /v1/accounts/{id}:set-password
GET,POST /v1/aliases; GET,DELETE,PATCH /v1/aliases/{id}
GET,POST /v1/auth-methods; POST /v1/auth-methods/{id}:authenticate
GET,DELETE,PATCH /v1/auth-methods/{id}; POST /v1/auth-methods/{id}:change-state
GET /v1/auth-tokens; GET,DELETE /v1/auth-tokens/{id}
GET /v1/billing:monthly-active-users
GET,POST /v1/credential-libraries; GET,DELETE,PATCH /v1/credential-libraries/{id}
GET,POST /v1/credential-stores; GET,DELETE,PATCH /v1/credential-stores/{id}
GET,POST /v1/credentials; GET,DELETE,PATCH /v1/credentials/{id}
GET,POST /v1/groups; GET,DELETE,PATCH /v1/groups/{id}
POST /v1/groups/{id}:add-members; POST /v1/groups/{id}:remove-members
POST /v1/groups/{id}:set-members
GET,POST /v1/host-catalogs; GET,DELETE,PATCH /v1/host-catalogs/{id}
GET,POST /v1/host-sets; GET,DELETE,PATCH /v1/host-sets/{id}
POST /v1/host-sets/{id}:add-hosts; POST /v1/host-sets/{id}:remove-hosts
POST /v1/host-sets/{id}:set-hosts
GET,POST /v1/hosts; GET,DELETE,PATCH /v1/hosts/{id}
GET,POST /v1/managed-groups; GET,DELETE,PATCH /v1/managed-groups/{id}
GET,POST /v1/policies; GET,DELETE,PATCH /v1/policies/{id}
GET,POST /v1/roles; GET,DELETE,PATCH /v1/roles/{id}
POST /v1/roles/{id}:add-grant-scopes; POST /v1/roles/{id}:add-grants
POST /v1/roles/{id}:add-principals; POST /v1/roles/{id}:remove-grant-scopes
POST /v1/roles/{id}:remove-grants; POST /v1/roles/{id}:remove-principals
POST /v1/roles/{id}:set-grant-scopes; POST /v1/roles/{id}:set-grants
POST /v1/roles/{id}:set-principals
GET,POST /v1/scopes; GET,DELETE,PATCH /v1/scopes/{id}
POST /v1/scopes/{id}:attach-storage-policy; POST /v1/scopes/{id}:detach-storage-policy
GET /v1/scopes/{id}:list-keys; POST /v1/scopes/{id}:remove-alias-suffix
POST /v1/scopes/{id}:set-alias-suffix; GET /v1/scopes/{id}:list-key-version-destruction-jobs
GET /v1/session-recordings; GET,DELETE /v1/session-recordings/{id}
GET /v1/session-recordings/{id}:download; GET,POST /v1/session-recordings/{id}:export
POST /v1/session-recordings/{id}:reapply-storage-policy
GET /v1/sessions; GET /v1/sessions/{id}; POST /v1/sessions/{id}:cancel
GET,POST /v1/storage-buckets; GET,DELETE,PATCH /v1/storage-buckets/{id}
GET,POST /v1/targets; GET,DELETE,PATCH /v1/targets/{id}
POST /v1/targets/{id}:add-credential-sources; POST /v1/targets/{id}:add-host-sources
POST /v1/targets/{id}:authorize-session; POST /v1/targets/{id}:remove-credential-sources
POST /v1/targets/{id}:remove-host-sources; POST /v1/targets/{id}:set-credential-sources
POST /v1/targets/{id}:set-host-sources
GET,POST /v1/users; GET,DELETE,PATCH /v1/users/{id}
POST /v1/users/{id}:add-accounts; GET /v1/users/{id}:list-resolvable-aliases
POST /v1/users/{id}:remove-accounts; POST /v1/users/{id}:set-accounts
GET /v1/workers; GET,DELETE,PATCH /v1/workers/{id}
POST /v1/workers/{id}:add-worker-tags; POST /v1/workers/{id}:remove-worker-tags
POST /v1/workers/{id}:set-worker-tags
"""


def boundary_operations() -> list[tuple[str, str, bool, str]]:
    """BOUNDARY_OPERATIONS as (method, collection, has id, action) keys."""
    out = []
    for entry in BOUNDARY_OPERATIONS.replace("\n", ";").split(";"):
        if not entry.strip():
            continue
        methods, path = entry.split()
        rest = path.removeprefix("/v1/")
        collection, _, tail = rest.partition("/")
        has_id = bool(tail)
        action = tail.partition(":")[2] if has_id else ""
        for m in methods.split(","):
            out.append((m, collection, has_id, action))
    return out


def unimplemented() -> list[str]:
    """Boundary operations the sandbox does not serve, as ``METHOD /v1/path`` lines."""
    out = []
    for method, coll, has_id, action in boundary_operations():
        if (method, coll, has_id, action) not in OPERATIONS:
            path = f"/v1/{coll}" + ("/{id}" if has_id else "") + (f":{action}" if action else "")
            out.append(f"{method} {path}")
    return out
