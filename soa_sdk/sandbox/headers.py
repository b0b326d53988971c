"""HTTP header names the sandbox's own HTTP parts share (the workloads, the CloudFront edge).

``HOP_BY_HOP``: the hop-by-hop headers of RFC 7230 section 6.1 (plus the legacy
``proxy-connection``), which a proxy consumes and never forwards. ``NOT_FORWARDED``: those,
and the headers a forwarder writes again for the next hop (``host``, ``content-length``).
"""

from __future__ import annotations

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
NOT_FORWARDED = HOP_BY_HOP | {"host", "content-length"}
