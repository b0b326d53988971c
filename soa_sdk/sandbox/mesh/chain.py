"""Consul's discovery chain, evaluated per request: router -> splitter -> resolver -> targets.

What Consul does (and we do), for an upstream ``D`` in partition ``P``:

1. ``service-router`` ``D``: the first route whose ``Match.HTTP`` holds picks a
   ``Destination`` (``Service``, ``ServiceSubset``, ``Partition``, ``PrefixRewrite``,
   ``RequestTimeout``, ``NumRetries``, ``RetryOnConnectFailure``, ``RetryOnStatusCodes``,
   ``RequestHeaders``, ``ResponseHeaders``); no match routes to ``D`` itself.
2. ``service-splitter`` of the routed service, only when no subset was chosen: one split by
   ``Weight`` (percent), with its ``RequestHeaders``/``ResponseHeaders``. A split to another
   service goes through that service's splitter too (Consul flattens nested splitters).
3. ``service-resolver``: ``Redirect`` (service, subset, partition, peer), then the subset
   (asked for, else ``DefaultSubset``) from ``Subsets`` (``Filter`` in bexpr over the health
   entry, ``OnlyPassing``), then ``Failover`` for that subset or ``"*"``: ``Targets``
   (service, subset, partition, peer) or the older ``Service``/``ServiceSubset`` form.
   ``RequestTimeout`` is the default for routes that do not set one.

Not implemented: namespaces (always ``default``), ``Datacenters`` failover and
``Redirect.Datacenter`` (the sandbox has one datacenter: such targets have no instances),
``LoadBalancer`` policies (always round robin), ``ConnectTimeout``, sameness groups, routes
of peered upstreams (a peer's chain is the peer's business: we route to its service as is).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from soa_sdk.sandbox.mesh.http1 import Request
from soa_sdk.sandbox.mesh.matching import match_http, parse_duration
from soa_sdk.sandbox.mesh.resolver import MAX_DEPTH, failover_targets, follow_redirects
from soa_sdk.sandbox.mesh.view import CachedView

DEFAULT_TIMEOUT = 15.0  # Envoy's default route timeout, which Consul keeps


class ChainError(Exception):
    """The chain cannot be compiled (e.g. a subset that the resolver does not define)."""


@dataclass(frozen=True, slots=True)
class Target:
    """One place traffic can go: a service's instances, narrowed by a subset filter."""

    service: str
    partition: str
    subset: str = ""
    peer: str | None = None
    filter: str = ""
    only_passing: bool = False

    @property
    def key(self) -> tuple[str, str, str, str | None]:
        return (self.service, self.partition, self.subset, self.peer)


@dataclass(slots=True)
class Decision:
    """What the chain decided for one request."""

    targets: list[Target]  # the primary target, then failover targets in order
    path: str  # request target (path and query) after any PrefixRewrite
    timeout: float = DEFAULT_TIMEOUT
    num_retries: int = 0
    retry_on_connect_failure: bool = False
    retry_on_status: frozenset[int] = frozenset()
    request_headers: list[dict[str, Any]] = field(default_factory=list)
    response_headers: list[dict[str, Any]] = field(default_factory=list)


def route(
    view: CachedView, service: str, partition: str, req: Request, peer: str | None = None
) -> Decision:
    """Evaluate the discovery chain of ``service`` (in ``partition``) for ``req``."""
    target_path = req.target
    if peer:
        return Decision([Target(service, partition, peer=peer)], target_path)
    decision = Decision([], target_path)
    dest_service, dest_partition, subset = service, partition, ""
    route_timeout = None

    router = view.config("service-router", service, partition)
    if router:
        path = req.path
        for rt in router.get("Routes") or ():
            http_match = (rt.get("Match") or {}).get("HTTP")
            if not match_http(http_match, req, path):
                continue
            dest = rt.get("Destination") or {}
            dest_service = dest.get("Service") or service
            dest_partition = dest.get("Partition") or partition
            subset = dest.get("ServiceSubset") or ""
            rewrite = dest.get("PrefixRewrite")
            if rewrite and http_match:
                decision.path = _rewrite(req.target, path, http_match, rewrite)
            if dest.get("RequestTimeout"):
                route_timeout = parse_duration(dest["RequestTimeout"], DEFAULT_TIMEOUT)
            decision.num_retries = int(dest.get("NumRetries") or 0)
            decision.retry_on_connect_failure = bool(dest.get("RetryOnConnectFailure"))
            decision.retry_on_status = frozenset(dest.get("RetryOnStatusCodes") or ())
            _add(decision, dest)
            break

    if not subset:
        dest_service, dest_partition, subset = _split(view, decision, dest_service, dest_partition)
    resolver_timeout, targets = _resolve(view, dest_service, dest_partition, subset)
    decision.targets = targets
    decision.timeout = route_timeout or resolver_timeout or DEFAULT_TIMEOUT
    return decision


def _add(decision: Decision, block: dict[str, Any]) -> None:
    if block.get("RequestHeaders"):
        decision.request_headers.append(block["RequestHeaders"])
    if block.get("ResponseHeaders"):
        decision.response_headers.append(block["ResponseHeaders"])


def _rewrite(target: str, path: str, http_match: dict[str, Any], rewrite: str) -> str:
    query = target[len(path) :]
    prefix = http_match.get("PathPrefix")
    if prefix and path.startswith(prefix):
        return rewrite + path[len(prefix) :] + query
    if http_match.get("PathExact"):
        return rewrite + query
    return target


def _split(
    view: CachedView, decision: Decision, service: str, partition: str
) -> tuple[str, str, str]:
    seen: set[tuple[str, str]] = set()
    while (service, partition) not in seen and len(seen) < MAX_DEPTH:
        seen.add((service, partition))
        splitter = view.config("service-splitter", service, partition)
        splits = (splitter or {}).get("Splits") or ()
        if not splits:
            return service, partition, ""
        roll = random.uniform(0.0, 100.0)
        chosen = splits[-1]
        acc = 0.0
        for sp in splits:
            acc += float(sp.get("Weight") or 0)
            if roll < acc:
                chosen = sp
                break
        _add(decision, chosen)
        next_service = chosen.get("Service") or service
        next_partition = chosen.get("Partition") or partition
        subset = chosen.get("ServiceSubset") or ""
        if subset or (next_service, next_partition) == (service, partition):
            return next_service, next_partition, subset
        service, partition = next_service, next_partition
    return service, partition, ""


def _subset_target(
    view: CachedView, service: str, partition: str, subset: str, peer: str | None = None
) -> Target:
    if peer:
        return Target(service, partition, subset, peer)
    resolver = view.config("service-resolver", service, partition) or {}
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
        None,
        definition.get("Filter") or "",
        bool(definition.get("OnlyPassing")),
    )


def _resolve(
    view: CachedView, service: str, partition: str, subset: str
) -> tuple[float | None, list[Target]]:
    to = follow_redirects(view.config, service, partition, subset)
    timeout = parse_duration(to.resolver.get("RequestTimeout"), 0.0) or None
    if to.peer:
        return timeout, [Target(to.service, to.partition, to.subset, to.peer)]
    primary = _subset_target(view, to.service, to.partition, to.subset)
    failover = failover_targets(to.resolver, primary.subset, to.service, to.partition)
    return timeout, [primary, *(_subset_target(view, *key) for key in failover)]
