"""Intentions to Envoy RBAC, as Consul's ``agent/xds/rbac.go`` makes them: sources highest
precedence first, each one's principal minus those of higher precedence; L7 permissions
first match wins. Peers and sameness groups are left out (their trust domains are not
modelled).
"""

from __future__ import annotations

from typing import Any

from soa_sdk.sandbox.connect.build_context import Reader
from soa_sdk.sandbox.connect.envoy_names import spiffe_id
from soa_sdk.sandbox.connect.route_parts import header_matcher, methods_matcher
from soa_sdk.sandbox.connect.view import CatalogView
from soa_sdk.sandbox.consul.state.precedence import PRECEDENCE


def _source_principal(td: str, src: dict[str, Any], dest_partition: str) -> dict[str, Any] | None:
    if src.get("Peer") or src.get("SamenessGroup"):
        return None  # peers' trust domains are not modelled
    part = src.get("Partition") or dest_partition
    name = src.get("Name") or ""
    if name == "*":
        ap = "" if part == "default" else f"/ap/{part}"
        regex = f"^spiffe://{_re_escape(td)}{ap}/ns/[^/]+/dc/[^/]+/svc/[^/]+$"
        return {"authenticated": {"principal_name": {"safe_regex": {"regex": regex}}}}
    return {"authenticated": {"principal_name": {"exact": spiffe_id(td, name, part)}}}


def _re_escape(text: str) -> str:
    return "".join("\\" + c if c in ".^$*+?()[]{}|\\" else c for c in text)


def _permission(http: dict[str, Any] | None) -> dict[str, Any]:
    if not http:
        return {"any": True}
    rules: list[dict[str, Any]] = []
    if http.get("PathExact"):
        rules.append({"url_path": {"path": {"exact": http["PathExact"]}}})
    if http.get("PathPrefix"):
        rules.append({"url_path": {"path": {"prefix": http["PathPrefix"]}}})
    if http.get("PathRegex"):
        rules.append({"url_path": {"path": {"safe_regex": {"regex": http["PathRegex"]}}}})
    if http.get("Methods"):
        rules.append({"header": methods_matcher(http["Methods"])})
    rules.extend({"header": header_matcher(h)} for h in http.get("Header") or ())
    if not rules:
        return {"any": True}
    return rules[0] if len(rules) == 1 else {"and_rules": {"rules": rules}}


def intention_sources(
    r: Reader | CatalogView, service: str, partition: str
) -> list[tuple[int, dict[str, Any]]]:
    """The applicable sources, highest precedence first (Consul's order)."""
    reader = r if isinstance(r, Reader) else Reader(r)
    found: list[tuple[int, dict[str, Any]]] = []
    for entry_name in (service, "*") if service != "*" else ("*",):
        entry = reader.entry("service-intentions", entry_name, partition)
        for src in (entry or {}).get("Sources") or ():
            exact_src = src.get("Name") != "*"
            found.append((PRECEDENCE[(entry_name != "*", exact_src)], src))
    found.sort(key=lambda item: -item[0])
    return found


def rbac_rules(
    r: Reader | CatalogView,
    td: str,
    service: str,
    partition: str,
    default_allow: bool,
    l7: bool,
) -> dict[str, Any]:
    """Envoy ``RBAC`` rules for the destination ``service`` (``config.rbac.v3.RBAC``)."""
    want = "deny" if default_allow else "allow"
    policies: dict[str, Any] = {}
    higher: list[dict[str, Any]] = []
    for i, (_prec, src) in enumerate(intention_sources(r, service, partition)):
        principal = _source_principal(td, src, partition)
        if principal is None:
            continue
        ids = [principal] + [{"not_id": h} for h in higher]
        full = ids[0] if len(ids) == 1 else {"and_ids": {"ids": ids}}
        higher.append(principal)
        action = str(src.get("Action") or "").lower()
        if action:
            if action == want:
                policies[f"consul-intentions-layer4-{i}"] = {
                    "permissions": [{"any": True}],
                    "principals": [full],
                }
            continue
        perms = src.get("Permissions") or ()
        if not l7:
            if want == "deny":  # an L7 intention on an L4 listener: Consul denies
                policies[f"consul-intentions-layer4-{i}"] = {
                    "permissions": [{"any": True}],
                    "principals": [full],
                }
            continue
        # first match wins: permission k decides when it matches and no earlier one does
        matched: list[dict[str, Any]] = []
        chosen: list[dict[str, Any]] = []
        for perm in perms:
            p = _permission(perm.get("HTTP"))
            if str(perm.get("Action", "")).lower() == want:
                chosen.append(
                    p
                    if not matched
                    else {"and_rules": {"rules": [p] + [{"not_rule": m} for m in matched]}}
                )
            matched.append(p)
        if chosen:
            policies[f"consul-intentions-layer7-{i}"] = {
                "permissions": chosen,
                "principals": [full],
            }
    return {"action": "DENY" if default_allow else "ALLOW", "policies": policies}
