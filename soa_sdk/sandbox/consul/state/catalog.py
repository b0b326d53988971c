"""The catalog: the agent's services (with sidecars), ``/v1/catalog/*``, the agent's info.

What registration leaves out is said on :meth:`CatalogState.register_service`.
"""

from __future__ import annotations

import uuid
from typing import Any

from ..exceptions import BadRequest, HTTPError, NotFound
from .core import CONSUL_VERSION, Authz, compile_filter
from .health import HealthState, agent_check_def, catalog_check_def
from .records import CheckDef, Node, Service, content_hash

SIDECAR_PORT_MIN, SIDECAR_PORT_MAX = 21000, 21255
_GATEWAYS = ("mesh-gateway", "terminating-gateway", "ingress-gateway", "api-gateway")
_KINDS = ("", "connect-proxy", *_GATEWAYS)
_UPSTREAM_OPTIONAL = (
    "DestinationNamespace",
    "DestinationPartition",
    "DestinationPeer",
    "LocalBindAddress",
    "LocalBindSocketPath",
    "LocalBindSocketMode",
    "Config",
    "CentrallyConfigured",
)


def ce_shape(doc: dict[str, Any]) -> dict[str, Any]:
    """An agent service as Community Edition shows it: no ``Partition``/``Namespace`` in
    the default partition (CE's ``omitempty`` Enterprise fields); other partitions keep them."""
    if doc.get("Partition", "default") == "default":
        doc.pop("Partition", None)
        doc.pop("Namespace", None)
    return doc


def _upstream(up: dict) -> dict:
    out = {
        "DestinationType": up.get("DestinationType") or "service",
        "DestinationName": up.get("DestinationName", ""),
        "Datacenter": up.get("Datacenter", ""),
        "LocalBindPort": int(up.get("LocalBindPort") or 0),
        "MeshGateway": up.get("MeshGateway") or {},
    }
    out.update({k: up[k] for k in _UPSTREAM_OPTIONAL if up.get(k)})
    if not out["DestinationName"]:
        raise BadRequest("Upstream destination name cannot be empty")
    if not out["LocalBindPort"] and not out.get("LocalBindSocketPath"):
        raise BadRequest(
            f"Upstream {out['DestinationName']} must have a LocalBindPort or LocalBindSocketPath"
        )
    if out["LocalBindPort"] and out.get("LocalBindSocketPath"):
        # Consul's structs.Upstream.Validate: a port or a Unix socket, not both.
        raise BadRequest(
            "only one of upstream local bind port or local socket path can be defined and nonzero"
        )
    if not out["LocalBindPort"]:
        del out["LocalBindPort"]  # `json:",omitempty"` in Consul's structs.Upstream
    return out


def _proxy(proxy: dict | None, kind: str) -> dict:
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
        "Upstreams": [_upstream(u) for u in proxy.get("Upstreams") or []],
        "MeshGateway": proxy.get("MeshGateway") or {},
        "Expose": proxy.get("Expose") or {},
    }
    if proxy.get("LocalServiceSocketPath"):
        out["LocalServiceSocketPath"] = proxy["LocalServiceSocketPath"]
    if proxy.get("TransparentProxy"):
        out["TransparentProxy"] = proxy["TransparentProxy"]
    return out


def service_record(raw: dict, partition: str, datacenter: str, node: str) -> Service:
    """A service definition (agent or catalog shape) validated into a record."""
    name = raw.get("Name") or raw.get("Service") or ""
    if not name:
        raise BadRequest("Missing service name")
    kind = raw.get("Kind", "") or ""
    if kind not in _KINDS:
        raise BadRequest(f"Invalid service kind: {kind!r}")
    weights = raw.get("Weights") or {"Passing": 1, "Warning": 1}
    return Service(
        id=raw.get("ID") or name,
        service=name,
        partition=partition,
        datacenter=datacenter,
        node=node,
        kind=kind,
        tags=list(raw.get("Tags") or []),
        meta=dict(raw.get("Meta") or {}),
        port=int(raw.get("Port") or 0),
        address=raw.get("Address") or "",
        socket_path=raw.get("SocketPath") or "",
        tagged_addresses=raw.get("TaggedAddresses") or {},
        weights={
            "Passing": int(weights.get("Passing", 1)),
            "Warning": int(weights.get("Warning", 1)),
        },
        enable_tag_override=bool(raw.get("EnableTagOverride", False)),
        proxy=_proxy(raw.get("Proxy"), kind) if kind or raw.get("Proxy") else None,
        connect={"Native": True} if (raw.get("Connect") or {}).get("Native") else None,
    )


def _service_checks(raw: dict, svc: Service, numbered: bool = False) -> list[CheckDef]:
    """A service definition's ``Check`` and ``Checks``, with Consul's default IDs."""
    given = ([raw["Check"]] if raw.get("Check") else []) + list(raw.get("Checks") or [])
    out = []
    for i, chk in enumerate(given):
        suffix = f":{i + 1}" if numbered or len(given) > 1 else ""
        default_name = f"Service '{svc.service}' check"
        out.append(agent_check_def(chk, f"service:{svc.id}{suffix}", default_name))
    return out


class CatalogState(HealthState):
    """Nodes and service instances: agent registration and catalog reads."""

    # ------------------------------------------------------------------ registration

    def _sidecar_port(self, partition: str, node: str) -> int:
        used = {s.port for (p, n, _), s in self._services.items() if (p, n) == (partition, node)}
        for port in range(SIDECAR_PORT_MIN, SIDECAR_PORT_MAX + 1):
            if port not in used:
                return port
        raise BadRequest("No sidecar proxy port available in range 21000-21255")

    def _sidecar(self, sidecar_raw: dict, svc: Service, partition: str) -> Service:
        sraw = dict(sidecar_raw)
        sraw.setdefault("Name", f"{svc.service}-sidecar-proxy")
        sraw.setdefault("ID", f"{svc.id}-sidecar-proxy")
        sraw["Kind"] = "connect-proxy"
        sraw.setdefault("Tags", svc.tags)
        sraw.setdefault("Meta", svc.meta)
        sraw.setdefault("Address", svc.address)
        proxy = dict(sraw.get("Proxy") or {})
        proxy["DestinationServiceName"] = svc.service
        proxy["DestinationServiceID"] = svc.id
        # Consul's sidecarServiceFromNodeService: the service's socket, else its address.
        if not proxy.get("LocalServiceSocketPath") and (
            not proxy.get("LocalServiceAddress") or int(proxy.get("LocalServicePort") or 0) < 1
        ):
            if svc.socket_path:
                proxy["LocalServiceSocketPath"] = svc.socket_path
            else:
                proxy["LocalServiceAddress"] = proxy.get("LocalServiceAddress") or "127.0.0.1"
                if int(proxy.get("LocalServicePort") or 0) < 1:
                    proxy["LocalServicePort"] = svc.port
        sraw["Proxy"] = proxy
        if not sraw.get("Port"):
            existing = self._services.get((partition, self.node_name, sraw["ID"]))
            sraw["Port"] = existing.port if existing else self._sidecar_port(partition, svc.node)
        return service_record(sraw, partition, self.datacenter, self.node_name)

    def register_service(
        self,
        raw: dict,
        partition: str = "default",
        authz: Authz = None,
        replace_existing_checks: bool = False,
    ) -> dict:
        """``PUT /v1/agent/service/register``: a service (and sidecar, checks) on the agent.

        Not implemented: ``replace-existing-checks`` semantics beyond dropping the old checks,
        ``Connect.SidecarService.Checks`` defaults (Consul adds a TCP and an
        alias check to every sidecar; we add none so a sidecar without a listener stays
        healthy), ``Locality``.
        """
        partition = self.check_partition(partition)
        node = self.node_name
        svc = service_record(raw, partition, self.datacenter, node)
        self._require(authz, "service", "write", svc.service, partition)
        if svc.kind == "connect-proxy":
            self._require(authz, "service", "write", svc.destination, partition)
        checks = _service_checks(raw, svc)
        sidecar_raw = (raw.get("Connect") or {}).get("SidecarService")
        with self.write():
            todo = [(svc, checks)]
            if sidecar_raw is not None:
                sidecar = self._sidecar(sidecar_raw, svc, partition)
                given = {"Checks": sidecar_raw.get("Checks")}
                todo.append((sidecar, _service_checks(given, sidecar, numbered=True)))
            for instance, instance_checks in todo:
                key = (partition, node, instance.id)
                self._services.put(key, instance)
                if replace_existing_checks:
                    keep = {c.check_id for c in instance_checks}
                    for ckey, chk in list(self._checks.items()):
                        mine = ckey[:2] == key[:2] and chk.service_id == instance.id
                        if mine and ckey[2] not in keep:
                            self._drop_check(ckey)
                for spec in instance_checks:
                    self._store_check(partition, node, spec, instance)
        return svc.to_dict()

    def deregister_service(
        self, service_id: str, partition: str = "default", authz: Authz = None
    ) -> None:
        """``PUT /v1/agent/service/deregister/:id``; also removes its sidecar and checks."""
        partition = self.check_partition(partition)
        with self.write():
            key = (partition, self.node_name, service_id)
            svc = self._services.get(key)
            if svc is None:
                raise NotFound(
                    f'Unknown service ID "{service_id}". Ensure that the service ID is passed, '
                    "not the service name."
                )
            self._require(authz, "service", "write", svc.service, partition)
            self._drop_service(key)
            sidecar_key = (partition, self.node_name, f"{service_id}-sidecar-proxy")
            if sidecar_key in self._services:
                self._drop_service(sidecar_key)

    def agent_services(
        self, partition: str = "default", authz: Authz = None, filter_expr: str | None = None
    ) -> dict[str, dict]:
        """``GET /v1/agent/services``: the agent's services by ID (readable ones only)."""
        rows = self._select(
            self._services,
            partition=partition,
            where=lambda s: s.node == self.node_name,
            visible=lambda s: self._can_read_service(authz, s.service, s.partition),
            doc=lambda s: ce_shape(s.to_dict(with_index=False)),
            filter_expr=filter_expr,
            schema="agent_service",
        )
        return {key[2]: doc for key, doc in rows}

    def agent_service(
        self, service_id: str, partition: str = "default", authz: Authz = None
    ) -> dict:
        """``GET /v1/agent/service/:id`` with ``ContentHash``."""
        with self._lock:
            svc = self._services.get((partition, self.node_name, service_id))
            if svc is None:
                raise NotFound(f"unknown service ID: {service_id}")
            self._require(authz, "service", "read", svc.service, partition)
            doc = ce_shape(svc.to_dict(with_index=False))
        doc["ContentHash"] = content_hash(doc)[:16]
        return doc

    # ------------------------------------------------------------------ agent info

    def agent_self(self, authz: Authz = None) -> dict:
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
            "Stats": {
                "consul": {
                    "acl": "enabled" if self.acl_enabled else "disabled",
                    "bootstrap": "false",
                    "known_datacenters": "1",
                    "leader": "true",
                    "leader_addr": f"{self.address}:8300",
                    "server": "true",
                },
                "raft": {"state": "Leader", "num_peers": "0", "protocol_version": "3"},
                "serf_lan": {"members": "1", "failed": "0", "left": "0"},
            },
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

    def agent_members(self, authz: Authz = None) -> list[dict]:
        """``GET /v1/agent/members``: this one server (filtered by ``node:read``)."""
        if not self._allowed(authz, "node", "read", self.node_name):
            return []
        return [self._member()]

    # ------------------------------------------------------------------ catalog

    def _add_agent_node(self, partition: str) -> None:
        """The agent's own node in ``partition``, with its ``serfHealth`` check."""
        self._nodes.put(
            (partition, self.node_name),
            Node(
                id=self.node_id,
                node=self.node_name,
                address=self.address,
                datacenter=self.datacenter,
                partition=partition,
                tagged_addresses={"lan": self.address, "wan": self.address},
                meta={"consul-network-segment": ""},
            ),
        )
        serf = CheckDef(
            "serfHealth", "Serf Health Status", "", "passing", output="Agent alive and reachable"
        )
        self._store_check(partition, self.node_name, serf, None)

    def catalog_register(self, raw: dict, partition: str = "default", authz: Authz = None) -> None:
        """``PUT /v1/catalog/register``: a node, optionally with a service and checks.

        Catalog-registered checks are never run (as in Consul: only agents run checks).
        """
        self.check_dc(raw.get("Datacenter"))
        partition = self.check_partition(raw.get("Partition") or partition)
        node = raw.get("Node") or ""
        if not node:
            raise BadRequest("Must provide node")
        if not raw.get("Address") and not raw.get("SkipNodeUpdate"):
            raise BadRequest("Must provide address if SkipNodeUpdate is not set")
        svc = None
        if raw.get("Service"):
            svc = service_record(raw["Service"], partition, self.datacenter, node)
        self._require(authz, "node", "write", node, partition)
        if svc:
            self._require(authz, "service", "write", svc.service, partition)
        raw_checks = [c for c in [raw.get("Check"), *(raw.get("Checks") or [])] if c]
        checks = [catalog_check_def(c) for c in raw_checks]
        with self.write():
            nkey = (partition, node)
            old = self._nodes.get(nkey)
            if not raw.get("SkipNodeUpdate") or old is None:
                self._nodes.put(
                    nkey,
                    Node(
                        id=raw.get("ID") or (old.id if old else str(uuid.uuid4())),
                        node=node,
                        address=raw.get("Address") or (old.address if old else ""),
                        datacenter=self.datacenter,
                        partition=partition,
                        tagged_addresses=raw.get("TaggedAddresses") or {},
                        meta=raw.get("NodeMeta") or {},
                    ),
                )
            if svc:
                self._services.put((partition, node, svc.id), svc)
            for spec, chk_raw in zip(checks, raw_checks, strict=True):
                owner = None
                if chk_raw.get("ServiceID"):
                    owner = self._services.get((partition, node, chk_raw["ServiceID"]))
                self._store_check(partition, node, spec, owner)

    def catalog_deregister(
        self, raw: dict, partition: str = "default", authz: Authz = None
    ) -> None:
        """``PUT /v1/catalog/deregister``: a node, or one service or check of it."""
        self.check_dc(raw.get("Datacenter"))
        partition = self.check_partition(raw.get("Partition") or partition)
        node = raw.get("Node") or ""
        if not node:
            raise BadRequest("Must provide node")
        self._require(authz, "node", "write", node, partition)
        with self.write() as tx:
            tx.touch("nodes", "services", "checks")  # Consul bumps the index even for no-ops
            if raw.get("ServiceID"):
                key = (partition, node, raw["ServiceID"])
                if key in self._services:
                    self._require(authz, "service", "write", self._services[key].service, partition)
                    self._drop_service(key)
            elif raw.get("CheckID"):
                ckey = (partition, node, raw["CheckID"])
                if ckey in self._checks:
                    self._drop_check(ckey)
            else:
                self._delete_node(partition, node)

    def _delete_node(self, partition: str, node: str) -> None:
        """A node leaves the catalog with its sessions, services and checks (inside a write)."""
        self._nodes.pop((partition, node), None)
        self._end_node_sessions(partition, node)  # type: ignore[attr-defined]
        for key in [k for k in self._services if k[:2] == (partition, node)]:
            self._drop_service(key)
        for key in [k for k in self._checks if k[:2] == (partition, node)]:
            self._drop_check(key)

    def catalog_datacenters(self) -> list[str]:
        """``GET /v1/catalog/datacenters``."""
        return [self.datacenter]

    def catalog_nodes(
        self, partition: str = "default", authz: Authz = None, filter_expr: str | None = None
    ) -> list[dict]:
        """``GET /v1/catalog/nodes``."""
        return self._docs(
            self._nodes,
            partition=partition,
            visible=lambda n: self._allowed(authz, "node", "read", n.node, n.partition),
            filter_expr=filter_expr,
            schema="node",
        )

    def _catalog_doc(self, svc: Service) -> dict[str, Any]:
        return svc.catalog_dict(self._nodes.get((svc.partition, svc.node)))

    def _consul_service(self) -> Service:
        """The ``consul`` service every server registers in the catalog (never stored: it is
        not the agent's own service, so ``/v1/agent/services`` does not list it)."""
        svc = Service(
            "consul",
            "consul",
            "default",
            self.datacenter,
            self.node_name,
            port=8300,
            meta={
                "non_voter": "false",
                "raft_version": "3",
                "read_replica": "false",
                "serf_protocol_current": "2",
                "serf_protocol_max": "5",
                "serf_protocol_min": "1",
                "version": CONSUL_VERSION,
            },
        )
        svc.create_index = svc.modify_index = 1
        return svc

    def _shows_consul(self, partition: str, authz: Authz) -> bool:
        return partition == "default" and self._allowed(authz, "service", "read", "consul")

    def catalog_services(
        self, partition: str = "default", authz: Authz = None, filter_expr: str | None = None
    ) -> dict[str, list[str]]:
        """``GET /v1/catalog/services``: service name -> its tags (union over instances),
        with the servers' ``consul`` service."""
        out: dict[str, set[str]] = {}
        if self._shows_consul(partition, authz):
            pred = compile_filter(filter_expr, "catalog_service")
            if pred is None or pred(self._catalog_doc(self._consul_service())):
                out["consul"] = set()
        for _key, doc in self._select(
            self._services,
            partition=partition,
            visible=lambda s: self._can_read_service(authz, s.service, s.partition),
            doc=self._catalog_doc,
            filter_expr=filter_expr,
            schema="catalog_service",
        ):
            out.setdefault(doc["ServiceName"], set()).update(doc["ServiceTags"])
        return {name: sorted(tags) for name, tags in sorted(out.items())}

    def catalog_service(
        self,
        name: str,
        partition: str = "default",
        tags: list[str] | None = None,
        authz: Authz = None,
        filter_expr: str | None = None,
    ) -> list[dict]:
        """``GET /v1/catalog/service/:name`` (``tag`` may repeat: all must match)."""
        if not self._can_read_service(authz, name, partition):
            return []
        docs = self._docs(
            self._services,
            partition=partition,
            where=lambda s: s.service == name and all(t in s.tags for t in tags or []),
            doc=self._catalog_doc,
            filter_expr=filter_expr,
            schema="catalog_service",
        )
        if name == "consul" and not tags and self._shows_consul(partition, authz):
            doc = self._catalog_doc(self._consul_service())
            pred = compile_filter(filter_expr, "catalog_service")
            if pred is None or pred(doc):
                docs.insert(0, doc)
        return docs

    def catalog_node(
        self,
        node: str,
        partition: str = "default",
        authz: Authz = None,
        filter_expr: str | None = None,
    ) -> dict | None:
        """``GET /v1/catalog/node/:node``: the node and its services (``None`` if unknown);
        ``?filter=`` selects among the services, as Consul's."""
        with self._lock:
            found = self._nodes.get((partition, node))
            if found is None or not self._allowed(authz, "node", "read", node, partition):
                compile_filter(filter_expr, "service")  # a bad filter is still a 400
                return None
            rows = self._select(
                self._services,
                partition=partition,
                where=lambda s: s.node == node,
                visible=lambda s: self._can_read_service(authz, s.service, s.partition),
                filter_expr=filter_expr,
                schema="service",
            )
            if node == self.node_name and self._shows_consul(partition, authz):
                doc = self._consul_service().to_dict()
                pred = compile_filter(filter_expr, "service")
                if pred is None or pred(doc):
                    rows.insert(0, (("default", node, "consul"), doc))
            return {"Node": found.to_dict(), "Services": {key[2]: doc for key, doc in rows}}

    def catalog_node_services(
        self,
        node: str,
        partition: str = "default",
        authz: Authz = None,
        filter_expr: str | None = None,
    ) -> dict[str, Any]:
        """``GET /v1/catalog/node-services/:node``: :meth:`catalog_node` with the services
        as a list; an unknown or unreadable node is ``{"Node": null, "Services": null}``
        (Consul's empty ``NodeServiceList``), not a 404."""
        if not node:
            raise HTTPError(400, "Missing node name")
        found = self.catalog_node(node, partition, authz, filter_expr)
        if found is None:
            return {"Node": None, "Services": None}
        return {"Node": found["Node"], "Services": list(found["Services"].values())}
