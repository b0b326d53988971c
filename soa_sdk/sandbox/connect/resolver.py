"""How a ``service-resolver`` entry chooses targets, for the Envoy snapshot builder
(:mod:`soa_sdk.sandbox.connect.snapshot`, per config push).

``follow_redirects`` applies ``Redirect`` (service, subset, partition, peer) up to
:data:`MAX_DEPTH` times; a redirect to a peer ends there (the peer's own chain is the peer's
business), and one to another datacenter ends with no resolver (the sandbox has one
datacenter, so such targets have no instances). ``failover_targets`` reads ``Failover`` for
the chosen subset or ``"*"``: its ``Targets`` (datacenter targets skipped) and the older
``Service``/``ServiceSubset`` form. The snapshot turns the (service, partition, subset, peer)
tuples into clusters and prioritised endpoints (subsets' filters, health).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 8

Entry = Callable[[str, str, str], "dict[str, Any] | None"]  # (kind, name, partition)
TargetKey = tuple[str, str, str, "str | None"]  # (service, partition, subset, peer)


@dataclass(frozen=True)
class Redirected:
    """Where the redirects lead: the resolver in force there ({} past a peer or datacenter)."""

    resolver: dict[str, Any]
    service: str
    partition: str
    subset: str
    peer: str | None


def follow_redirects(entry: Entry, service: str, partition: str, subset: str) -> Redirected:
    peer = None
    resolver: dict[str, Any] = {}
    for _ in range(MAX_DEPTH):
        resolver = entry("service-resolver", service, partition) or {}
        redirect = resolver.get("Redirect")
        if not redirect:
            break
        new_service = redirect.get("Service") or service
        subset = redirect.get("ServiceSubset") or ("" if new_service != service else subset)
        partition = redirect.get("Partition") or partition
        service = new_service
        peer = redirect.get("Peer") or None
        if peer or redirect.get("Datacenter"):
            resolver = {}
            break
    return Redirected(resolver, service, partition, subset, peer)


def failover_targets(
    resolver: dict[str, Any], subset: str, service: str, partition: str
) -> list[TargetKey]:
    """The failover targets for ``subset`` (the primary's effective subset), in order."""
    failover_map = resolver.get("Failover") or {}
    failover = failover_map.get(subset) or failover_map.get("*")
    if not failover:
        return []
    found: list[TargetKey] = [
        (
            t.get("Service") or service,
            t.get("Partition") or partition,
            t.get("ServiceSubset") or "",
            t.get("Peer") or None,
        )
        for t in failover.get("Targets") or ()
        if not t.get("Datacenter")  # one datacenter in the sandbox
    ]
    if failover.get("Service") or failover.get("ServiceSubset"):
        found.append(
            (
                failover.get("Service") or service,
                partition,
                failover.get("ServiceSubset") or "",
                None,
            )
        )
    return found
