"""What a folder's .tf files use that a provider's schema lacks: the test helper behind every
"every argument the folder uses is in the schema" check (Terraform refuses an unknown
argument before the provider sees it, so a missing one fails the apply)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hcl2

from soa_sdk.sandbox.providers.schema import Block, ProviderSchema

META = {"provider", "alias", "for_each", "count", "depends_on", "lifecycle"}
LITERALS = {
    "string": (str,),
    "number": (int, float, str),
    "bool": (bool, str),
    "list": (list, str),
    "set": (list, str),
    "map": (dict, str),
}


def check_block(block: Block, body: dict[str, Any], where: str) -> list[str]:
    problems = []
    for name, value in body.items():
        name = name.strip('"')
        if name in META or name.startswith("__"):
            continue
        if name in block.blocks:
            for item in value if isinstance(value, list) else [value]:
                problems += check_block(block.blocks[name].block, item, f"{where}.{name}")
        elif name in block.attributes:
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


def problems_in(folder: Path, schemas: dict[str, ProviderSchema]) -> list[str]:
    """Every argument of ``folder``'s resources, data sources and provider blocks that the
    schema of its provider (``schemas`` by provider name: ``vault_mount`` -> ``vault``) lacks."""
    problems: list[str] = []
    for path in sorted(folder.glob("*.tf")):
        with path.open() as handle:
            document = hcl2.load(handle)
        for kind in ("resource", "data"):
            for entry in document.get(kind, []):
                for quoted, instances in entry.items():
                    type_name = quoted.strip('"')
                    schema = schemas.get(type_name.split("_", 1)[0])
                    if schema is None:
                        continue  # another provider's type: its own test checks it
                    section = schema.resources if kind == "resource" else schema.data_sources
                    if type_name not in section:
                        problems.append(f"{path.name}: {type_name} has no schema")
                        continue
                    for name, body in instances.items():
                        where = f"{path.name}: {type_name}.{name}"
                        problems += check_block(section[type_name].block, body, where)
        for entry in document.get("provider", []):
            for quoted, body in entry.items():
                schema = schemas.get(quoted.strip('"'))
                if schema is not None:
                    where = f"{path.name}: provider {quoted.strip(chr(34))}"
                    problems += check_block(schema.provider.block, body, where)
    return problems
