"""Fixtures for the workshop tests: where their artifacts (screenshots, executed notebooks,
logs) are kept."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def workshop_artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``$SOA_LAB_TEST_ARTIFACTS/workshop`` when CI keeps artifacts, else a temporary folder."""
    configured = os.environ.get("SOA_LAB_TEST_ARTIFACTS")
    if configured:
        folder = Path(configured) / "workshop"
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    return tmp_path_factory.mktemp("workshop-artifacts")
