"""Background processes that outlive the command that started them."""

from __future__ import annotations

import os
import re
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


def group(pid: int, started_at: float) -> list[psutil.Process]:
    """Every live process of the process group that ``pid`` started, when that is the process
    we started (same creation time) or is gone; empty when ``pid`` now names another process.

    :func:`spawn` starts each service as the leader of a session of its own, so the group's
    number is the service's pid and stays with its children even after the leader died: that
    is how stragglers of a killed service are found. Linux does not reuse a pid while a group
    of that number has members, so a live process with our pid but another creation time
    means our group is empty.
    """
    try:
        leader = psutil.Process(pid)
        if abs(leader.create_time() - started_at) >= 1.0:
            return []
    except psutil.Error:
        pass
    members = []
    for candidate in psutil.process_iter():
        try:
            ours = os.getpgid(candidate.pid) == pid and candidate.create_time() >= started_at - 1
            if ours and _alive(candidate):
                members.append(candidate)
        except (OSError, psutil.Error):
            continue
    return members


def stop(
    pid: int, started_at: float, stop_signal: int = signal.SIGTERM, timeout: float = 5.0
) -> None:
    """Stop the process and every child and group member of it; kill what does not exit
    within ``timeout``. A pid that now names another process is never signalled."""
    family = {p.pid: p for p in group(pid, started_at)}
    leader_runs = is_running(pid, started_at)
    if leader_runs:
        try:
            parent = psutil.Process(pid)
            family.update({p.pid: p for p in [parent, *parent.children(recursive=True)]})
        except psutil.Error:
            leader_runs = False
    if not family:
        _reap(pid)
        return
    # The leader gets the service's own stop signal (PostgreSQL: SIGINT, fast shutdown) and
    # stops its children itself; stragglers of a dead leader get SIGTERM.
    targets = [family[pid]] if leader_runs and pid in family else list(family.values())
    for target in targets:
        try:
            target.send_signal(stop_signal if leader_runs else signal.SIGTERM)
        except psutil.Error:
            pass
    # A process another live process started stays a zombie until that one reaps it: count
    # zombies as stopped rather than waiting for them to disappear.
    members = list(family.values())
    if not wait_until(lambda: not any(_alive(p) for p in members), timeout, interval=0.05):
        for straggler in members:
            if _alive(straggler):
                try:
                    straggler.kill()
                except psutil.Error:
                    pass
        wait_until(lambda: not any(_alive(p) for p in members), 2.0, interval=0.05)
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


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def redact_in_place(path: Path, pattern: re.Pattern[bytes]) -> bool:
    """Overwrite what the last group of ``pattern`` matches in the file at ``path`` with
    asterisks of the same length, in place. The writer appends to the file, so keeping every
    byte where it is lets it go on writing undisturbed. True when the pattern was found."""

    def mask(match: re.Match[bytes]) -> bytes:
        start, end = match.span(match.lastindex or 0)
        whole_start = match.start()
        text = match.group(0)
        return text[: start - whole_start] + b"*" * (end - start) + text[end - whole_start :]

    try:
        with open(path, "r+b") as handle:
            content = handle.read()
            masked, count = pattern.subn(mask, content)
            if masked != content:
                handle.seek(0)
                handle.write(masked)
            return count > 0
    except OSError:
        return False


def _reap(pid: int) -> None:
    """Collect the exit status if the process was our own child, so no zombie is left."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
