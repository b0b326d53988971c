"""Which intention decides: Consul's precedence of ``service-intentions`` sources, and the L4
decision ``GET /v1/connect/intentions/check`` answers.

The Envoy snapshot (:mod:`soa_sdk.sandbox.connect.snapshot`) orders the sources by the same
:data:`PRECEDENCE` when it compiles them to RBAC, so the check API and the data plane agree
(``tests/connect/test_snapshot.py`` holds them together).

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
- An L7 source (``Permissions``) has no request to match here: Consul's ``Intention.Check``
  "treats any L7 intentions as DENY" (``agent/consul/intention_endpoint.go``). Envoy's RBAC
  filter matches the permissions per request.
- No matching source: the default intention behaviour, which Consul takes from the ACL
  default policy (the anonymous token's ``IntentionDefaultAllow``): deny with ACLs on and
  ``default_policy = "deny"``, allow with ACLs off. The agent setting
  ``default_intention_policy`` overrides it when set
  (``ConsulBackend.intention_default_allow()``).

Not implemented: namespaces (the sandbox is Consul CE for namespaces: only ``default``),
sameness groups (a ``SamenessGroup`` source matches nothing), legacy intention IDs (they are
config entry sources here).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: ``lookup(kind, name, partition)``: a config entry as JSON, or None.
ConfigLookup = Callable[[str, str, str], "dict[str, Any] | None"]

#: (exact destination, exact source) -> precedence.
PRECEDENCE = {(True, True): 9, (True, False): 8, (False, True): 6, (False, False): 5}


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
            precedence = PRECEDENCE[(dest_exact, src_exact)]
            if best is None or precedence > best[0]:
                best = (precedence, src)
    return best[1] if best else None


def decide(
    lookup: ConfigLookup,
    caller: Caller,
    destination: str,
    destination_partition: str,
    default_allow: bool,
) -> bool:
    """True if ``caller`` may connect to ``destination`` (L4: an L7 intention denies)."""
    src = deciding_source(lookup, caller, destination, destination_partition)
    if src is None:
        return default_allow
    return str(src.get("Action") or "").lower() == "allow"
