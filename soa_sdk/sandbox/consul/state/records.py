"""The emulator's typed records, one per Consul resource; ``to_dict()`` gives Consul's JSON.

Each record keeps what Consul shows plus what only the emulator needs (a check's probe
timings, a peering's remote end), as typed fields rather than private dict keys; the JSON
shape of each resource is written once, in its ``to_dict``. ``create_index`` and
``modify_index`` are stamped by :meth:`.core.Table.put` inside a write, never by hand.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from ..bexpr import ANY, Schema, schema_of
from ..checks import Probe


def content_hash(doc: Any) -> str:
    """A stable hash of a JSON-able document (Consul's ``Hash`` fields are opaque too)."""
    raw = json.dumps(doc, sort_keys=True, default=str).encode()
    return base64.b64encode(hashlib.sha256(raw).digest()).decode()


@dataclass(kw_only=True)
class Indexed:
    """The raft indexes every stored record carries."""

    create_index: int = 0
    modify_index: int = 0

    def indexes(self) -> dict[str, int]:
        return {"CreateIndex": self.create_index, "ModifyIndex": self.modify_index}


@dataclass
class Partition(Indexed):
    name: str
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"Name": self.name, "Description": self.description, **self.indexes()}


@dataclass
class Node(Indexed):
    id: str
    node: str
    address: str
    datacenter: str
    partition: str
    tagged_addresses: dict[str, str] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ID": self.id,
            "Node": self.node,
            "Address": self.address,
            "Datacenter": self.datacenter,
            "TaggedAddresses": dict(self.tagged_addresses),
            "Meta": dict(self.meta),
            "Partition": self.partition,
            **self.indexes(),
        }


@dataclass
class Service(Indexed):
    """A service instance on a node; ``proxy``/``connect`` are Consul's normalized blocks."""

    id: str
    service: str
    partition: str
    datacenter: str
    node: str = ""
    kind: str = ""
    tags: list[str] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)
    port: int = 0
    address: str = ""
    socket_path: str = ""
    tagged_addresses: dict[str, Any] = field(default_factory=dict)
    weights: dict[str, int] = field(default_factory=lambda: {"Passing": 1, "Warning": 1})
    enable_tag_override: bool = False
    proxy: dict[str, Any] | None = None
    connect: dict[str, Any] | None = None

    @property
    def destination(self) -> str:
        """The service a ``connect-proxy`` fronts ("" for any other kind)."""
        return (self.proxy or {}).get("DestinationServiceName", "") if self.kind else ""

    @property
    def native(self) -> bool:
        return bool((self.connect or {}).get("Native"))

    def to_dict(self, with_index: bool = True) -> dict[str, Any]:
        """The agent's shape (``/v1/agent/service``); ``with_index`` adds the raft indexes."""
        doc: dict[str, Any] = {
            "ID": self.id,
            "Service": self.service,
            "Tags": list(self.tags),
            "Meta": dict(self.meta),
            "Port": self.port,
            "Address": self.address,
        }
        if self.socket_path:  # omitempty in Consul's AgentService
            doc["SocketPath"] = self.socket_path
        if self.tagged_addresses:
            doc["TaggedAddresses"] = copy.deepcopy(self.tagged_addresses)
        doc.update(
            Weights=dict(self.weights),
            EnableTagOverride=self.enable_tag_override,
            Datacenter=self.datacenter,
            Partition=self.partition,
            Namespace="default",
        )
        if self.kind:
            doc["Kind"] = self.kind
        if self.proxy is not None:
            doc["Proxy"] = copy.deepcopy(self.proxy)
        if self.connect:
            doc["Connect"] = copy.deepcopy(self.connect)
        if with_index:
            doc.update(self.indexes())
        return doc

    def catalog_dict(self, node: Node | None) -> dict[str, Any]:
        """``/v1/catalog/service/:name``'s shape: the instance joined with its node."""
        return {
            "ID": node.id if node else "",
            "Node": self.node,
            "Address": node.address if node else "",
            "Datacenter": self.datacenter,
            "TaggedAddresses": dict(node.tagged_addresses) if node else {},
            "NodeMeta": dict(node.meta) if node else {},
            "ServiceKind": self.kind,
            "ServiceID": self.id,
            "ServiceName": self.service,
            "ServiceTags": list(self.tags),
            "ServiceAddress": self.address,
            "ServiceTaggedAddresses": copy.deepcopy(self.tagged_addresses),
            "ServiceWeights": dict(self.weights),
            "ServiceMeta": dict(self.meta),
            "ServicePort": self.port,
            **({"ServiceSocketPath": self.socket_path} if self.socket_path else {}),
            "ServiceEnableTagOverride": self.enable_tag_override,
            "ServiceProxy": copy.deepcopy(self.proxy or {"MeshGateway": {}, "Expose": {}}),
            "ServiceConnect": copy.deepcopy(self.connect or {}),
            **self.indexes(),
            "Partition": self.partition,
            "Namespace": "default",
        }


@dataclass(frozen=True)
class CheckDef:
    """A check definition as registered, validated: what to run and how often."""

    check_id: str
    name: str
    kind: str  # "ttl", "http", "tcp", ... ("" for catalog-registered checks, never run)
    status: str = "critical"
    notes: str = ""
    output: str = ""
    interval: str = ""
    timeout: str = ""
    definition: dict[str, Any] = field(default_factory=dict)
    interval_s: float = 0.0
    timeout_s: float | None = None
    ttl_s: float = 0.0
    deregister_after_s: float = 0.0


@dataclass
class Check(Indexed):
    """A health check of a node or of a service instance, with the probe's runtime state."""

    node: str
    partition: str
    spec: CheckDef
    status: str
    output: str = ""
    service_id: str = ""
    service_name: str = ""
    service_tags: list[str] = field(default_factory=list)
    critical_since: float | None = None
    ttl_deadline: float = 0.0

    @property
    def check_id(self) -> str:
        return self.spec.check_id

    def probe(self) -> Probe:
        """What the check runner needs to run this check once."""
        spec = self.spec
        return Probe(spec.kind, spec.definition, spec.interval_s, spec.timeout_s, self.ttl_deadline)

    def to_dict(self, with_index: bool = True) -> dict[str, Any]:
        spec = self.spec
        doc: dict[str, Any] = {
            "Node": self.node,
            "CheckID": spec.check_id,
            "Name": spec.name,
            "Status": self.status,
            "Notes": spec.notes,
            "Output": self.output,
            "ServiceID": self.service_id,
            "ServiceName": self.service_name,
            "ServiceTags": list(self.service_tags),
            "Type": spec.kind,
            "Interval": spec.interval,
            "Timeout": spec.timeout,
            "ExposedPort": 0,
            "Definition": copy.deepcopy(spec.definition),
            "Partition": self.partition,
            "Namespace": "default",
        }
        if with_index:
            doc.update(self.indexes())
        return doc


@dataclass
class KVEntry(Indexed):
    key: str
    partition: str
    value: bytes | None = None
    flags: int = 0
    lock_index: int = 0
    #: the session holding the key's lock ("" when unlocked)
    session: str = ""

    def to_dict(self, with_value: bool = True) -> dict[str, Any]:
        value = base64.b64encode(self.value).decode() if self.value is not None else None
        doc: dict[str, Any] = {
            "LockIndex": self.lock_index,
            "Key": self.key,
            "Flags": self.flags,
            "Value": value if with_value else None,
        }
        if self.session:
            doc["Session"] = self.session
        return {**doc, **self.indexes(), "Partition": self.partition, "Namespace": "default"}


@dataclass
class Session(Indexed):
    """A session (``/v1/session/*``): locks on keys, released or deleted when it ends."""

    id: str
    name: str
    node: str
    partition: str
    behavior: str = "release"
    lock_delay_ns: int = 15_000_000_000
    ttl: str = ""
    node_checks: list[str] = field(default_factory=list)
    service_checks: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ID": self.id,
            "Name": self.name,
            "Node": self.node,
            "LockDelay": self.lock_delay_ns,
            "Behavior": self.behavior,
            "TTL": self.ttl,
            "NodeChecks": list(self.node_checks) or None,
            "ServiceChecks": copy.deepcopy(self.service_checks) or None,
            **self.indexes(),
        }


@dataclass
class PreparedQuery(Indexed):
    """A prepared query (``/v1/query``): ``body`` is its normalized definition (with ``ID``)."""

    body: dict[str, Any]

    @property
    def id(self) -> str:
        return self.body["ID"]

    @property
    def name(self) -> str:
        return self.body["Name"]

    @property
    def template(self) -> bool:
        return bool(self.body["Template"]["Type"])

    def to_dict(self) -> dict[str, Any]:
        return {**copy.deepcopy(self.body), **self.indexes()}


@dataclass
class Coordinate(Indexed):
    """A node's network coordinate (Vivaldi), as ``/v1/coordinate/*`` shows it."""

    node: str
    partition: str
    coord: dict[str, Any]
    segment: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"Node": self.node, "Segment": self.segment, "Coord": copy.deepcopy(self.coord)}


@dataclass
class Policy(Indexed):
    id: str
    name: str
    description: str = ""
    rules: str = ""
    datacenters: list[str] | None = None

    def to_dict(self, with_rules: bool = True) -> dict[str, Any]:
        doc: dict[str, Any] = {"ID": self.id, "Name": self.name, "Description": self.description}
        if with_rules:
            doc["Rules"] = self.rules
        return {
            **doc,
            "Hash": content_hash([self.name, self.rules]),
            "Datacenters": self.datacenters,
            **self.indexes(),
            "Partition": "default",
            "Namespace": "default",
        }


@dataclass
class Token(Indexed):
    accessor_id: str
    secret_id: str
    description: str = ""
    #: links to policies, as Consul shows them: ``{"ID": ..., "Name": ...}``
    policies: list[dict[str, str]] = field(default_factory=list)
    service_identities: list[dict[str, Any]] = field(default_factory=list)
    node_identities: list[dict[str, Any]] = field(default_factory=list)
    local: bool = False
    create_time: str = ""
    partition: str = "default"
    #: links to roles, ``{"ID": ..., "Name": ...}``
    roles: list[dict[str, str]] = field(default_factory=list)
    #: ``{"TemplateName": "builtin/service", "TemplateVariables": {"Name": ...}}``
    templated_policies: list[dict[str, Any]] = field(default_factory=list)
    #: RFC 3339 (empty: never expires); ``expiration_ttl`` as given (a Go duration)
    expiration_time: str = ""
    expiration_ttl: str = ""
    #: the auth method a login created it with (empty for tokens made with PUT)
    auth_method: str = ""

    def to_dict(self, show_secret: bool = True) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "AccessorID": self.accessor_id,
            "SecretID": self.secret_id if show_secret else "<hidden>",
            "Description": self.description,
            "Policies": copy.deepcopy(self.policies),
            "Local": self.local,
            "CreateTime": self.create_time,
            **self.indexes(),
            "Partition": self.partition,
            "Namespace": "default",
        }
        if self.roles:
            doc["Roles"] = copy.deepcopy(self.roles)
        if self.service_identities:
            doc["ServiceIdentities"] = copy.deepcopy(self.service_identities)
        if self.node_identities:
            doc["NodeIdentities"] = copy.deepcopy(self.node_identities)
        if self.templated_policies:
            doc["TemplatedPolicies"] = copy.deepcopy(self.templated_policies)
        if self.auth_method:
            doc["AuthMethod"] = self.auth_method
        if self.expiration_time:
            doc["ExpirationTime"] = self.expiration_time
        if self.expiration_ttl:
            doc["ExpirationTTL"] = self.expiration_ttl
        doc["Hash"] = content_hash(
            {"Policies": self.policies, "Description": self.description, "Local": self.local}
        )
        return doc


@dataclass
class Role(Indexed):
    """An ACL role (``api/acl.go`` ``ACLRole``): named links tokens share."""

    id: str
    name: str
    description: str = ""
    policies: list[dict[str, str]] = field(default_factory=list)
    service_identities: list[dict[str, Any]] = field(default_factory=list)
    node_identities: list[dict[str, Any]] = field(default_factory=list)
    templated_policies: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "ID": self.id,
            "Name": self.name,
            "Description": self.description,
            "Policies": copy.deepcopy(self.policies),
        }
        if self.service_identities:
            doc["ServiceIdentities"] = copy.deepcopy(self.service_identities)
        if self.node_identities:
            doc["NodeIdentities"] = copy.deepcopy(self.node_identities)
        if self.templated_policies:
            doc["TemplatedPolicies"] = copy.deepcopy(self.templated_policies)
        doc["Hash"] = content_hash([self.name, self.policies, self.service_identities])
        return {**doc, **self.indexes(), "Partition": "default", "Namespace": "default"}


@dataclass
class AuthMethod(Indexed):
    """An ACL auth method (``api/acl.go`` ``ACLAuthMethod``)."""

    name: str
    type: str
    display_name: str = ""
    description: str = ""
    max_token_ttl: str = ""
    token_locality: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    #: the admin partition it lives in (Enterprise; its logins' tokens live there too)
    partition: str = "default"

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"Name": self.name, "Type": self.type}
        if self.display_name:
            doc["DisplayName"] = self.display_name
        doc["Description"] = self.description
        if self.max_token_ttl:
            doc["MaxTokenTTL"] = self.max_token_ttl
        if self.token_locality:
            doc["TokenLocality"] = self.token_locality
        doc["Config"] = copy.deepcopy(self.config)
        return {**doc, **self.indexes(), "Partition": self.partition, "Namespace": "default"}


@dataclass
class BindingRule(Indexed):
    """An ACL binding rule (``api/acl.go`` ``ACLBindingRule``)."""

    id: str
    auth_method: str
    bind_type: str
    bind_name: str
    description: str = ""
    selector: str = ""
    #: the partition of its auth method
    partition: str = "default"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ID": self.id,
            "Description": self.description,
            "AuthMethod": self.auth_method,
            "Selector": self.selector,
            "BindType": self.bind_type,
            "BindName": self.bind_name,
            **self.indexes(),
            "Partition": self.partition,
            "Namespace": "default",
        }


@dataclass
class ConfigEntry(Indexed):
    """A config entry: ``body`` is the normalized entry (Kind, Name, Partition, ...)."""

    body: dict[str, Any]

    @property
    def kind(self) -> str:
        return self.body["Kind"]

    @property
    def name(self) -> str:
        return self.body["Name"]

    @property
    def partition(self) -> str:
        return self.body["Partition"]

    def to_dict(self) -> dict[str, Any]:
        return {**copy.deepcopy(self.body), **self.indexes()}


@dataclass
class Peering(Indexed):
    """One side of a cluster peering between two partitions of this backend."""

    id: str
    name: str
    partition: str
    state: str = "PENDING"
    meta: dict[str, str] = field(default_factory=dict)
    peer_id: str = ""
    peer_server_name: str = ""
    peer_server_addresses: list[str] = field(default_factory=list)
    remote: dict[str, str] = field(default_factory=dict)
    #: the partition at the other end and the name it gives this peering, once established
    remote_partition: str | None = None
    remote_peer_name: str = ""
    #: the establishment secret of a pending token (None once used)
    secret: str | None = None

    def to_dict(self, imported: int, exported: int, heartbeat: str | None) -> dict[str, Any]:
        return {
            "ID": self.id,
            "Name": self.name,
            "Partition": self.partition,
            "Meta": dict(self.meta),
            "PeeringState": self.state,
            "PeerID": self.peer_id,
            "PeerServerName": self.peer_server_name,
            "PeerServerAddresses": list(self.peer_server_addresses),
            "Remote": dict(self.remote),
            **self.indexes(),
            "StreamStatus": {
                "ImportedServices": None,
                "ExportedServices": None,
                "LastHeartbeat": heartbeat,
                "LastReceive": None,
                "LastSend": None,
            },
            "ImportedServiceCount": imported,
            "ExportedServiceCount": exported,
        }


# ---------------------------------------------------------------- ?filter= schemas
#
# What go-bexpr would accept as selectors on each endpoint (it checks them against the Go
# type the endpoint filters): the fields of a fully populated sample of each document.


def _filter_schemas() -> dict[str, Schema]:
    node = Node("id", "node", "addr", "dc1", "default", {"lan": "addr"}, {"k": "v"})
    svc = Service("id", "svc", "default", "dc1", "node", kind="connect-proxy", proxy={})
    spec = CheckDef("id", "name", "ttl", definition={})
    check = Check("node", "default", spec, "passing", service_tags=["t"])
    extra_svc = {
        "Kind": None,
        "Proxy": ANY,
        "Connect": ANY,
        "TaggedAddresses": ANY,
        "PeerName": None,
        "SocketPath": None,
        "Locality": ANY,
        "ContentHash": None,
    }
    agent_service = schema_of(svc.to_dict(with_index=False), **extra_svc)
    service = schema_of(svc.to_dict(), **extra_svc)
    checks = schema_of(check.to_dict(), PeerName=None)
    nodes = schema_of(node.to_dict(), PeerName=None)
    catalog = schema_of(
        svc.catalog_dict(node),
        ServiceProxy=ANY,
        ServiceSocketPath=None,
        ServiceLocality=ANY,
        PeerName=None,
    )
    return {
        "agent_service": agent_service,
        "service": service,
        "check": checks,
        "agent_check": schema_of(check.to_dict(with_index=False)),
        "node": nodes,
        "catalog_service": catalog,
        "health": {"Node": nodes, "Service": service, "Checks": [checks]},
    }


FILTER_SCHEMAS: dict[str, Schema] = _filter_schemas()
