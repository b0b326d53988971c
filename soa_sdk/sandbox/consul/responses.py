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

# ---------------------------------------------------------------- the generic handlers
#
# Most endpoints are "call one backend method with arguments taken from the request";
# :func:`reader` and :func:`writer` build those handlers from a table of arguments.

Arg = Callable[[Call], Any]


def param(name: str) -> Arg:
    """A path parameter (``/v1/agent/service/<service_id>``)."""
    return lambda call: call.params[name]


def query(name: str, default: str = "") -> Arg:
    """A query parameter."""
    return lambda call: call.args.get(name, default)


def PARTITION(call: Call) -> str:
    return call.partition


def AUTHZ(call: Call) -> Authorizer:
    return call.authz


def FILTER(call: Call) -> str | None:
    return call.filter


def BODY(call: Call) -> Any:
    return call.json()


def BODY_OR_EMPTY(call: Call) -> Any:
    return call.json(allow_empty=True) or {}


def KIND(call: Call) -> str:
    try:
        return ce.canonical_kind(call.params["kind"])
    except ce.UnknownKind as exc:
        raise BadRequest(str(exc)) from exc


def _invoke(call: Call, method: str, args: tuple[Arg, ...], kwargs: dict[str, Arg]) -> Any:
    return getattr(call.backend, method)(
        *(a(call) for a in args), **{k: f(call) for k, f in kwargs.items()}
    )


def reader(
    method: str,
    tables: tuple[str, ...] | None,
    *args: Arg,
    missing: str | Callable[[Call], str] | None = None,
    **kwargs: Arg,
) -> Callable[[Call], Reply]:
    """A read: ``backend.<method>(*args)``, blocking on ``tables`` (None: not a blocking
    read, no query meta); ``missing``: the 404 message when the backend answers None."""

    def handler(call: Call) -> Reply:
        produce = lambda: _invoke(call, method, args, kwargs)  # noqa: E731
        reply = Reply(produce()) if tables is None else _read(call, tables, produce)
        if missing is not None and reply.body is None:
            raise NotFound(missing(call) if callable(missing) else missing)
        return reply

    handler.__name__ = handler.__qualname__ = method
    handler.__doc__ = f"Serves ``ConsulBackend.{method}`` (a read)."
    return handler


def writer(
    method: str, *args: Arg, answer: Callable[[Any], Reply] | None = None, **kwargs: Arg
) -> Callable[[Call], Reply]:
    """A write: ``backend.<method>(*args)``; ``answer`` turns its result into the reply
    (default: the result as JSON)."""

    def handler(call: Call) -> Reply:
        _write(call)
        result = _invoke(call, method, args, kwargs)
        return answer(result) if answer else Reply(result)

    handler.__name__ = handler.__qualname__ = method
    handler.__doc__ = f"Serves ``ConsulBackend.{method}`` (a write)."
    return handler


def EMPTY(_result: Any) -> Reply:
    """An empty 200 body, as the agent endpoints answer."""
    return Reply(raw=b"")


def TRUE(_result: Any) -> Reply:
    return Reply(True)


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


def _ttl(status: str) -> Callable[[Call], Reply]:
    return writer(
        "update_ttl",
        param("check_id"),
        lambda call: status,
        query("note"),
        PARTITION,
        AUTHZ,
        answer=EMPTY,
    )


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


agent_service_deregister = writer(
    "deregister_service", param("service_id"), PARTITION, AUTHZ, answer=EMPTY
)
agent_services = reader("agent_services", HEALTH_TABLES, PARTITION, AUTHZ, FILTER)
agent_service = reader("agent_service", HEALTH_TABLES, param("service_id"), PARTITION, AUTHZ)
agent_check_register = writer("register_check", BODY, PARTITION, AUTHZ, answer=EMPTY)
agent_check_deregister = writer(
    "deregister_check", param("check_id"), PARTITION, AUTHZ, answer=EMPTY
)
agent_check_pass = _ttl("passing")
agent_check_warn = _ttl("warning")
agent_check_fail = _ttl("critical")
agent_checks = reader("agent_checks", ("checks",), PARTITION, AUTHZ, FILTER)
agent_self = reader("agent_self", None, AUTHZ)
agent_members = reader("agent_members", None, AUTHZ)


def _text_wanted(call: Call) -> bool:
    """``returnTextPlain``: ``Accept: text/plain``, else ``?format=text``."""
    if str(call.headers.get("Accept", "")).startswith("text/plain"):
        return True
    return call.args.get("format", "") == "text"


def _agent_health(method: str, name: str) -> Callable[[Call], Reply]:
    """``/v1/agent/health/service/{id,name}/:x``: the status code carries the health."""

    def handler(call: Call) -> Reply:
        code, status, body = getattr(call.backend, method)(
            call.params[name], call.partition, call.authz
        )
        if _text_wanted(call):
            return Reply(raw=status.encode(), status=code, content_type="text/plain")
        return Reply(body, status=code)

    handler.__name__ = handler.__qualname__ = method
    handler.__doc__ = f"Serves ``ConsulBackend.{method}``."
    return handler


agent_health_by_id = _agent_health("agent_health_by_id", "service_id")
agent_health_by_name = _agent_health("agent_health_by_name", "name")
agent_connect_authorize = writer("agent_connect_authorize", BODY, PARTITION, AUTHZ)

# ---------------------------------------------------------------- catalog

catalog_register = writer("catalog_register", BODY, PARTITION, AUTHZ, answer=TRUE)
catalog_deregister = writer("catalog_deregister", BODY, PARTITION, AUTHZ, answer=TRUE)
catalog_datacenters = reader("catalog_datacenters", None)
catalog_nodes = reader("catalog_nodes", ("nodes",), PARTITION, AUTHZ, FILTER)
catalog_services = reader("catalog_services", ("services",), PARTITION, AUTHZ, FILTER)
catalog_service = reader(
    "catalog_service",
    ("services", "nodes"),
    param("service"),
    PARTITION,
    lambda call: call.args.getlist("tag"),
    AUTHZ,
    FILTER,
)
catalog_node = reader(
    "catalog_node", ("nodes", "services"), param("node"), PARTITION, AUTHZ, FILTER
)

catalog_node_services = reader(
    "catalog_node_services", ("nodes", "services"), param("node"), PARTITION, AUTHZ, FILTER
)
catalog_gateway_services = reader(
    "catalog_gateway_services", ("config", "services"), param("gateway"), PARTITION, AUTHZ
)
exported_services = reader("exported_services", ("config", "services"), PARTITION, AUTHZ)
imported_services = reader(
    "imported_services", ("config", "services", "peerings", "partitions"), PARTITION, AUTHZ
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


health_checks = reader("health_checks", HEALTH_TABLES, param("service"), PARTITION, AUTHZ, FILTER)
health_state = reader("health_state", HEALTH_TABLES, param("state"), PARTITION, AUTHZ, FILTER)
health_node = reader("health_node", HEALTH_TABLES, param("node"), PARTITION, AUTHZ, FILTER)

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
    if call.flag("acquire") and call.flag("release"):
        raise BadRequest("Conflicting flags: acquire=&release=")
    return _kv_put(call)


def _KEY(call: Call) -> str:
    return call.params.get("key", "")


_kv_put = writer(
    "kv_put",
    _KEY,
    lambda call: call.body,
    PARTITION,
    lambda call: call.int_arg("flags"),
    lambda call: call.int_arg("cas"),
    AUTHZ,
    query("acquire"),
    query("release"),
)
kv_delete = writer(
    "kv_delete",
    _KEY,
    PARTITION,
    lambda call: call.flag("recurse"),
    lambda call: call.int_arg("cas"),
    AUTHZ,
)

# ---------------------------------------------------------------- status

status_leader = reader("status_leader", None)
status_peers = reader("status_peers", None)

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


def _no_entry(call: Call) -> str:
    return f'Config entry not found for "{call.params["kind"]}" / "{call.params["name"]}"'


_NAMESPACE: Arg = lambda call: call.namespace  # noqa: E731
config_get = reader(
    "get_config_entry",
    ("config",),
    KIND,
    param("name"),
    PARTITION,
    _NAMESPACE,
    AUTHZ,
    missing=_no_entry,
)
config_list = reader("list_config_entries", ("config",), KIND, PARTITION, AUTHZ, FILTER)


def config_delete(call: Call) -> Reply:
    _write(call)
    cas = call.int_arg("cas")
    ok = call.backend.config_delete(
        KIND(call), call.params["name"], call.partition, call.namespace, cas, call.authz
    )
    # Consul answers the `deleted` boolean for CAS deletes and {} otherwise.
    return Reply(ok if cas is not None else {})


# ---------------------------------------------------------------- intentions

_SOURCE, _DESTINATION = query("source"), query("destination")
intentions_list = reader("intentions_list", ("config",), PARTITION, AUTHZ, FILTER)
intention_create = writer(
    "intention_create", BODY, PARTITION, AUTHZ, answer=lambda i: Reply({"ID": i})
)
intention_get = reader("intention_get", ("config",), param("id"), AUTHZ)
intention_update = writer("intention_update", param("id"), BODY_OR_EMPTY, AUTHZ, answer=TRUE)
intention_delete = writer("intention_delete", param("id"), AUTHZ, answer=TRUE)
intention_exact_get = reader(
    "intention_exact_get", ("config",), _SOURCE, _DESTINATION, PARTITION, AUTHZ
)
intention_exact_put = writer(
    "intention_exact_put", _SOURCE, _DESTINATION, BODY_OR_EMPTY, PARTITION, AUTHZ, answer=TRUE
)
intention_exact_delete = writer(
    "intention_exact_delete", _SOURCE, _DESTINATION, PARTITION, AUTHZ, answer=TRUE
)
intention_match = reader(
    "intention_match",
    ("config",),
    query("by"),
    lambda call: call.args.getlist("name"),
    PARTITION,
    AUTHZ,
)


def intention_check(call: Call) -> Reply:
    reply = _intention_check(call)
    reply.body = {"Allowed": reply.body}
    return reply


_intention_check = reader("intention_check", ("config",), _SOURCE, _DESTINATION, PARTITION, AUTHZ)

# ---------------------------------------------------------------- ACL

acl_policy_create = writer("policy_upsert", BODY, lambda call: None, AUTHZ)
acl_policy_update = writer("policy_upsert", BODY, param("id"), AUTHZ)
acl_policy_get = reader("policy_get", ("acl",), policy_id=param("id"), authz=AUTHZ)
acl_policy_get_by_name = reader("policy_get", ("acl",), name=param("name"), authz=AUTHZ)
acl_policy_delete = writer("policy_delete", param("id"), AUTHZ)
acl_policies = reader("policy_list", ("acl",), AUTHZ)
acl_token_create = writer("token_upsert", BODY, lambda call: None, AUTHZ)
acl_token_update = writer("token_upsert", BODY, param("id"), AUTHZ)
acl_token_self = reader("token_self", None, lambda call: call.token)
acl_token_get = reader("token_get", ("acl",), param("id"), AUTHZ)
acl_token_clone = writer("token_clone", param("id"), BODY_OR_EMPTY, AUTHZ)
acl_token_delete = writer("token_delete", param("id"), AUTHZ)
acl_tokens = reader("token_list", ("acl",), AUTHZ)

# ACL bootstrap, roles, templated policies, auth methods, binding rules, login (state/acl_auth.py)
_NONE: Arg = lambda call: None  # noqa: E731
acl_bootstrap = writer("acl_bootstrap")
acl_role_create = writer("role_upsert", BODY, _NONE, AUTHZ)
acl_role_update = writer("role_upsert", BODY, param("id"), AUTHZ)
acl_role_get = reader("role_get", ("acl",), role_id=param("id"), authz=AUTHZ)
acl_role_get_by_name = reader("role_get", ("acl",), name=param("name"), authz=AUTHZ)
acl_role_delete = writer("role_delete", param("id"), AUTHZ)
acl_roles = reader("role_list", ("acl",), query("policy"), AUTHZ)
acl_templated_policies = reader("templated_policy_list", None, AUTHZ)
acl_templated_policy = reader("templated_policy_get", None, param("name"), AUTHZ)
acl_templated_policy_preview = writer(
    "templated_policy_preview", param("name"), BODY_OR_EMPTY, AUTHZ
)
# auth methods and binding rules live in a partition (?partition=), as in Consul Enterprise
acl_auth_method_create = writer("auth_method_upsert", BODY, _NONE, PARTITION, AUTHZ)
acl_auth_method_update = writer("auth_method_upsert", BODY, param("name"), PARTITION, AUTHZ)
acl_auth_method_get = reader("auth_method_get", ("acl",), param("name"), PARTITION, AUTHZ)
acl_auth_method_delete = writer("auth_method_delete", param("name"), PARTITION, AUTHZ)
acl_auth_methods = reader("auth_method_list", ("acl",), PARTITION, AUTHZ)
acl_binding_rule_create = writer("binding_rule_upsert", BODY, _NONE, PARTITION, AUTHZ)
acl_binding_rule_update = writer("binding_rule_upsert", BODY, param("id"), PARTITION, AUTHZ)
acl_binding_rule_get = reader("binding_rule_get", ("acl",), param("id"), PARTITION, AUTHZ)
acl_binding_rule_delete = writer("binding_rule_delete", param("id"), PARTITION, AUTHZ)
acl_binding_rules = reader("binding_rule_list", ("acl",), query("authmethod"), PARTITION, AUTHZ)
acl_login = writer("acl_login", BODY, lambda call: call.token, PARTITION)
acl_logout = writer("acl_logout", lambda call: call.token)

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


partition_get = reader(
    "partition_get",
    ("partitions",),
    param("name"),
    AUTHZ,
    missing=lambda call: f'Partition "{call.params["name"]}" not found',
)
partition_list = reader("partition_list", ("partitions",), AUTHZ)
partition_delete = writer("partition_delete", param("name"), AUTHZ, answer=EMPTY)
peering_token = writer(
    "peering_token", BODY, PARTITION, AUTHZ, answer=lambda t: Reply({"PeeringToken": t})
)
peering_establish = writer("peering_establish", BODY, PARTITION, AUTHZ, answer=lambda _r: Reply({}))
peering_get = reader(
    "peering_get",
    ("peerings",),
    param("name"),
    PARTITION,
    AUTHZ,
    missing=lambda call: f'Peering not found for "{call.params["name"]}"',
)
peering_list = reader("peering_list", ("peerings",), PARTITION, AUTHZ)
peering_delete = writer("peering_delete", param("name"), PARTITION, AUTHZ, answer=EMPTY)

# ---------------------------------------------------------------- connect (state/connect.py)

connect_ca_roots = reader("connect_ca_roots", None)
connect_ca_configuration = reader("connect_ca_configuration", None, AUTHZ)
agent_connect_ca_leaf = reader("agent_connect_ca_leaf", None, param("service"), PARTITION, AUTHZ)
discovery_chain = reader(
    "discovery_chain", ("config", "services"), param("service"), PARTITION, AUTHZ
)
catalog_connect = reader(
    "catalog_connect", ("services",), param("service"), PARTITION, AUTHZ, FILTER
)


def health_ingress(call: Call) -> Reply:
    return _read(
        call,
        (*HEALTH_TABLES, "config"),
        lambda: call.backend.health_ingress(
            call.params["service"],
            call.partition,
            call.flag("passing"),
            authz=call.authz,
            filter_expr=call.filter,
        ),
    )


# ---------------------------------------------------------------- prepared queries

_QUERY_TABLES = ("prepared-queries",)
query_create = writer("query_create", BODY, AUTHZ, answer=lambda i: Reply({"ID": i}))
query_update = writer("query_update", param("uuid"), BODY, AUTHZ, answer=EMPTY)
query_delete = writer("query_delete", param("uuid"), AUTHZ, answer=EMPTY)
query_list = reader("query_list", _QUERY_TABLES, AUTHZ)
query_get = reader("query_get", _QUERY_TABLES, param("uuid"), AUTHZ)
query_explain = reader("query_explain", _QUERY_TABLES, param("query"), AUTHZ)
query_execute = reader(
    "query_execute",
    (*_QUERY_TABLES, *HEALTH_TABLES),
    param("query"),
    AUTHZ,
    limit=lambda call: call.int_arg("limit"),
    connect=lambda call: call.flag("connect"),
)

# ---------------------------------------------------------------- sessions, txn

session_create = writer(
    "session_create", BODY_OR_EMPTY, PARTITION, AUTHZ, answer=lambda i: Reply({"ID": i})
)
session_destroy = writer("session_destroy", param("uuid"), PARTITION, AUTHZ)
session_renew = writer("session_renew", param("uuid"), PARTITION, AUTHZ)
session_info = reader("session_info", ("sessions",), param("uuid"), PARTITION, AUTHZ)
session_node = reader("session_node", ("sessions",), param("node"), PARTITION, AUTHZ)
session_list = reader("session_list", ("sessions",), PARTITION, AUTHZ)

#: Consul's ``txn_max_req_len`` default
TXN_MAX_REQ_LEN = 512 * 1024


def txn(call: Call) -> Reply:
    _write(call)
    if len(call.body) > TXN_MAX_REQ_LEN:
        from .state.txn import TxnTooLarge

        raise TxnTooLarge(
            f"Request body(truncated) too large, max size: {TXN_MAX_REQ_LEN} bytes. See"
            " https://developer.hashicorp.com/consul/docs/agent/config/config-files#txn_max_req_len"
        )
    status, body = call.backend.txn(call.json("Failed to parse body"), call.partition, call.authz)
    reply = Reply(body, status=status)
    if status == 200:
        tables = ("kvs", "nodes", "services", "checks", "sessions")
        reply.headers = _meta(call, call.backend.table_index(*tables))
    return reply


# ---------------------------------------------------------------- events, coordinates


def event_fire(call: Call) -> Reply:
    _write(call)
    return Reply(
        call.backend.event_fire(
            call.params["name"],
            call.body,
            call.args.get("node", ""),
            call.args.get("service", ""),
            call.args.get("tag", ""),
            call.authz,
        )
    )


event_list = reader("event_list", ("events",), query("name"), AUTHZ)
coordinate_datacenters = reader("coordinate_datacenters", None)
coordinate_nodes = reader("coordinate_nodes", ("coordinates",), PARTITION, AUTHZ)
coordinate_node = reader(
    "coordinate_node", ("coordinates",), param("node"), PARTITION, AUTHZ, missing=""
)
coordinate_update = writer("coordinate_update", BODY, PARTITION, AUTHZ, answer=TRUE)

# ---------------------------------------------------------------- operator

operator_raft_configuration = reader("raft_configuration", ("autopilot",), AUTHZ)
operator_autopilot_get = reader("autopilot_get", ("autopilot",), AUTHZ)
operator_autopilot_set = writer(
    "autopilot_set",
    lambda call: call.json("Error parsing autopilot config"),
    lambda call: call.int_arg("cas"),
    AUTHZ,
)
operator_autopilot_health = reader("autopilot_health", None, AUTHZ)
operator_autopilot_state = reader("autopilot_state", None, AUTHZ)
operator_keyring_list = reader("keyring_list", None, AUTHZ)
operator_keyring_change = writer("keyring_change", BODY_OR_EMPTY, AUTHZ, answer=EMPTY)
operator_usage = reader("operator_usage", ("services", "nodes"), AUTHZ)

# ---------------------------------------------------------------- snapshot


def snapshot_save(call: Call) -> Reply:
    call.backend.check_dc(call.args.get("dc"))
    data, index = call.backend.snapshot_save(call.authz)
    return Reply(raw=data, headers=_meta(call, index), content_type="application/x-gzip")


def snapshot_restore(call: Call) -> Reply:
    _write(call)
    call.backend.snapshot_restore(call.body, call.authz)
    return Reply(raw=b"")


# ---------------------------------------------------------------- agent operations


def _enable(call: Call) -> bool:
    if "enable" not in call.args:
        raise BadRequest("Missing value for enable")
    raw = call.args.get("enable", "")
    if raw.lower() not in ("true", "false", "1", "0"):
        raise BadRequest(f"Invalid value for enable: {raw!r}")
    return raw.lower() in ("true", "1")


agent_maintenance = writer(
    "agent_maintenance", _enable, query("reason"), PARTITION, AUTHZ, answer=EMPTY
)
agent_service_maintenance = writer(
    "service_maintenance",
    param("service_id"),
    _enable,
    query("reason"),
    PARTITION,
    AUTHZ,
    answer=EMPTY,
)
agent_reload = writer("agent_reload", AUTHZ, answer=EMPTY)
agent_leave = writer("agent_leave", AUTHZ, answer=EMPTY)
agent_force_leave = writer("agent_force_leave", param("node"), AUTHZ, answer=EMPTY)
agent_token = writer("agent_token", param("kind"), BODY_OR_EMPTY, AUTHZ, answer=EMPTY)


def agent_metrics(call: Call) -> Reply:
    if call.args.get("format") == "prometheus":
        text = call.backend.agent_metrics_prometheus(call.authz)
        return Reply(raw=text.encode(), content_type="text/plain; version=0.0.4")
    return Reply(call.backend.agent_metrics(call.authz))


def agent_monitor(call: Call) -> Reply:
    text = call.backend.agent_monitor(call.args.get("loglevel", "info"), call.authz)
    return Reply(raw=text.encode(), content_type="text/plain")


# ---------------------------------------------------------------- sandbox only


def sandbox_reset(call: Call) -> Reply:
    """Not Consul: forget all state (management token required)."""
    call.backend.reset(call.authz)
    return Reply(True)


def encode(reply: Reply) -> bytes:
    if reply.raw is not None:
        return reply.raw
    return json.dumps(reply.body).encode()
