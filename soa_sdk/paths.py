"""Where the lab's files are: the project folder with ``terraform/`` and ``notebooks/``."""

from __future__ import annotations

import os
from pathlib import Path

from soa_sdk.errors import SpecificationError


def project_root() -> Path:
    """The soa-lab checkout: ``$SOA_LAB_ROOT``, else the folder above this package, else the
    nearest folder above the current directory that has ``terraform/org``."""
    configured = os.environ.get("SOA_LAB_ROOT")
    if configured:
        return Path(configured).expanduser().resolve()
    beside_package = Path(__file__).resolve().parent.parent
    if (beside_package / "terraform" / "org").is_dir():
        return beside_package
    for folder in [Path.cwd(), *Path.cwd().parents]:
        if (folder / "terraform" / "org").is_dir():
            return folder
    raise SpecificationError(
        "Cannot find the soa-lab project folder (with terraform/ and notebooks/). "
        "Run from inside the checkout, or set SOA_LAB_ROOT to it."
    )


def terraform_root() -> Path:
    """The Terraform monorepo: one folder per account."""
    return project_root() / "terraform"


def notebooks_root() -> Path:
    """The workshop's notebooks, ``00_foundation.ipynb`` to ``05_add_runtime.ipynb``."""
    return project_root() / "notebooks"
