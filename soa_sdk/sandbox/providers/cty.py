"""Terraform's values on the wire: cty types as JSON, values as msgpack (``DynamicValue``).

What Terraform's plugin protocol documents (``docs/plugin-protocol/object-wire-format.md``):
a type is JSON (``"string"``, ``"number"``, ``"bool"``, ``["list", T]``, ``["set", T]``,
``["map", T]``, ``["object", {name: T}]``); a value is msgpack of that type, an object always
with every attribute (null when unset), and an unknown value ("known after apply") is msgpack
extension 0 (Terraform 1.6+ may send extension 12, an unknown with refinements: read as
unknown, refinements dropped). Numbers come as ints or floats (a number too large for either
arrives as a string; not needed here). Left out: the ``dynamic`` pseudo-type (no argument
the monorepo uses has it), marks (sensitivity is carried by the schema instead).
"""

from __future__ import annotations

import json
from typing import Any

import msgpack

from soa_sdk.sandbox.providers.protocol import tfplugin6_pb2 as pb


class _Unknown:
    """A value that is known only after apply."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return False


UNKNOWN = _Unknown()

_UNKNOWN_EXT = 0
_REFINED_UNKNOWN_EXT = 12


def _ext_hook(code: int, data: bytes) -> Any:
    if code in (_UNKNOWN_EXT, _REFINED_UNKNOWN_EXT):
        return UNKNOWN
    return msgpack.ExtType(code, data)


def _default(value: Any) -> Any:
    if value is UNKNOWN:
        return msgpack.ExtType(_UNKNOWN_EXT, b"\x00")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__} as a Terraform value")


def decode(dynamic: pb.DynamicValue | None) -> Any:
    """The Python value of a ``DynamicValue``: dicts, lists, str, int/float, bool, None,
    :data:`UNKNOWN`."""
    if dynamic is None:
        return None
    if dynamic.msgpack:
        return msgpack.unpackb(dynamic.msgpack, ext_hook=_ext_hook, raw=False, strict_map_key=False)
    if dynamic.json:
        return json.loads(dynamic.json)
    return None


def encode(value: Any) -> pb.DynamicValue:
    """A ``DynamicValue`` (msgpack) of a value already shaped by its type (see
    :func:`conform`)."""
    return pb.DynamicValue(msgpack=msgpack.packb(value, default=_default, use_bin_type=True))


def conform(type_: Any, value: Any) -> Any:
    """``value`` shaped as ``type_`` demands on the wire: every object attribute present,
    numbers as numbers, sets and lists as lists, None and UNKNOWN kept."""
    if value is None or value is UNKNOWN:
        return value
    if type_ == "string":
        if isinstance(value, bool):
            return "true" if value else "false"
        return value if isinstance(value, str) else str(value)
    if type_ == "number":
        if isinstance(value, str):
            number = float(value)
            return int(number) if number.is_integer() else number
        return value
    if type_ == "bool":
        if isinstance(value, str):
            return value.lower() == "true"
        return bool(value)
    kind, inner = type_
    if kind in ("list", "set"):
        return [conform(inner, item) for item in value]
    if kind == "map":
        return {str(k): conform(inner, v) for k, v in value.items()}
    if kind == "object":
        return {name: conform(t, value.get(name)) for name, t in inner.items()}
    raise ValueError(f"unsupported type {type_!r}")


def type_json(type_: Any) -> bytes:
    """The JSON bytes a schema attribute's ``type`` field holds."""
    return json.dumps(type_, separators=(",", ":")).encode()


def is_known(value: Any) -> bool:
    """Whether ``value`` holds no unknown anywhere."""
    if value is UNKNOWN:
        return False
    if isinstance(value, dict):
        return all(is_known(v) for v in value.values())
    if isinstance(value, list):
        return all(is_known(v) for v in value)
    return True
