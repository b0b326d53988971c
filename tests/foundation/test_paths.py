"""The public SDK takes a path as a ``str`` or a ``Path`` (any ``os.PathLike``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from soa_sdk import Lab, outcomes
from soa_sdk.errors import SandboxNotRunning, SoaLabError
from soa_sdk.paths import terraform_root
from soa_sdk.sandbox.state import SandboxState
from soa_sdk.tf import checks
from soa_sdk.tf import lab_spec as spec


class Folder(os.PathLike[str]):
    """A path-like that is neither a str nor a Path."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __fspath__(self) -> str:
        return str(self.path)


def test_connect_takes_home_as_str_relative_str_path_or_path_like(
    sandbox: SandboxState, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = Path(sandbox.home)
    monkeypatch.chdir(home.parent)
    for given in (str(home), home.name, home, Folder(home)):
        lab = Lab.connect("sandbox", home=given, start=False)  # type: ignore[arg-type]
        assert lab.target == "sandbox" and lab.endpoints.consul_url


def test_connect_to_a_home_without_a_sandbox_says_so(tmp_path: Path) -> None:
    with pytest.raises(SandboxNotRunning):
        Lab.connect("sandbox", home=str(tmp_path / "no-sandbox-here"), start=False)


def test_a_home_that_is_not_a_path_is_a_clear_error() -> None:
    with pytest.raises(SoaLabError, match="home must be a folder"):
        Lab.connect("sandbox", home=42, start=False)  # type: ignore[arg-type]


def test_readers_of_the_terraform_tree_take_str_and_path() -> None:
    root = terraform_root()
    assert spec.load_mesh(str(root)) == spec.load_mesh(root)
    assert checks.check_fmt(str(root)).ok == checks.check_fmt(Folder(root)).ok  # type: ignore[arg-type]


def test_outcomes_read_takes_str_and_path(tmp_path: Path) -> None:
    notebook = tmp_path / "done.ipynb"
    output = {"output_type": "execute_result", "data": {outcomes.MIME_TYPE: {"ok": True}}}
    notebook.write_text(json.dumps({"cells": [{"outputs": [output]}]}))
    for given in (notebook, str(notebook), Folder(notebook)):
        assert outcomes.read(given) == {"ok": True}  # type: ignore[arg-type]
