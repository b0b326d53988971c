"""The discovery chain compiled to Envoy routes: ``service-router`` -> ``service-splitter``
(weighted clusters, nested splitters flattened) -> ``service-resolver`` (redirects, subsets,
failover), as Consul's ``agent/consul/discoverychain`` compiles it.
"""

from __future__ import annotations

from typing import Any

from soa_sdk.sandbox.connect.build_context import BuildContext, Reader
from soa_sdk.sandbox.connect.clusters import ClusterPlan, Target, add_cluster
from soa_sdk.sandbox.connect.envoy_names import DEFAULT_TIMEOUT
from soa_sdk.sandbox.connect.resolver import MAX_DEPTH, failover_targets, follow_redirects
from soa_sdk.sandbox.connect.route_parts import (
    envoy_duration,
    header_ops,
    retry_policy,
    route_match,
)


class ChainError(Exception):
    """A chain that cannot be compiled (a subset no resolver defines...)."""


def chain_routes(ctx: BuildContext, service: str, partition: str) -> list[dict[str, Any]]:
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
            action["timeout"] = envoy_duration(dest["RequestTimeout"])
        retry = retry_policy(dest)
        if retry:
            action["retry_policy"] = retry
        route: dict[str, Any] = {"match": route_match(http), "route": action}
        header_ops(route, dest)
        out.append(route)
    default = _route_action(ctx, service, partition, "")
    out.append({"match": {"prefix": "/"}, "route": default})
    return out


def _route_action(ctx: BuildContext, service: str, partition: str, subset: str) -> dict[str, Any]:
    timeout = _resolver_timeout(ctx.r, service, partition)
    if subset:
        action: dict[str, Any] = {
            "cluster": add_cluster(ctx, resolve(ctx.r, service, partition, subset))
        }
    else:
        splits = _flatten_splits(ctx.r, service, partition, 100.0, 0)
        if len(splits) == 1 and splits[0][4] is None:
            _, svc, part, sub, _ = splits[0]
            action = {"cluster": add_cluster(ctx, resolve(ctx.r, svc, part, sub))}
        else:
            clusters = []
            for weight, svc, part, sub, split in splits:
                wc: dict[str, Any] = {
                    "name": add_cluster(ctx, resolve(ctx.r, svc, part, sub)),
                    "weight": round(weight * 100),
                }
                header_ops(wc, split or {})
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
    r: Reader, service: str, partition: str, share: float, depth: int
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


def _resolver_timeout(r: Reader, service: str, partition: str) -> str | None:
    resolver = r.entry("service-resolver", service, partition) or {}
    return envoy_duration(resolver["RequestTimeout"]) if resolver.get("RequestTimeout") else None


def _subset_target(
    r: Reader, service: str, partition: str, subset: str, peer: str | None
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


def resolve(r: Reader, service: str, partition: str, subset: str) -> ClusterPlan:
    """Redirects, the subset, and the failover targets of the resolver."""
    to = follow_redirects(r.entry, service, partition, subset)
    if to.peer:
        return ClusterPlan((Target(to.service, to.partition, to.subset, peer=to.peer),))
    primary = _subset_target(r, to.service, to.partition, to.subset, None)
    failover = failover_targets(to.resolver, primary.subset, to.service, to.partition)
    return ClusterPlan((primary, *(_subset_target(r, *key) for key in failover)))
