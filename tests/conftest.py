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


# --- skips: only those on tests/allowed_skips.toml ------------------------------------------------

ALLOWED_SKIPS = Path(__file__).with_name("allowed_skips.toml")


def _allowed_skips() -> dict[str, str]:
    import tomllib

    entries = tomllib.loads(ALLOWED_SKIPS.read_text()).get("skip", [])
    return {entry["test"]: entry["reason"] for entry in entries}


def _unlisted_skips(session: pytest.Session) -> list[str]:
    allowed = _allowed_skips()
    reports = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reports.stats.get("skipped", []) if reports else []
    return sorted(
        {
            report.nodeid
            for report in skipped
            if not any(report.nodeid.startswith(test) for test in allowed)
        }
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI, a skip that is not on tests/allowed_skips.toml fails the run."""
    unlisted = _unlisted_skips(session)
    if not unlisted:
        return
    lines = "\n  ".join(unlisted)
    message = (
        f"\n{len(unlisted)} skip(s) not on {ALLOWED_SKIPS.name}:\n  {lines}\n"
        "Install what they need (a skip must never hide a component CI can install), or add "
        "them to the list with the reason they cannot run here."
    )
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter:
        reporter.write_line(message, red=bool(os.environ.get("CI")))
    if os.environ.get("CI") and exitstatus in (
        pytest.ExitCode.OK,
        pytest.ExitCode.NO_TESTS_COLLECTED,
    ):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
