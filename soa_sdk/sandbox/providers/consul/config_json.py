"""``config_json`` of ``consul_config_entry``: what the API's entry reads back as, and when two
documents are the same entry.

The real provider (``resource_consul_config_entry.go``) reads an entry back as the JSON of
Consul's typed ``api`` struct without ``Kind``, ``Name``, ``Namespace``, ``Partition``,
``CreateIndex`` and ``ModifyIndex``, and suppresses a diff when the configured and stored
documents decode (``api.DecodeConfigEntry``: mapstructure, weakly typed, field names matched
regardless of case) to deeply equal structs. Without Go's structs we compare the same way on
the documents: field names folded to one case (not the keys of the map-typed fields, such as
``Meta``, a resolver's ``Subsets`` or ``Failover``), numbers and booleans written as strings
taken as what they say, and zero values (``""``, ``0``, ``false``, ``null``, empty objects and
lists) the same as an absent field, as a decoded struct has them.

What follows, as with the real provider: fields the server adds that the configuration does
not write (a service-intentions source's ``Precedence`` and ``Type``) make a diff on every
plan unless the configuration writes them too (hashicorp/terraform-provider-consul#281; the
provider's own tests write ``Precedence = 9`` and ``Type = "consul"``).
"""

from __future__ import annotations

import json
from typing import Any

ENVELOPE = ("Kind", "Name", "Namespace", "Partition", "CreateIndex", "ModifyIndex")
# Fields whose Go type is a map: their keys are data (subset names, "*"), not field names.
MAP_FIELDS = frozenset({"meta", "subsets", "failover", "config", "localityaware"})


def from_api(entry: dict[str, Any]) -> str:
    """The entry as the real provider writes it to ``config_json``: the envelope removed,
    zero values left out, keys sorted (Go's JSON of a map)."""
    body = {k: v for k, v in entry.items() if k not in ENVELOPE}
    return json.dumps(_without_zeros(body) or {}, sort_keys=True, separators=(",", ":"))


def same_entry(a: str | None, b: str | None) -> bool:
    """Whether two ``config_json`` documents decode to the same config entry."""
    try:
        left, right = json.loads(a or "{}"), json.loads(b or "{}")
    except ValueError:
        return a == b
    return _canonical(left) == _canonical(right)


def _zero(value: Any) -> bool:
    return value in (None, "", 0, False) or value == {} or value == []


def _without_zeros(value: Any) -> Any:
    if isinstance(value, dict):
        cleaned = {k: _without_zeros(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if not _zero(v)}
    if isinstance(value, list):
        return [_without_zeros(v) for v in value]
    return value


def _scalar(value: Any) -> Any:
    """Weak typing: ``"9"`` and ``9``, ``"true"`` and ``true`` decode to the same field."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        if value in ("true", "false"):
            return value == "true"
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _canonical(value: Any, map_keys: bool = False) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            folded = key if map_keys else key.lower()
            canonical = _canonical(item, map_keys=not map_keys and folded in MAP_FIELDS)
            if map_keys or not _zero(canonical):  # a map's entry is there even when empty
                out[folded] = canonical
        return out
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return _scalar(value)
