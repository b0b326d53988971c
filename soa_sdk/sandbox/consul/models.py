"""The state of the emulated Consul cluster and :class:`ConsulBackend`, one method per operation.

One backend is one datacenter of one server that is also the only client agent (like
``consul agent -dev``), with Consul Enterprise's tenancy: admin partitions (``default`` always
exists), a namespace field that is always ``default``, cluster peerings as named links between
partitions of this backend. Every write takes the lock, bumps a raft-like index (monotonic,
never reset) and the index of the tables it touched; blocking reads wait on those tables.

Methods take ``authz`` (an :class:`~.acl.Authorizer`); ``None`` means "trusted in-process
caller" (the mesh data plane, tests), which may do anything. Reads filter what the token may
not see, writes refuse with :class:`~.exceptions.PermissionDenied` before changing anything.

Not implemented: namespaces other than ``default``, refused as Consul CE refuses them
(``?ns=``, ``X-Consul-Namespace``, a config entry's or legacy intention's namespace fields;
ACL rules' ``namespace`` blocks grant nothing, see :mod:`.acl`),
sessions and locks (``acquire``/``release``), prepared queries, events, snapshots, txn,
coordinates, the Connect CA (no certificates), roles/auth methods/binding rules,
``near``/``node-meta`` sorting and filters, ``stale``/``consistent`` (always leader reads).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from . import acl as aclmod
from . import bexpr
from . import config_entries as ce
from .checks import MIN_DEREGISTER_AFTER, MIN_INTERVAL, CheckRunner, parse_duration
from .exceptions import (
    ACLDisabled,
    ACLNotFound,
    BadRequest,
    ConsulError,
    FilterError,
    NoPathToDatacenter,
    NotFound,
    PermissionDenied,
    RPCError,
    ValueTooLarge,
)

GLOBAL_MANAGEMENT_ID = "00000000-0000-0000-0000-000000000001"
ANONYMOUS_ID = "00000000-0000-0000-0000-000000000002"
KV_MAX = 512 * 1024
CONSUL_VERSION = "1.17.0"
SIDECAR_PORT_MIN, SIDECAR_PORT_MAX = 21000, 21255
STATUSES = ("passing", "warning", "critical")
_WORST = {"passing": 0, "warning": 1, "critical": 2, "maintenance": 3}


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _hash(doc: Any) -> str:
    raw = json.dumps(doc, sort_keys=True, default=str).encode()
    return base64.b64encode(hashlib.sha256(raw).digest()).decode()


class ConsulBackend:
    """The whole emulated cluster. Thread-safe: every public method takes one ``RLock``.

    ``ConsulBackend(datacenter="dc1", node_name="sandbox", acl_enabled=True,
    initial_management_token=None)``; with ACLs on and no token given a management token is
    generated (read it from :attr:`initial_management_token`).
    """

    def __init__(
        self,
        datacenter: str = "dc1",
        node_name: str = "sandbox",
        acl_enabled: bool = True,
        initial_management_token: str | None = None,
        address: str = "127.0.0.1",
        default_intention_policy: str | None = None,
    ) -> None:
        if default_intention_policy not in (None, "allow", "deny"):
            raise ValueError("default_intention_policy must be 'allow', 'deny' or None")
        self.datacenter = datacenter
        #: ``acl.default_policy``: the emulator always runs default-deny when ACLs are on.
        self.acl_default_policy = "deny"
        #: the agent's ``default_intention_policy`` (None: follow the ACL default policy).
        self.default_intention_policy = default_intention_policy
        self.node_name = node_name
        self.acl_enabled = acl_enabled
        self.address = address
        self.node_id = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{datacenter}.{node_name}"))
        self.initial_management_token = initial_management_token or (
            str(uuid.uuid4()) if acl_enabled else None
        )
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._index = 1
        self._tables: dict[str, int] = {}
        self._subscribers: list[Callable[[int], None]] = []
        self._deferred = 0
        self.runner = CheckRunner(self._check_for_runner, self._runner_report, self._reap)
        self._init_state()

    # ------------------------------------------------------------------ state and index

    def _init_state(self) -> None:
        self._partitions: dict[str, dict] = {}
        self._nodes: dict[tuple[str, str], dict] = {}
        self._services: dict[tuple[str, str, str], dict] = {}
        self._checks: dict[tuple[str, str, str], dict] = {}
        self._kv: dict[tuple[str, str], dict] = {}
        self._config: dict[tuple[str, str, str, str], dict] = {}
        self._peerings: dict[tuple[str, str], dict] = {}
        self._policies: dict[str, dict] = {}
        self._tokens: dict[str, dict] = {}
        self._rules_cache: dict[str, aclmod.Rules] = {}
        idx = self._index
        self._add_partition("default", "Builtin Default Partition", idx)
        self._policies[GLOBAL_MANAGEMENT_ID] = {
            "ID": GLOBAL_MANAGEMENT_ID,
            "Name": "global-management",
            "Description": "Builtin Policy that grants unlimited access",
            "Rules": "",
            "Hash": _hash("global-management"),
            "Datacenters": None,
            "CreateIndex": idx,
            "ModifyIndex": idx,
            "Partition": "default",
            "Namespace": "default",
        }
        self._tokens[ANONYMOUS_ID] = self._token_doc(
            ANONYMOUS_ID, "anonymous", "Anonymous Token", [], idx
        )
        if self.initial_management_token:
            accessor = str(uuid.uuid5(uuid.NAMESPACE_OID, "initial-management"))
            self._tokens[accessor] = self._token_doc(
                accessor,
                self.initial_management_token,
                "Initial Management Token",
                [{"ID": GLOBAL_MANAGEMENT_ID, "Name": "global-management"}],
                idx,
            )

    def _add_partition(self, name: str, description: str, idx: int) -> None:
        self._partitions[name] = {
            "Name": name,
            "Description": description,
            "CreateIndex": idx,
            "ModifyIndex": idx,
        }
        self._nodes[(name, self.node_name)] = {
            "ID": self.node_id,
            "Node": self.node_name,
            "Address": self.address,
            "Datacenter": self.datacenter,
            "TaggedAddresses": {"lan": self.address, "wan": self.address},
            "Meta": {"consul-network-segment": ""},
            "Partition": name,
            "CreateIndex": idx,
            "ModifyIndex": idx,
        }
        self._checks[(name, self.node_name, "serfHealth")] = self._check_doc(
            name,
            self.node_name,
            {"CheckID": "serfHealth", "Name": "Serf Health Status", "Status": "passing"},
            None,
            idx,
            output="Agent alive and reachable",
        )

    @property
    def index(self) -> int:
        """The last raft index: bumped by every successful write, never reset."""
        with self._lock:
            return self._index

    def table_index(self, *tables: str) -> int:
        """The highest index of the given tables (what ``X-Consul-Index`` reports)."""
        with self._lock:
            return max([self._tables.get(t, 1) for t in tables] or [1])

    def _commit(self, *tables: str) -> int:
        self._index += 1
        for table in tables:
            self._tables[table] = self._index
        self._cond.notify_all()
        return self._index

    def _publish(self, index: int) -> None:
        # A write nested in a larger operation (an intention is a config entry write) defers
        # its notification until the outer operation has released the lock.
        if self._lock._is_owned():  # type: ignore[attr-defined]
            self._deferred = max(self._deferred, index)
            return
        for callback in list(self._subscribers):
            try:
                callback(index)
            except Exception:
                pass

    def _flush(self) -> None:
        with self._lock:
            index, self._deferred = self._deferred, 0
        if index:
            self._publish(index)

    def subscribe(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(index)`` after every successful write, outside the lock."""
        with self._lock:
            self._subscribers.append(callback)

    def wait_for(self, tables: Iterable[str], min_index: int, timeout: float) -> int:
        """Block until one of ``tables`` passes ``min_index`` or ``timeout`` seconds pass."""
        tables = tuple(tables)
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.table_index(*tables) <= min_index:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            return self.table_index(*tables)

    def reset(self, authz: aclmod.Authorizer | None = None) -> int:
        """Sandbox only (not Consul): forget everything but the initial management token."""
        self._require(authz, "operator", "write")
        with self._lock:
            for key in list(self._checks):
                self.runner.cancel(key)
            self._init_state()
            idx = self._commit(*self._all_tables())
        self._publish(idx)
        return idx

    @staticmethod
    def _all_tables() -> tuple[str, ...]:
        return ("nodes", "services", "checks", "kvs", "config", "acl", "partitions", "peerings")

    def close(self) -> None:
        """Stop the check runner."""
        self.runner.stop()

    # ------------------------------------------------------------------ request helpers

    def check_dc(self, dc: str | None) -> None:
        """Refuse a datacenter other than ours, with Consul's 500 ``No path to datacenter``."""
        if dc and dc != self.datacenter:
            raise NoPathToDatacenter()

    def check_partition(self, partition: str) -> str:
        partition = partition or "default"
        with self._lock:
            if partition not in self._partitions:
                raise BadRequest(f'Partition "{partition}" does not exist')
        return partition

    # ------------------------------------------------------------------ ACL resolution

    def authorize(self, secret: str | None) -> aclmod.Authorizer:
        """Resolve a request's token into an authorizer (anonymous when it carries none)."""
        if not self.acl_enabled:
            return aclmod.Authorizer(ANONYMOUS_ID, None, management=True)
        with self._lock:
            if not secret:
                token = self._tokens[ANONYMOUS_ID]
            else:
                token = next((t for t in self._tokens.values() if t["SecretID"] == secret), None)
                if token is None:
                    raise ACLNotFound()
            return self._authorizer_for(token)

    def _authorizer_for(self, token: dict) -> aclmod.Authorizer:
        management = any(p["ID"] == GLOBAL_MANAGEMENT_ID for p in token["Policies"])
        parts = [
            self._policy_rules(p["ID"]) for p in token["Policies"] if p["ID"] in self._policies
        ]
        for ident in token.get("ServiceIdentities") or []:
            parts.append(aclmod.service_identity_rules(ident["ServiceName"]))
        for ident in token.get("NodeIdentities") or []:
            parts.append(aclmod.node_identity_rules(ident["NodeName"]))
        return aclmod.Authorizer(
            token["AccessorID"],
            aclmod.merge(parts),
            management=management,
            home_partition=token.get("Partition") or "default",
        )

    def _policy_rules(self, policy_id: str) -> aclmod.Rules:
        if policy_id not in self._rules_cache:
            self._rules_cache[policy_id] = aclmod.parse_rules(self._policies[policy_id]["Rules"])
        return self._rules_cache[policy_id]

    @staticmethod
    def _allowed(
        authz: aclmod.Authorizer | None,
        resource: str,
        level: str,
        name: str = "",
        partition: str = "",
    ) -> bool:
        return authz is None or authz.allowed(resource, level, name, partition or None)

    def _require(
        self,
        authz: aclmod.Authorizer | None,
        resource: str,
        level: str,
        name: str = "",
        partition: str = "",
    ) -> None:
        if not self._allowed(authz, resource, level, name, partition):
            assert authz is not None
            raise PermissionDenied(authz.accessor_id, resource, level, name if name else None)

    def _exports(self, partition: str, service: str) -> tuple[set[str], set[str]]:
        """(partitions, peers) that ``partition`` exports ``service`` to."""
        entry = self._config.get(("exported-services", partition, "default", partition))
        partitions: set[str] = set()
        peers: set[str] = set()
        for svc in (entry or {}).get("Services") or []:
            if svc.get("Name") in (service, "*"):
                for consumer in svc.get("Consumers") or []:
                    if consumer.get("Partition"):
                        partitions.add(consumer["Partition"])
                    if consumer.get("Peer"):
                        peers.add(consumer["Peer"])
        return partitions, peers

    def _can_read_service(self, authz: aclmod.Authorizer | None, name: str, partition: str) -> bool:
        if authz is None or authz.allowed("service", "read", name, partition):
            return True
        home = authz.home_partition
        if partition != home and home in self._exports(partition, name)[0]:
            return authz.allowed("service", "read", name, home)
        return False

    # ------------------------------------------------------------------ documents

    def _node_doc(self, partition: str, node: str) -> dict:
        doc = self._nodes.get((partition, node))
        return copy.deepcopy(doc) if doc else {}

    def _token_doc(
        self,
        accessor: str | None,
        secret: str,
        description: str,
        policies: list,
        idx: int,
        **extra: Any,
    ) -> dict:
        doc = {
            "AccessorID": accessor or str(uuid.uuid4()),
            "SecretID": secret,
            "Description": description,
            "Policies": policies,
            "Local": False,
            "CreateTime": _now_iso(),
            "CreateIndex": idx,
            "ModifyIndex": idx,
            "Partition": "default",
            "Namespace": "default",
        }
        doc.update({k: v for k, v in extra.items() if v})
        doc["Hash"] = _hash({k: doc[k] for k in ("Policies", "Description", "Local")})
        return doc

    @staticmethod
    def _agent_service(svc: dict, with_index: bool = False) -> dict:
        out = {k: copy.deepcopy(v) for k, v in svc.items() if not k.startswith("_")}
        if not with_index:
            out.pop("CreateIndex", None)
            out.pop("ModifyIndex", None)
        return out

    def _check_doc(
        self,
        partition: str,
        node: str,
        raw: dict,
        service: dict | None,
        idx: int,
        output: str = "",
    ) -> dict:
        definition = {
            k: raw[k]
            for k in (
                "HTTP",
                "Header",
                "Method",
                "Body",
                "TLSServerName",
                "TLSSkipVerify",
                "TCP",
                "TCPUseTLS",
                "UDP",
                "GRPC",
                "GRPCUseTLS",
                "OSService",
                "Interval",
                "Timeout",
                "DeregisterCriticalServiceAfter",
            )
            if raw.get(k) not in (None, "")
        }
        if raw.get("TTL"):
            definition["TTL"] = raw["TTL"]
        return {
            "Node": node,
            "CheckID": raw["CheckID"],
            "Name": raw.get("Name") or raw["CheckID"],
            "Status": raw.get("Status") or "critical",
            "Notes": raw.get("Notes", ""),
            "Output": output,
            "ServiceID": service["ID"] if service else "",
            "ServiceName": service["Service"] if service else "",
            "ServiceTags": list(service.get("Tags") or []) if service else [],
            "Type": raw.get("_type", ""),
            "Interval": raw.get("Interval", ""),
            "Timeout": raw.get("Timeout", ""),
            "ExposedPort": 0,
            "Definition": definition,
            "Partition": partition,
            "Namespace": "default",
            "CreateIndex": idx,
            "ModifyIndex": idx,
        }

    @staticmethod
    def _public_check(chk: dict) -> dict:
        return {k: copy.deepcopy(v) for k, v in chk.items() if not k.startswith("_")}

    # ------------------------------------------------------------------ service registration

    def _normalize_upstream(self, up: dict) -> dict:
        out = {
            "DestinationType": up.get("DestinationType") or "service",
            "DestinationName": up.get("DestinationName", ""),
            "Datacenter": up.get("Datacenter", ""),
            "LocalBindPort": int(up.get("LocalBindPort") or 0),
            "MeshGateway": up.get("MeshGateway") or {},
        }
        for key in (
            "DestinationNamespace",
            "DestinationPartition",
            "DestinationPeer",
            "LocalBindAddress",
            "LocalBindSocketPath",
            "Config",
            "CentrallyConfigured",
        ):
            if up.get(key):
                out[key] = up[key]
        if not out["DestinationName"]:
            raise BadRequest("Upstream destination name cannot be empty")
        if not out["LocalBindPort"] and not out.get("LocalBindSocketPath"):
            raise BadRequest(
                f"Upstream {out['DestinationName']} must have a LocalBindPort or "
                "LocalBindSocketPath"
            )
        return out

    def _normalize_proxy(self, proxy: dict | None, kind: str, name: str) -> dict:
        proxy = proxy or {}
        if kind == "connect-proxy" and not proxy.get("DestinationServiceName"):
            raise BadRequest('Proxy.DestinationServiceName must be set for Kind "connect-proxy"')
        out = {
            "DestinationServiceName": proxy.get("DestinationServiceName", ""),
            "DestinationServiceID": proxy.get("DestinationServiceID", ""),
            "LocalServiceAddress": proxy.get("LocalServiceAddress", ""),
            "LocalServicePort": int(proxy.get("LocalServicePort") or 0),
            "Mode": proxy.get("Mode", ""),
            "Config": proxy.get("Config") or {},
            "Upstreams": [self._normalize_upstream(u) for u in proxy.get("Upstreams") or []],
            "MeshGateway": proxy.get("MeshGateway") or {},
            "Expose": proxy.get("Expose") or {},
        }
        if proxy.get("TransparentProxy"):
            out["TransparentProxy"] = proxy["TransparentProxy"]
        return out

    def _check_type(self, raw: dict) -> str:
        if raw.get("Args") or raw.get("ScriptArgs"):
            raise BadRequest(
                "Scripts are disabled on this agent; to enable, configure 'enable_script_checks'"
                " or 'enable_local_script_checks' to true"
            )
        for key, kind in (
            ("TTL", "ttl"),
            ("HTTP", "http"),
            ("TCP", "tcp"),
            ("GRPC", "grpc"),
            ("H2PING", "h2ping"),
            ("UDP", "udp"),
            ("DockerContainerID", "docker"),
            ("OSService", "os_service"),
            ("AliasService", "alias"),
            ("AliasNode", "alias"),
        ):
            if raw.get(key):
                return kind
        raise BadRequest("Invalid check: TTL must be > 0 for TTL checks")

    def _prepare_check(self, raw: dict, default_id: str, default_name: str) -> dict:
        raw = dict(raw)
        raw["CheckID"] = raw.get("CheckID") or raw.get("ID") or default_id
        raw["Name"] = raw.get("Name") or default_name
        raw["_type"] = self._check_type(raw)
        if raw.get("Status") and raw["Status"] not in STATUSES:
            raise BadRequest(f"Invalid check status: {raw['Status']!r}")
        try:
            raw["_interval"] = max(parse_duration(raw.get("Interval")), MIN_INTERVAL)
            raw["_timeout"] = parse_duration(raw.get("Timeout")) or None
            raw["_ttl"] = parse_duration(raw.get("TTL"))
            dereg = parse_duration(raw.get("DeregisterCriticalServiceAfter"))
        except ValueError as exc:
            raise BadRequest(str(exc)) from exc
        raw["_deregister_after"] = max(dereg, MIN_DEREGISTER_AFTER) if dereg else 0.0
        if raw["_type"] in ("http", "tcp") and not raw.get("Interval"):
            raise BadRequest(
                f"Invalid check: Interval must be > 0 for {raw['_type'].upper()} checks"
            )
        return raw

    def _store_check(
        self, partition: str, node: str, raw: dict, service: dict | None, idx: int
    ) -> None:
        key = (partition, node, raw["CheckID"])
        old = self._checks.get(key)
        doc = self._check_doc(partition, node, raw, service, idx)
        if old is not None:
            doc["CreateIndex"] = old["CreateIndex"]
        for internal in ("_type", "_interval", "_timeout", "_ttl", "_deregister_after"):
            doc[internal] = raw.get(internal)
        doc["_critical_since"] = time.monotonic() if doc["Status"] == "critical" else None
        self._checks[key] = doc
        if doc["_type"] in ("http", "tcp"):
            self.runner.schedule(key, 0.0)
        elif doc["_type"] == "ttl":
            doc["_ttl_deadline"] = time.monotonic() + doc["_ttl"]
            self.runner.schedule(key, doc["_ttl"])

    def _service_doc(self, raw: dict, partition: str) -> dict:
        name = raw.get("Name") or raw.get("Service") or ""
        if not name:
            raise BadRequest("Missing service name")
        kind = raw.get("Kind", "") or ""
        if kind not in (
            "",
            "connect-proxy",
            "mesh-gateway",
            "terminating-gateway",
            "ingress-gateway",
            "api-gateway",
        ):
            raise BadRequest(f"Invalid service kind: {kind!r}")
        weights = raw.get("Weights") or {"Passing": 1, "Warning": 1}
        doc: dict[str, Any] = {
            "ID": raw.get("ID") or name,
            "Service": name,
            "Tags": list(raw.get("Tags") or []),
            "Meta": dict(raw.get("Meta") or {}),
            "Port": int(raw.get("Port") or 0),
            "Address": raw.get("Address") or "",
            "TaggedAddresses": raw.get("TaggedAddresses") or {},
            "Weights": {
                "Passing": int(weights.get("Passing", 1)),
                "Warning": int(weights.get("Warning", 1)),
            },
            "EnableTagOverride": bool(raw.get("EnableTagOverride", False)),
            "Datacenter": self.datacenter,
            "Partition": partition,
            "Namespace": "default",
        }
        if kind:
            doc["Kind"] = kind
        if kind in (
            "connect-proxy",
            "mesh-gateway",
            "terminating-gateway",
            "ingress-gateway",
            "api-gateway",
        ) or raw.get("Proxy"):
            doc["Proxy"] = self._normalize_proxy(raw.get("Proxy"), kind, name)
        if (raw.get("Connect") or {}).get("Native"):
            doc["Connect"] = {"Native": True}
        if not doc["TaggedAddresses"]:
            del doc["TaggedAddresses"]
        return doc

    def _sidecar_port(self, partition: str, node: str) -> int:
        used = {
            s["Port"] for (p, n, _), s in self._services.items() if p == partition and n == node
        }
        for port in range(SIDECAR_PORT_MIN, SIDECAR_PORT_MAX + 1):
            if port not in used:
                return port
        raise BadRequest("No sidecar proxy port available in range 21000-21255")

    def register_service(
        self,
        raw: dict,
        partition: str = "default",
        authz: aclmod.Authorizer | None = None,
        replace_existing_checks: bool = False,
    ) -> dict:
        """``PUT /v1/agent/service/register``: a service (and sidecar, checks) on the agent.

        Not implemented: ``replace-existing-checks`` semantics beyond dropping the old checks,
        ``SocketPath``, ``Connect.SidecarService.Checks`` defaults (Consul adds a TCP and an
        alias check to every sidecar; we add none so a sidecar without a listener stays
        healthy), ``Locality``.
        """
        partition = self.check_partition(partition)
        doc = self._service_doc(raw, partition)
        self._require(authz, "service", "write", doc["Service"], partition)
        if doc.get("Kind") == "connect-proxy":
            self._require(
                authz, "service", "write", doc["Proxy"]["DestinationServiceName"], partition
            )
        checks = []
        single = [raw["Check"]] if raw.get("Check") else []
        many = list(raw.get("Checks") or [])
        all_checks = single + many
        for i, chk in enumerate(all_checks):
            suffix = f":{i + 1}" if len(all_checks) > 1 else ""
            checks.append(
                self._prepare_check(
                    chk, f"service:{doc['ID']}{suffix}", f"Service '{doc['Service']}' check"
                )
            )
        sidecar_raw = (raw.get("Connect") or {}).get("SidecarService")
        node = self.node_name
        with self._lock:
            sidecar = None
            sidecar_checks = []
            if sidecar_raw is not None:
                sraw = dict(sidecar_raw)
                sraw.setdefault("Name", f"{doc['Service']}-sidecar-proxy")
                sraw.setdefault("ID", f"{doc['ID']}-sidecar-proxy")
                sraw["Kind"] = "connect-proxy"
                sraw.setdefault("Tags", doc["Tags"])
                sraw.setdefault("Meta", doc["Meta"])
                sraw.setdefault("Address", doc["Address"])
                proxy = dict(sraw.get("Proxy") or {})
                proxy["DestinationServiceName"] = doc["Service"]
                proxy["DestinationServiceID"] = doc["ID"]
                proxy.setdefault("LocalServiceAddress", "127.0.0.1")
                proxy.setdefault("LocalServicePort", doc["Port"])
                sraw["Proxy"] = proxy
                existing = self._services.get((partition, node, sraw["ID"]))
                if not sraw.get("Port"):
                    sraw["Port"] = (
                        existing["Port"] if existing else self._sidecar_port(partition, node)
                    )
                sidecar = self._service_doc(sraw, partition)
                for i, chk in enumerate(sraw.get("Checks") or []):
                    sidecar_checks.append(
                        self._prepare_check(
                            chk,
                            f"service:{sidecar['ID']}:{i + 1}",
                            f"Service '{sidecar['Service']}' check",
                        )
                    )
            idx = self._index + 1
            for svc, svc_checks in ((doc, checks), (sidecar, sidecar_checks)):
                if svc is None:
                    continue
                key = (partition, node, svc["ID"])
                old = self._services.get(key)
                svc["CreateIndex"] = old["CreateIndex"] if old else idx
                svc["ModifyIndex"] = idx
                self._services[key] = svc
                if replace_existing_checks:
                    for ckey in [
                        k
                        for k, c in self._checks.items()
                        if k[:2] == (partition, node) and c["ServiceID"] == svc["ID"]
                    ]:
                        if ckey[2] not in {c["CheckID"] for c in svc_checks}:
                            self.runner.cancel(ckey)
                            del self._checks[ckey]
                for chk in svc_checks:
                    self._store_check(partition, node, chk, svc, idx)
            idx = self._commit("services", "checks")
        self._publish(idx)
        return doc

    def deregister_service(
        self, service_id: str, partition: str = "default", authz: aclmod.Authorizer | None = None
    ) -> None:
        """``PUT /v1/agent/service/deregister/:id``; also removes its sidecar and checks."""
        partition = self.check_partition(partition)
        with self._lock:
            key = (partition, self.node_name, service_id)
            svc = self._services.get(key)
            if svc is None:
                raise NotFound(
                    f'Unknown service ID "{service_id}". Ensure that the service ID is passed, '
                    "not the service name."
                )
            self._require(authz, "service", "write", svc["Service"], partition)
            self._drop_service(key)
            sidecar_key = (partition, self.node_name, f"{service_id}-sidecar-proxy")
            if sidecar_key in self._services:
                self._drop_service(sidecar_key)
            idx = self._commit("services", "checks")
        self._publish(idx)

    def _drop_service(self, key: tuple[str, str, str]) -> None:
        del self._services[key]
        for ckey in [
            k for k, c in self._checks.items() if k[:2] == key[:2] and c["ServiceID"] == key[2]
        ]:
            self.runner.cancel(ckey)
            del self._checks[ckey]

    def agent_services(
        self,
        partition: str = "default",
        authz: aclmod.Authorizer | None = None,
        filter_expr: str | None = None,
    ) -> dict[str, dict]:
        """``GET /v1/agent/services``: the agent's services by ID (readable ones only)."""
        pred = _compile(filter_expr)
        with self._lock:
            out = {}
            for (p, n, sid), svc in sorted(self._services.items()):
                if p != partition or n != self.node_name:
                    continue
                if not self._can_read_service(authz, svc["Service"], p):
                    continue
                doc = self._agent_service(svc)
                if pred is None or pred(doc):
                    out[sid] = doc
            return out

    def agent_service(
        self, service_id: str, partition: str = "default", authz: aclmod.Authorizer | None = None
    ) -> dict:
        """``GET /v1/agent/service/:id`` with ``ContentHash``."""
        with self._lock:
            svc = self._services.get((partition, self.node_name, service_id))
            if svc is None:
                raise NotFound(f"unknown service ID: {service_id}")
            self._require(authz, "service", "read", svc["Service"], partition)
            doc = self._agent_service(svc)
            doc["ContentHash"] = _hash(doc)[:16]
            return doc

    # ------------------------------------------------------------------ agent checks

    def register_check(
        self, raw: dict, partition: str = "default", authz: aclmod.Authorizer | None = None
    ) -> None:
        """``PUT /v1/agent/check/register``: a check on the agent, optionally for a service."""
        partition = self.check_partition(partition)
        if not raw.get("Name"):
            raise BadRequest("Missing check name")
        chk = self._prepare_check(raw, raw["Name"], raw["Name"])
        with self._lock:
            svc = None
            if raw.get("ServiceID"):
                svc = self._services.get((partition, self.node_name, raw["ServiceID"]))
                if svc is None:
                    raise NotFound(f'ServiceID "{raw["ServiceID"]}" does not exist')
                self._require(authz, "service", "write", svc["Service"], partition)
            else:
                self._require(authz, "node", "write", self.node_name, partition)
            self._store_check(partition, self.node_name, chk, svc, self._index + 1)
            idx = self._commit("checks")
        self._publish(idx)

    def deregister_check(
        self, check_id: str, partition: str = "default", authz: aclmod.Authorizer | None = None
    ) -> None:
        """``PUT /v1/agent/check/deregister/:id``."""
        with self._lock:
            key = (partition, self.node_name, check_id)
            chk = self._checks.get(key)
            if chk is None:
                raise NotFound(
                    f'Unknown check ID "{check_id}". Ensure that the check ID is passed, not the '
                    "check name."
                )
            self._require_check_write(authz, chk, partition)
            self.runner.cancel(key)
            del self._checks[key]
            idx = self._commit("checks")
        self._publish(idx)

    def _require_check_write(
        self, authz: aclmod.Authorizer | None, chk: dict, partition: str
    ) -> None:
        if chk["ServiceName"]:
            self._require(authz, "service", "write", chk["ServiceName"], partition)
        else:
            self._require(authz, "node", "write", chk["Node"], partition)

    def update_ttl(
        self,
        check_id: str,
        status: str,
        output: str = "",
        partition: str = "default",
        authz: aclmod.Authorizer | None = None,
    ) -> None:
        """``PUT /v1/agent/check/{pass,warn,fail}/:id`` and ``/update/:id`` of a TTL check."""
        if status not in STATUSES:
            raise BadRequest(f'Invalid check status: "{status}"')
        with self._lock:
            key = (partition, self.node_name, check_id)
            chk = self._checks.get(key)
            if chk is None:
                raise NotFound(
                    f'Unknown check ID "{check_id}". Ensure that the check ID is passed, not the '
                    "check name."
                )
            self._require_check_write(authz, chk, partition)
            if chk["_type"] != "ttl":
                raise RPCError(f'CheckID "{check_id}" does not have associated TTL')
            chk["_ttl_deadline"] = time.monotonic() + chk["_ttl"]
            self.runner.schedule(key, chk["_ttl"])
            changed = self._set_status(chk, status, output)
            idx = self._commit("checks") if changed else None
        if idx:
            self._publish(idx)

    def _set_status(self, chk: dict, status: str, output: str) -> bool:
        changed = chk["Status"] != status or chk["Output"] != output
        if chk["Status"] != status:
            chk["_critical_since"] = time.monotonic() if status == "critical" else None
        chk["Status"] = status
        chk["Output"] = output
        if changed:
            chk["ModifyIndex"] = self._index + 1
        return changed

    def _check_for_runner(self, key: Any) -> dict | None:
        with self._lock:
            chk = self._checks.get(key)
            if chk is None:
                return None
            out = dict(chk["Definition"])
            for internal in ("_type", "_interval", "_timeout", "_ttl_deadline"):
                out[internal] = chk.get(internal)
            return out

    def _runner_report(self, key: Any, status: str, output: str) -> None:
        with self._lock:
            chk = self._checks.get(key)
            if chk is None:
                return
            if chk["_type"] == "ttl" and time.monotonic() < chk.get("_ttl_deadline", 0):
                return  # refreshed meanwhile
            status_changed = chk["Status"] != status
            if not self._set_status(chk, status, output):
                return
            # Like the agent's anti-entropy, only a status change is a catalog write at once.
            idx = self._commit("checks") if status_changed else None
        if idx:
            self._publish(idx)

    def _reap(self) -> None:
        now = time.monotonic()
        with self._lock:
            doomed = {
                (p, n, c["ServiceID"])
                for (p, n, _), c in self._checks.items()
                if c["ServiceID"]
                and c.get("_deregister_after")
                and c.get("_critical_since") is not None
                and now - c["_critical_since"] > c["_deregister_after"]
            }
            for key in doomed:
                if key in self._services:
                    self._drop_service(key)
            idx = self._commit("services", "checks") if doomed else None
        if idx:
            self._publish(idx)

    def agent_checks(
        self,
        partition: str = "default",
        authz: aclmod.Authorizer | None = None,
        filter_expr: str | None = None,
    ) -> dict[str, dict]:
        """``GET /v1/agent/checks``: the agent's checks by CheckID."""
        pred = _compile(filter_expr)
        with self._lock:
            out = {}
            for (p, n, cid), chk in sorted(self._checks.items()):
                if p != partition or n != self.node_name:
                    continue
                if not self._check_visible(authz, chk, p):
                    continue
                doc = self._public_check(chk)
                doc.pop("CreateIndex")
                doc.pop("ModifyIndex")
                if pred is None or pred(doc):
                    out[cid] = doc
            return out

    def _check_visible(self, authz: aclmod.Authorizer | None, chk: dict, partition: str) -> bool:
        if chk["ServiceName"]:
            return self._can_read_service(authz, chk["ServiceName"], partition)
        return self._allowed(authz, "node", "read", chk["Node"], partition)

    # ------------------------------------------------------------------ agent info

    def agent_self(self, authz: aclmod.Authorizer | None = None) -> dict:
        """``GET /v1/agent/self`` (needs ``agent:read``): the parts clients read."""
        self._require(authz, "agent", "read", self.node_name)
        return {
            "Config": {
                "Datacenter": self.datacenter,
                "PrimaryDatacenter": self.datacenter,
                "NodeName": self.node_name,
                "NodeID": self.node_id,
                "Revision": "sandbox",
                "Server": True,
                "Version": CONSUL_VERSION,
                "BuildDate": "2023-10-31T00:00:00Z",
            },
            "DebugConfig": {"ACLsEnabled": self.acl_enabled, "ConnectEnabled": True},
            "Coord": None,
            "Member": self._member(),
            "Stats": {"consul": {"leader": "true", "known_datacenters": "1"}},
            "Meta": {"consul-network-segment": ""},
            "xDS": {"SupportedProxies": {"envoy": []}, "Port": 0},
        }

    def _member(self) -> dict:
        return {
            "Name": self.node_name,
            "Addr": self.address,
            "Port": 8301,
            "Tags": {
                "role": "consul",
                "dc": self.datacenter,
                "id": self.node_id,
                "build": f"{CONSUL_VERSION}:sandbox",
                "port": "8300",
                "vsn": "2",
            },
            "Status": 1,
            "ProtocolMin": 1,
            "ProtocolMax": 5,
            "ProtocolCur": 2,
            "DelegateMin": 2,
            "DelegateMax": 5,
            "DelegateCur": 4,
        }

    def agent_members(self, authz: aclmod.Authorizer | None = None) -> list[dict]:
        """``GET /v1/agent/members``: this one server (filtered by ``node:read``)."""
        if not self._allowed(authz, "node", "read", self.node_name):
            return []
        return [self._member()]

    # ------------------------------------------------------------------ catalog

    def catalog_register(
        self, raw: dict, partition: str = "default", authz: aclmod.Authorizer | None = None
    ) -> None:
        """``PUT /v1/catalog/register``: a node, optionally with a service and checks.

        Catalog-registered checks are never run (as in Consul: only agents run checks).
        """
        partition = self.check_partition(raw.get("Partition") or partition)
        node = raw.get("Node") or ""
        if not node:
            raise BadRequest("Must provide node")
        if not raw.get("Address") and not raw.get("SkipNodeUpdate"):
            raise BadRequest("Must provide address if SkipNodeUpdate is not set")
        svc = self._service_doc(raw["Service"], partition) if raw.get("Service") else None
        self._require(authz, "node", "write", node, partition)
        if svc:
            self._require(authz, "service", "write", svc["Service"], partition)
        checks_raw = ([raw["Check"]] if raw.get("Check") else []) + list(raw.get("Checks") or [])
        with self._lock:
            idx = self._index + 1
            nkey = (partition, node)
            old = self._nodes.get(nkey)
            if not raw.get("SkipNodeUpdate") or old is None:
                self._nodes[nkey] = {
                    "ID": raw.get("ID") or (old or {}).get("ID") or str(uuid.uuid4()),
                    "Node": node,
                    "Address": raw.get("Address") or (old or {}).get("Address", ""),
                    "Datacenter": self.datacenter,
                    "TaggedAddresses": raw.get("TaggedAddresses") or {},
                    "Meta": raw.get("NodeMeta") or {},
                    "Partition": partition,
                    "CreateIndex": old["CreateIndex"] if old else idx,
                    "ModifyIndex": idx,
                }
            if svc:
                skey = (partition, node, svc["ID"])
                prev = self._services.get(skey)
                svc["CreateIndex"] = prev["CreateIndex"] if prev else idx
                svc["ModifyIndex"] = idx
                self._services[skey] = svc
            for chk in checks_raw:
                chk = dict(chk)
                chk["CheckID"] = chk.get("CheckID") or chk.get("Name") or ""
                if not chk["CheckID"]:
                    raise BadRequest("Missing check ID")
                owner = None
                if chk.get("ServiceID"):
                    owner = self._services.get((partition, node, chk["ServiceID"]))
                chk["_type"] = ""
                doc = self._check_doc(
                    partition, node, chk, owner, idx, output=chk.get("Output", "")
                )
                doc["_type"] = ""
                self._checks[(partition, node, chk["CheckID"])] = doc
            idx = self._commit("nodes", "services", "checks")
        self._publish(idx)

    def catalog_deregister(
        self, raw: dict, partition: str = "default", authz: aclmod.Authorizer | None = None
    ) -> None:
        """``PUT /v1/catalog/deregister``: a node, or one service or check of it."""
        partition = self.check_partition(raw.get("Partition") or partition)
        node = raw.get("Node") or ""
        if not node:
            raise BadRequest("Must provide node")
        self._require(authz, "node", "write", node, partition)
        with self._lock:
            if raw.get("ServiceID"):
                key = (partition, node, raw["ServiceID"])
                if key in self._services:
                    self._require(
                        authz, "service", "write", self._services[key]["Service"], partition
                    )
                    self._drop_service(key)
            elif raw.get("CheckID"):
                self._checks.pop((partition, node, raw["CheckID"]), None)
            else:
                self._nodes.pop((partition, node), None)
                for key in [k for k in self._services if k[:2] == (partition, node)]:
                    self._drop_service(key)
                for key in [k for k in self._checks if k[:2] == (partition, node)]:
                    self.runner.cancel(key)
                    del self._checks[key]
            idx = self._commit("nodes", "services", "checks")
        self._publish(idx)

    def catalog_datacenters(self) -> list[str]:
        """``GET /v1/catalog/datacenters``."""
        return [self.datacenter]

    def catalog_nodes(
        self,
        partition: str = "default",
        authz: aclmod.Authorizer | None = None,
        filter_expr: str | None = None,
    ) -> list[dict]:
        """``GET /v1/catalog/nodes``."""
        pred = _compile(filter_expr)
        with self._lock:
            nodes = [
                copy.deepcopy(n)
                for (p, name), n in sorted(self._nodes.items())
                if p == partition and self._allowed(authz, "node", "read", name, p)
            ]
        return [n for n in nodes if pred is None or pred(n)]

    def catalog_services(
        self,
        partition: str = "default",
        authz: aclmod.Authorizer | None = None,
        filter_expr: str | None = None,
    ) -> dict[str, list[str]]:
        """``GET /v1/catalog/services``: service name -> its tags (union over instances)."""
        pred = _compile(filter_expr)
        out: dict[str, set[str]] = {}
        with self._lock:
            for (p, _n, _sid), svc in self._services.items():
                if p != partition or not self._can_read_service(authz, svc["Service"], p):
                    continue
                if pred is not None and not pred(self._catalog_service_doc(p, _n, svc)):
                    continue
                out.setdefault(svc["Service"], set()).update(svc["Tags"])
        return {name: sorted(tags) for name, tags in sorted(out.items())}

    def _catalog_service_doc(self, partition: str, node: str, svc: dict) -> dict:
        n = self._nodes.get((partition, node), {})
        doc = {
            "ID": n.get("ID", ""),
            "Node": node,
            "Address": n.get("Address", ""),
            "Datacenter": self.datacenter,
            "TaggedAddresses": n.get("TaggedAddresses", {}),
            "NodeMeta": n.get("Meta", {}),
            "ServiceKind": svc.get("Kind", ""),
            "ServiceID": svc["ID"],
            "ServiceName": svc["Service"],
            "ServiceTags": list(svc["Tags"]),
            "ServiceAddress": svc["Address"],
            "ServiceTaggedAddresses": svc.get("TaggedAddresses", {}),
            "ServiceWeights": dict(svc["Weights"]),
            "ServiceMeta": dict(svc["Meta"]),
            "ServicePort": svc["Port"],
            "ServiceEnableTagOverride": svc["EnableTagOverride"],
            "ServiceProxy": copy.deepcopy(svc.get("Proxy") or {"MeshGateway": {}, "Expose": {}}),
            "ServiceConnect": copy.deepcopy(svc.get("Connect") or {}),
            "CreateIndex": svc["CreateIndex"],
            "ModifyIndex": svc["ModifyIndex"],
            "Partition": partition,
            "Namespace": "default",
        }
        return doc

    def catalog_service(
        self,
        name: str,
        partition: str = "default",
        tags: list[str] | None = None,
        authz: aclmod.Authorizer | None = None,
        filter_expr: str | None = None,
    ) -> list[dict]:
        """``GET /v1/catalog/service/:name`` (``tag`` may repeat: all must match)."""
        pred = _compile(filter_expr)
        with self._lock:
            if not self._can_read_service(authz, name, partition):
                return []
            docs = [
                self._catalog_service_doc(p, n, svc)
                for (p, n, _sid), svc in sorted(self._services.items())
                if p == partition
                and svc["Service"] == name
                and all(t in svc["Tags"] for t in tags or [])
            ]
        return [d for d in docs if pred is None or pred(d)]

    def catalog_node(
        self, node: str, partition: str = "default", authz: aclmod.Authorizer | None = None
    ) -> dict | None:
        """``GET /v1/catalog/node/:node``: the node and its services (``None`` if unknown)."""
        with self._lock:
            if (partition, node) not in self._nodes or not self._allowed(
                authz, "node", "read", node, partition
            ):
                return None
            services = {
                sid: self._agent_service(svc, with_index=True)
                for (p, n, sid), svc in sorted(self._services.items())
                if p == partition and n == node and self._can_read_service(authz, svc["Service"], p)
            }
            return {"Node": self._node_doc(partition, node), "Services": services}

    # ------------------------------------------------------------------ health

    def _entries(
        self,
        partition: str,
        match: Callable[[dict], bool],
        passing: bool,
        tags: list[str] | None,
    ) -> list[dict]:
        out = []
        for (p, n, sid), svc in sorted(self._services.items()):
            if p != partition or not match(svc):
                continue
            if tags and not all(t in svc["Tags"] for t in tags):
                continue
            checks = [
                self._public_check(c)
                for (cp, cn, _cid), c in sorted(self._checks.items())
                if cp == p and cn == n and c["ServiceID"] in ("", sid)
            ]
            if passing and any(c["Status"] != "passing" for c in checks):
                continue
            out.append(
                {
                    "Node": self._node_doc(p, n),
                    "Service": self._agent_service(svc, with_index=True),
                    "Checks": checks,
                }
            )
        return out

    def health_service(
        self,
        name: str,
        partition: str = "default",
        passing: bool = False,
        peer: str | None = None,
        *,
        tags: list[str] | None = None,
        filter_expr: str | None = None,
        connect: bool = False,
        consumer_partition: str | None = None,
        authz: aclmod.Authorizer | None = None,
    ) -> list[dict]:
        """``GET /v1/health/service/:name`` (and ``/v1/health/connect/:name`` with ``connect``).

        ``peer``: instances imported from that peer of ``partition`` — the services its remote
        partition exports to us, marked with ``PeerName``. ``consumer_partition``: as seen from
        another partition, i.e. only when ``partition`` exports ``name`` to it (a token's home
        partition plays this role over HTTP).
        """
        pred = _compile(filter_expr)
        if connect:

            def match(svc: dict) -> bool:
                return (
                    svc.get("Kind") == "connect-proxy"
                    and svc["Proxy"]["DestinationServiceName"] == name
                ) or (svc["Service"] == name and bool((svc.get("Connect") or {}).get("Native")))

        else:

            def match(svc: dict) -> bool:
                return svc["Service"] == name

        with self._lock:
            if peer:
                peering = self._peerings.get((partition, peer))
                if not peering or not peering.get("_remote_partition"):
                    return []
                remote = peering["_remote_partition"]
                if peering["_remote_peer_name"] not in self._exports(remote, name)[1]:
                    return []
                if not self._allowed(authz, "service", "read", name, partition):
                    return []
                entries = self._entries(remote, match, passing, tags)
                for entry in entries:
                    for part in (entry["Node"], entry["Service"]):
                        part["PeerName"] = peer
                        part["Partition"] = partition
                    for chk in entry["Checks"]:
                        chk["PeerName"] = peer
                        chk["Partition"] = partition
            else:
                if (
                    consumer_partition
                    and consumer_partition != partition
                    and consumer_partition not in self._exports(partition, name)[0]
                ):
                    return []
                if not self._can_read_service(authz, name, partition):
                    return []
                entries = self._entries(partition, match, passing, tags)
        return [e for e in entries if pred is None or pred(e)]

    def health_checks(
        self,
        service: str,
        partition: str = "default",
        authz: aclmod.Authorizer | None = None,
        filter_expr: str | None = None,
    ) -> list[dict]:
        """``GET /v1/health/checks/:service``: the checks of every instance of a service."""
        pred = _compile(filter_expr)
        with self._lock:
            if not self._can_read_service(authz, service, partition):
                return []
            out = [
                self._public_check(c)
                for (p, _n, _cid), c in sorted(self._checks.items())
                if p == partition and c["ServiceName"] == service
            ]
        return [c for c in out if pred is None or pred(c)]

    def health_state(
        self,
        state: str,
        partition: str = "default",
        authz: aclmod.Authorizer | None = None,
        filter_expr: str | None = None,
    ) -> list[dict]:
        """``GET /v1/health/state/:state`` (``any``, ``passing``, ``warning``, ``critical``)."""
        if state not in ("any", *STATUSES):
            raise BadRequest("Invalid check state")
        pred = _compile(filter_expr)
        with self._lock:
            out = [
                self._public_check(c)
                for (p, _n, _cid), c in sorted(self._checks.items())
                if p == partition
                and (state == "any" or c["Status"] == state)
                and self._check_visible(authz, c, p)
            ]
        return [c for c in out if pred is None or pred(c)]

    def health_node(
        self,
        node: str,
        partition: str = "default",
        authz: aclmod.Authorizer | None = None,
        filter_expr: str | None = None,
    ) -> list[dict]:
        """``GET /v1/health/node/:node``."""
        pred = _compile(filter_expr)
        with self._lock:
            out = [
                self._public_check(c)
                for (p, n, _cid), c in sorted(self._checks.items())
                if p == partition and n == node and self._check_visible(authz, c, p)
            ]
        return [c for c in out if pred is None or pred(c)]

    # ------------------------------------------------------------------ KV

    def _kv_doc(self, partition: str, entry: dict) -> dict:
        value = entry["Value"]
        return {
            "LockIndex": entry["LockIndex"],
            "Key": entry["Key"],
            "Flags": entry["Flags"],
            "Value": base64.b64encode(value).decode() if value is not None else None,
            "CreateIndex": entry["CreateIndex"],
            "ModifyIndex": entry["ModifyIndex"],
            "Partition": partition,
            "Namespace": "default",
        }

    def kv_get(
        self,
        key: str,
        partition: str = "default",
        recurse: bool = False,
        authz: aclmod.Authorizer | None = None,
    ) -> list[dict]:
        """``GET /v1/kv/:key`` (``recurse`` for every key under the prefix); [] if none."""
        with self._lock:
            if recurse:
                return [
                    self._kv_doc(p, e)
                    for (p, k), e in sorted(self._kv.items())
                    if p == partition
                    and k.startswith(key)
                    and self._allowed(authz, "key", "read", k, p)
                ]
            self._require(authz, "key", "read", key, partition)
            entry = self._kv.get((partition, key))
            return [self._kv_doc(partition, entry)] if entry else []

    def kv_raw(
        self, key: str, partition: str = "default", authz: aclmod.Authorizer | None = None
    ) -> bytes | None:
        """The raw value of one key (``?raw``)."""
        with self._lock:
            self._require(authz, "key", "read", key, partition)
            entry = self._kv.get((partition, key))
            return (entry["Value"] or b"") if entry else None

    def kv_keys(
        self,
        prefix: str,
        partition: str = "default",
        separator: str = "",
        authz: aclmod.Authorizer | None = None,
    ) -> list[str]:
        """``GET /v1/kv/:prefix?keys&separator=``: key names, folded at the separator."""
        self._require(authz, "key", "list", prefix, partition)
        with self._lock:
            out: list[str] = []
            for p, k in sorted(self._kv):
                if p != partition or not k.startswith(prefix):
                    continue
                if not self._allowed(authz, "key", "read", k, p):
                    continue
                if separator:
                    cut = k.find(separator, len(prefix))
                    if cut != -1:
                        k = k[: cut + len(separator)]
                if not out or out[-1] != k:
                    out.append(k)
            return out

    def kv_put(
        self,
        key: str,
        value: bytes,
        partition: str = "default",
        flags: int | None = None,
        cas: int | None = None,
        authz: aclmod.Authorizer | None = None,
    ) -> bool:
        """``PUT /v1/kv/:key``: ``True``, or ``False`` when ``cas`` does not match."""
        if not key:
            raise BadRequest("Missing key name")
        if len(value) > KV_MAX:
            raise ValueTooLarge(KV_MAX)
        partition = self.check_partition(partition)
        self._require(authz, "key", "write", key, partition)
        with self._lock:
            old = self._kv.get((partition, key))
            if cas is not None and (old["ModifyIndex"] if old else 0) != cas:
                return False
            idx = self._index + 1
            self._kv[(partition, key)] = {
                "Key": key,
                "Value": value if value else None,
                "Flags": flags if flags is not None else (old["Flags"] if old else 0),
                "LockIndex": old["LockIndex"] if old else 0,
                "CreateIndex": old["CreateIndex"] if old else idx,
                "ModifyIndex": idx,
            }
            idx = self._commit("kvs")
        self._publish(idx)
        return True

    def kv_delete(
        self,
        key: str,
        partition: str = "default",
        recurse: bool = False,
        cas: int | None = None,
        authz: aclmod.Authorizer | None = None,
    ) -> bool:
        """``DELETE /v1/kv/:key``: ``False`` when ``cas`` does not match."""
        self._require(authz, "key", "write", key, partition)
        with self._lock:
            if recurse:
                doomed = [k for k in self._kv if k[0] == partition and k[1].startswith(key)]
                for k in doomed:
                    self._require(authz, "key", "write", k[1], partition)
            else:
                old = self._kv.get((partition, key))
                if cas is not None and (old is None or old["ModifyIndex"] != cas):
                    return False
                doomed = [(partition, key)] if old else []
            for k in doomed:
                del self._kv[k]
            idx = self._commit("kvs")
        self._publish(idx)
        return True

    # ------------------------------------------------------------------ config entries

    @staticmethod
    def _entry_key(
        kind: str, name: str, partition: str, namespace: str
    ) -> tuple[str, str, str, str]:
        # One namespace, as in Consul CE (see check_namespace): every entry lives in default.
        check_namespace(namespace)
        return (kind, partition, "default", name)

    def _config_read_allowed(self, authz: aclmod.Authorizer | None, entry: dict) -> bool:
        kind, name, partition = entry["Kind"], entry["Name"], entry["Partition"]
        if kind in ("proxy-defaults", "mesh"):
            return True
        if kind == "exported-services":
            return self._allowed(authz, "mesh", "read", "", partition)
        if kind == "service-intentions":
            return self._allowed(authz, "intentions", "read", name, partition)
        return self._allowed(authz, "service", "read", name, partition)

    def _config_write_check(
        self, authz: aclmod.Authorizer | None, kind: str, name: str, partition: str
    ) -> None:
        if kind in ("proxy-defaults", "mesh", "exported-services", "ingress-gateway"):
            self._require(authz, "mesh", "write", "", partition)
        elif kind == "service-intentions":
            self._require(authz, "intentions", "write", name, partition)
        else:
            self._require(authz, "service", "write", name, partition)

    def _graph_check(self, partition: str, proposed: dict[tuple, dict | None]) -> None:
        def lookup(kind: str, name: str) -> dict | None:
            key = self._entry_key(kind, name, partition, "default")
            if key in proposed:
                return proposed[key]
            return self._config.get(key)

        chains = [
            k[3]
            for k in list(self._config) + list(proposed)
            if k[1] == partition and k[0] in ("service-splitter", "service-router")
        ]
        try:
            ce.validate_graph(lookup, chains)
        except ce.ConfigEntryError as exc:
            raise RPCError(str(exc)) from exc

    def config_apply(
        self,
        raw: dict,
        partition: str = "default",
        namespace: str = "default",
        cas: int | None = None,
        authz: aclmod.Authorizer | None = None,
    ) -> bool:
        """``PUT /v1/config``: upsert an entry; ``False`` when ``cas`` does not match.

        Validation errors raise :class:`RPCError` (HTTP 500 with Consul's text).
        """
        partition = self.check_partition(raw.get("Partition") or partition)
        check_namespace(namespace)
        refused = ce.enterprise_namespace_keys(raw)
        if refused:
            raise BadRequest(
                "Request decoding failed: "
                + ce.multierror(
                    [
                        f'invalid config key "{k}", namespaces are a consul enterprise feature'
                        for k in refused
                    ]
                )
            )
        namespace = "default"
        try:
            entry = ce.normalize_and_validate(raw, partition, namespace)
        except ce.UnknownKind:
            raise
        except ce.ConfigEntryError as exc:
            raise RPCError(str(exc)) from exc
        if entry["Kind"] in ce.PARTITION_KINDS:
            entry["Namespace"] = "default"
        self._config_write_check(authz, entry["Kind"], entry["Name"], partition)
        with self._lock:
            key = self._entry_key(entry["Kind"], entry["Name"], partition, entry["Namespace"])
            old = self._config.get(key)
            if cas is not None and (old["ModifyIndex"] if old else 0) != cas:
                return False
            if entry["Kind"] in ce.ROUTING_KINDS:
                self._graph_check(partition, {key: entry})
            if entry["Kind"] == "service-intentions" and old:
                self._carry_legacy(old, entry)
            idx = self._index + 1
            entry["CreateIndex"] = old["CreateIndex"] if old else idx
            entry["ModifyIndex"] = idx
            self._config[key] = entry
            idx = self._commit("config")
        self._publish(idx)
        return True

    @staticmethod
    def _carry_legacy(old: dict, new: dict) -> None:
        # Sources rewritten through the config entry keep their legacy IDs, as Consul keeps them
        by_name = {
            (s.get("Peer", ""), s.get("Partition", ""), s["Name"]): s
            for s in old.get("Sources") or []
        }
        for src in new.get("Sources") or []:
            prev = by_name.get((src.get("Peer", ""), src.get("Partition", ""), src.get("Name", "")))
            if prev:
                for legacy in ("LegacyID", "LegacyCreateTime", "LegacyMeta"):
                    if prev.get(legacy) and not src.get(legacy):
                        src[legacy] = prev[legacy]

    def get_config_entry(
        self,
        kind: str,
        name: str,
        partition: str = "default",
        namespace: str = "default",
        authz: aclmod.Authorizer | None = None,
    ) -> dict | None:
        """``GET /v1/config/:kind/:name``: the entry as JSON, or ``None``."""
        kind = ce.canonical_kind(kind)
        with self._lock:
            entry = self._config.get(self._entry_key(kind, name, partition, namespace))
            if entry is None:
                return None
            if not self._config_read_allowed(authz, entry):
                assert authz is not None
                level_res = {"service-intentions": "intentions", "exported-services": "mesh"}.get(
                    kind, "service"
                )
                raise PermissionDenied(
                    authz.accessor_id, level_res, "read", name if level_res != "mesh" else None
                )
            return copy.deepcopy(entry)

    def list_config_entries(
        self,
        kind: str,
        partition: str = "default",
        authz: aclmod.Authorizer | None = None,
        filter_expr: str | None = None,
    ) -> list[dict]:
        """``GET /v1/config/:kind``: readable entries of a kind, by name."""
        kind = ce.canonical_kind(kind)
        pred = _compile(filter_expr)
        with self._lock:
            out = [
                copy.deepcopy(e)
                for (k, p, _ns, _n), e in sorted(self._config.items())
                if k == kind and p == partition and self._config_read_allowed(authz, e)
            ]
        return [e for e in out if pred is None or pred(e)]

    def config_delete(
        self,
        kind: str,
        name: str,
        partition: str = "default",
        namespace: str = "default",
        cas: int | None = None,
        authz: aclmod.Authorizer | None = None,
    ) -> bool:
        """``DELETE /v1/config/:kind/:name``; ``False`` when ``cas`` does not match."""
        kind = ce.canonical_kind(kind)
        self._config_write_check(authz, kind, name, partition)
        with self._lock:
            key = self._entry_key(kind, name, partition, namespace)
            old = self._config.get(key)
            if cas is not None and (old is None or old["ModifyIndex"] != cas):
                return False
            if old is None:
                return True
            if kind in ce.ROUTING_KINDS:
                self._graph_check(partition, {key: None})
            del self._config[key]
            idx = self._commit("config")
        self._publish(idx)
        return True

    # ------------------------------------------------------------------ intentions

    def _intention_doc(self, entry: dict, src: dict) -> dict:
        return {
            "ID": src.get("LegacyID", ""),
            "Description": src.get("Description", ""),
            "SourcePeer": src.get("Peer", ""),
            "SourceNS": src.get("Namespace") or "default",
            "SourceName": src.get("Name", ""),
            "SourcePartition": src.get("Partition") or entry["Partition"],
            "DestinationNS": entry["Namespace"],
            "DestinationName": entry["Name"],
            "DestinationPartition": entry["Partition"],
            "SourceType": "consul",
            "Action": src.get("Action", ""),
            "Permissions": copy.deepcopy(src.get("Permissions") or []),
            "Meta": copy.deepcopy(src.get("LegacyMeta") or {}),
            "Precedence": src.get("Precedence", 0),
            "CreatedAt": src.get("LegacyCreateTime", ""),
            "UpdatedAt": src.get("LegacyUpdateTime", ""),
            "Hash": _hash(src)[:22],
            "CreateIndex": entry["CreateIndex"],
            "ModifyIndex": entry["ModifyIndex"],
        }

    def _all_intentions(self, partition: str, authz: aclmod.Authorizer | None) -> list[dict]:
        out = []
        for (k, p, _ns, _n), entry in sorted(self._config.items()):
            if (
                k == "service-intentions"
                and p == partition
                and self._config_read_allowed(authz, entry)
            ):
                out.extend(self._intention_doc(entry, s) for s in entry.get("Sources") or [])
        out.sort(key=lambda i: (-i["Precedence"], i["DestinationName"], i["SourceName"]))
        return out

    def intentions_list(
        self,
        partition: str = "default",
        authz: aclmod.Authorizer | None = None,
        filter_expr: str | None = None,
    ) -> list[dict]:
        """``GET /v1/connect/intentions``: every source of every service-intentions entry."""
        pred = _compile(filter_expr)
        with self._lock:
            out = self._all_intentions(partition, authz)
        return [i for i in out if pred is None or pred(i)]

    def _find_legacy(self, intention_id: str) -> tuple[tuple, dict, int] | None:
        for key, entry in self._config.items():
            if key[0] != "service-intentions":
                continue
            for i, src in enumerate(entry.get("Sources") or []):
                if src.get("LegacyID") == intention_id:
                    return key, entry, i
        return None

    def _upsert_source(
        self,
        partition: str,
        destination: str,
        source: dict,
        authz: aclmod.Authorizer | None,
        replace_id: str | None = None,
    ) -> None:
        """Add or replace one source in the destination's service-intentions entry."""
        with self._lock:
            key = self._entry_key("service-intentions", destination, partition, "default")
            old = self._config.get(key)
            entry = (
                copy.deepcopy(old)
                if old
                else {"Kind": "service-intentions", "Name": destination, "Sources": []}
            )
            sources = [
                s
                for s in entry.get("Sources") or []
                if not (
                    (replace_id and s.get("LegacyID") == replace_id)
                    or (
                        s.get("Name") == source["Name"]
                        and s.get("Peer", "") == source.get("Peer", "")
                        and (s.get("Partition") or "") == (source.get("Partition") or "")
                    )
                )
            ]
            sources.append(source)
            entry["Sources"] = sources
            self.config_apply(entry, partition=partition, authz=authz)
        self._flush()

    def intention_create(
        self, raw: dict, partition: str = "default", authz: aclmod.Authorizer | None = None
    ) -> str:
        """``POST /v1/connect/intentions`` (legacy): returns the new intention's ID."""
        src, dest = raw.get("SourceName", ""), raw.get("DestinationName", "")
        if not src or not dest:
            raise BadRequest("Intention source and destination names are required")
        check_intention_namespaces(raw)
        now = _now_iso()
        intention_id = str(uuid.uuid4())
        with self._lock:
            existing = self._config.get(
                self._entry_key("service-intentions", dest, partition, "default")
            )
            for s in (existing or {}).get("Sources") or []:
                if s.get("Name") == src and not s.get("Peer"):
                    raise RPCError(f"duplicate intention found: default/{src} => default/{dest}")
            self._upsert_source(
                partition,
                dest,
                self._legacy_source(raw, intention_id, now, now),
                authz,
            )
        self._flush()
        return intention_id

    @staticmethod
    def _legacy_source(raw: dict, intention_id: str, created: str, updated: str) -> dict:
        src = {
            "Name": raw["SourceName"],
            "Action": (raw.get("Action") or "").lower(),
            "Description": raw.get("Description", ""),
            "LegacyID": intention_id,
            "LegacyCreateTime": created,
            "LegacyUpdateTime": updated,
        }
        if raw.get("Meta"):
            src["LegacyMeta"] = raw["Meta"]
        if raw.get("Permissions"):
            src["Permissions"] = raw["Permissions"]
            src.pop("Action")
        if raw.get("SourcePeer"):
            src["Peer"] = raw["SourcePeer"]
        if raw.get("SourcePartition"):
            src["Partition"] = raw["SourcePartition"]
        return src

    def intention_get(self, intention_id: str, authz: aclmod.Authorizer | None = None) -> dict:
        """``GET /v1/connect/intentions/:id``."""
        with self._lock:
            found = self._find_legacy(intention_id)
            if found is None:
                raise NotFound("Intention not found")
            _key, entry, i = found
            if not self._config_read_allowed(authz, entry):
                assert authz is not None
                raise PermissionDenied(authz.accessor_id, "intentions", "read", entry["Name"])
            return self._intention_doc(entry, entry["Sources"][i])

    def intention_update(
        self, intention_id: str, raw: dict, authz: aclmod.Authorizer | None = None
    ) -> None:
        """``PUT /v1/connect/intentions/:id`` (legacy): replace the intention."""
        check_intention_namespaces(raw)
        with self._lock:
            found = self._find_legacy(intention_id)
            if found is None:
                raise NotFound("Intention not found")
            key, entry, i = found
            old = entry["Sources"][i]
            merged = {
                "SourceName": raw.get("SourceName") or old["Name"],
                "DestinationName": raw.get("DestinationName") or entry["Name"],
                "Action": raw.get("Action") or old.get("Action", ""),
                "Description": raw.get("Description", old.get("Description", "")),
                "Meta": raw.get("Meta") or old.get("LegacyMeta"),
                "Permissions": raw.get("Permissions") or old.get("Permissions"),
            }
            source = self._legacy_source(
                merged, intention_id, old.get("LegacyCreateTime", ""), _now_iso()
            )
            if merged["DestinationName"] != entry["Name"]:
                self._remove_source(key, intention_id, authz)
            self._upsert_source(
                key[1], merged["DestinationName"], source, authz, replace_id=intention_id
            )
        self._flush()

    def _remove_source(
        self,
        key: tuple,
        intention_id: str | None,
        authz: aclmod.Authorizer | None,
        name: str | None = None,
    ) -> None:
        entry = copy.deepcopy(self._config[key])
        entry["Sources"] = [
            s
            for s in entry["Sources"]
            if not (
                (intention_id and s.get("LegacyID") == intention_id)
                or (name and s.get("Name") == name and not s.get("Peer"))
            )
        ]
        if entry["Sources"]:
            self.config_apply(entry, partition=key[1], authz=authz)
        else:
            self.config_delete("service-intentions", key[3], partition=key[1], authz=authz)

    def intention_delete(self, intention_id: str, authz: aclmod.Authorizer | None = None) -> None:
        """``DELETE /v1/connect/intentions/:id``."""
        with self._lock:
            found = self._find_legacy(intention_id)
            if found is None:
                raise NotFound("Intention not found")
            self._remove_source(found[0], intention_id, authz)
        self._flush()

    def intention_exact_get(
        self,
        source: str,
        destination: str,
        partition: str = "default",
        authz: aclmod.Authorizer | None = None,
    ) -> dict:
        """``GET /v1/connect/intentions/exact?source=&destination=``."""
        with self._lock:
            self._require(authz, "intentions", "read", destination, partition)
            entry = self._config.get(
                self._entry_key("service-intentions", destination, partition, "default")
            )
            for src in (entry or {}).get("Sources") or []:
                if src.get("Name") == source and not src.get("Peer"):
                    return self._intention_doc(entry, src)
        raise NotFound("Intention not found")

    def intention_exact_put(
        self,
        source: str,
        destination: str,
        raw: dict,
        partition: str = "default",
        authz: aclmod.Authorizer | None = None,
    ) -> None:
        """``PUT /v1/connect/intentions/exact``: upsert by names (no legacy ID)."""
        if not source or not destination:
            raise BadRequest("Missing required query parameters: source, destination")
        src = {
            "Name": source,
            "Action": (raw.get("Action") or "").lower(),
            "Description": raw.get("Description", ""),
        }
        if raw.get("Permissions"):
            src["Permissions"] = raw["Permissions"]
            src.pop("Action")
        if raw.get("Meta"):
            src["LegacyMeta"] = raw["Meta"]
        self._upsert_source(partition, destination, src, authz)

    def intention_exact_delete(
        self,
        source: str,
        destination: str,
        partition: str = "default",
        authz: aclmod.Authorizer | None = None,
    ) -> None:
        """``DELETE /v1/connect/intentions/exact``."""
        with self._lock:
            key = self._entry_key("service-intentions", destination, partition, "default")
            if key not in self._config:
                self._require(authz, "intentions", "write", destination, partition)
                return
            self._remove_source(key, None, authz, name=source)
        self._flush()

    def _matching(self, partition: str, by: str, name: str) -> list[dict]:
        out = []
        for i in self._all_intentions(partition, None):
            field = i["SourceName"] if by == "source" else i["DestinationName"]
            if field in (name, "*") and not i["SourcePeer"]:
                out.append(i)
        out.sort(key=lambda i: -i["Precedence"])
        return out

    def intention_match(
        self,
        by: str,
        names: list[str],
        partition: str = "default",
        authz: aclmod.Authorizer | None = None,
    ) -> dict[str, list[dict]]:
        """``GET /v1/connect/intentions/match?by=source|destination&name=...``."""
        if by not in ("source", "destination"):
            raise BadRequest("'by' parameter must be 'source' or 'destination'")
        with self._lock:
            return {
                name: [
                    i
                    for i in self._matching(partition, by, name)
                    if self._allowed(authz, "intentions", "read", i["DestinationName"], partition)
                ]
                for name in names
            }

    def intention_default_allow(self) -> bool:
        """Consul's default intention behaviour: the agent's ``default_intention_policy``
        when set, else the ACL default policy (allow when ACLs are off)."""
        if self.default_intention_policy:
            return self.default_intention_policy == "allow"
        return not self.acl_enabled or self.acl_default_policy == "allow"

    def intention_check(
        self,
        source: str,
        destination: str,
        partition: str = "default",
        authz: aclmod.Authorizer | None = None,
    ) -> bool:
        """``GET /v1/connect/intentions/check``: may ``source`` connect to ``destination``?

        Decided by :func:`soa_sdk.sandbox.mesh.intentions.decide`, the same code the data
        plane enforces, asked at L4: an L7 intention counts as deny (Consul's
        ``Intention.Check``); no matching intention gives :meth:`intention_default_allow`.
        """
        from soa_sdk.sandbox.mesh import intentions  # the mesh imports this package

        if not source or not destination:
            raise BadRequest("required query parameter 'source' not set")
        self._require(authz, "intentions", "read", destination, partition)
        with self._lock:

            def lookup(kind: str, name: str, part: str) -> dict | None:
                return self._config.get(self._entry_key(kind, name, part, "default"))

            return intentions.decide(
                lookup,
                intentions.Caller(source, partition),
                destination,
                partition,
                None,
                self.intention_default_allow(),
            )

    # ------------------------------------------------------------------ ACL endpoints

    def _acl_guard(self, authz: aclmod.Authorizer | None, level: str) -> None:
        if not self.acl_enabled:
            raise ACLDisabled()
        self._require(authz, "acl", level)

    def policy_upsert(
        self, raw: dict, policy_id: str | None = None, authz: aclmod.Authorizer | None = None
    ) -> dict:
        """``PUT /v1/acl/policy`` (create) and ``PUT /v1/acl/policy/:id`` (update)."""
        self._acl_guard(authz, "write")
        name = raw.get("Name", "")
        if not name:
            raise BadRequest("Invalid Policy: no Name is set")
        try:
            aclmod.parse_rules(raw.get("Rules", ""))
        except aclmod.RulesError as exc:
            raise BadRequest(f"Invalid Policy: Failed to parse ACL rules: {exc}") from exc
        with self._lock:
            pid = policy_id or raw.get("ID") or ""
            if pid and pid not in self._policies:
                raise BadRequest(f"Invalid Policy: ID {pid!r} does not exist")
            for other in self._policies.values():
                if other["Name"] == name and other["ID"] != pid:
                    raise BadRequest(f"Invalid Policy: A Policy with Name {name!r} already exists")
            if pid == GLOBAL_MANAGEMENT_ID and raw.get("Rules", "") != "":
                raise BadRequest(
                    "Changing the Rules for the builtin global-management policy is not permitted"
                )
            pid = pid or str(uuid.uuid4())
            old = self._policies.get(pid)
            idx = self._index + 1
            doc = {
                "ID": pid,
                "Name": name,
                "Description": raw.get("Description", ""),
                "Rules": raw.get("Rules", ""),
                "Datacenters": raw.get("Datacenters") or None,
                "Hash": _hash([name, raw.get("Rules", "")]),
                "CreateIndex": old["CreateIndex"] if old else idx,
                "ModifyIndex": idx,
                "Partition": "default",
                "Namespace": "default",
            }
            self._policies[pid] = doc
            self._rules_cache.pop(pid, None)
            for token in self._tokens.values():
                for link in token["Policies"]:
                    if link["ID"] == pid:
                        link["Name"] = name
            self._commit("acl")
            return copy.deepcopy(doc)

    def policy_get(
        self,
        policy_id: str | None = None,
        name: str | None = None,
        authz: aclmod.Authorizer | None = None,
    ) -> dict | None:
        """``GET /v1/acl/policy/:id`` or ``/v1/acl/policy/name/:name``."""
        self._acl_guard(authz, "read")
        with self._lock:
            for doc in self._policies.values():
                if (policy_id and doc["ID"] == policy_id) or (name and doc["Name"] == name):
                    return copy.deepcopy(doc)
        return None

    def policy_list(self, authz: aclmod.Authorizer | None = None) -> list[dict]:
        """``GET /v1/acl/policies`` (stubs: no Rules)."""
        self._acl_guard(authz, "read")
        with self._lock:
            return [
                {k: v for k, v in p.items() if k != "Rules"}
                for p in sorted(self._policies.values(), key=lambda p: p["Name"])
            ]

    def policy_delete(self, policy_id: str, authz: aclmod.Authorizer | None = None) -> bool:
        """``DELETE /v1/acl/policy/:id``."""
        self._acl_guard(authz, "write")
        if policy_id == GLOBAL_MANAGEMENT_ID:
            raise BadRequest(
                "Delete operation not permitted on the builtin global-management policy"
            )
        with self._lock:
            if self._policies.pop(policy_id, None) is None:
                return True
            self._rules_cache.pop(policy_id, None)
            for token in self._tokens.values():
                token["Policies"] = [p for p in token["Policies"] if p["ID"] != policy_id]
            self._commit("acl")
        return True

    def _resolve_policy_links(self, links: list[dict]) -> list[dict]:
        out = []
        for link in links or []:
            found = None
            for doc in self._policies.values():
                if (link.get("ID") and doc["ID"] == link["ID"]) or (
                    not link.get("ID") and doc["Name"] == link.get("Name")
                ):
                    found = doc
            if found is None:
                ref = link.get("ID") or link.get("Name")
                raise BadRequest(f"No such ACL policy: {ref}")
            out.append({"ID": found["ID"], "Name": found["Name"]})
        return out

    def token_upsert(
        self, raw: dict, accessor_id: str | None = None, authz: aclmod.Authorizer | None = None
    ) -> dict:
        """``PUT /v1/acl/token`` (create) and ``PUT /v1/acl/token/:AccessorID`` (update)."""
        self._acl_guard(authz, "write")
        with self._lock:
            policies = self._resolve_policy_links(raw.get("Policies") or [])
            services = [
                {"ServiceName": s["ServiceName"]}
                for s in raw.get("ServiceIdentities") or []
                if s.get("ServiceName")
            ]
            nodes = [
                {"NodeName": n["NodeName"], "Datacenter": n.get("Datacenter", self.datacenter)}
                for n in raw.get("NodeIdentities") or []
                if n.get("NodeName")
            ]
            acc = accessor_id or raw.get("AccessorID") or ""
            old = self._tokens.get(acc) if acc else None
            if accessor_id and old is None:
                raise BadRequest(f"Cannot find token {accessor_id!r}")
            if old is None and acc and not _is_uuid(acc):
                raise BadRequest("Invalid Token: AccessorID must be a UUID")
            secret = (old or {}).get("SecretID") or raw.get("SecretID") or str(uuid.uuid4())
            if old is None and any(t["SecretID"] == secret for t in self._tokens.values()):
                raise BadRequest("Invalid Token: SecretID is already in use")
            partition = raw.get("Partition") or "default"
            if partition not in self._partitions:
                raise BadRequest(f'Partition "{partition}" does not exist')
            idx = self._index + 1
            doc = self._token_doc(
                acc or None,
                secret,
                raw.get("Description", ""),
                policies,
                idx,
                ServiceIdentities=services,
                NodeIdentities=nodes,
            )
            doc["Local"] = bool(raw.get("Local", False))
            doc["Partition"] = partition
            if old:
                doc["CreateIndex"] = old["CreateIndex"]
                doc["CreateTime"] = old["CreateTime"]
            self._tokens[doc["AccessorID"]] = doc
            self._commit("acl")
            return copy.deepcopy(doc)

    def token_get(self, accessor_id: str, authz: aclmod.Authorizer | None = None) -> dict | None:
        """``GET /v1/acl/token/:AccessorID``."""
        self._acl_guard(authz, "read")
        with self._lock:
            doc = self._tokens.get(accessor_id)
            return copy.deepcopy(doc) if doc else None

    def token_self(self, secret: str | None) -> dict:
        """``GET /v1/acl/token/self``: the token the request carries (no ACL needed)."""
        if not self.acl_enabled:
            raise ACLDisabled()
        with self._lock:
            for doc in self._tokens.values():
                if secret and doc["SecretID"] == secret:
                    return copy.deepcopy(doc)
        raise ACLNotFound()

    def token_list(self, authz: aclmod.Authorizer | None = None) -> list[dict]:
        """``GET /v1/acl/tokens`` (the list carries SecretIDs only for acl:write, as Consul)."""
        self._acl_guard(authz, "read")
        show_secret = self._allowed(authz, "acl", "write")
        with self._lock:
            out = []
            for doc in sorted(self._tokens.values(), key=lambda t: t["CreateIndex"]):
                item = copy.deepcopy(doc)
                if not show_secret:
                    item["SecretID"] = "<hidden>"
                out.append(item)
            return out

    def token_delete(self, accessor_id: str, authz: aclmod.Authorizer | None = None) -> bool:
        """``DELETE /v1/acl/token/:AccessorID``."""
        self._acl_guard(authz, "write")
        if accessor_id == ANONYMOUS_ID:
            raise BadRequest("Delete operation not permitted on the anonymous token")
        with self._lock:
            if self._tokens.pop(accessor_id, None) is not None:
                self._commit("acl")
        return True

    # ------------------------------------------------------------------ partitions

    def partition_upsert(
        self,
        name: str,
        description: str = "",
        authz: aclmod.Authorizer | None = None,
        create_only: bool = False,
    ) -> dict:
        """``PUT /v1/partition`` (create) / ``PUT /v1/partition/:name`` (update)."""
        self._require(authz, "operator", "write")
        if not name or not ce._VALID_SUBSET.match(name):
            raise BadRequest(f"Partition name {name!r} is invalid")
        with self._lock:
            if name in self._partitions:
                if create_only:
                    raise RPCError(f'Partition "{name}" already exists')
                self._partitions[name]["Description"] = description
                self._partitions[name]["ModifyIndex"] = self._index + 1
            else:
                self._add_partition(name, description, self._index + 1)
            idx = self._commit("partitions", "nodes", "checks")
            doc = copy.deepcopy(self._partitions[name])
        self._publish(idx)
        return doc

    def partition_get(self, name: str, authz: aclmod.Authorizer | None = None) -> dict | None:
        """``GET /v1/partition/:name`` (any token may read partitions)."""
        with self._lock:
            doc = self._partitions.get(name)
            return copy.deepcopy(doc) if doc else None

    def partition_list(self, authz: aclmod.Authorizer | None = None) -> list[dict]:
        """``GET /v1/partitions``."""
        with self._lock:
            return [copy.deepcopy(p) for _n, p in sorted(self._partitions.items())]

    def partition_delete(self, name: str, authz: aclmod.Authorizer | None = None) -> None:
        """``DELETE /v1/partition/:name``: the partition and everything in it."""
        self._require(authz, "operator", "write")
        if name == "default":
            raise BadRequest("Cannot delete default partition")
        with self._lock:
            if name not in self._partitions:
                return
            del self._partitions[name]
            for table in (self._nodes, self._services, self._checks, self._kv, self._peerings):
                for key in [k for k in table if k[0] == name]:
                    if table is self._checks:
                        self.runner.cancel(key)
                    del table[key]
            for key in [k for k in self._config if k[1] == name]:
                del self._config[key]
            idx = self._commit(*self._all_tables())
        self._publish(idx)

    # ------------------------------------------------------------------ peering

    def _peering_doc(self, doc: dict) -> dict:
        out = {k: copy.deepcopy(v) for k, v in doc.items() if not k.startswith("_")}
        remote = doc.get("_remote_partition")
        imported = exported = 0
        if remote:
            exported = sum(
                1
                for s in self._exported_names(doc["Partition"])
                if doc["Name"] in self._exports(doc["Partition"], s)[1]
            )
            imported = sum(
                1
                for s in self._exported_names(remote)
                if doc["_remote_peer_name"] in self._exports(remote, s)[1]
            )
        out["StreamStatus"] = {
            "ImportedServices": None,
            "ExportedServices": None,
            "LastHeartbeat": _now_iso() if remote else None,
            "LastReceive": None,
            "LastSend": None,
        }
        out["ImportedServiceCount"] = imported
        out["ExportedServiceCount"] = exported
        return out

    def _exported_names(self, partition: str) -> list[str]:
        entry = self._config.get(("exported-services", partition, "default", partition)) or {}
        names = {s["Name"] for s in entry.get("Services") or []}
        if "*" in names:
            names |= {
                svc["Service"] for (p, _n, _s), svc in self._services.items() if p == partition
            }
            names.discard("*")
        return sorted(names)

    def peering_token(
        self, raw: dict, partition: str = "default", authz: aclmod.Authorizer | None = None
    ) -> str:
        """``POST /v1/peering/token``: a peering in state ``PENDING`` and its token."""
        partition = self.check_partition(raw.get("Partition") or partition)
        self._require(authz, "peering", "write", "", partition)
        name = raw.get("PeerName", "")
        if not name:
            raise BadRequest("PeerName is required in the request")
        with self._lock:
            existing = self._peerings.get((partition, name))
            if existing and existing.get("_remote_partition"):
                raise RPCError(
                    f'cannot create peering token; peering "{name}" is already established'
                )
            idx = self._index + 1
            peer_id = (existing or {}).get("ID") or str(uuid.uuid4())
            secret = str(uuid.uuid4())
            self._peerings[(partition, name)] = {
                "ID": peer_id,
                "Name": name,
                "Partition": partition,
                "Meta": raw.get("Meta") or {},
                "PeeringState": "PENDING",
                "PeerID": "",
                "PeerServerName": "",
                "PeerServerAddresses": [],
                "Remote": {},
                "CreateIndex": (existing or {}).get("CreateIndex", idx),
                "ModifyIndex": idx,
                "_secret": secret,
            }
            idx = self._commit("peerings")
        self._publish(idx)
        token = {
            "CA": None,
            "ManualServerAddresses": None,
            "ServerAddresses": [f"{self.address}:8502"],
            "ServerName": "server.dc1.peering.sandbox.consul",
            "PeerID": peer_id,
            "EstablishmentSecret": secret,
            "Remote": {"Partition": partition, "Datacenter": self.datacenter},
        }
        return base64.b64encode(json.dumps(token).encode()).decode()

    def peering_establish(
        self, raw: dict, partition: str = "default", authz: aclmod.Authorizer | None = None
    ) -> None:
        """``POST /v1/peering/establish``: the dialing side, from a token made by this backend."""
        partition = self.check_partition(raw.get("Partition") or partition)
        self._require(authz, "peering", "write", "", partition)
        name = raw.get("PeerName", "")
        if not name:
            raise BadRequest("PeerName is required in the request")
        try:
            token = json.loads(base64.b64decode(raw.get("PeeringToken", ""), validate=True))
            peer_id, secret = token["PeerID"], token["EstablishmentSecret"]
        except (ValueError, KeyError, TypeError) as exc:
            raise BadRequest("invalid peering token: " + str(exc)) from exc
        with self._lock:
            acceptor = next(
                (
                    p
                    for p in self._peerings.values()
                    if p["ID"] == peer_id and p.get("_secret") == secret
                ),
                None,
            )
            if acceptor is None:
                raise RPCError(
                    "failed to get addresses to dial peer: peering token is not valid for this"
                    " sandbox (peerings between separate sandboxes carry no traffic)"
                )
            if acceptor["Partition"] == partition:
                raise BadRequest(
                    "cannot create a peering within the same partition (ENT) or cluster (OSS)"
                )
            idx = self._index + 1
            dialer_id = str(uuid.uuid4())
            self._peerings[(partition, name)] = {
                "ID": dialer_id,
                "Name": name,
                "Partition": partition,
                "Meta": raw.get("Meta") or {},
                "PeeringState": "ACTIVE",
                "PeerID": acceptor["ID"],
                "PeerServerName": "server.dc1.peering.sandbox.consul",
                "PeerServerAddresses": [f"{self.address}:8502"],
                "Remote": {"Partition": acceptor["Partition"], "Datacenter": self.datacenter},
                "CreateIndex": idx,
                "ModifyIndex": idx,
                "_remote_partition": acceptor["Partition"],
                "_remote_peer_name": acceptor["Name"],
            }
            acceptor.update(
                PeeringState="ACTIVE",
                PeerID=dialer_id,
                Remote={"Partition": partition, "Datacenter": self.datacenter},
                ModifyIndex=idx,
                _remote_partition=partition,
                _remote_peer_name=name,
                _secret=None,
            )
            idx = self._commit("peerings")
        self._publish(idx)

    def peering_get(
        self, name: str, partition: str = "default", authz: aclmod.Authorizer | None = None
    ) -> dict | None:
        """``GET /v1/peering/:name``."""
        self._require(authz, "peering", "read", "", partition)
        with self._lock:
            doc = self._peerings.get((partition, name))
            return self._peering_doc(doc) if doc else None

    def peering_list(
        self, partition: str = "default", authz: aclmod.Authorizer | None = None
    ) -> list[dict]:
        """``GET /v1/peerings``."""
        self._require(authz, "peering", "read", "", partition)
        with self._lock:
            return [
                self._peering_doc(d)
                for (p, _n), d in sorted(self._peerings.items())
                if p == partition
            ]

    def peering_delete(
        self, name: str, partition: str = "default", authz: aclmod.Authorizer | None = None
    ) -> None:
        """``DELETE /v1/peering/:name``: the other side becomes ``TERMINATED``."""
        self._require(authz, "peering", "write", "", partition)
        with self._lock:
            doc = self._peerings.pop((partition, name), None)
            if doc is None:
                return
            remote = doc.get("_remote_partition")
            other = (
                self._peerings.get((remote, doc.get("_remote_peer_name", ""))) if remote else None
            )
            if other is not None:
                other.update(
                    PeeringState="TERMINATED", _remote_partition=None, ModifyIndex=self._index + 1
                )
            idx = self._commit("peerings", "services")
        self._publish(idx)

    # ------------------------------------------------------------------ status

    def status_leader(self) -> str:
        """``GET /v1/status/leader``."""
        return f"{self.address}:8300"

    def status_peers(self) -> list[str]:
        """``GET /v1/status/peers``."""
        return [f"{self.address}:8300"]


def check_namespace(namespace: str | None, where: str = 'query parameter: "ns"') -> None:
    """Refuse a namespace other than ``default`` as Consul CE does (400, ``Bad request:
    Invalid query parameter: "ns" - Namespaces are a Consul Enterprise feature``).

    The sandbox is Community Edition for namespaces (it offers admin partitions, an
    Enterprise feature, on purpose): CE refuses any ``ns``; we also accept ``default``,
    the namespace our Enterprise-shaped answers name."""
    if namespace not in (None, "", "default"):
        raise BadRequest(f"Invalid {where} - {ce.NAMESPACES_ARE_ENTERPRISE}")


def check_intention_namespaces(raw: dict) -> None:
    """A legacy intention's ``SourceNS``/``DestinationNS``: only ``default`` (Consul CE's
    ``validateEnterpriseIntentionNamespace``)."""
    for field in ("SourceNS", "DestinationNS"):
        value = raw.get(field) or ""
        if value and value.lower() != "default":
            raise BadRequest(f"Invalid {field}({value}): Namespaces is a Consul Enterprise feature")


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _compile(expression: str | None) -> Callable[[dict], bool] | None:
    if not expression:
        return None
    try:
        return bexpr.compile_filter(expression)
    except bexpr.BexprError as exc:
        raise FilterError(str(exc)) from exc


__all__ = ["ConsulBackend", "ConsulError"]
