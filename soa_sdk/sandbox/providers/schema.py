"""Provider schemas as data: each provider's ``schema.json``, built into ``tfplugin6.Schema``.

The file mirrors what the real provider documents for each resource and data source
(``website/docs/r/<type>.html.markdown`` and ``d/<type>`` of terraform-provider-aws; each
entry names its page in ``"doc"``). An attribute is one line of notation::

    "bucket": "string optional computed force_new"
    "deletion_window_in_days": "number optional default=30"
    "tags": "map(string) optional"

a type (``string``, ``number``, ``bool``, ``list(T)``, ``set(T)``, ``map(T)``,
``object(name,other=T)``), then
``required`` | ``optional`` | ``computed`` (optional and computed together for "set it, or the
API decides"), ``force_new`` (a change replaces the resource: the docs' "forces new
resource"), ``sensitive``, ``default=<json>``. A block is an object with ``nesting``
(``list``, ``set``, ``single``), ``min_items``, ``max_items``, ``force_new`` and its own
``attributes`` and ``blocks``.

One liberty, on the wire only: an argument with a default is announced as optional *and*
computed, so that the plan may fill the default in (the real provider's SDK relies on the
legacy type system's leniency for that instead, which the protocol forbids to others).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from soa_sdk.sandbox.providers import cty
from soa_sdk.sandbox.providers.protocol import tfplugin6_pb2 as pb

_NO_DEFAULT = object()


def _split_top(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def parse_type(text: str) -> Any:
    """``list(string)`` -> ``["list", "string"]``; ``object(a,b=bool)`` -> an object type
    whose attributes are strings unless typed."""
    text = text.strip()
    if text in ("string", "number", "bool"):
        return text
    for kind in ("list", "set", "map"):
        if text.startswith(kind + "(") and text.endswith(")"):
            return [kind, parse_type(text[len(kind) + 1 : -1])]
    if text.startswith("object(") and text.endswith(")"):
        members: dict[str, Any] = {}
        for part in _split_top(text[len("object(") : -1]):
            name, _, type_text = part.partition("=")
            members[name] = parse_type(type_text) if type_text else "string"
        return ["object", members]
    raise ValueError(f"unknown type {text!r}")


@dataclass(frozen=True)
class Attribute:
    name: str
    type: Any
    required: bool = False
    optional: bool = False
    computed: bool = False
    force_new: bool = False
    sensitive: bool = False
    default: Any = _NO_DEFAULT

    @property
    def has_default(self) -> bool:
        return self.default is not _NO_DEFAULT

    @classmethod
    def parse(cls, name: str, notation: str) -> Attribute:
        # A default is the last flag and may hold spaces ("default=\"Managed by Terraform\"").
        notation, _, default = notation.partition(" default=")
        type_text, *flags = notation.split()
        options: dict[str, Any] = {"default": json.loads(default)} if default else {}
        for flag in flags:
            if flag.startswith("default="):
                options["default"] = json.loads(flag.removeprefix("default="))
            elif flag in ("required", "optional", "computed", "force_new", "sensitive"):
                options[flag] = True
            else:
                raise ValueError(f"{name}: unknown flag {flag!r}")
        attribute = cls(name, parse_type(type_text), **options)
        if not (attribute.required or attribute.optional or attribute.computed):
            raise ValueError(f"{name}: say required, optional or computed")
        return attribute

    def to_proto(self) -> pb.Schema.Attribute:
        return pb.Schema.Attribute(
            name=self.name,
            type=cty.type_json(self.type),
            required=self.required,
            optional=self.optional,
            computed=self.computed or self.has_default,
            sensitive=self.sensitive,
        )


_NESTING = {
    "list": pb.Schema.NestedBlock.LIST,
    "set": pb.Schema.NestedBlock.SET,
    "single": pb.Schema.NestedBlock.SINGLE,
}


@dataclass(frozen=True)
class NestedBlock:
    name: str
    nesting: str
    block: Block
    min_items: int = 0
    max_items: int = 0
    force_new: bool = False  # a change to the block replaces the resource

    def to_proto(self) -> pb.Schema.NestedBlock:
        return pb.Schema.NestedBlock(
            type_name=self.name,
            block=self.block.to_proto(),
            nesting=_NESTING[self.nesting],
            min_items=self.min_items,
            max_items=self.max_items,
        )

    @property
    def value_type(self) -> Any:
        if self.nesting == "single":
            return self.block.value_type
        return [self.nesting, self.block.value_type]


@dataclass(frozen=True)
class Block:
    attributes: dict[str, Attribute] = field(default_factory=dict)
    blocks: dict[str, NestedBlock] = field(default_factory=dict)
    description: str = ""

    @classmethod
    def parse(cls, document: dict[str, Any]) -> Block:
        attributes = {
            name: Attribute.parse(name, notation)
            for name, notation in document.get("attributes", {}).items()
        }
        blocks = {
            name: NestedBlock(
                name,
                spec.get("nesting", "list"),
                Block.parse(spec),
                spec.get("min_items", 0),
                spec.get("max_items", 0),
                spec.get("force_new", False),
            )
            for name, spec in document.get("blocks", {}).items()
        }
        return cls(attributes, blocks, document.get("description", ""))

    def to_proto(self) -> pb.Schema.Block:
        return pb.Schema.Block(
            attributes=[a.to_proto() for a in self.attributes.values()],
            block_types=[b.to_proto() for b in self.blocks.values()],
            description=self.description,
        )

    @cached_property
    def value_type(self) -> Any:
        types: dict[str, Any] = {name: a.type for name, a in self.attributes.items()}
        types.update({name: b.value_type for name, b in self.blocks.items()})
        return ["object", types]

    def conform(self, value: dict[str, Any] | None) -> dict[str, Any] | None:
        """``value`` with every attribute present and nested blocks as the wire wants them
        (an absent list or set block is an empty list)."""
        if value is None:
            return None
        out: dict[str, Any] = {}
        for name, attribute in self.attributes.items():
            out[name] = cty.conform(attribute.type, value.get(name))
        for name, nested in self.blocks.items():
            item = value.get(name)
            if nested.nesting == "single":
                out[name] = nested.block.conform(item) if item is not cty.UNKNOWN else item
            elif item is cty.UNKNOWN:
                out[name] = item
            else:
                out[name] = [nested.block.conform(v) for v in (item or [])]
        return out


@dataclass(frozen=True)
class Schema:
    """One resource's, data source's or the provider's schema."""

    type_name: str
    block: Block
    version: int = 0
    doc: str = ""

    def to_proto(self) -> pb.Schema:
        return pb.Schema(version=self.version, block=self.block.to_proto())


@dataclass(frozen=True)
class ProviderSchema:
    provider: Schema
    resources: dict[str, Schema]
    data_sources: dict[str, Schema]

    @classmethod
    def load(cls, path: Path) -> ProviderSchema:
        """The schema in ``path``, read once per process: every provider instance (one per
        Terraform command's connection) shares it; it is frozen."""
        return _load(cls, path)

    @classmethod
    def parse(cls, path: Path) -> ProviderSchema:
        document = json.loads(path.read_text())

        def schemas(section: str) -> dict[str, Schema]:
            return {
                name: Schema(name, Block.parse(spec), spec.get("version", 0), spec.get("doc", ""))
                for name, spec in document.get(section, {}).items()
            }

        provider = document["provider"]
        return cls(
            Schema("provider", Block.parse(provider), 0, provider.get("doc", "")),
            schemas("resources"),
            schemas("data_sources"),
        )

    def to_proto(self) -> pb.GetProviderSchema.Response:
        return pb.GetProviderSchema.Response(
            provider=self.provider.to_proto(),
            resource_schemas={n: s.to_proto() for n, s in self.resources.items()},
            data_source_schemas={n: s.to_proto() for n, s in self.data_sources.items()},
            server_capabilities=pb.ServerCapabilities(get_provider_schema_optional=True),
        )


@functools.cache
def _load(cls: type[ProviderSchema], path: Path) -> ProviderSchema:
    return cls.parse(path)
