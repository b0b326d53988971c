"""Request matchers shared by service-router routes and service-intentions permissions.

Semantics follow Consul's docs and what Envoy is configured with: paths match the path
without the query string; ``PathRegex`` and ``Regex`` must match the whole value (Envoy's
``safe_regex`` is a full match, RE2 syntax: Python's ``re`` accepts the common subset);
every criterion given must hold; ``Invert`` negates one header or query-param criterion.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

from soa_sdk.sandbox.mesh.http1 import Request


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def parse_duration(value: Any, default: float) -> float:
    """Seconds from a Go duration string ("15s", "1m30s", "250ms") or nanoseconds (int)."""
    if value in (None, "", 0):
        return default
    if isinstance(value, int | float):
        return float(value) / 1e9
    total = 0.0
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
    for number, unit in re.findall(r"([0-9.]+)(h|ms|m|s|us|µs|ns)", str(value)):
        total += float(number) * units[unit]
    return total or default


def _value_matches(crit: dict[str, Any], value: str | None) -> bool:
    if crit.get("Present"):
        ok = value is not None
    elif "Exact" in crit and crit["Exact"] != "":
        ok = value == crit["Exact"]
    elif crit.get("Prefix"):
        ok = value is not None and value.startswith(crit["Prefix"])
    elif crit.get("Suffix"):
        ok = value is not None and value.endswith(crit["Suffix"])
    elif crit.get("Regex"):
        ok = value is not None and _regex(crit["Regex"]).fullmatch(value) is not None
    else:
        # Consul requires one criterion; treat a bare one like Present.
        ok = value is not None
    return not ok if crit.get("Invert") else ok


def match_http(spec: dict[str, Any] | None, req: Request, path: str) -> bool:
    """True if ``req`` satisfies a router ``Match.HTTP`` or an intention permission ``HTTP``."""
    if not spec:
        return True
    exact = spec.get("PathExact")
    if exact and path != exact:
        return False
    prefix = spec.get("PathPrefix")
    if prefix and not path.startswith(prefix):
        return False
    regex = spec.get("PathRegex")
    if regex and _regex(regex).fullmatch(path) is None:
        return False
    methods = spec.get("Methods")
    if methods and req.method.upper() not in {m.upper() for m in methods}:
        return False
    for crit in spec.get("Header") or ():
        if not _value_matches(crit, req.header(crit.get("Name", ""))):
            return False
    params = spec.get("QueryParam")
    if params:
        query = dict(parse_qsl(req.query, keep_blank_values=True))
        for crit in params:
            if not _value_matches(crit, query.get(crit.get("Name", ""))):
                return False
    return True


def apply_header_ops(headers: list[tuple[str, str]], ops: dict[str, Any] | None) -> None:
    """Apply a Consul ``HTTPHeaderModifiers`` block ({Add, Set, Remove}) in place."""
    if not ops:
        return
    remove = {h.lower() for h in ops.get("Remove") or ()}
    sets = ops.get("Set") or {}
    remove |= {h.lower() for h in sets}
    if remove:
        headers[:] = [(k, v) for k, v in headers if k.lower() not in remove]
    headers.extend(sets.items())
    headers.extend((ops.get("Add") or {}).items())
