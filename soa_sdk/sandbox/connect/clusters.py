"""Envoy clusters and their endpoints (EDS) for a resolved plan: the primary target, then the
failover targets at priorities 1, 2...; mTLS to the destination's SPIFFE ID only.

An instance is an endpoint through its sidecar only (no sidecar: not in the mesh); a critical
check (instance, sidecar or node) makes it ``UNHEALTHY`` (a warning too with ``OnlyPassing``).
A peer target has no endpoints (peering is not modelled).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from soa_sdk.sandbox.connect.build_context import BuildContext, socket_address
from soa_sdk.sandbox.connect.envoy_names import (
    ADS,
    HTTP_OPTS,
    ROOTS_SECRET,
    T_CLUSTER,
    T_ENDPOINT,
    UP_TLS,
    sni,
    spiffe_id,
)
from soa_sdk.sandbox.consul.bexpr import compile_filter


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


def add_cluster(ctx: BuildContext, plan: ClusterPlan) -> str:
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
            "@type": UP_TLS,
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
                        "sds_config": ADS,
                    },
                },
            },
        },
    }
    protocol = ctx.r.protocol(primary.service, primary.partition)
    cluster: dict[str, Any] = {
        "name": name,
        "type": "EDS",
        "eds_cluster_config": {"eds_config": ADS},
        "connect_timeout": "5s",
        "common_lb_config": {"healthy_panic_threshold": {}},
        "transport_socket": tls,
        "outlier_detection": {},
    }
    if protocol in ("http2", "grpc"):
        cluster["typed_extension_protocol_options"] = {
            HTTP_OPTS: {
                "@type": f"type.googleapis.com/{HTTP_OPTS}",
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        }
    ctx.snap.add(T_CLUSTER, cluster)
    ctx.snap.add(T_ENDPOINT, {"cluster_name": name, "endpoints": _endpoints(ctx, plan)})
    return name


def _endpoints(ctx: BuildContext, plan: ClusterPlan) -> list[dict[str, Any]]:
    groups = []
    for priority, target in enumerate(plan.targets):
        lb = []
        if target.peer is None:
            lb = _target_endpoints(ctx, target)
        groups.append({"priority": priority, "lb_endpoints": lb})
    return groups


_FILTERS: dict[str, Callable[[dict], bool]] = {}


def _target_endpoints(ctx: BuildContext, t: Target) -> list[dict[str, Any]]:
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
                "endpoint": {"address": socket_address(ip, sidecar["Port"])},
                "health_status": "HEALTHY" if healthy else "UNHEALTHY",
                "load_balancing_weight": int((inst.get("Weights") or {}).get("Passing") or 1),
            }
        )
    return out
