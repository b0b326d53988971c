"""Envoy resources for each proxy, from the Consul emulator's state: what Consul's xDS builds.

:func:`build` is a pure function: it reads the catalog and config entries only through the
:class:`~soa_sdk.sandbox.connect.view.CatalogView` protocol (HTTP-API-shaped dicts) and the
certificates through :class:`Certs`, and returns a :class:`Snapshot`: Envoy v3 resources in
their proto3 JSON form, per type (``ads`` turns them into protobufs), for the proxies one
Envoy process holds.

The parts, one concern a module: :mod:`.envoy_names` (type URLs, SPIFFE IDs, SNIs),
:mod:`.build_context` (the snapshot, the memoised reader, the proxy being built),
:mod:`.listeners` (public, upstream and ingress listeners), :mod:`.chain` (the discovery
chain to routes), :mod:`.route_parts` (matches, retries, headers), :mod:`.clusters`
(clusters and endpoints), :mod:`.rbac` (intentions to RBAC).

What Consul does (``agent/xds``) and we do:

- a sidecar (``Kind: connect-proxy``) gets a **public listener** ``public_listener:<ip>:<port>``
  that requires a client certificate from the Connect CA (mTLS), then, by the destination's
  protocol (``service-defaults`` ``Protocol``, else ``proxy-defaults`` ``global``
  ``Config.protocol``, else ``tcp``): ``http``/``http2``/``grpc`` an HTTP connection manager
  with the **HTTP RBAC filter** built from intentions and a route to ``local_app`` (the
  workload's ``LocalServiceAddress``/``Port``, or its Unix socket ``LocalServiceSocketPath``
  as an Envoy pipe address); ``tcp`` the network RBAC filter and a TCP proxy. The caller's
  identity is its certificate's URI SAN.
- each upstream gets a listener ``<name>:<LocalBindAddress>:<LocalBindPort>`` (address
  ``127.0.0.1`` by default), or, registered with ``LocalBindSocketPath`` instead of a port,
  ``<name>:<path>`` on that Unix socket (an Envoy pipe with ``LocalBindSocketMode``, e.g.
  ``0600``), which only processes allowed to open the file can dial; for L7 an RDS route
  named after the upstream, compiled from the **discovery chain**: ``service-router``
  routes (path exact / prefix / regex, headers, methods; prefix rewrite, timeout, retries,
  header changes) ->
  ``service-splitter`` (``weighted_clusters``, weights x100) -> ``service-resolver``
  (``Redirect``, subsets by ``Filter``, ``DefaultSubset``, ``Failover`` targets incl. other
  partitions).
- one **cluster** per resolved target, named by its SNI as Consul names it
  (``<subset>.<svc>.default.dc1.internal.<trust-domain>``; ``...default.<ap>.dc1.internal-v1...``
  in a non-default partition), EDS, mTLS with this proxy's leaf and the destination's SPIFFE
  ID as the only accepted SAN. Failover targets are the same cluster's endpoints at priorities
  1, 2...; Envoy moves traffic to them when priority 0 has no healthy endpoint.
- **endpoints** are the destination instances' sidecars; a critical check (instance, sidecar
  or node) makes an endpoint ``UNHEALTHY`` (a warning too with ``OnlyPassing``), and the
  panic threshold is 0, so critical instances leave routing.
- **intentions** (``service-intentions`` of the destination and ``*``), highest precedence
  first, each source's principal minus those of higher precedence, as Consul's
  ``agent/xds/rbac.go``; L7 permissions become RBAC permissions, first match wins. The
  default (no source matches) is :meth:`CatalogView.intention_default_allow` (deny in the
  sandbox): RBAC ``ALLOW`` with the allowing policies, else ``DENY`` with the denying ones.
  Denied requests get 403 ``RBAC: access denied``. At L4 the decision is the one the
  emulator's ``/v1/connect/intentions/check`` makes
  (:mod:`soa_sdk.sandbox.consul.state.precedence`; a test holds them together).
- an **ingress gateway** (``Kind: ingress-gateway`` plus its config entry) gets one listener
  per entry listener, a route ``<port>`` with a virtual host per service (``Hosts``, else
  ``<svc>.ingress.*``), and upstream clusters under its own identity. With ``TLS.Enabled``
  (the gateway's or a listener's) the listener serves TLS with the gateway's leaf (no client
  certificate asked for), and that leaf carries Consul's ingress DNS SANs
  (:func:`~soa_sdk.sandbox.connect.listeners.ingress_dns_sans`, the datacenter the view
  reports as ``datacenter``, else ``dc1``) besides its SPIFFE URI.
- **secrets** (SDS over ADS): ``default`` style names ``leaf:<partition>/<service>`` and
  ``roots``, so a CA rotation changes secrets only.

SPIFFE IDs are Consul's: ``spiffe://<td>/ns/default/dc/dc1/svc/<svc>`` in the default
partition, ``spiffe://<td>/ap/<ap>/ns/default/dc/dc1/svc/<svc>`` in another.

Not implemented: namespaces (``default`` only), peers (their trust domains and mesh
gateways: a peer target has no endpoints), mesh and terminating gateways, ingress TLS
certificates from SDS clusters and TLS versions or ciphers (see :mod:`.listeners`),
``Datacenters`` failover, resolver ``LoadBalancer``/``ConnectTimeout``, router ``QueryParam``
matches and intention ``QueryParam``/``JWT`` (Consul's intentions have none of the first
either), transparent proxy, ``Expose`` paths, escape hatches.
"""

from __future__ import annotations

from typing import Any

from soa_sdk.sandbox.connect.build_context import BuildContext, Certs, Reader, Snapshot, inline
from soa_sdk.sandbox.connect.envoy_names import (
    DC,
    ROOTS_SECRET,
    T_CLUSTER,
    T_ENDPOINT,
    T_LISTENER,
    T_ROUTE,
    T_SECRET,
    TYPES,
    leaf_secret_name,
    sni,
    spiffe_id,
)
from soa_sdk.sandbox.connect.listeners import ingress, ingress_dns_sans, sidecar
from soa_sdk.sandbox.connect.rbac import intention_sources, rbac_rules
from soa_sdk.sandbox.connect.route_parts import route_match
from soa_sdk.sandbox.connect.view import CatalogView, partitions_of

#: the snapshot builder's public face; its parts live in the modules imported above
__all__ = [
    "TYPES",
    "T_CLUSTER",
    "T_ENDPOINT",
    "T_LISTENER",
    "T_ROUTE",
    "T_SECRET",
    "Certs",
    "Snapshot",
    "build",
    "intention_sources",
    "proxies",
    "rbac_rules",
    "route_match",
    "sni",
    "spiffe_id",
]


def proxies(view: CatalogView, partition: str | None = None) -> list[dict[str, Any]]:
    """Every sidecar and ingress gateway registration (agent service dicts), by partition."""
    found = []
    for part in [partition] if partition else partitions_of(view):
        for svc in view.agent_services(partition=part).values():
            if svc.get("Kind") in ("connect-proxy", "ingress-gateway"):
                found.append({**svc, "Partition": svc.get("Partition") or part})
    return sorted(found, key=lambda s: (s["Partition"], s["ID"]))


def build(
    view: CatalogView,
    certs: Certs,
    held: list[dict[str, Any]],
    access_log: str | None = None,
) -> Snapshot:
    """The resources of one Envoy holding the proxies ``held`` (from :func:`proxies`)."""
    r = Reader(view)
    snap = Snapshot()
    td = certs.trust_domain
    identities = {_identity(p) for p in held}
    multi = len(identities) > 1
    default_allow = view.intention_default_allow()
    snap.add(
        T_SECRET,
        {"name": ROOTS_SECRET, "validation_context": {"trusted_ca": inline(certs.roots_pem())}},
    )
    for proxy in held:
        service, partition = _identity(proxy)
        name = leaf_secret_name(service, partition)
        if name not in snap.resources[T_SECRET]:
            sans: list[str] = []
            if proxy.get("Kind") == "ingress-gateway":
                entry = r.entry("ingress-gateway", service, partition)
                sans = ingress_dns_sans(entry, getattr(view, "datacenter", None) or DC)
            chain, key = certs.leaf(service, partition, sans)
            snap.add(
                T_SECRET,
                {
                    "name": name,
                    "tls_certificate": {
                        "certificate_chain": inline(chain),
                        "private_key": inline(key),
                    },
                },
            )
        suffix = (
            f"~{service}"
            if multi and partition == "default"
            else (f"~{partition}/{service}" if multi else "")
        )
        instance = (proxy.get("Proxy") or {}).get("DestinationServiceID") or proxy.get("ID", "")
        ctx = BuildContext(
            r, snap, td, service, partition, suffix, access_log, len(held) == 1, instance
        )
        if proxy.get("Kind") == "ingress-gateway":
            ingress(ctx, proxy)
        else:
            sidecar(ctx, proxy, default_allow)
    return snap


def _identity(proxy: dict[str, Any]) -> tuple[str, str]:
    if proxy.get("Kind") == "connect-proxy":
        return proxy["Proxy"]["DestinationServiceName"], proxy["Partition"]
    return proxy["Service"], proxy["Partition"]
