"""Connect: the CA's endpoints, the compiled discovery chain, the mesh's catalog views.

Real API (Consul 1.2x HTTP API docs; field names from the Go client's ``api/connect_ca.go``,
``api/discovery_chain.go``, ``api/agent.go`` ``LeafCert``):

- ``GET /v1/connect/ca/roots`` and ``GET /v1/agent/connect/ca/roots``: the trust bundle
  (``ActiveRootID``, ``TrustDomain``, ``Roots``); no ACL needed, as in Consul;
- ``GET /v1/connect/ca/configuration``: the provider and its settings (``operator:read``);
- ``GET /v1/agent/connect/ca/leaf/:service``: a leaf for the service (``service:write``),
  with ``CertPEM`` and ``PrivateKeyPEM``;
- ``GET /v1/discovery-chain/:service``: ``{"Chain": CompiledDiscoveryChain}`` (``StartNode``,
  ``Nodes`` of type router/splitter/resolver, ``Targets`` keyed
  ``[subset.]service.namespace.partition.dc``), ``service:read``;
- ``GET /v1/catalog/connect/:service``: catalog entries of the instances that can take
  Connect traffic for the service (its sidecar proxies, or itself when Connect-native);
- ``GET /v1/health/ingress/:service``: health entries of the ingress gateways whose
  ``ingress-gateway`` config entry routes to the service.

The CA itself is :class:`soa_sdk.sandbox.connect.ca.ConnectCA` on OpenBao: the emulator's
process attaches it as :attr:`ConnectState.connect_ca` (``None``: no CA configured, and the CA
endpoints answer 500 as a Consul whose CA is not initialised does).

Not implemented: ``PUT /v1/connect/ca/configuration`` (the provider is fixed at start),
``POST /v1/discovery-chain/:service`` overrides (``OverrideProtocol`` etc.), blocking on the
CA (``?index=`` on roots and leaves returns at once), ``?compile-dc=``, other datacenters'
targets.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..exceptions import ConsulError
from .core import Authz

if TYPE_CHECKING:
    from soa_sdk.sandbox.connect.ca import ConnectCA

DC = "dc1"
CONNECT_TIMEOUT = "5s"


def _target_id(service: str, partition: str, subset: str = "") -> str:
    head = f"{subset}.{service}" if subset else service
    return f"{head}.default.{partition}.{DC}"


class ConnectState:
    """The Connect endpoints of :class:`~soa_sdk.sandbox.consul.models.ConsulBackend`."""

    connect_ca: ConnectCA | None = None

    # -- the CA ------------------------------------------------------------------------------
    def _ca(self) -> ConnectCA:
        if self.connect_ca is None:
            raise ConsulError("CA provider is not initialized: the sandbox's Vault is not set")
        return self.connect_ca

    def connect_ca_roots(self) -> dict[str, Any]:
        """``GET /v1/connect/ca/roots`` (and the agent's copy)."""
        return self._ca().roots()

    def connect_ca_configuration(self, authz: Authz = None) -> dict[str, Any]:
        """``GET /v1/connect/ca/configuration`` (``operator:read``; no token shown)."""
        self._require(authz, "operator", "read")  # type: ignore[attr-defined]
        return self._ca().configuration()

    def agent_connect_ca_leaf(
        self, service: str, partition: str = "default", authz: Authz = None
    ) -> dict[str, Any]:
        """``GET /v1/agent/connect/ca/leaf/:service`` (``service:write``)."""
        from cryptography import x509

        self._require(authz, "service", "write", service, partition)  # type: ignore[attr-defined]
        ca = self._ca()
        chain, key = ca.leaf(service, partition)
        leaf_pem = chain.split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
        cert = x509.load_pem_x509_certificate(leaf_pem.encode())
        uris = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        uri = next(iter(uris.get_values_for_type(x509.UniformResourceIdentifier)), "")
        serial = f"{cert.serial_number:x}"
        return {
            "SerialNumber": ":".join(serial[i : i + 2] for i in range(0, len(serial), 2)),
            "CertPEM": chain,
            "PrivateKeyPEM": key,
            "Service": service,
            "ServiceURI": uri,
            "ValidAfter": _rfc3339(cert.not_valid_before_utc),
            "ValidBefore": _rfc3339(cert.not_valid_after_utc),
            "Namespace": "default",
            "Partition": partition,
            "Datacenter": DC,
            "CreateIndex": ca.index,
            "ModifyIndex": ca.index,
        }

    # -- the discovery chain -----------------------------------------------------------------
    def discovery_chain(
        self, service: str, partition: str = "default", authz: Authz = None
    ) -> dict[str, Any]:
        """``GET /v1/discovery-chain/:service``: router -> splitter -> resolvers, compiled."""
        from soa_sdk.sandbox.connect.build_context import Reader
        from soa_sdk.sandbox.connect.chain import resolve
        from soa_sdk.sandbox.connect.clusters import Target
        from soa_sdk.sandbox.connect.envoy_names import sni
        from soa_sdk.sandbox.connect.resolver import MAX_DEPTH

        self._require(authz, "service", "read", service, partition)  # type: ignore[attr-defined]
        reader = Reader(self)  # type: ignore[arg-type]
        trust_domain = self.connect_ca.trust_domain if self.connect_ca else "consul"
        nodes: dict[str, dict[str, Any]] = {}
        targets: dict[str, dict[str, Any]] = {}
        configured = False

        def target(t: Target) -> str:
            tid = _target_id(t.service, t.partition, t.subset)
            if tid not in targets:
                name = sni(trust_domain, t.service, t.partition, t.subset)
                subset: dict[str, Any] = {}
                if t.filter:
                    subset["Filter"] = t.filter
                if t.only_passing:
                    subset["OnlyPassing"] = True
                targets[tid] = {
                    "ID": tid,
                    "Service": t.service,
                    "ServiceSubset": t.subset,
                    "Namespace": "default",
                    "Partition": t.partition,
                    "Datacenter": DC,
                    "Peer": t.peer or "",
                    "MeshGateway": {},
                    "Subset": subset,
                    "ConnectTimeout": CONNECT_TIMEOUT,
                    "SNI": name,
                    "Name": name,
                }
            return tid

        def resolver(name: str, subset: str = "") -> str:
            nonlocal configured
            entry = reader.entry("service-resolver", name, partition)
            configured = configured or entry is not None
            plan = resolve(reader, name, partition, subset)
            ids = [target(t) for t in plan.targets]
            node_name = ids[0]
            body: dict[str, Any] = {
                "ConnectTimeout": _duration((entry or {}).get("ConnectTimeout")),
                "Default": entry is None,
                "Target": ids[0],
            }
            if len(ids) > 1:
                body["Failover"] = {"Targets": ids[1:]}
            nodes[f"resolver:{node_name}"] = {
                "Type": "resolver",
                "Name": node_name,
                "Resolver": body,
            }
            return f"resolver:{node_name}"

        def splitter_or_resolver(name: str, subset: str = "", depth: int = 0) -> str:
            nonlocal configured
            entry = reader.entry("service-splitter", name, partition) if not subset else None
            if entry is None or depth > MAX_DEPTH:
                return resolver(name, subset)
            configured = True
            key = f"splitter:{name}.default.{partition}"
            splits = []
            for split in entry.get("Splits") or []:
                nxt_service = split.get("Service") or name
                nxt_subset = split.get("ServiceSubset") or ""
                nxt = (
                    resolver(nxt_service, nxt_subset)
                    if nxt_service == name
                    else splitter_or_resolver(nxt_service, nxt_subset, depth + 1)
                )
                splits.append({"Weight": float(split.get("Weight") or 0), "NextNode": nxt})
            nodes[key] = {
                "Type": "splitter",
                "Name": f"{name}.default.{partition}",
                "Splits": splits,
            }
            return key

        start = splitter_or_resolver(service)
        router = reader.entry("service-router", service, partition)
        if router is not None:
            configured = True
            key = f"router:{service}.default.{partition}"
            routes = []
            for route in router.get("Routes") or []:
                dest = route.get("Destination") or {}
                nxt = splitter_or_resolver(
                    dest.get("Service") or service, dest.get("ServiceSubset") or ""
                )
                routes.append({"Definition": route, "NextNode": nxt})
            routes.append(
                {
                    "Definition": {
                        "Match": {"HTTP": {"PathPrefix": "/"}},
                        "Destination": {"Service": service, "Namespace": "default"},
                    },
                    "NextNode": start,
                }
            )
            nodes[key] = {
                "Type": "router",
                "Name": f"{service}.default.{partition}",
                "Routes": routes,
            }
            start = key
        return {
            "Chain": {
                "ServiceName": service,
                "Namespace": "default",
                "Partition": partition,
                "Datacenter": DC,
                "CustomizationHash": "",
                "Default": not configured,
                "Protocol": reader.protocol(service, partition),
                "ServiceMeta": {},
                "StartNode": start,
                "Nodes": nodes,
                "Targets": targets,
            }
        }

    # -- the mesh's catalog views ------------------------------------------------------------
    def catalog_connect(
        self,
        name: str,
        partition: str = "default",
        authz: Authz = None,
        filter_expr: str | None = None,
    ) -> list[dict]:
        """``GET /v1/catalog/connect/:service``: its sidecars (or itself when native)."""
        if not self._can_read_service(authz, name, partition):  # type: ignore[attr-defined]
            return []
        return self._docs(  # type: ignore[attr-defined,no-any-return]
            self._services,  # type: ignore[attr-defined]
            partition=partition,
            where=lambda s: (
                (s.kind == "connect-proxy" and s.destination == name)
                or (s.service == name and s.native)
            ),
            doc=self._catalog_doc,  # type: ignore[attr-defined]
            filter_expr=filter_expr,
            schema="catalog_service",
        )

    def health_ingress(
        self,
        name: str,
        partition: str = "default",
        passing: bool = False,
        authz: Authz = None,
        filter_expr: str | None = None,
    ) -> list[dict]:
        """``GET /v1/health/ingress/:service``: the ingress gateways that route to it."""
        gateways = []
        for entry in self.list_config_entries("ingress-gateway", partition):  # type: ignore[attr-defined]
            for listener in entry.get("Listeners") or []:
                if any(s.get("Name") in (name, "*") for s in listener.get("Services") or []):
                    gateways.append(entry["Name"])
                    break
        out: list[dict] = []
        for gateway in gateways:
            out += self.health_service(  # type: ignore[attr-defined]
                gateway, partition, passing, filter_expr=filter_expr, authz=authz
            )
        return out


def _duration(value: Any) -> str:
    if value in (None, "", 0):
        return CONNECT_TIMEOUT
    return str(value)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
