"""``soa-lab doctor``: what is missing or wrong with the sandbox, and how to fix it."""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import psutil

from soa_sdk.errors import SandboxNotRunning
from soa_sdk.sandbox import lifecycle
from soa_sdk.sandbox.ports import port_is_free
from soa_sdk.sandbox.services import SERVICES
from soa_sdk.sandbox.state import SandboxState, sandbox_home


@dataclass(frozen=True)
class Finding:
    ok: bool
    what: str
    fix: str = ""


def examine(home: Path | None = None) -> list[Finding]:
    """Every check, passed or not, in the order a person would look."""
    home = home or sandbox_home()
    findings = [_python()]
    findings += _packages()
    for service in SERVICES:
        problems = service.problems()
        findings.append(
            Finding(not problems, f"{service.name}: {service.summary}", " ".join(problems))
        )
    findings.append(_checkov())
    findings.append(_home_writable(home))
    findings += _sandbox(home)
    return findings


def _checkov() -> Finding:
    """checkov is installed on first use (soa_sdk.tools): absent is fine, a broken override
    is not."""
    from soa_sdk import tools

    tool = tools.CHECKOV
    found = tools.find(tool)
    if found is not None:
        return Finding(True, f"{tool.requirement} at {found}")
    if os.environ.get(tool.override_variable):
        return Finding(
            False,
            f"{tool.override_variable}={os.environ[tool.override_variable]}",
            f"It is not an executable: fix it, or unset it to let the lab install {tool.name}.",
        )
    return Finding(
        True,
        f"{tool.requirement} not installed yet: the first run of notebook 05, or "
        f"`soa-lab tools`, installs it into {tool.folder} (about 30 s)",
    )


def _python() -> Finding:
    ok = sys.version_info >= (3, 11)
    version = ".".join(map(str, sys.version_info[:3]))
    return Finding(ok, f"Python {version}", "" if ok else "soa-lab needs Python 3.11 or newer.")


def _packages() -> list[Finding]:
    findings = []
    for module, package in (
        ("boto3", "boto3"),
        ("hvac", "hvac"),
        ("consul", "python-consul2"),
        ("papermill", "papermill"),
        ("matplotlib", "matplotlib"),
        ("ipykernel", "ipykernel"),
    ):
        present = importlib.util.find_spec(module) is not None
        findings.append(
            Finding(
                present, f"package {package}", "" if present else "Run `pip install -e '.[lab]'`."
            )
        )
    return findings


def _home_writable(home: Path) -> Finding:
    folder = home if home.exists() else home.parent
    ok = os.access(folder, os.W_OK)
    return Finding(
        ok,
        f"sandbox home {home}",
        "" if ok else f"{folder} is not writable: set SOA_LAB_HOME to a folder you own.",
    )


def _sandbox(home: Path) -> list[Finding]:
    try:
        state = SandboxState.load(home)
    except SandboxNotRunning as error:
        if SandboxState.exists(home):
            return [Finding(False, "sandbox state file", str(error))]
        return [Finding(True, "no sandbox running (start one with `soa-lab up`)")]
    findings = []
    for status in lifecycle.status(state):
        if status.healthy:
            findings.append(Finding(True, f"{status.name} healthy at {status.url}"))
            continue
        if not status.recorded:
            fix = (
                f"state.json has no record of {status.name} (it was edited or cut short). Run "
                "`soa-lab up`: it finds what still runs from the records in run/ and restarts "
                "the rest (or `soa-lab down` then `soa-lab up` for a fresh sandbox)."
            )
        elif not status.running:
            fix = (
                f"The {status.name} process (pid {status.pid}) is gone: the sandbox was killed. "
                "Run `soa-lab up`: it says what state was lost and restarts what is needed "
                "(or `soa-lab down` then `soa-lab up` for a fresh sandbox)."
            )
            taker = _port_taker(status.url)
            if taker:
                fix += f" Its port is now taken by {taker}."
        elif status.answers:
            fix = (
                f"The {status.name} process answers, but a service it depends on does not "
                f"({status.health}). Run `soa-lab up` to restart what is down."
            )
        else:
            fix = (
                f"The {status.name} process runs but does not answer; see "
                f"{state.services[status.name].log}. `soa-lab up` restarts it."
            )
        where = f" at {status.url}" if status.url else ""
        findings.append(Finding(False, f"{status.name}{where}: {status.health}", fix))
    return findings


def _port_taker(url: str) -> str:
    port = urlparse(url).port
    if port is None or port_is_free(port):
        return ""
    try:
        for connection in psutil.net_connections("tcp"):
            if connection.laddr and connection.laddr.port == port and connection.pid:
                return f"pid {connection.pid} ({psutil.Process(connection.pid).name()})"
    except (psutil.Error, PermissionError):
        pass
    return "another process"
