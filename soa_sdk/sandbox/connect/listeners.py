"""Envoy listeners of a proxy: a sidecar's public listener (mTLS, RBAC, to ``local_app``) and
its upstream listeners, an ingress gateway's listeners, with their HTTP connection managers
and the JSON access log the telemetry reads.

An ingress listener serves TLS, as Consul's ``makeDownstreamTLSContextFromSnapshotListenerConfig``
(``agent/xds/listeners_ingress.go``) has it, when the entry's ``TLS.Enabled`` or the listener's
``TLS.Enabled`` is set: a ``DownstreamTlsContext`` with the gateway's leaf over SDS (the same
secret as its upstream mTLS), the Connect roots as validation context but no client certificate
required, TLS 1.2 at least, ALPN by protocol (``h2,http/1.1`` for ``http2``/``grpc``,
``http/1.1`` for ``http``). The leaf's DNS SANs are :func:`ingress_dns_sans`. Not implemented:
SDS certificates from another cluster (gateway, listener or per-service ``TLS.SDS``: the SNI
filter chains Consul builds for them), ``TLSMinVersion``/``TLSMaxVersion``/``CipherSuites``
(the config entry refuses them).
"""

from __future__ import annotations

from typing import Any

from soa_sdk.sandbox.connect.build_context import (
    BuildContext,
    pipe_address,
    proxy_ip,
    socket_address,
)
from soa_sdk.sandbox.connect.chain import ChainError, chain_routes, resolve
from soa_sdk.sandbox.connect.clusters import add_cluster
from soa_sdk.sandbox.connect.envoy_names import (
    ADS,
    DC,
    DOWN_TLS,
    FILE_LOG,
    HCM,
    HTTP_RBAC,
    L7,
    NET_RBAC,
    ROUTER,
    T_CLUSTER,
    T_LISTENER,
    T_ROUTE,
    TCP_PROXY,
)
from soa_sdk.sandbox.connect.rbac import rbac_rules

#: Consul's DNS domain (``dns_config.domain``); the sandbox has no ``alt_domain``.
DNS_DOMAIN = "consul"


def _access_log(ctx: BuildContext, kind: str) -> list[dict[str, Any]]:
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
                "@type": FILE_LOG,
                "path": ctx.access_log,
                "log_format": {"json_format": fields},
            },
        }
    ]


def _hcm(ctx: BuildContext, stat_prefix: str, kind: str, **route: Any) -> dict[str, Any]:
    filters = [
        *route.pop("_filters", []),
        {"name": "envoy.filters.http.router", "typed_config": {"@type": ROUTER}},
    ]
    config = {"@type": HCM, "stat_prefix": stat_prefix, "codec_type": "AUTO", **route}
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
        return pipe_address(cfg["LocalServiceSocketPath"])
    return socket_address(
        cfg.get("LocalServiceAddress") or "127.0.0.1", cfg.get("LocalServicePort") or 0
    )


def sidecar(ctx: BuildContext, proxy: dict[str, Any], default_allow: bool) -> None:
    cfg = proxy.get("Proxy") or {}
    ip = proxy_ip(proxy)
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
            "@type": DOWN_TLS,
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
                    "typed_config": {"@type": HTTP_RBAC, "rules": rules},
                }
            ],
        )
        filters = [filt]
    else:
        filters = [
            {
                "name": "envoy.filters.network.rbac",
                "typed_config": {
                    "@type": NET_RBAC,
                    "stat_prefix": "connect_authz",
                    "rules": rules,
                },
            },
            {
                "name": "envoy.filters.network.tcp_proxy",
                "typed_config": {
                    "@type": TCP_PROXY,
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
            "address": socket_address(ip, port),
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
        listener, address = _upstream_bind(name, up)
        _upstream_listener(ctx, name, dest_part, listener, address)


def _upstream_bind(name: str, up: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """An upstream listener's name and address, as Consul's ``makeListener`` makes them: with
    ``LocalBindSocketPath`` (and no port) ``<name>:<path>`` on a pipe with
    ``LocalBindSocketMode`` (a string Go's ``ParseUint(mode, 0, 32)`` reads, so ``"0600"`` is
    octal; unreadable: 0), else ``<name>:<LocalBindAddress or 127.0.0.1>:<LocalBindPort>``."""
    path = up.get("LocalBindSocketPath")
    if path and not int(up.get("LocalBindPort") or 0):
        return f"{name}:{path}", pipe_address(path, _go_uint(up.get("LocalBindSocketMode") or ""))
    ip = up.get("LocalBindAddress") or "127.0.0.1"
    port = int(up["LocalBindPort"])
    return f"{name}:{ip}:{port}", socket_address(ip, port)


def _go_uint(text: str) -> int:
    """Go's ``strconv.ParseUint(text, 0, 32)``: ``0x``/``0o``/``0b`` prefixes, a leading ``0``
    octal, else decimal; 0 when it does not parse (as Consul falls back)."""
    digits = text.replace("_", "")
    if len(digits) > 1 and digits[0] == "0" and digits[1].isdigit():
        digits = "0o" + digits[1:]
    try:
        value = int(digits, 0)
    except ValueError:
        return 0
    return value if 0 <= value < 2**32 else 0


def _upstream_listener(
    ctx: BuildContext,
    name: str,
    partition: str,
    listener: str,
    address: dict[str, Any],
    transport_socket: dict[str, Any] | None = None,
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
            ctx, stat, "upstream", rds={"config_source": ADS, "route_config_name": route_name}
        )
    else:
        try:
            cluster = add_cluster(ctx, resolve(ctx.r, name, partition, ""))
        except ChainError as exc:
            ctx.snap.problems.append(f"{listener}: {exc}")
            return
        filt = {
            "name": "envoy.filters.network.tcp_proxy",
            "typed_config": {"@type": TCP_PROXY, "stat_prefix": stat, "cluster": cluster},
        }
    ctx.snap.add(
        T_LISTENER,
        {
            "name": listener,
            "address": address,
            "traffic_direction": "OUTBOUND",
            "filter_chains": [_filter_chain([filt], transport_socket)],
        },
    )


def _filter_chain(
    filters: list[dict[str, Any]], transport_socket: dict[str, Any] | None
) -> dict[str, Any]:
    chain: dict[str, Any] = {"filters": filters}
    if transport_socket:
        chain["transport_socket"] = transport_socket
    return chain


# --- ingress gateways -----------------------------------------------------------------------


def tls_enabled(entry: dict[str, Any] | None) -> bool:
    """Consul's ``connectTLSServingEnabled``: TLS on the gateway or on any of its listeners."""
    if not entry:
        return False
    return any(_listener_tls(entry, lst) for lst in entry.get("Listeners") or ()) or bool(
        (entry.get("TLS") or {}).get("Enabled")
    )


def _listener_tls(entry: dict[str, Any], lst: dict[str, Any]) -> bool:
    """TLS on this listener: the gateway's ``TLS.Enabled`` or its own."""
    return bool((entry.get("TLS") or {}).get("Enabled") or (lst.get("TLS") or {}).get("Enabled"))


def ingress_dns_sans(entry: dict[str, Any] | None, datacenter: str) -> list[str]:
    """The DNS SANs of an ingress gateway's leaf, as Consul's ``generateIngressDNSSANs``
    (``agent/proxycfg/ingress_gateway.go``): none unless :func:`tls_enabled`; else, once the
    gateway routes to any service, ``*.ingress.<domain>`` and
    ``*.ingress.<datacenter>.<domain>`` (the default namespace, the only one; Consul adds no
    partition segment either), then the ``Hosts`` of every service on every listener (Consul
    gives one certificate for the whole gateway, TLS listeners or not), less ``*`` (no DNS
    record; Consul refuses it only with the gateway-level TLS)."""
    if not entry or not tls_enabled(entry):
        return []
    services = [svc for lst in entry.get("Listeners") or () for svc in lst.get("Services") or ()]
    names: list[str] = []
    if services:
        names += [f"*.ingress.{DNS_DOMAIN}", f"*.ingress.{datacenter}.{DNS_DOMAIN}"]
    for svc in services:
        names += [h for h in svc.get("Hosts") or () if h != "*"]
    return list(dict.fromkeys(names))


def _ingress_tls(
    ctx: BuildContext, entry: dict[str, Any], lst: dict[str, Any], protocol: str
) -> dict[str, Any] | None:
    """The listener's downstream TLS transport socket, or ``None`` for plain text."""
    if not _listener_tls(entry, lst):
        return None
    common: dict[str, Any] = {
        "tls_params": {"tls_minimum_protocol_version": "TLSv1_2"},
        **ctx.tls(),
    }
    alpn = {"http": ["http/1.1"], "http2": ["h2", "http/1.1"], "grpc": ["h2", "http/1.1"]}
    if protocol in alpn:
        common["alpn_protocols"] = alpn[protocol]
    return {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": DOWN_TLS,
            "common_tls_context": common,
            "require_client_certificate": False,
        },
    }


def ingress(ctx: BuildContext, proxy: dict[str, Any]) -> None:
    entry = ctx.r.entry("ingress-gateway", proxy["Service"], ctx.partition)
    if not entry:
        ctx.snap.problems.append(f"{proxy['ID']}: no ingress-gateway config entry")
        return
    ip = proxy_ip(proxy)
    for lst in entry.get("Listeners") or ():
        port = int(lst["Port"])
        protocol = (lst.get("Protocol") or "tcp").lower()
        services = lst.get("Services") or ()
        name = f"{protocol}:{ip}:{port}"
        tls = _ingress_tls(ctx, entry, lst, protocol)
        if protocol not in L7:
            if services:
                svc = services[0]
                part = svc.get("Partition") or ctx.partition
                address = socket_address(ip, port)
                _upstream_listener(ctx, svc["Name"], part, name, address, tls)
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
            rds={"config_source": ADS, "route_config_name": route_name},
        )
        ctx.snap.add(
            T_LISTENER,
            {
                "name": name,
                "address": socket_address(ip, port),
                "traffic_direction": "OUTBOUND",
                "filter_chains": [_filter_chain([filt], tls)],
            },
        )
