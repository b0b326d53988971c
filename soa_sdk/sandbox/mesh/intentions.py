"""service-intentions enforcement, as the destination's sidecar (Envoy RBAC) does it.

What Consul does (and we do): the intentions that apply to a request are the sources of the
``service-intentions`` entry named after the destination and of the wildcard entry ``*`` in
the destination's partition. The matching source with the highest precedence decides:
exact destination and exact source 9, exact destination and ``*`` source 8, ``*``
destination and exact source 6, both wildcards 5. An L4 source decides by ``Action``
(allow/deny). An L7 source walks its ``Permissions`` in order; the first whose ``HTTP``
(PathExact/PathPrefix/PathRegex/Methods/Header) matches decides by its ``Action``; when
none matches, the default intention behaviour applies, as it does when no source matches.
The default is ``allow`` unless the plane or the backend says otherwise (Consul takes it
from the ACL default policy).

Not implemented: namespaces, sameness groups, ``JWT`` requirements, sources from peers
(requests from a peer never reach this plane), legacy intention IDs.
"""

from __future__ import annotations

from typing import Any

from soa_sdk.sandbox.mesh.http1 import Request
from soa_sdk.sandbox.mesh.matching import match_http
from soa_sdk.sandbox.mesh.view import CachedView

_PRECEDENCE = {(True, True): 9, (True, False): 8, (False, True): 6, (False, False): 5}


def decide(
    view: CachedView,
    source: str,
    source_partition: str,
    destination: str,
    destination_partition: str,
    req: Request,
    default_allow: bool = True,
) -> bool:
    """True if the request from ``source`` to ``destination`` is allowed."""
    best: tuple[int, dict[str, Any]] | None = None
    for entry_name, dest_exact in ((destination, True), ("*", False)):
        entry = view.config("service-intentions", entry_name, destination_partition)
        if not entry:
            continue
        for src in entry.get("Sources") or ():
            if src.get("Peer") or src.get("SamenessGroup"):
                continue
            if (src.get("Partition") or destination_partition) not in (source_partition, "*"):
                continue
            name = src.get("Name")
            if name == source:
                src_exact = True
            elif name == "*":
                src_exact = False
            else:
                continue
            precedence = _PRECEDENCE[(dest_exact, src_exact)]
            if best is None or precedence > best[0]:
                best = (precedence, src)
    if best is None:
        return default_allow
    src = best[1]
    action = src.get("Action")
    if action:
        return str(action).lower() == "allow"
    path = req.path
    for perm in src.get("Permissions") or ():
        if match_http(perm.get("HTTP"), req, path):
            return str(perm.get("Action", "")).lower() == "allow"
    return default_allow
