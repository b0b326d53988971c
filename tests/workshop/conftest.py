"""Fixtures for the workshop tests: where their artifacts (screenshots, executed notebooks,
logs) are kept."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def workshop_artifacts(artifact_folder: Callable[[str], Path]) -> Path:
    """``$SOA_LAB_TEST_ARTIFACTS/workshop`` when CI keeps artifacts, else a temporary folder."""
    return artifact_folder("workshop")
