"""Envoy's type URLs, and the names Consul gives identities, clusters and secrets.

SPIFFE IDs and SNIs are Consul's (``agent/connect/uri_service.go``, ``agent/connect/sni.go``):
the partition segment appears only outside ``default``; namespaces are ``default`` only.
"""

from __future__ import annotations

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

HCM = (
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3"
    ".HttpConnectionManager"
)
HTTP_OPTS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
HTTP_RBAC = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC"
NET_RBAC = "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC"
TCP_PROXY = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"
DOWN_TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"
UP_TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"
FILE_LOG = "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog"
ADS = {"ads": {}, "resource_api_version": "V3"}
ROOTS_SECRET = "roots"
DEFAULT_TIMEOUT = "15s"


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
