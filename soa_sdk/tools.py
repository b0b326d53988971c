"""Tools the lab runs from environments of their own, which it creates on first use.

checkov, the offline Terraform scanner of step 5 and of ``python -m soa_sdk.tf.checks``,
cannot live in the lab's environment: checkov 3.3 pins ``bc-python-hcl2`` (a fork that
installs a module named ``hcl2`` over python-hcl2, the parser the SDK reads Terraform with),
``boto3==1.35.49`` and ``packaging<24``. Rather than pin the lab to those, the lab keeps
checkov in a virtualenv of its own, made with the standard library's ``venv`` and pip (from
the same package index as the lab's own install), at an exact version, in the user's cache
folder: ``$SOA_LAB_TOOLS``, else ``$XDG_CACHE_HOME/soa-lab/tools``, else
``~/.cache/soa-lab/tools``. It is made once (about 30 s with a warm pip cache, 290 MB), under
a file lock, so two notebooks or a notebook and ``soa-lab run`` never build it twice; a
half-made one (no ``.ready`` marker) is made again. ``soa-lab run`` starts preparing it in the
background while the first notebooks run; ``soa-lab tools`` prepares it up front (Binder's
image does, at build time). ``SOA_LAB_CHECKOV`` points the lab at a checkov of your own.

Not done: no tool is looked up on ``PATH`` (a different checkov version could judge the
monorepo differently), and no environment is ever upgraded in place: a new pin is a new folder.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from soa_sdk.errors import SoaLabError

READY_MARKER = ".ready"
INSTALL_TIMEOUT = 900.0


class ToolUnavailable(SoaLabError):
    """A tool the lab runs could not be found or installed."""


@dataclass(frozen=True)
class Tool:
    """A command-line tool installed from PyPI into its own virtualenv."""

    name: str
    version: str
    override_variable: str  # names an executable to use instead of the lab's own environment

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"

    @property
    def folder(self) -> Path:
        return tools_root() / f"{self.name}-{self.version}"

    @property
    def executable(self) -> Path:
        return self.folder / "bin" / self.name


CHECKOV = Tool("checkov", "3.3.30", "SOA_LAB_CHECKOV")


def tools_root() -> Path:
    """Where the tool environments live (see the module's docstring)."""
    configured = os.environ.get("SOA_LAB_TOOLS")
    if configured:
        return Path(configured).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "soa-lab" / "tools"


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find(tool: Tool) -> Path | None:
    """The tool's executable if it is ready to run, else None (nothing is installed)."""
    configured = os.environ.get(tool.override_variable)
    if configured:
        path = Path(configured).expanduser()
        return path if _is_executable(path) else None
    ready = (tool.folder / READY_MARKER).is_file() and _is_executable(tool.executable)
    return tool.executable if ready else None


@contextmanager
def _locked(tool: Tool) -> Iterator[None]:
    root = tools_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{tool.name}-{tool.version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # waits while another process prepares it
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run(argv: list[str], tool: Tool) -> None:
    try:
        completed = subprocess.run(
            argv, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise ToolUnavailable(
            f"Installing {tool.requirement} took more than {INSTALL_TIMEOUT:.0f} s and was "
            "stopped. Check that this machine reaches the Python package index, then try "
            "again with `soa-lab tools`."
        ) from error
    if completed.returncode != 0:
        said = [line for line in completed.stderr.splitlines() if "WARNING" not in line][-5:]
        raise ToolUnavailable(
            f"Could not install {tool.requirement} into {tool.folder}: "
            f"{' | '.join(said) or f'exit {completed.returncode}'}. The lab installs it from "
            "the Python package index on first use: check this machine reaches it and run "
            f"`soa-lab tools`, or set {tool.override_variable} to a {tool.name} executable."
        )


def ensure(tool: Tool = CHECKOV, progress: Callable[[str], None] | None = None) -> Path:
    """The tool's executable, installing it first if it is not ready (see the module)."""
    found = find(tool)
    if found is not None:
        return found
    if os.environ.get(tool.override_variable):
        raise ToolUnavailable(
            f"{tool.override_variable} names {os.environ[tool.override_variable]}, which is "
            f"not an executable: fix it, or unset it to let the lab install {tool.name}."
        )
    with _locked(tool):
        found = find(tool)  # another process may have made it while we waited
        if found is not None:
            return found
        if progress:
            progress(f"installing {tool.requirement} into {tool.folder} (first use only)")
        shutil.rmtree(tool.folder, ignore_errors=True)  # a half-made one from before
        _run([sys.executable, "-m", "venv", str(tool.folder)], tool)
        pip = [str(tool.folder / "bin" / "python"), "-m", "pip"]
        _run([*pip, "install", "--disable-pip-version-check", tool.requirement], tool)
        if not _is_executable(tool.executable):
            raise ToolUnavailable(f"{tool.requirement} installed no {tool.executable}.")
        (tool.folder / READY_MARKER).write_text(tool.requirement + "\n")
    return tool.executable


def prepare_in_background(tool: Tool = CHECKOV) -> threading.Thread:
    """Start :func:`ensure` in a thread; a failure is left for the first real use to report."""

    def prepare() -> None:
        try:
            ensure(tool)
        except SoaLabError:
            pass  # the step that runs the tool calls ensure() again and reports it

    thread = threading.Thread(target=prepare, name=f"prepare-{tool.name}", daemon=True)
    thread.start()
    return thread
