"""Shared fixtures: one sandbox for the whole test session, in a temporary home.

``SOA_LAB_HOME`` is pointed at a fresh folder, so the tests never touch a developer's own
sandbox, and notebooks executed by papermill (fresh kernels, same environment) find it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from soa_sdk.sandbox import lifecycle
from soa_sdk.sandbox.state import SandboxState

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def sandbox_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("soa-lab-home")
    previous = os.environ.get("SOA_LAB_HOME")
    os.environ["SOA_LAB_HOME"] = str(home)
    yield home
    if previous is None:
        os.environ.pop("SOA_LAB_HOME", None)
    else:
        os.environ["SOA_LAB_HOME"] = previous


@pytest.fixture(scope="session")
def sandbox(sandbox_home: Path) -> Iterator[SandboxState]:
    """A running sandbox (every service of ``soa-lab up``), stopped after the session."""
    state, _ = lifecycle.up(sandbox_home)
    yield state
    lifecycle.down(sandbox_home)


@pytest.fixture(scope="session")
def lab(sandbox: SandboxState):
    """A :class:`soa_sdk.Lab` connected to the session's sandbox."""
    from soa_sdk import Lab

    return Lab.connect("sandbox", home=sandbox.home, start=False)


@pytest.fixture(scope="session")
def artifact_folder(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``artifact_folder(name)``: ``$SOA_LAB_TEST_ARTIFACTS/<name>`` when CI keeps artifacts, else a
    temporary folder."""

    def folder(name: str) -> Path:
        configured = os.environ.get("SOA_LAB_TEST_ARTIFACTS")
        if not configured:
            return tmp_path_factory.mktemp(name)
        kept = Path(configured) / name
        kept.mkdir(parents=True, exist_ok=True)
        return kept

    return folder


@pytest.fixture(scope="session")
def run_folder(artifact_folder: Callable[[str], Path]) -> Path:
    """Where executed notebooks are written (kept as test artifacts when CI asks)."""
    return artifact_folder("notebooks")
