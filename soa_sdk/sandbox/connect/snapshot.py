"""Envoy resources for each proxy, from the Consul emulator's state: what Consul's xDS builds.

:func:`build` is a pure function: it reads the catalog and config entries only through the
:class:`~soa_sdk.sandbox.connect.view.CatalogView` protocol (HTTP-API-shaped dicts) and the
certificates through :class:`Certs`, and returns a :class:`Snapshot`: Envoy v3 resources in
their proto3 JSON form, per type (``ads`` turns them into protobufs), for the proxies one
Envoy process holds.

What Consul does (``agent/xds``) and we do:

- a sidecar (``Kind: connect-proxy``) gets a **public listener** ``public_listener:<ip>:<port>``
  that requires a client certificate from the Connect CA (mTLS), then, by the destination's
  protocol (``service-defaults`` ``Protocol``, else ``proxy-defaults`` ``global``
  ``Config.protocol``, else ``tcp``): ``http``/``http2``/``grpc`` an HTTP connection manager
  with the **HTTP RBAC filter** built from intentions and a route to ``local_app`` (the
  workload's ``LocalServiceAddress``/``Port``, or its Unix socket ``LocalServiceSocketPath``
  as an Envoy pipe address); ``tcp`` the network RBAC filter and a TCP proxy. The caller's
  identity is its certificate's URI SAN.
- each upstream gets a listener ``<name>:127.0.0.1:<port>``; for L7 an RDS route named after
  the upstream, compiled from the **discovery chain**: ``service-router`` routes (path exact /
  prefix / regex, headers, methods; prefix rewrite, timeout, retries, header changes) ->
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
  ``<svc>.ingress.*``), and upstream clusters under its own identity.
- **secrets** (SDS over ADS): ``default`` style names ``leaf:<partition>/<service>`` and
  ``roots``, so a CA rotation changes secrets only.

SPIFFE IDs are Consul's: ``spiffe://<td>/ns/default/dc/dc1/svc/<svc>`` in the default
partition, ``spiffe://<td>/ap/<ap>/ns/default/dc/dc1/svc/<svc>`` in another.

Not implemented: namespaces (``default`` only), peers (their trust domains and mesh
gateways: a peer target has no endpoints), mesh and terminating gateways, ``Datacenters``
failover, resolver ``LoadBalancer``/``ConnectTimeout``, router ``QueryParam`` matches and
intention ``QueryParam``/``JWT`` (Consul's intentions have none of the first either),
transparent proxy, ``Expose`` paths, escape hatches.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from soa_sdk.sandbox.connect.resolver import MAX_DEPTH, failover_targets, follow_redirects
from soa_sdk.sandbox.connect.view import CatalogView, partitions_of
from soa_sdk.sandbox.consul.bexpr import compile_filter
from soa_sdk.sandbox.consul.checks import parse_duration
from soa_sdk.sandbox.consul.state.precedence import PRECEDENCE

L7 = ("http", "http2", "grpc")
DC = "dc1"

T_LISTENER = "type.googleapis.com/envoy.config.listener.v3.Listener"
T_ROUTE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
T_CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
T_ENDPOINT = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
T_SECRET = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
#: The order Consul (and Envoy's docs) push in: secrets, clusters, endpoints, then listeners
#: and routes, so nothing refers to a cluster Envoy does not know yet.
TYPES = (T_SECRET, T_CLUSTER, T_ENDPOINT, T_LISTENER, T_ROUTE)

_HCM = (
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3"
    ".HttpConnectionManager"
)
_HTTP_OPTS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
_ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
_HTTP_RBAC = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC"
_NET_RBAC = "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC"
_TCP_PROXY = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"
_DOWN_TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"
_UP_TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"
_FILE_LOG = "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog"
_ADS = {"ads": {}, "resource_api_version": "V3"}
ROOTS_SECRET = "roots"
DEFAULT_TIMEOUT = "15s"


class Certs(Protocol):
    """Where the proxies' certificates come from (``ca.ConnectCA`` satisfies it)."""

    trust_domain: str

    def roots_pem(self) -> str:
        """Every root the mesh trusts, PEM, concatenated (two during a rotation)."""
        ...

    def leaf(self, service: str, partition: str = "default") -> tuple[str, str]:
        """(certificate chain PEM, private key PEM) of ``service``'s leaf."""
        ...


def spiffe_id(trust_domain: str, service: str, partition: str = "default") -> str:
    """Consul's SPIFFE ID of a service (the partition segment only outside ``default``)."""
    ap = "" if partition == "default" else f"/ap/{partition}"
    return f"spiffe://{trust_domain}{ap}/ns/default/dc/{DC}/svc/{service}"


def sni(trust_domain: str, service: str, partition: str = "default", subset: str = "") -> str:
    """Consul's SNI (and cluster name) of a target."""
    head = f"{subset}.{service}" if subset else service
    if partition == "default":
        return f"{head}.default.{DC}.internal.{trust_domain}"
    return f"{head}.default.{partition}.{DC}.internal-v1.{trust_domain}"


def leaf_secret_name(service: str, partition: str = "default") -> str:
    return f"leaf:{partition}/{service}"


@dataclass
class Snapshot:
    """Resources of one Envoy node, per type URL: ``{type_url: {name: resource}}``."""

    resources: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {t: {} for t in TYPES}
    )
    #: what could not be built, e.g. a subset no resolver defines (the rest still serves).
    problems: list[str] = field(default_factory=list)

    def add(self, type_url: str, resource: dict[str, Any]) -> None:
        name = resource.get("name") or resource.get("cluster_name")
        self.resources[type_url][str(name)] = resource

    def version(self, type_url: str, names: set[str] | None = None) -> str:
        """A content hash of the resources of a type (only ``names`` when given)."""
        items = self.resources[type_url]
        picked = {n: r for n, r in items.items() if names is None or n in names}
        blob = json.dumps(picked, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class Target:
    """A resolved place to send traffic: a service (and subset) in a partition."""

    service: str
    partition: str
    subset: str = ""
    filter: str = ""
    only_passing: bool = False
    peer: str | None = None


@dataclass(frozen=True)
class ClusterPlan:
    """A cluster: the primary target, then failover targets (Envoy priorities 1, 2...)."""

    targets: tuple[Target, ...]


class _Reader:
    """Reads through a CatalogView, memoised for one build."""

    def __init__(self, view: CatalogView) -> None:
        self.view = view
        self._entries: dict[tuple[str, str, str], dict[str, Any] | None] = {}
        self._services: dict[str, dict[str, dict[str, Any]]] = {}
        self._health: dict[tuple[str, str, str], list[dict[str, Any]]] = {}

    def entry(self, kind: str, name: str, partition: str) -> dict[str, Any] | None:
        key = (kind, name, partition)
        if key not in self._entries:
            self._entries[key] = self.view.get_config_entry(kind, name, partition=partition)
        return self._entries[key]

    def services(self, partition: str) -> dict[str, dict[str, Any]]:
        if partition not in self._services:
            self._services[partition] = self.view.agent_services(partition=partition)
        return self._services[partition]

    def health(self, name: str, partition: str, consumer: str) -> list[dict[str, Any]]:
        key = (name, partition, consumer)
        if key not in self._health:
            kwargs: dict[str, Any] = {"partition": partition}
            if consumer != partition:
                kwargs["consumer_partition"] = consumer
            self._health[key] = self.view.health_service(name, **kwargs)
        return self._health[key]

    def protocol(self, service: str, partition: str) -> str:
        defaults = self.entry("service-defaults", service, partition)
        if defaults and defaults.get("Protocol"):
            return str(defaults["Protocol"]).lower()
        proxy = self.entry("proxy-defaults", "global", partition) or {}
        return str((proxy.get("Config") or {}).get("protocol") or "tcp").lower()


# --- proxies --------------------------------------------------------------------------------


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
    r = _Reader(view)
    snap = Snapshot()
    td = certs.trust_domain
    identities = {_identity(p) for p in held}
    multi = len(identities) > 1
    default_allow = view.intention_default_allow()
    snap.add(
        T_SECRET,
        {"name": ROOTS_SECRET, "validation_context": {"trusted_ca": _inline(certs.roots_pem())}},
    )
    for proxy in held:
        service, partition = _identity(proxy)
        name = leaf_secret_name(service, partition)
        if name not in snap.resources[T_SECRET]:
            chain, key = certs.leaf(service, partition)
            snap.add(
                T_SECRET,
                {
                    "name": name,
                    "tls_certificate": {
                        "certificate_chain": _inline(chain),
                        "private_key": _inline(key),
                    },
                },
            )
        suffix = (
            f"~{service}"
            if multi and partition == "default"
            else (f"~{partition}/{service}" if multi else "")
        )
        instance = (proxy.get("Proxy") or {}).get("DestinationServiceID") or proxy.get("ID", "")
        ctx = _Ctx(r, snap, td, service, partition, suffix, access_log, len(held) == 1, instance)
        if proxy.get("Kind") == "ingress-gateway":
            _ingress(ctx, proxy)
        else:
            _sidecar(ctx, proxy, default_allow)
    return snap


def _identity(proxy: dict[str, Any]) -> tuple[str, str]:
    if proxy.get("Kind") == "connect-proxy":
        return proxy["Proxy"]["DestinationServiceName"], proxy["Partition"]
    return proxy["Service"], proxy["Partition"]


@dataclass
class _Ctx:
    r: _Reader
    snap: Snapshot
    td: str
    service: str  # the identity of the proxy (its destination service, or the gateway)
    partition: str
    suffix: str  # tells apart the resources of several identities in one Envoy
    access_log: str | None
    single: bool = True  # the Envoy holds this proxy only
    instance: str = ""  # the service instance a sidecar fronts (its ID), or the gateway's

    def tls(self) -> dict[str, Any]:
        return {
            "tls_certificate_sds_secret_configs": [
                {"name": leaf_secret_name(self.service, self.partition), "sds_config": _ADS}
            ],
            "validation_context_sds_secret_config": {"name": ROOTS_SECRET, "sds_config": _ADS},
        }


def _inline(pem: str) -> dict[str, str]:
    return {"inline_string": pem}


def _address(ip: str, port: int) -> dict[str, Any]:
    return {"socket_address": {"address": ip, "port_value": int(port)}}


def _proxy_ip(proxy: dict[str, Any]) -> str:
    return proxy.get("Address") or "127.0.0.1"


def _access_log(ctx: _Ctx, kind: str) -> list[dict[str, Any]]:
    if not ctx.access_log:
        return []
    fields = {
        "start_time": "%START_TIME%",
        "listener": kind,
        "identity": ctx.service,
        "partition": ctx.partition,
        "instance": ctx.instance,
        "method": "%REQ(:METHOD)%",
        "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
        "status": "%RESPONSE_CODE%",
        "flags": "%RESPONSE_FLAGS%",
        "details": "%RESPONSE_CODE_DETAILS%",
        "upstream_cluster": "%UPSTREAM_CLUSTER%",
        "upstream_host": "%UPSTREAM_HOST%",
        "peer": "%DOWNSTREAM_PEER_URI_SAN%",
        # %DURATION% in microseconds: first byte received to last byte sent downstream
        "duration_us": "%COMMON_DURATION(DS_RX_BEG:DS_TX_END:us)%",
        "request_id": "%REQ(X-REQUEST-ID)%",
    }
    return [
        {
            "name": "envoy.access_loggers.file",
            "typed_config": {
                "@type": _FILE_LOG,
                "path": ctx.access_log,
                "log_format": {"json_format": fields},
            },
        }
    ]


def _hcm(ctx: _Ctx, stat_prefix: str, kind: str, **route: Any) -> dict[str, Any]:
    filters = [
        *route.pop("_filters", []),
        {"name": "envoy.filters.http.router", "typed_config": {"@type": _ROUTER}},
    ]
    config = {"@type": _HCM, "stat_prefix": stat_prefix, "codec_type": "AUTO", **route}
    config["http_filters"] = filters
    log = _access_log(ctx, kind)
    if log:
        config["access_log"] = log
    return {"name": "envoy.filters.network.http_connection_manager", "typed_config": config}


# --- sidecars -------------------------------------------------------------------------------


def _local_app_address(cfg: dict[str, Any]) -> dict[str, Any]:
    """Where the sidecar reaches its workload: ``LocalServiceSocketPath`` as a pipe (Consul's
    ``makePipeEndpoint``), else ``LocalServiceAddress:LocalServicePort``."""
    if cfg.get("LocalServiceSocketPath"):
        return {"pipe": {"path": cfg["LocalServiceSocketPath"]}}
    return _address(cfg.get("LocalServiceAddress") or "127.0.0.1", cfg.get("LocalServicePort") or 0)


def _sidecar(ctx: _Ctx, proxy: dict[str, Any], default_allow: bool) -> None:
    cfg = proxy.get("Proxy") or {}
    ip = _proxy_ip(proxy)
    protocol = ctx.r.protocol(ctx.service, ctx.partition)
    local = "local_app" if ctx.single else f"local_app~{proxy['ID']}"
    ctx.snap.add(
        T_CLUSTER,
        {
            "name": local,
            "type": "STATIC",
            "connect_timeout": "5s",
            "load_assignment": {
                "cluster_name": local,
                "endpoints": [
                    {"lb_endpoints": [{"endpoint": {"address": _local_app_address(cfg)}}]}
                ],
            },
        },
    )
    rules = rbac_rules(ctx.r, ctx.td, ctx.service, ctx.partition, default_allow, protocol in L7)
    tls = {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": _DOWN_TLS,
            "common_tls_context": ctx.tls(),
            "require_client_certificate": True,
        },
    }
    if protocol in L7:
        filt = _hcm(
            ctx,
            "public_listener",
            "public",
            route_config={
                "name": f"public_listener~{proxy['ID']}",
                "virtual_hosts": [
                    {
                        "name": "local_app",
                        "domains": ["*"],
                        "routes": [
                            {"match": {"prefix": "/"}, "route": {"cluster": local, "timeout": "0s"}}
                        ],
                    }
                ],
            },
            forward_client_cert_details="SANITIZE_SET",
            set_current_client_cert_details={"uri": True},
            _filters=[
                {
                    "name": "envoy.filters.http.rbac",
                    "typed_config": {"@type": _HTTP_RBAC, "rules": rules},
                }
            ],
        )
        filters = [filt]
    else:
        filters = [
            {
                "name": "envoy.filters.network.rbac",
                "typed_config": {
                    "@type": _NET_RBAC,
                    "stat_prefix": "connect_authz",
                    "rules": rules,
                },
            },
            {
                "name": "envoy.filters.network.tcp_proxy",
                "typed_config": {
                    "@type": _TCP_PROXY,
                    "stat_prefix": "public_listener",
                    "cluster": local,
                },
            },
        ]
    port = int(proxy.get("Port") or 0)
    ctx.snap.add(
        T_LISTENER,
        {
            "name": f"public_listener:{ip}:{port}",
            "address": _address(ip, port),
            "traffic_direction": "INBOUND",
            "filter_chains": [{"filters": filters, "transport_socket": tls}],
        },
    )
    for up in cfg.get("Upstreams") or ():
        if up.get("DestinationType", "service") != "service" or up.get("DestinationPeer"):
            ctx.snap.problems.append(
                f"{proxy['ID']}: upstream {up.get('DestinationName')!r} is not a local service"
            )
            continue
        name = up["DestinationName"]
        dest_part = up.get("DestinationPartition") or ctx.partition
        bind_ip = up.get("LocalBindAddress") or "127.0.0.1"
        port = int(up["LocalBindPort"])
        _upstream_listener(ctx, name, dest_part, f"{name}:{bind_ip}:{port}", bind_ip, port)


def _upstream_listener(
    ctx: _Ctx, name: str, partition: str, listener: str, ip: str, port: int
) -> None:
    protocol = ctx.r.protocol(name, partition)
    stat = f"upstream.{name}.default.{partition}.{DC}"
    if protocol in L7:
        route_name = (
            f"{name}{ctx.suffix}"
            if partition == ctx.partition
            else f"{name}.{partition}{ctx.suffix}"
        )
        try:
            routes = chain_routes(ctx, name, partition)
        except ChainError as exc:
            ctx.snap.problems.append(f"{listener}: {exc}")
            return
        ctx.snap.add(
            T_ROUTE,
            {
                "name": route_name,
                "virtual_hosts": [{"name": name, "domains": ["*"], "routes": routes}],
                "validate_clusters": False,
            },
        )
        filt = _hcm(
            ctx, stat, "upstream", rds={"config_source": _ADS, "route_config_name": route_name}
        )
    else:
        try:
            cluster = _cluster(ctx, _resolve(ctx.r, name, partition, ""))
        except ChainError as exc:
            ctx.snap.problems.append(f"{listener}: {exc}")
            return
        filt = {
            "name": "envoy.filters.network.tcp_proxy",
            "typed_config": {"@type": _TCP_PROXY, "stat_prefix": stat, "cluster": cluster},
        }
    ctx.snap.add(
        T_LISTENER,
        {
            "name": listener,
            "address": _address(ip, port),
            "traffic_direction": "OUTBOUND",
            "filter_chains": [{"filters": [filt]}],
        },
    )


# --- ingress gateways -----------------------------------------------------------------------


def _ingress(ctx: _Ctx, proxy: dict[str, Any]) -> None:
    entry = ctx.r.entry("ingress-gateway", proxy["Service"], ctx.partition)
    if not entry:
        ctx.snap.problems.append(f"{proxy['ID']}: no ingress-gateway config entry")
        return
    ip = _proxy_ip(proxy)
    for lst in entry.get("Listeners") or ():
        port = int(lst["Port"])
        protocol = (lst.get("Protocol") or "tcp").lower()
        services = lst.get("Services") or ()
        name = f"{protocol}:{ip}:{port}"
        if protocol not in L7:
            if services:
                svc = services[0]
                _upstream_listener(
                    ctx, svc["Name"], svc.get("Partition") or ctx.partition, name, ip, port
                )
            continue
        hosts = []
        for svc in services:
            part = svc.get("Partition") or ctx.partition
            try:
                routes = chain_routes(ctx, svc["Name"], part)
            except ChainError as exc:
                ctx.snap.problems.append(f"{name}: {exc}")
                continue
            domains = svc.get("Hosts") or [
                f"{svc['Name']}.ingress.*",
                f"{svc['Name']}.ingress.*:{port}",
            ]
            hosts.append({"name": f"{svc['Name']}", "domains": domains, "routes": routes})
        route_name = f"{port}{ctx.suffix}"
        ctx.snap.add(
            T_ROUTE, {"name": route_name, "virtual_hosts": hosts, "validate_clusters": False}
        )
        filt = _hcm(
            ctx,
            f"ingress_upstream_{port}",
            "ingress",
            rds={"config_source": _ADS, "route_config_name": route_name},
        )
        ctx.snap.add(
            T_LISTENER,
            {
                "name": name,
                "address": _address(ip, port),
                "traffic_direction": "OUTBOUND",
                "filter_chains": [{"filters": [filt]}],
            },
        )


# --- the discovery chain --------------------------------------------------------------------


class ChainError(Exception):
    """A chain that cannot be compiled (a subset no resolver defines...)."""


def chain_routes(ctx: _Ctx, service: str, partition: str) -> list[dict[str, Any]]:
    """Envoy routes of the compiled discovery chain of ``service`` as seen from ``ctx``."""
    out: list[dict[str, Any]] = []
    router = ctx.r.entry("service-router", service, partition)
    for rt in (router or {}).get("Routes") or ():
        http = (rt.get("Match") or {}).get("HTTP") or {}
        dest = rt.get("Destination") or {}
        dest_service = dest.get("Service") or service
        dest_part = dest.get("Partition") or partition
        action = _route_action(ctx, dest_service, dest_part, dest.get("ServiceSubset") or "")
        if dest.get("PrefixRewrite"):
            action["prefix_rewrite"] = dest["PrefixRewrite"]
        if dest.get("RequestTimeout"):
            action["timeout"] = _duration(dest["RequestTimeout"])
        retry = _retry_policy(dest)
        if retry:
            action["retry_policy"] = retry
        route: dict[str, Any] = {"match": route_match(http), "route": action}
        _header_ops(route, dest)
        out.append(route)
    default = _route_action(ctx, service, partition, "")
    out.append({"match": {"prefix": "/"}, "route": default})
    return out


def _route_action(ctx: _Ctx, service: str, partition: str, subset: str) -> dict[str, Any]:
    timeout = _resolver_timeout(ctx.r, service, partition)
    if subset:
        action: dict[str, Any] = {
            "cluster": _cluster(ctx, _resolve(ctx.r, service, partition, subset))
        }
    else:
        splits = _flatten_splits(ctx.r, service, partition, 100.0, 0)
        if len(splits) == 1 and splits[0][4] is None:
            _, svc, part, sub, _ = splits[0]
            action = {"cluster": _cluster(ctx, _resolve(ctx.r, svc, part, sub))}
        else:
            clusters = []
            for weight, svc, part, sub, split in splits:
                wc: dict[str, Any] = {
                    "name": _cluster(ctx, _resolve(ctx.r, svc, part, sub)),
                    "weight": round(weight * 100),
                }
                _header_ops(wc, split or {})
                clusters.append(wc)
            merged: dict[str, dict[str, Any]] = {}
            for wc in clusters:  # two splits to one cluster add up, as Consul merges them
                if wc["name"] in merged and len(wc) == 2:
                    merged[wc["name"]]["weight"] += wc["weight"]
                else:
                    merged.setdefault(wc["name"], wc)
            action = {"weighted_clusters": {"clusters": list(merged.values())}}
    action["timeout"] = timeout or DEFAULT_TIMEOUT
    return action


def _flatten_splits(
    r: _Reader, service: str, partition: str, share: float, depth: int
) -> list[tuple[float, str, str, str, dict[str, Any] | None]]:
    """(weight in percent, service, partition, subset, the split) leaves of nested splitters."""
    splitter = r.entry("service-splitter", service, partition) if depth < MAX_DEPTH else None
    splits = (splitter or {}).get("Splits") or ()
    if not splits:
        return [(share, service, partition, "", None)]
    out = []
    for sp in splits:
        weight = share * float(sp.get("Weight") or 0) / 100.0
        if weight <= 0:
            continue
        svc = sp.get("Service") or service
        part = sp.get("Partition") or partition
        sub = sp.get("ServiceSubset") or ""
        if sub or (svc, part) == (service, partition):
            out.append((weight, svc, part, sub, sp))
        else:
            out.extend(_flatten_splits(r, svc, part, weight, depth + 1))
    return out


def _resolver_timeout(r: _Reader, service: str, partition: str) -> str | None:
    resolver = r.entry("service-resolver", service, partition) or {}
    return _duration(resolver["RequestTimeout"]) if resolver.get("RequestTimeout") else None


def _subset_target(
    r: _Reader, service: str, partition: str, subset: str, peer: str | None
) -> Target:
    if peer:
        return Target(service, partition, subset, peer=peer)
    resolver = r.entry("service-resolver", service, partition) or {}
    subset = subset or resolver.get("DefaultSubset") or ""
    if not subset:
        return Target(service, partition)
    definition = (resolver.get("Subsets") or {}).get(subset)
    if definition is None:
        raise ChainError(f"service-resolver {service!r} has no subset {subset!r}")
    return Target(
        service,
        partition,
        subset,
        definition.get("Filter") or "",
        bool(definition.get("OnlyPassing")),
    )


def _resolve(r: _Reader, service: str, partition: str, subset: str) -> ClusterPlan:
    """Redirects, the subset, and the failover targets of the resolver."""
    to = follow_redirects(r.entry, service, partition, subset)
    if to.peer:
        return ClusterPlan((Target(to.service, to.partition, to.subset, peer=to.peer),))
    primary = _subset_target(r, to.service, to.partition, to.subset, None)
    failover = failover_targets(to.resolver, primary.subset, to.service, to.partition)
    return ClusterPlan((primary, *(_subset_target(r, *key) for key in failover)))


def _cluster(ctx: _Ctx, plan: ClusterPlan) -> str:
    """Adds (once) the cluster and endpoints of ``plan``; returns the cluster's name."""
    primary = plan.targets[0]
    name = sni(ctx.td, primary.service, primary.partition, primary.subset)
    if len(plan.targets) > 1:
        name = "failover~" + name
    name += ctx.suffix
    if name in ctx.snap.resources[T_CLUSTER]:
        return name
    sans = []
    for t in plan.targets:
        sid = spiffe_id(ctx.td, t.service, t.partition)
        if sid not in sans:
            sans.append(sid)
    tls = {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": _UP_TLS,
            "sni": sni(ctx.td, primary.service, primary.partition, primary.subset),
            "common_tls_context": {
                "tls_certificate_sds_secret_configs": ctx.tls()[
                    "tls_certificate_sds_secret_configs"
                ],
                "combined_validation_context": {
                    "default_validation_context": {
                        "match_typed_subject_alt_names": [
                            {"san_type": "URI", "matcher": {"exact": s}} for s in sans
                        ]
                    },
                    "validation_context_sds_secret_config": {
                        "name": ROOTS_SECRET,
                        "sds_config": _ADS,
                    },
                },
            },
        },
    }
    protocol = ctx.r.protocol(primary.service, primary.partition)
    cluster: dict[str, Any] = {
        "name": name,
        "type": "EDS",
        "eds_cluster_config": {"eds_config": _ADS},
        "connect_timeout": "5s",
        "common_lb_config": {"healthy_panic_threshold": {}},
        "transport_socket": tls,
        "outlier_detection": {},
    }
    if protocol in ("http2", "grpc"):
        cluster["typed_extension_protocol_options"] = {
            _HTTP_OPTS: {
                "@type": f"type.googleapis.com/{_HTTP_OPTS}",
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        }
    ctx.snap.add(T_CLUSTER, cluster)
    ctx.snap.add(T_ENDPOINT, {"cluster_name": name, "endpoints": _endpoints(ctx, plan)})
    return name


def _endpoints(ctx: _Ctx, plan: ClusterPlan) -> list[dict[str, Any]]:
    groups = []
    for priority, target in enumerate(plan.targets):
        lb = []
        if target.peer is None:
            lb = _target_endpoints(ctx, target)
        groups.append({"priority": priority, "lb_endpoints": lb})
    return groups


_FILTERS: dict[str, Callable[[dict], bool]] = {}


def _target_endpoints(ctx: _Ctx, t: Target) -> list[dict[str, Any]]:
    instances = ctx.r.health(t.service, t.partition, ctx.partition)
    if t.filter:
        pred = _FILTERS.get(t.filter)
        if pred is None:
            pred = _FILTERS[t.filter] = compile_filter(t.filter)
        instances = [e for e in instances if pred(e)]
    sidecars = {
        (s.get("Proxy") or {}).get("DestinationServiceID"): s
        for s in ctx.r.services(t.partition).values()
        if s.get("Kind") == "connect-proxy"
    }
    out = []
    for entry in instances:
        inst = entry["Service"]
        sidecar = sidecars.get(inst["ID"])
        if sidecar is None:
            continue  # not in the mesh
        statuses = [c.get("Status") for c in entry.get("Checks") or ()]
        side_checks = [
            c.get("Status")
            for e in ctx.r.health(sidecar["Service"], t.partition, ctx.partition)
            if e["Service"]["ID"] == sidecar["ID"]
            for c in e.get("Checks") or ()
            if c.get("ServiceID") == sidecar["ID"]
        ]
        statuses += side_checks
        healthy = "critical" not in statuses and not (t.only_passing and "warning" in statuses)
        ip = sidecar.get("Address") or entry["Node"].get("Address") or "127.0.0.1"
        out.append(
            {
                "endpoint": {"address": _address(ip, sidecar["Port"])},
                "health_status": "HEALTHY" if healthy else "UNHEALTHY",
                "load_balancing_weight": int((inst.get("Weights") or {}).get("Passing") or 1),
            }
        )
    return out


# --- routes: matches, retries, headers ------------------------------------------------------


def _string_match(crit: dict[str, Any]) -> dict[str, Any] | None:
    if crit.get("Exact") not in (None, ""):
        return {"exact": crit["Exact"]}
    if crit.get("Prefix"):
        return {"prefix": crit["Prefix"]}
    if crit.get("Suffix"):
        return {"suffix": crit["Suffix"]}
    if crit.get("Regex"):
        return {"safe_regex": {"regex": crit["Regex"]}}
    return None


def _header_matcher(crit: dict[str, Any]) -> dict[str, Any]:
    m: dict[str, Any] = {"name": crit.get("Name", "")}
    sm = None if crit.get("Present") else _string_match(crit)
    if sm is None:
        m["present_match"] = True
    else:
        m["string_match"] = sm
    if crit.get("Invert"):
        m["invert_match"] = True
    return m


def route_match(http: dict[str, Any]) -> dict[str, Any]:
    """An Envoy ``RouteMatch`` from a router's ``Match.HTTP``."""
    match: dict[str, Any]
    if http.get("PathExact"):
        match = {"path": http["PathExact"]}
    elif http.get("PathRegex"):
        match = {"safe_regex": {"regex": http["PathRegex"]}}
    else:
        match = {"prefix": http.get("PathPrefix") or "/"}
    headers = [_header_matcher(h) for h in http.get("Header") or ()]
    if http.get("Methods"):
        headers.append(
            {
                "name": ":method",
                "string_match": {
                    "safe_regex": {"regex": "|".join(m.upper() for m in http["Methods"])}
                },
            }
        )
    if headers:
        match["headers"] = headers
    params = []
    for q in http.get("QueryParam") or ():
        qm: dict[str, Any] = {"name": q.get("Name", "")}
        sm = None if q.get("Present") else _string_match(q)
        if sm is None:
            qm["present_match"] = True
        else:
            qm["string_match"] = sm
        params.append(qm)
    if params:
        match["query_parameters"] = params
    return match


def _retry_policy(dest: dict[str, Any]) -> dict[str, Any] | None:
    on = []
    if dest.get("RetryOnConnectFailure"):
        on.append("connect-failure")
    codes = [int(c) for c in dest.get("RetryOnStatusCodes") or ()]
    if codes:
        on.append("retriable-status-codes")
    if not on and not dest.get("NumRetries"):
        return None
    policy: dict[str, Any] = {"retry_on": ",".join(on) or "connect-failure"}
    if dest.get("NumRetries"):
        policy["num_retries"] = int(dest["NumRetries"])
    if codes:
        policy["retriable_status_codes"] = codes
    return policy


def _header_ops(target: dict[str, Any], block: dict[str, Any]) -> None:
    for key, prefix in (("RequestHeaders", "request"), ("ResponseHeaders", "response")):
        ops = block.get(key) or {}
        add = [
            {"header": {"key": k, "value": v}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
            for k, v in (ops.get("Set") or {}).items()
        ] + [
            {"header": {"key": k, "value": v}, "append_action": "APPEND_IF_EXISTS_OR_ADD"}
            for k, v in (ops.get("Add") or {}).items()
        ]
        if add:
            target[f"{prefix}_headers_to_add"] = add
        if ops.get("Remove"):
            target[f"{prefix}_headers_to_remove"] = list(ops["Remove"])


def _duration(value: Any, default: float = 15.0) -> str:
    """An Envoy duration from a Go one (``"15s"``, nanoseconds); unreadable or 0: ``default``."""
    try:
        seconds = parse_duration(value) or default
    except ValueError:
        seconds = default
    return f"{seconds:.3f}s"


# --- intentions -> RBAC ---------------------------------------------------------------------


def _source_principal(td: str, src: dict[str, Any], dest_partition: str) -> dict[str, Any] | None:
    if src.get("Peer") or src.get("SamenessGroup"):
        return None  # peers' trust domains are not modelled
    part = src.get("Partition") or dest_partition
    name = src.get("Name") or ""
    if name == "*":
        ap = "" if part == "default" else f"/ap/{part}"
        regex = f"^spiffe://{_re_escape(td)}{ap}/ns/[^/]+/dc/[^/]+/svc/[^/]+$"
        return {"authenticated": {"principal_name": {"safe_regex": {"regex": regex}}}}
    return {"authenticated": {"principal_name": {"exact": spiffe_id(td, name, part)}}}


def _re_escape(text: str) -> str:
    return "".join("\\" + c if c in ".^$*+?()[]{}|\\" else c for c in text)


def _permission(http: dict[str, Any] | None) -> dict[str, Any]:
    if not http:
        return {"any": True}
    rules: list[dict[str, Any]] = []
    if http.get("PathExact"):
        rules.append({"url_path": {"path": {"exact": http["PathExact"]}}})
    if http.get("PathPrefix"):
        rules.append({"url_path": {"path": {"prefix": http["PathPrefix"]}}})
    if http.get("PathRegex"):
        rules.append({"url_path": {"path": {"safe_regex": {"regex": http["PathRegex"]}}}})
    if http.get("Methods"):
        rules.append(
            {
                "header": {
                    "name": ":method",
                    "string_match": {
                        "safe_regex": {"regex": "|".join(m.upper() for m in http["Methods"])}
                    },
                }
            }
        )
    rules.extend({"header": _header_matcher(h)} for h in http.get("Header") or ())
    if not rules:
        return {"any": True}
    return rules[0] if len(rules) == 1 else {"and_rules": {"rules": rules}}


def intention_sources(
    r: _Reader | CatalogView, service: str, partition: str
) -> list[tuple[int, dict[str, Any]]]:
    """The applicable sources, highest precedence first (Consul's order)."""
    reader = r if isinstance(r, _Reader) else _Reader(r)
    found: list[tuple[int, dict[str, Any]]] = []
    for entry_name in (service, "*") if service != "*" else ("*",):
        entry = reader.entry("service-intentions", entry_name, partition)
        for src in (entry or {}).get("Sources") or ():
            exact_src = src.get("Name") != "*"
            found.append((PRECEDENCE[(entry_name != "*", exact_src)], src))
    found.sort(key=lambda item: -item[0])
    return found


def rbac_rules(
    r: _Reader | CatalogView,
    td: str,
    service: str,
    partition: str,
    default_allow: bool,
    l7: bool,
) -> dict[str, Any]:
    """Envoy ``RBAC`` rules for the destination ``service`` (``config.rbac.v3.RBAC``)."""
    want = "deny" if default_allow else "allow"
    policies: dict[str, Any] = {}
    higher: list[dict[str, Any]] = []
    for i, (_prec, src) in enumerate(intention_sources(r, service, partition)):
        principal = _source_principal(td, src, partition)
        if principal is None:
            continue
        ids = [principal] + [{"not_id": h} for h in higher]
        full = ids[0] if len(ids) == 1 else {"and_ids": {"ids": ids}}
        higher.append(principal)
        action = str(src.get("Action") or "").lower()
        if action:
            if action == want:
                policies[f"consul-intentions-layer4-{i}"] = {
                    "permissions": [{"any": True}],
                    "principals": [full],
                }
            continue
        perms = src.get("Permissions") or ()
        if not l7:
            if want == "deny":  # an L7 intention on an L4 listener: Consul denies
                policies[f"consul-intentions-layer4-{i}"] = {
                    "permissions": [{"any": True}],
                    "principals": [full],
                }
            continue
        # first match wins: permission k decides when it matches and no earlier one does
        matched: list[dict[str, Any]] = []
        chosen: list[dict[str, Any]] = []
        for perm in perms:
            p = _permission(perm.get("HTTP"))
            if str(perm.get("Action", "")).lower() == want:
                chosen.append(
                    p
                    if not matched
                    else {"and_rules": {"rules": [p] + [{"not_rule": m} for m in matched]}}
                )
            matched.append(p)
        if chosen:
            policies[f"consul-intentions-layer7-{i}"] = {
                "permissions": chosen,
                "principals": [full],
            }
    return {"action": "DENY" if default_allow else "ALLOW", "policies": policies}
