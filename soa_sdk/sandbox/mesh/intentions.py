"""service-intentions: the one place that decides whether a caller may reach a service.

Used by the data plane (what the destination's Envoy RBAC filter does, per request) and by
the Consul emulator's ``GET /v1/connect/intentions/check`` (an L4 question, no request).

What Consul does (and we do): the intentions that apply are the sources of the
``service-intentions`` entry named after the destination and of the wildcard entry ``*``,
both in the destination's partition. A source names a caller by ``Name`` (or ``*``) and by
where it runs: ``Peer`` (a caller reached over that cluster peering, as the destination's
cluster names the peering), else ``Partition`` (default: the destination's partition). A
caller from another partition or a peer matches only a source that names its partition or
peer. The matching source with the highest precedence decides: exact destination and exact
source 9, exact destination and ``*`` source 8, ``*`` destination and exact source 6, both
wildcards 5.

- An L4 source (``Action``) allows or denies.
- An L7 source (``Permissions``) is walked in order; the first permission whose ``HTTP``
  (PathExact/PathPrefix/PathRegex/Methods/Header/QueryParam) matches decides by its
  ``Action``. When none matches, "traffic that fails to match any of the provided
  permissions in this intention will be subject to the default intention behavior"
  (Consul's service-intentions reference).
- ``/v1/connect/intentions/check`` has no request to match: Consul's ``Intention.Check``
  "treats any L7 intentions as DENY" (``agent/consul/intention_endpoint.go``).
- No matching source: the default intention behaviour, which Consul takes from the ACL
  default policy (the anonymous token's ``IntentionDefaultAllow``): deny with ACLs on and
  ``default_policy = "deny"``, allow with ACLs off. The agent setting
  ``default_intention_policy`` overrides it when set. Callers get it from
  ``ConsulBackend.intention_default_allow()``.

Envoy answers a denied request with 403 and the body ``RBAC: access denied``.

Not implemented: namespaces (the sandbox is Consul CE for namespaces: only ``default``),
sameness groups (a ``SamenessGroup`` source matches nothing), ``JWT`` requirements, legacy
intention IDs (they are config entry sources here).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from soa_sdk.sandbox.mesh.matching import match_http

if TYPE_CHECKING:
    from soa_sdk.sandbox.mesh.http1 import Request

#: ``lookup(kind, name, partition)``: a config entry as JSON, or None.
ConfigLookup = Callable[[str, str, str], "dict[str, Any] | None"]

_PRECEDENCE = {(True, True): 9, (True, False): 8, (False, True): 6, (False, False): 5}


@dataclass(frozen=True)
class Caller:
    """Who is calling: a service name, the partition it runs in, and the peer it comes
    over (as the destination's side names that peering), if any."""

    name: str
    partition: str = "default"
    peer: str | None = None


def _source_matches(src: dict[str, Any], caller: Caller, destination_partition: str) -> bool:
    if src.get("SamenessGroup"):
        return False
    peer = src.get("Peer") or None
    if peer or caller.peer:
        return peer == caller.peer
    return (src.get("Partition") or destination_partition) == caller.partition


def deciding_source(
    lookup: ConfigLookup, caller: Caller, destination: str, destination_partition: str
) -> dict[str, Any] | None:
    """The intention source that decides for ``caller`` -> ``destination``, or None."""
    best: tuple[int, dict[str, Any]] | None = None
    names = (destination, "*") if destination != "*" else ("*",)
    for entry_name in names:
        entry = lookup("service-intentions", entry_name, destination_partition)
        if not entry:
            continue
        dest_exact = entry_name != "*"
        for src in entry.get("Sources") or ():
            if not _source_matches(src, caller, destination_partition):
                continue
            name = src.get("Name")
            if name == caller.name:
                src_exact = True
            elif name == "*":
                src_exact = False
            else:
                continue
            precedence = _PRECEDENCE[(dest_exact, src_exact)]
            if best is None or precedence > best[0]:
                best = (precedence, src)
    return best[1] if best else None


def decide(
    lookup: ConfigLookup,
    caller: Caller,
    destination: str,
    destination_partition: str,
    req: Request | None,
    default_allow: bool,
) -> bool:
    """True if ``caller`` may reach ``destination``; ``req`` None asks at L4 (the check API)."""
    src = deciding_source(lookup, caller, destination, destination_partition)
    if src is None:
        return default_allow
    action = src.get("Action")
    if action:
        return str(action).lower() == "allow"
    if req is None:
        return False  # Intention.Check: an L7 intention counts as deny
    for perm in src.get("Permissions") or ():
        if match_http(perm.get("HTTP"), req, req.path):
            return str(perm.get("Action", "")).lower() == "allow"
    return default_allow
