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
from soa_sdk.sandbox.providers.schema import ProviderSchema

# The folders whose every aws type the local provider implements.
FOLDERS = ["org", "runtime_ecs", "runtime_eks", "runtime_ec2", "runtime_frontend"]


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
def test_every_argument_the_folder_uses_is_in_the_schema(folder: str, schema_problems: Any) -> None:
    schema = ProviderSchema.load(SCHEMA_FILE)
    root = terraform_root()
    problems: list[str] = []
    types: set[str] = set()
    for directory in _folders(root / folder):
        where = directory.relative_to(root.resolve())
        problems += [f"{where}/{p}" for p in schema_problems(directory, schema)]
        for path in sorted(directory.glob("*.tf")):
            document = hcl2.load(path.open())
            for kind in ("resource", "data"):
                types |= {q.strip('"') for entry in document.get(kind, []) for q in entry}
    assert types, f"{folder} declares no resources"
    assert not problems, "\n".join(problems)


def test_every_schema_entry_names_its_doc_page() -> None:
    schema = ProviderSchema.load(SCHEMA_FILE)
    for section, kind in ((schema.resources, "r"), (schema.data_sources, "d")):
        for name, entry in section.items():
            expected = f"website/docs/{kind}/{name.removeprefix('aws_')}.html.markdown"
            assert entry.doc == expected, f"{name}: {entry.doc}"
