"""Background processes that outlive the command that started them."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil


def spawn(
    command: Sequence[str],
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
) -> psutil.Process:
    """Start ``command`` in its own session, detached from our terminal, logging to ``log``.

    Secrets are passed through ``env`` (``/proc/PID/environ`` is readable by the owner only),
    never on the command line, which ``ps`` shows to every user.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as output:
        process = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            user=user,
            start_new_session=True,
            close_fds=True,
        )
    return psutil.Process(process.pid)


def is_running(pid: int, started_at: float) -> bool:
    """True when process ``pid`` runs and is the one we started (same creation time)."""
    try:
        process = psutil.Process(pid)
        return (
            abs(process.create_time() - started_at) < 1.0
            and process.status() != psutil.STATUS_ZOMBIE
        )
    except psutil.Error:
        return False


def stop(
    pid: int, started_at: float, stop_signal: int = signal.SIGTERM, timeout: float = 5.0
) -> None:
    """Stop the process and every child of it; kill what does not exit within ``timeout``."""
    if not is_running(pid, started_at):
        return
    try:
        parent = psutil.Process(pid)
        family = [parent, *parent.children(recursive=True)]
    except psutil.Error:
        return
    try:
        parent.send_signal(stop_signal)
    except psutil.Error:
        pass
    _, alive = psutil.wait_procs(family, timeout=timeout)
    for process in alive:
        try:
            process.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=2.0)
    _reap(pid)


def resident_memory(pid: int) -> int:
    """Resident memory in bytes of the process and all its children (0 when gone)."""
    try:
        parent = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)])
    except psutil.Error:
        return 0


def wait_until(predicate, timeout: float, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def _reap(pid: int) -> None:
    """Collect the exit status if the process was our own child, so no zombie is left."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
