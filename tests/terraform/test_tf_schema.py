"""The local aws provider's schema covers the folders it applies: every resource and data
source type the folder and the modules it calls use has a schema, and every argument and
block they write is in it (Terraform refuses unknown ones before the provider sees them),
settable (not computed only), of a type the literal fits, with every required one given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hcl2
import pytest

from soa_sdk.paths import terraform_root
from soa_sdk.sandbox.providers.aws.provider import SCHEMA_FILE
from soa_sdk.sandbox.providers.schema import Block, ProviderSchema

# The folders whose every aws type the local provider implements.
FOLDERS = ["org", "runtime_ecs", "runtime_eks", "runtime_ec2"]

META = {"provider", "providers", "alias", "for_each", "count", "depends_on", "lifecycle"}

# What a literal of the .tf file may be for each attribute type (Terraform converts numbers
# and bools to strings, and a string may be an expression).
LITERALS: dict[str, tuple[type, ...]] = {
    "string": (str, int, float, bool),
    "number": (int, float, str),
    "bool": (bool, str),
    "list": (list, str),
    "set": (list, str),
    "map": (dict, str),
    "object": (dict, str),
}


def _check_block(block: Block, body: dict[str, Any], where: str) -> list[str]:
    problems = []
    for name, value in body.items():
        name = name.strip('"')
        if name in META or name.startswith("__"):
            continue
        if name == "dynamic":  # dynamic "label" { for_each = ...  content { ... } }
            for entry in value if isinstance(value, list) else [value]:
                for label, spec in entry.items():
                    label = label.strip('"')
                    if label not in block.blocks:
                        problems.append(f"{where}.dynamic {label} is not a block of the schema")
                        continue
                    for content in spec.get("content", []):
                        nested = block.blocks[label].block
                        problems += _check_block(nested, content, f"{where}.{label}")
            continue
        if name in block.blocks:
            for item in value if isinstance(value, list) else [value]:
                problems += _check_block(block.blocks[name].block, item, f"{where}.{name}")
        elif name in block.attributes:
            value = value.strip('"') if isinstance(value, str) else value
            attribute = block.attributes[name]
            if not (attribute.required or attribute.optional):
                problems.append(f"{where}.{name} is computed only")
            kind = attribute.type if isinstance(attribute.type, str) else attribute.type[0]
            if not isinstance(value, LITERALS[kind]):
                problems.append(f"{where}.{name}: {type(value).__name__} for {attribute.type}")
        else:
            problems.append(f"{where}.{name} is not in the schema")
    for name, attribute in block.attributes.items():
        if attribute.required and name not in body:
            problems.append(f"{where}.{name} is required and missing")
    return problems


def _folders(folder: Path) -> list[Path]:
    """``folder`` and every local module it calls (transitively), each once."""
    seen: list[Path] = []
    pending = [folder.resolve()]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.append(current)
        for path in sorted(current.glob("*.tf")):
            for entry in hcl2.load(path.open()).get("module", []):
                for body in entry.values():
                    source = str(body.get("source", "")).strip('"')
                    if source.startswith("."):
                        pending.append((current / source).resolve())
    return seen


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_argument_the_folder_uses_is_in_the_schema(folder: str) -> None:
    schema = ProviderSchema.load(SCHEMA_FILE)
    root = terraform_root()
    problems: list[str] = []
    types: set[str] = set()
    for directory in _folders(root / folder):
        for path in sorted(directory.glob("*.tf")):
            document = hcl2.load(path.open())
            name_of = str(path.relative_to(root))
            for kind, section in (("resource", schema.resources), ("data", schema.data_sources)):
                for entry in document.get(kind, []):
                    for quoted, instances in entry.items():
                        type_name = quoted.strip('"')
                        types.add(type_name)
                        if type_name not in section:
                            problems.append(f"{name_of}: {kind} {type_name} has no schema")
                            continue
                        for name, body in instances.items():
                            where = f"{name_of}: {type_name}.{name}"
                            problems += _check_block(section[type_name].block, body, where)
            for entry in document.get("provider", []):
                for _, body in entry.items():
                    problems += _check_block(schema.provider.block, body, f"{name_of}: provider")
    assert types, f"{folder} declares no resources"
    assert not problems, "\n".join(problems)


def test_every_schema_entry_names_its_doc_page() -> None:
    schema = ProviderSchema.load(SCHEMA_FILE)
    for section, kind in ((schema.resources, "r"), (schema.data_sources, "d")):
        for name, entry in section.items():
            expected = f"website/docs/{kind}/{name.removeprefix('aws_')}.html.markdown"
            assert entry.doc == expected, f"{name}: {entry.doc}"
