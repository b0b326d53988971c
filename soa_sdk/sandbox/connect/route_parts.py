"""The pieces of an Envoy route from a ``service-router`` route: the match (path, headers,
methods, query parameters), the retry policy, header changes, and durations.
"""

from __future__ import annotations

from typing import Any

from soa_sdk.sandbox.consul.checks import parse_duration


def _string_match(crit: dict[str, Any]) -> dict[str, Any] | None:
    if crit.get("Exact") not in (None, ""):
        return {"exact": crit["Exact"]}
    if crit.get("Prefix"):
        return {"prefix": crit["Prefix"]}
    if crit.get("Suffix"):
        return {"suffix": crit["Suffix"]}
    if crit.get("Regex"):
        return {"safe_regex": {"regex": crit["Regex"]}}
    return None


def _named_match(crit: dict[str, Any]) -> dict[str, Any]:
    """A header's or query parameter's matcher: present, or its value's string match."""
    m: dict[str, Any] = {"name": crit.get("Name", "")}
    sm = None if crit.get("Present") else _string_match(crit)
    if sm is None:
        m["present_match"] = True
    else:
        m["string_match"] = sm
    return m


def header_matcher(crit: dict[str, Any]) -> dict[str, Any]:
    m = _named_match(crit)
    if crit.get("Invert"):
        m["invert_match"] = True
    return m


def methods_matcher(methods: list[str]) -> dict[str, Any]:
    """The ``:method`` header matcher of a route's or an intention's ``Methods``."""
    return {
        "name": ":method",
        "string_match": {"safe_regex": {"regex": "|".join(m.upper() for m in methods)}},
    }


def route_match(http: dict[str, Any]) -> dict[str, Any]:
    """An Envoy ``RouteMatch`` from a router's ``Match.HTTP``."""
    match: dict[str, Any]
    if http.get("PathExact"):
        match = {"path": http["PathExact"]}
    elif http.get("PathRegex"):
        match = {"safe_regex": {"regex": http["PathRegex"]}}
    else:
        match = {"prefix": http.get("PathPrefix") or "/"}
    headers = [header_matcher(h) for h in http.get("Header") or ()]
    if http.get("Methods"):
        headers.append(methods_matcher(http["Methods"]))
    if headers:
        match["headers"] = headers
    params = [_named_match(q) for q in http.get("QueryParam") or ()]
    if params:
        match["query_parameters"] = params
    return match


def retry_policy(dest: dict[str, Any]) -> dict[str, Any] | None:
    on = []
    if dest.get("RetryOnConnectFailure"):
        on.append("connect-failure")
    codes = [int(c) for c in dest.get("RetryOnStatusCodes") or ()]
    if codes:
        on.append("retriable-status-codes")
    if not on and not dest.get("NumRetries"):
        return None
    policy: dict[str, Any] = {"retry_on": ",".join(on) or "connect-failure"}
    if dest.get("NumRetries"):
        policy["num_retries"] = int(dest["NumRetries"])
    if codes:
        policy["retriable_status_codes"] = codes
    return policy


def header_ops(target: dict[str, Any], block: dict[str, Any]) -> None:
    for key, prefix in (("RequestHeaders", "request"), ("ResponseHeaders", "response")):
        ops = block.get(key) or {}
        add = [
            {"header": {"key": k, "value": v}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
            for k, v in (ops.get("Set") or {}).items()
        ] + [
            {"header": {"key": k, "value": v}, "append_action": "APPEND_IF_EXISTS_OR_ADD"}
            for k, v in (ops.get("Add") or {}).items()
        ]
        if add:
            target[f"{prefix}_headers_to_add"] = add
        if ops.get("Remove"):
            target[f"{prefix}_headers_to_remove"] = list(ops["Remove"])


def envoy_duration(value: Any, default: float = 15.0) -> str:
    """An Envoy duration from a Go one (``"15s"``, nanoseconds); unreadable or 0: ``default``."""
    try:
        seconds = parse_duration(value) or default
    except ValueError:
        seconds = default
    return f"{seconds:.3f}s"
