"""HTTP handlers: parse the request, call the backend, serialize. No Consul logic lives here.

Every handler takes a :class:`Call` (the parsed request) and returns a :class:`Reply`.
Reads carry ``X-Consul-Index``, ``X-Consul-KnownLeader``, ``X-Consul-LastContact``,
``X-Consul-Effective-Consistency`` and ``X-Consul-Default-ACL-Policy``; blocking reads honour
``index`` and ``wait`` (default 5 minutes, at most 10, as Consul).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from . import config_entries as ce
from .acl import Authorizer
from .checks import parse_duration
from .decode import decode_body
from .exceptions import BadRequest, NotFound
from .models import ConsulBackend

MAX_WAIT = 600.0
DEFAULT_WAIT = 300.0


@dataclass
class Call:
    """One parsed request."""

    backend: ConsulBackend
    method: str
    path: str
    args: MultiDict
    headers: Any
    body: bytes
    params: dict[str, str]
    token: str | None = None
    _authz: Authorizer | None = None

    @property
    def authz(self) -> Authorizer:
        if self._authz is None:
            self._authz = self.backend.authorize(self.token)
        return self._authz

    @property
    def partition(self) -> str:
        return self.args.get("partition") or "default"

    @property
    def namespace(self) -> str:
        return self.args.get("ns") or "default"

    @property
    def filter(self) -> str | None:
        return self.args.get("filter") or None

    def flag(self, name: str) -> bool:
        """A boolean query parameter (present without a value counts as true, like Consul)."""
        if name not in self.args:
            return False
        return self.args.get(name, "").lower() not in ("false", "0")

    def int_arg(self, name: str) -> int | None:
        raw = self.args.get(name)
        if raw in (None, ""):
            return None
        try:
            return int(raw)
        except ValueError as exc:
            raise BadRequest(f"Invalid {name} value: {raw!r}") from exc

    def json(self, spelling: str = "Request decode failed", allow_empty: bool = False) -> Any:
        doc = decode_body(self.body, spelling, allow_empty)
        if doc is not None and not isinstance(doc, (dict, list)):
            from .exceptions import RequestDecodeFailed

            raise RequestDecodeFailed("json: cannot unmarshal into a Consul object", spelling)
        return doc


@dataclass
class Reply:
    """What a handler returns: a JSON document (or raw bytes) with status and headers."""

    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = "application/json"


def _read(
    call: Call, tables: tuple[str, ...], produce: Callable[[], Any], found: bool = True
) -> Reply:
    """Serve a read: block first when asked (``?index=``), then set the query meta headers."""
    call.backend.check_dc(call.args.get("dc"))
    min_index = call.int_arg("index")
    if min_index:
        wait = parse_duration(call.args.get("wait")) if call.args.get("wait") else DEFAULT_WAIT
        call.backend.wait_for(tables, min_index, min(wait, MAX_WAIT))
    index = call.backend.table_index(*tables)
    body = produce()
    reply = Reply(body, headers=_meta(call, index))
    if body is None and not found:
        reply.status = 404
        reply.raw = b""
    return reply


def _meta(call: Call, index: int) -> dict[str, str]:
    return {
        "X-Consul-Index": str(max(index, 1)),
        "X-Consul-KnownLeader": "true",
        "X-Consul-LastContact": "0",
        "X-Consul-Effective-Consistency": "leader",
        "X-Consul-Default-ACL-Policy": "deny" if call.backend.acl_enabled else "allow",
    }


def _write(call: Call) -> None:
    call.backend.check_dc(call.args.get("dc"))


HEALTH_TABLES = ("nodes", "services", "checks")

# ---------------------------------------------------------------- agent


def agent_service_register(call: Call) -> Reply:
    _write(call)
    raw = call.json()
    if not isinstance(raw, dict):
        raise BadRequest("Request decode failed: expected a service definition object")
    call.backend.register_service(
        raw,
        call.partition,
        call.authz,
        replace_existing_checks=call.flag("replace-existing-checks"),
    )
    return Reply(raw=b"")


def agent_service_deregister(call: Call) -> Reply:
    _write(call)
    call.backend.deregister_service(call.params["service_id"], call.partition, call.authz)
    return Reply(raw=b"")


def agent_services(call: Call) -> Reply:
    return _read(
        call,
        HEALTH_TABLES,
        lambda: call.backend.agent_services(call.partition, call.authz, call.filter),
    )


def agent_service(call: Call) -> Reply:
    return _read(
        call,
        HEALTH_TABLES,
        lambda: call.backend.agent_service(call.params["service_id"], call.partition, call.authz),
    )


def agent_check_register(call: Call) -> Reply:
    _write(call)
    raw = call.json()
    call.backend.register_check(raw, call.partition, call.authz)
    return Reply(raw=b"")


def agent_check_deregister(call: Call) -> Reply:
    _write(call)
    call.backend.deregister_check(call.params["check_id"], call.partition, call.authz)
    return Reply(raw=b"")


def _ttl(status: str) -> Callable[[Call], Reply]:
    def handler(call: Call) -> Reply:
        _write(call)
        call.backend.update_ttl(
            call.params["check_id"], status, call.args.get("note", ""), call.partition, call.authz
        )
        return Reply(raw=b"")

    handler.__name__ = f"agent_check_{status}"
    handler.__doc__ = f"PUT /v1/agent/check/{status}/:check_id"
    return handler


agent_check_pass = _ttl("passing")
agent_check_warn = _ttl("warning")
agent_check_fail = _ttl("critical")


def agent_check_update(call: Call) -> Reply:
    _write(call)
    raw = call.json()
    call.backend.update_ttl(
        call.params["check_id"],
        raw.get("Status", ""),
        raw.get("Output", ""),
        call.partition,
        call.authz,
    )
    return Reply(raw=b"")


def agent_checks(call: Call) -> Reply:
    return _read(
        call,
        ("checks",),
        lambda: call.backend.agent_checks(call.partition, call.authz, call.filter),
    )


def agent_self(call: Call) -> Reply:
    return Reply(call.backend.agent_self(call.authz))


def agent_members(call: Call) -> Reply:
    return Reply(call.backend.agent_members(call.authz))


# ---------------------------------------------------------------- catalog


def catalog_register(call: Call) -> Reply:
    _write(call)
    call.backend.catalog_register(call.json(), call.partition, call.authz)
    return Reply(True)


def catalog_deregister(call: Call) -> Reply:
    _write(call)
    call.backend.catalog_deregister(call.json(), call.partition, call.authz)
    return Reply(True)


def catalog_datacenters(call: Call) -> Reply:
    return Reply(call.backend.catalog_datacenters())


def catalog_nodes(call: Call) -> Reply:
    return _read(
        call,
        ("nodes",),
        lambda: call.backend.catalog_nodes(call.partition, call.authz, call.filter),
    )


def catalog_services(call: Call) -> Reply:
    return _read(
        call,
        ("services",),
        lambda: call.backend.catalog_services(call.partition, call.authz, call.filter),
    )


def catalog_service(call: Call) -> Reply:
    return _read(
        call,
        ("services", "nodes"),
        lambda: call.backend.catalog_service(
            call.params["service"],
            call.partition,
            call.args.getlist("tag"),
            call.authz,
            call.filter,
        ),
    )


def catalog_node(call: Call) -> Reply:
    return _read(
        call,
        ("nodes", "services"),
        lambda: call.backend.catalog_node(call.params["node"], call.partition, call.authz),
    )


# ---------------------------------------------------------------- health


def health_service(call: Call, connect: bool = False) -> Reply:
    authz = call.authz
    return _read(
        call,
        HEALTH_TABLES + (("peerings", "config") if call.args.get("peer") else ("config",)),
        lambda: call.backend.health_service(
            call.params["service"],
            call.partition,
            call.flag("passing"),
            call.args.get("peer") or None,
            tags=call.args.getlist("tag"),
            filter_expr=call.filter,
            connect=connect,
            consumer_partition=None if authz.management else authz.home_partition,
            authz=authz,
        ),
    )


def health_connect(call: Call) -> Reply:
    return health_service(call, connect=True)


def health_checks(call: Call) -> Reply:
    return _read(
        call,
        HEALTH_TABLES,
        lambda: call.backend.health_checks(
            call.params["service"], call.partition, call.authz, call.filter
        ),
    )


def health_state(call: Call) -> Reply:
    return _read(
        call,
        HEALTH_TABLES,
        lambda: call.backend.health_state(
            call.params["state"], call.partition, call.authz, call.filter
        ),
    )


def health_node(call: Call) -> Reply:
    return _read(
        call,
        HEALTH_TABLES,
        lambda: call.backend.health_node(
            call.params["node"], call.partition, call.authz, call.filter
        ),
    )


# ---------------------------------------------------------------- kv


def kv_get(call: Call) -> Reply:
    key = call.params.get("key", "")
    b = call.backend
    if call.flag("keys"):
        return _read(
            call,
            ("kvs",),
            lambda: b.kv_keys(key, call.partition, call.args.get("separator", ""), call.authz),
        )
    if call.flag("raw"):
        reply = _read(call, ("kvs",), lambda: b.kv_raw(key, call.partition, call.authz))
        if reply.body is None:
            reply.status, reply.raw = 404, b""
        else:
            reply.raw, reply.content_type = reply.body, "application/octet-stream"
        return reply
    reply = _read(
        call, ("kvs",), lambda: b.kv_get(key, call.partition, call.flag("recurse"), call.authz)
    )
    if not reply.body:
        reply.status, reply.raw = 404, b""
    return reply


def kv_put(call: Call) -> Reply:
    _write(call)
    if "acquire" in call.args or "release" in call.args:
        raise BadRequest("sessions (acquire/release) are not implemented by the sandbox")
    ok = call.backend.kv_put(
        call.params.get("key", ""),
        call.body,
        call.partition,
        call.int_arg("flags"),
        call.int_arg("cas"),
        call.authz,
    )
    return Reply(ok)


def kv_delete(call: Call) -> Reply:
    _write(call)
    ok = call.backend.kv_delete(
        call.params.get("key", ""),
        call.partition,
        call.flag("recurse"),
        call.int_arg("cas"),
        call.authz,
    )
    return Reply(ok)


# ---------------------------------------------------------------- status


def status_leader(call: Call) -> Reply:
    return Reply(call.backend.status_leader())


def status_peers(call: Call) -> Reply:
    return Reply(call.backend.status_peers())


# ---------------------------------------------------------------- config entries


def config_apply(call: Call) -> Reply:
    _write(call)
    raw = call.json("Request decoding failed")
    if not isinstance(raw, dict):
        raise BadRequest("Request decoding failed: expected a config entry object")
    try:
        ce.canonical_kind(str(raw.get("Kind", "")))
    except ce.UnknownKind as exc:
        raise BadRequest(f"Request decoding failed: {exc}") from exc
    ok = call.backend.config_apply(
        raw, call.partition, call.namespace, call.int_arg("cas"), call.authz
    )
    return Reply(ok)


def _kind(call: Call) -> str:
    try:
        return ce.canonical_kind(call.params["kind"])
    except ce.UnknownKind as exc:
        raise BadRequest(str(exc)) from exc


def config_get(call: Call) -> Reply:
    kind = _kind(call)
    name = call.params["name"]
    reply = _read(
        call,
        ("config",),
        lambda: call.backend.get_config_entry(
            kind, name, call.partition, call.namespace, call.authz
        ),
    )
    if reply.body is None:
        raise NotFound(f'Config entry not found for "{call.params["kind"]}" / "{name}"')
    return reply


def config_list(call: Call) -> Reply:
    kind = _kind(call)
    return _read(
        call,
        ("config",),
        lambda: call.backend.list_config_entries(kind, call.partition, call.authz, call.filter),
    )


def config_delete(call: Call) -> Reply:
    _write(call)
    cas = call.int_arg("cas")
    ok = call.backend.config_delete(
        _kind(call), call.params["name"], call.partition, call.namespace, cas, call.authz
    )
    # Consul answers the `deleted` boolean for CAS deletes and {} otherwise.
    return Reply(ok if cas is not None else {})


# ---------------------------------------------------------------- intentions


def intentions_list(call: Call) -> Reply:
    return _read(
        call,
        ("config",),
        lambda: call.backend.intentions_list(call.partition, call.authz, call.filter),
    )


def intention_create(call: Call) -> Reply:
    _write(call)
    intention_id = call.backend.intention_create(call.json(), call.partition, call.authz)
    return Reply({"ID": intention_id})


def intention_get(call: Call) -> Reply:
    return _read(
        call, ("config",), lambda: call.backend.intention_get(call.params["id"], call.authz)
    )


def intention_update(call: Call) -> Reply:
    _write(call)
    call.backend.intention_update(call.params["id"], call.json(allow_empty=True) or {}, call.authz)
    return Reply(True)


def intention_delete(call: Call) -> Reply:
    _write(call)
    call.backend.intention_delete(call.params["id"], call.authz)
    return Reply(True)


def intention_exact_get(call: Call) -> Reply:
    return _read(
        call,
        ("config",),
        lambda: call.backend.intention_exact_get(
            call.args.get("source", ""),
            call.args.get("destination", ""),
            call.partition,
            call.authz,
        ),
    )


def intention_exact_put(call: Call) -> Reply:
    _write(call)
    call.backend.intention_exact_put(
        call.args.get("source", ""),
        call.args.get("destination", ""),
        call.json(allow_empty=True) or {},
        call.partition,
        call.authz,
    )
    return Reply(True)


def intention_exact_delete(call: Call) -> Reply:
    _write(call)
    call.backend.intention_exact_delete(
        call.args.get("source", ""), call.args.get("destination", ""), call.partition, call.authz
    )
    return Reply(True)


def intention_match(call: Call) -> Reply:
    return _read(
        call,
        ("config",),
        lambda: call.backend.intention_match(
            call.args.get("by", ""), call.args.getlist("name"), call.partition, call.authz
        ),
    )


def intention_check(call: Call) -> Reply:
    return _read(
        call,
        ("config",),
        lambda: {
            "Allowed": call.backend.intention_check(
                call.args.get("source", ""),
                call.args.get("destination", ""),
                call.partition,
                call.authz,
            )
        },
    )


# ---------------------------------------------------------------- ACL


def acl_policy_create(call: Call) -> Reply:
    return Reply(call.backend.policy_upsert(call.json(), None, call.authz))


def acl_policy_update(call: Call) -> Reply:
    return Reply(call.backend.policy_upsert(call.json(), call.params["id"], call.authz))


def acl_policy_get(call: Call) -> Reply:
    doc = call.backend.policy_get(policy_id=call.params["id"], authz=call.authz)
    if doc is None:
        raise NotFound("ACL policy not found")
    return _read(call, ("acl",), lambda: doc)


def acl_policy_get_by_name(call: Call) -> Reply:
    doc = call.backend.policy_get(name=call.params["name"], authz=call.authz)
    if doc is None:
        raise NotFound("ACL policy not found")
    return _read(call, ("acl",), lambda: doc)


def acl_policy_delete(call: Call) -> Reply:
    return Reply(call.backend.policy_delete(call.params["id"], call.authz))


def acl_policies(call: Call) -> Reply:
    return _read(call, ("acl",), lambda: call.backend.policy_list(call.authz))


def acl_token_create(call: Call) -> Reply:
    return Reply(call.backend.token_upsert(call.json(), None, call.authz))


def acl_token_update(call: Call) -> Reply:
    return Reply(call.backend.token_upsert(call.json(), call.params["id"], call.authz))


def acl_token_self(call: Call) -> Reply:
    return Reply(call.backend.token_self(call.token))


def acl_token_get(call: Call) -> Reply:
    doc = call.backend.token_get(call.params["id"], call.authz)
    if doc is None:
        raise NotFound("ACL not found")
    return _read(call, ("acl",), lambda: doc)


def acl_token_delete(call: Call) -> Reply:
    return Reply(call.backend.token_delete(call.params["id"], call.authz))


def acl_tokens(call: Call) -> Reply:
    return _read(call, ("acl",), lambda: call.backend.token_list(call.authz))


# ---------------------------------------------------------------- partitions and peering


def partition_create(call: Call) -> Reply:
    raw = call.json()
    return Reply(
        call.backend.partition_upsert(
            raw.get("Name", ""), raw.get("Description", ""), call.authz, create_only=True
        )
    )


def partition_update(call: Call) -> Reply:
    raw = call.json(allow_empty=True) or {}
    return Reply(
        call.backend.partition_upsert(call.params["name"], raw.get("Description", ""), call.authz)
    )


def partition_get(call: Call) -> Reply:
    doc = call.backend.partition_get(call.params["name"], call.authz)
    if doc is None:
        raise NotFound(f'Partition "{call.params["name"]}" not found')
    return _read(call, ("partitions",), lambda: doc)


def partition_list(call: Call) -> Reply:
    return _read(call, ("partitions",), lambda: call.backend.partition_list(call.authz))


def partition_delete(call: Call) -> Reply:
    call.backend.partition_delete(call.params["name"], call.authz)
    return Reply(raw=b"")


def peering_token(call: Call) -> Reply:
    token = call.backend.peering_token(call.json(), call.partition, call.authz)
    return Reply({"PeeringToken": token})


def peering_establish(call: Call) -> Reply:
    call.backend.peering_establish(call.json(), call.partition, call.authz)
    return Reply({})


def peering_get(call: Call) -> Reply:
    doc = call.backend.peering_get(call.params["name"], call.partition, call.authz)
    if doc is None:
        raise NotFound(f'Peering not found for "{call.params["name"]}"')
    return _read(call, ("peerings",), lambda: doc)


def peering_list(call: Call) -> Reply:
    return _read(call, ("peerings",), lambda: call.backend.peering_list(call.partition, call.authz))


def peering_delete(call: Call) -> Reply:
    call.backend.peering_delete(call.params["name"], call.partition, call.authz)
    return Reply(raw=b"")


# ---------------------------------------------------------------- sandbox only


def sandbox_reset(call: Call) -> Reply:
    """Not Consul: forget all state (management token required)."""
    call.backend.reset(call.authz)
    return Reply(True)


def encode(reply: Reply) -> bytes:
    if reply.raw is not None:
        return reply.raw
    return json.dumps(reply.body).encode()
