"""A headless JupyterLab on a free loopback port, for the real-browser test.

It serves a folder of its own (a temporary copy of the notebooks), so running cells in the
browser never writes outputs into the repository's notebooks. Jupyter's config, settings,
workspaces and runtime folders are fresh temporary ones, so a developer's own JupyterLab
setup cannot change what the test sees; the settings turn off JupyterLab's news poll (no
network here) and notebook windowing (every cell stays in the page, so the test can read
every output). The environment, ``SOA_LAB_HOME`` included, is inherited, so kernels find
the test session's sandbox.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from soa_sdk.sandbox.ports import LOOPBACK, free_port

# User settings JupyterLab reads from $JUPYTERLAB_SETTINGS_DIR: <plugin id>.jupyterlab-settings
SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}


@dataclass(frozen=True)
class RunningLab:
    """Where the server answers; ``token`` is a throwaway secret: do not print it."""

    base_url: str
    token: str
    root: Path
    log: Path

    def url(self, path: str, reset: bool = False) -> str:
        """``base_url/path`` with the token, for the browser's first request; ``reset`` starts
        from an empty workspace (no tabs left open by an earlier page)."""
        query = ("reset&" if reset else "") + f"token={self.token}"
        return f"{self.base_url}/{path.lstrip('/')}?{query}"

    def shutdown_kernels(self) -> int:
        """Shut down every running kernel (REST API); returns how many there were."""
        headers = {"Authorization": f"token {self.token}"}
        kernels = requests.get(f"{self.base_url}/api/kernels", headers=headers, timeout=10)
        kernels.raise_for_status()
        for kernel in kernels.json():
            requests.delete(
                f"{self.base_url}/api/kernels/{kernel['id']}", headers=headers, timeout=30
            ).raise_for_status()
        return len(kernels.json())


def _write_settings(folder: Path) -> None:
    for plugin, values in SETTINGS.items():
        package, name = plugin.rsplit("/", 1)
        target = folder / package / f"{name}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))


def _wait_until_ready(lab: RunningLab, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited during start; see {lab.log}")
        try:
            answer = requests.get(
                f"{lab.base_url}/api/status",
                headers={"Authorization": f"token {lab.token}"},
                timeout=2,
            )
            if answer.status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"JupyterLab did not answer within {timeout:.0f} s; see {lab.log}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM lets the server shut its kernels down; the process group catches the rest."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # kernels left behind, if any
    except ProcessLookupError:
        pass
    if process.poll() is None:
        process.wait(timeout=5)


@contextmanager
def jupyterlab(root: Path, scratch: Path, start_timeout: float = 60.0) -> Iterator[RunningLab]:
    """Run ``jupyter lab`` serving ``root`` until the block ends; ``scratch`` holds its
    config, settings and log."""
    port = free_port()
    token = secrets.token_urlsafe(24)
    lab = RunningLab(f"http://{LOOPBACK}:{port}", token, root, scratch / "lab.log")
    settings = scratch / "settings"
    _write_settings(settings)
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(scratch / "config"),
        "JUPYTER_RUNTIME_DIR": str(scratch / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(scratch / "workspaces"),
        # The token goes through the environment, not argv, which `ps` shows to everyone.
        "JUPYTER_TOKEN": lab.token,
    }
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--ServerApp.ip={LOOPBACK}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.open_browser=False",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None",
        # At INFO the server logs its URL with the token in it.
        "--ServerApp.log_level=WARN",
    ]
    if os.geteuid() == 0:  # CI runs as root; JupyterLab refuses that unless told
        command.append("--allow-root")
    with open(lab.log, "wb") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=root,
            env=env,
            start_new_session=True,  # its own process group, so teardown reaches the kernels
        )
    try:
        _wait_until_ready(lab, process, start_timeout)
        yield lab
    finally:
        _stop(process)
