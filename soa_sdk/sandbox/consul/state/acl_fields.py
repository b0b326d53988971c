"""Fields ACL records share, checked and written as Consul does: service and node
identities, RFC 3339 times, and the bounds of a token's lifetime.
"""

from __future__ import annotations

import re
import time
from typing import Any

from ..exceptions import BadRequest

IDENTITY_NAME = re.compile(r"^[a-z0-9]([a-z0-9\-_]*[a-z0-9])?$")
#: Consul's defaults for ``acl.token_min_expiration_ttl`` / ``token_max_expiration_ttl``
TOKEN_MIN_TTL = 60.0
TOKEN_MAX_TTL = 24 * 3600.0


def rfc3339(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1e6):06d}Z"


def parse_rfc3339(text: str) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise BadRequest(f"Request decode failed: invalid time {text!r}") from exc


def dedupe(items: list[dict]) -> list[dict]:
    out: list[dict] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def service_identities(raw: list[dict] | None, what: str = "Token") -> list[dict[str, Any]]:
    out = []
    for s in raw or []:
        name = s.get("ServiceName", "")
        if not name:
            continue
        if not IDENTITY_NAME.fullmatch(name):
            raise BadRequest(
                f"Invalid {what}: Service identity {name!r} has an invalid name. Only lowercase"
                " alphanumeric characters, '-' and '_' are allowed"
            )
        out.append(
            {"ServiceName": name}
            | ({"Datacenters": list(s["Datacenters"])} if s.get("Datacenters") else {})
        )
    return out


def node_identities(raw: list[dict] | None, datacenter: str) -> list[dict[str, Any]]:
    return [
        {"NodeName": n["NodeName"], "Datacenter": n.get("Datacenter", datacenter)}
        for n in raw or []
        if n.get("NodeName")
    ]
