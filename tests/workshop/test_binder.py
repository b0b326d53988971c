"""binder/: what mybinder.org (repo2docker) reads, checked against repo2docker's documented
rules, and the start script run for real."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from soa_sdk.sandbox import lifecycle

PROJECT = Path(__file__).resolve().parents[2]
BINDER = PROJECT / "binder"


def test_scripts_are_executable_and_start_ends_by_exec_ing_its_arguments():
    for name in ("postBuild", "start"):
        script = BINDER / name
        assert os.access(script, os.X_OK), f"binder/{name} must be executable"
        assert script.read_text().startswith("#!/usr/bin/env bash\n")
    lines = [
        line.strip()
        for line in (BINDER / "start").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    # repo2docker: "The last line must be exec "$@" or equivalent."
    assert lines[-1] == 'exec "$@"'


def test_runtime_names_a_python_the_project_accepts():
    runtime = (BINDER / "runtime.txt").read_text().strip()
    match = re.fullmatch(r"python-(\d+)\.(\d+)", runtime)
    assert match, f"repo2docker wants python-X.Y in runtime.txt, not {runtime!r}"
    wanted = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]
    minimum = re.fullmatch(r">=\s*(\d+)\.(\d+)", wanted["requires-python"])
    assert minimum, wanted["requires-python"]
    assert tuple(map(int, match.groups())) >= tuple(map(int, minimum.groups()))
    assert 'install --no-cache-dir -e ".[lab]"' in (BINDER / "postBuild").read_text()


def run_start(home: Path, command: list[str], path: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SOA_LAB_HOME": str(home), "PATH": path}
    return subprocess.run(
        ["bash", str(BINDER / "start"), *command],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_start_brings_the_sandbox_up_then_runs_the_server_command(tmp_path):
    home = tmp_path / "home"
    status = [sys.executable, "-m", "soa_sdk.cli", "status", "--json"]
    try:
        result = run_start(home, status, os.environ["PATH"])
        assert result.returncode == 0, result.stderr
        document = json.loads(result.stdout[result.stdout.index("{") :])
        assert document["running"] and document["healthy"]
        assert document["home"] == str(home)
    finally:
        lifecycle.down(home)


def test_start_still_runs_the_server_when_the_sandbox_cannot_start(tmp_path):
    # No soa-lab on PATH: the sandbox cannot start, JupyterLab must start all the same.
    result = run_start(tmp_path / "home", ["/bin/echo", "server started"], "/usr/bin:/bin")
    assert result.returncode == 0
    assert result.stdout.strip().endswith("server started")
    assert "soa-lab doctor" in result.stderr
