"""Fixtures of step 5: the organization and the runtimes it builds on, a scratch terraform/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from soa_sdk.paths import terraform_root


@pytest.fixture(scope="module")
def base(lab):
    """Step 0 and the production runtime with the runtimes it calls (store -> payments)."""
    lab.org.require()
    lab.runtime.require("runtime-ecs")
    return lab


@pytest.fixture
def scratch_tree(tmp_path: Path) -> Path:
    """A copy of terraform/ that step 5 may write into (the repository stays clean)."""
    target = tmp_path / "terraform"
    shutil.copytree(
        terraform_root(), target, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*")
    )
    return target
