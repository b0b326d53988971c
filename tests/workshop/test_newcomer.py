"""A newcomer's first ten minutes: the README's quick start in a fresh checkout and virtualenv.

The commands come from README.md itself (the first ```bash block under "## Quick start"),
run in order, as argv, from the checkout's root, with a new ``python -m venv`` first on PATH
(as if activated) and a ``SOA_LAB_HOME`` of their own. Then every notebook of the checkout's
notebooks/ must have been executed into the run folder with its outcome recorded, and after
``soa-lab down`` no process may be left that belongs to that sandbox.

The checkout: by default the files git knows in this working tree, tracked and untracked but
not ignored (``git ls-files --cached --others --exclude-standard``), copied; in CI, on a fresh
clone, that is exactly a clone, and on a developer's machine it also covers work not yet
committed. ``SOA_LAB_NEWCOMER_CHECKOUT=clone`` makes it a ``git clone`` of HEAD instead.
The venv is clean (no system site-packages), and so is the environment the commands see:
built from nothing but the machine's own settings (its standard PATH, locale, pip and TLS
configuration), with a new, empty HOME. Nothing that CI or a developer installed beyond the
README (Chromium, a checkov of their own, SOA_LAB_* variables, another venv on PATH) is
visible, so the quick start must bring every tool it uses itself (checkov included: it lands
in the new HOME's cache). Only pip's download cache is shared, to spare the network; it
changes nothing that gets installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from soa_sdk import outcomes, tools
from soa_sdk.sandbox import lifecycle
from soa_sdk.sandbox.state import STATE_FILE

from .readme import quick_start

pytestmark = [pytest.mark.newcomer, pytest.mark.slow]

PROJECT = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT = float(os.environ.get("SOA_LAB_NEWCOMER_INSTALL_TIMEOUT", "1500"))
RUN_TIMEOUT = float(os.environ.get("SOA_LAB_NEWCOMER_RUN_TIMEOUT", "2700"))
# A new machine's standard PATH, and the machine settings a newcomer has too.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MACHINE_SETTINGS = ("LANG", "LC_ALL", "TERM", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR")
MACHINE_PREFIXES = ("PIP_", "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY")


def newcomer_environment(venv: Path, home: Path, user_home: Path) -> dict[str, str]:
    """What a newcomer's shell holds once the venv is activated (see the module docstring)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name in MACHINE_SETTINGS or name.startswith(MACHINE_PREFIXES)
    }
    cache = os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip")
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{SYSTEM_PATH}",
        VIRTUAL_ENV=str(venv),
        HOME=str(user_home),
        SOA_LAB_HOME=str(home),
        PIP_CACHE_DIR=cache,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    return env


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(PROJECT), *args], capture_output=True, text=True, check=True
    ).stdout


def fresh_checkout(target: Path) -> str:
    """Make the checkout in ``target``; returns how ("clone" or "working tree")."""
    if os.environ.get("SOA_LAB_NEWCOMER_CHECKOUT") == "clone":
        subprocess.run(["git", "clone", "--quiet", str(PROJECT), str(target)], check=True)
        return "clone"
    listed = _git("ls-files", "--cached", "--others", "--exclude-standard", "-z").split("\0")
    for name in filter(None, listed):
        source = PROJECT / name
        if not source.is_file():  # deleted in the working tree, not yet committed
            continue
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / name)
    return "working tree"


def run_logged(argv: list[str], log: Path, timeout: float, **kwargs) -> int:
    """Run ``argv`` with its output in ``log``; returns the exit code."""
    with open(log, "ab") as output:
        output.write(f"$ {' '.join(argv)}\n".encode())
        output.flush()
        return subprocess.run(
            argv, stdout=output, stderr=subprocess.STDOUT, timeout=timeout, **kwargs
        ).returncode


def tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def processes_of(home: Path) -> list[psutil.Process]:
    """Every live process whose environment names this sandbox home (servers and kernels)."""
    found = []
    for process in psutil.process_iter():
        try:
            mine = process.environ().get("SOA_LAB_HOME") == str(home)
            if mine and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except psutil.Error:
            continue
    return found


def test_readme_quick_start_from_a_fresh_checkout(tmp_path, workshop_artifacts):
    steps = quick_start(PROJECT / "README.md")
    assert ["soa-lab", "run"] in steps, f"the quick start does not run the lab: {steps}"
    artifacts = workshop_artifacts / "newcomer"
    artifacts.mkdir(exist_ok=True)
    log = artifacts / "quick-start.log"
    log.unlink(missing_ok=True)

    checkout, venv, home = tmp_path / "soa-lab", tmp_path / "venv", tmp_path / "home"
    user_home = tmp_path / "user"
    checkout.mkdir()
    user_home.mkdir()
    how = fresh_checkout(checkout)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = newcomer_environment(venv, home, user_home)

    timings = {}
    try:
        for argv in steps:
            started = time.monotonic()
            is_install = "install" in argv
            code = run_logged(
                argv, log, INSTALL_TIMEOUT if is_install else RUN_TIMEOUT, cwd=checkout, env=env
            )
            timings[" ".join(argv)] = round(time.monotonic() - started, 1)
            assert code == 0, f"`{' '.join(argv)}` exited {code}:\n{tail(log)}"
        assert (venv / "bin" / "soa-lab").exists(), "the install did not put soa-lab in the venv"
        where = subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import soa_sdk; print(soa_sdk.__file__)"],
            capture_output=True,
            text=True,
            env=env,
            cwd=venv,  # not the checkout, nor this project: `python -c` looks in its cwd first
            check=True,
        ).stdout.strip()
        assert Path(where).is_relative_to(checkout), f"the venv imports soa_sdk from {where}"

        expected = sorted(p.name for p in (checkout / "notebooks").glob("[0-9][0-9]_*.ipynb"))
        runs = sorted((checkout / "runs").glob("run-*"))
        assert len(runs) == 1, f"one run folder, found {runs}"
        executed = sorted(p.name for p in runs[0].glob("*.ipynb"))
        assert executed == expected, f"executed {executed}, the checkout has {expected}"
        for name in executed:
            document = json.loads((runs[0] / name).read_text())
            assert not document["metadata"]["papermill"].get("exception"), f"{name} failed"
            assert outcomes.read(runs[0] / name), f"{name} recorded an empty outcome"
            shutil.copy(runs[0] / name, artifacts / name)
        assert processes_of(home), "the sandbox should still run after `soa-lab run`"
        checkov = user_home / ".cache" / "soa-lab" / "tools" / f"checkov-{tools.CHECKOV.version}"
        assert (checkov / tools.READY_MARKER).is_file(), "the quick start did not bring checkov"

        code = run_logged(["soa-lab", "down"], log, 120, cwd=checkout, env=env)
        assert code == 0, f"`soa-lab down` exited {code}:\n{tail(log)}"
        psutil.wait_procs(processes_of(home), timeout=10)
        left = [f"{p.pid} {p.name()}" for p in processes_of(home)]
        assert not left, f"still running after `soa-lab down`: {left}"
        assert not (home / STATE_FILE).exists()
    finally:
        lifecycle.down(home)  # whatever happened above, leave nothing running
        for process in processes_of(home):
            process.kill()
        timings["checkout"] = how
        (artifacts / "timings.json").write_text(json.dumps(timings, indent=2))
        print(f"newcomer ({how}): {timings}; log {log}")
