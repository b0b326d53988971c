"""Start, inspect and stop the sandbox: ``soa-lab up | status | down``.

``up`` starts every service as a background process that outlives the command, wave by wave
(services of a wave start in parallel), waits until each answers a real health request, and
writes the state file. Run again, it finds the running sandbox and changes nothing. If any
service fails to start, everything started so far is stopped: nothing is half-started.
``down`` stops every process the state file names and removes the state and data folders.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from soa_sdk.errors import SandboxError, SandboxNotRunning
from soa_sdk.sandbox import process
from soa_sdk.sandbox.services import LaunchContext, Service, by_name, waves
from soa_sdk.sandbox.state import (
    SECRETS_FILE,
    STATE_FILE,
    SandboxState,
    ServiceRecord,
    sandbox_home,
)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ServiceStatus:
    """One line of ``soa-lab status``."""

    name: str
    summary: str
    url: str
    pid: int
    running: bool
    healthy: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "summary": self.summary,
            "url": self.url,
            "pid": self.pid,
            "running": self.running,
            "healthy": self.healthy,
        }


def _quiet(message: str) -> None:
    """The default progress reporter: says nothing."""


def up(home: Path | None = None, progress: Progress = _quiet) -> tuple[SandboxState, bool]:
    """Start the sandbox in ``home`` unless one already runs there.

    Returns the state and whether anything was started. A state file whose processes are
    gone (a killed sandbox) is cleared first.
    """
    home = home or sandbox_home()
    found = running(home)
    if found:
        progress("The sandbox is already running; nothing to do.")
        return found, False
    if SandboxState.exists(home):
        progress("Found a stale or unhealthy sandbox; stopping it before starting afresh.")
        down(home)
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    state = SandboxState(home)
    for service in by_name().values():
        state.secrets.update(service.new_secrets())
    try:
        for wave in waves():
            _start_wave(wave, state, progress)
    except BaseException:
        _stop_all(state)
        _remove_files(home, keep_logs=True)  # the error message points at them
        raise
    state.save()
    return state, True


def running(home: Path | None = None) -> SandboxState | None:
    """The sandbox in ``home`` when it runs and every service answers; None otherwise."""
    home = home or sandbox_home()
    if not SandboxState.exists(home):
        return None
    try:
        state = SandboxState.load(home)
    except SandboxNotRunning:
        return None
    return state if all(s.healthy for s in status(state)) else None


def _start_wave(wave: list[Service], state: SandboxState, progress: Progress) -> None:
    context = LaunchContext(
        state.home, {name: record.url for name, record in state.services.items()}, state.secrets
    )
    with ThreadPoolExecutor(max_workers=len(wave)) as pool:
        futures = [pool.submit(_start_one, service, context, progress) for service in wave]
        errors = []
        for future in futures:
            try:
                record = future.result()
            except SandboxError as error:
                errors.append(str(error))
            else:
                state.services[record.name] = record
    if errors:
        raise SandboxError(" ".join(errors))


def _start_one(service: Service, context: LaunchContext, progress: Progress) -> ServiceRecord:
    started = time.monotonic()
    launch = service.launch(context)
    log = context.logs / f"{service.name}.log"
    child = process.spawn(launch.command, log, env=launch.env, user=launch.user)
    record = ServiceRecord(
        name=service.name,
        url=launch.url,
        pid=child.pid,
        started_at=child.create_time(),
        log=str(log),
        paths=launch.paths,
        extra=launch.extra,
    )

    def ready() -> bool:
        if not child.is_running() or child.status() == "zombie":
            raise SandboxError(
                f"The {service.name} service exited during start; see its log at {log}."
            )
        return service.is_healthy(record, context.secrets)

    try:
        healthy = process.wait_until(ready, service.start_timeout)
    except SandboxError:
        _stop_record(service, record)
        raise
    if not healthy:
        _stop_record(service, record)
        raise SandboxError(
            f"The {service.name} service did not become healthy within "
            f"{service.start_timeout:.0f} s; see its log at {log}."
        )
    record.extra.update(service.details(record, context.secrets))
    progress(f"{service.name:<9} healthy at {launch.url}  ({time.monotonic() - started:.1f} s)")
    return record


def status(state: SandboxState | None = None) -> list[ServiceStatus]:
    """The health of every service the state file names (a real health request each)."""
    state = state or SandboxState.load()
    services = by_name()
    result = []
    for name, record in state.services.items():
        service = services.get(name)
        running = process.is_running(record.pid, record.started_at)
        healthy = bool(running and service and service.is_healthy(record, state.secrets))
        summary = service.summary if service else "(unknown service)"
        result.append(ServiceStatus(name, summary, record.url, record.pid, running, healthy))
    return result


def down(home: Path | None = None, progress: Progress = _quiet) -> bool:
    """Stop every process of the sandbox in ``home`` and remove its state and data.

    Returns False when there was nothing to stop.
    """
    home = home or sandbox_home()
    try:
        state = SandboxState.load(home)
    except SandboxNotRunning:
        _remove_files(home)
        return False
    _stop_all(state, progress)
    _remove_files(home)
    return True


def _stop_all(state: SandboxState, progress: Progress = _quiet) -> None:
    services = by_name()
    # Stop dependents first: the reverse of the start order.
    for name in reversed(list(state.services)):
        record = state.services[name]
        service = services.get(name)
        _stop_record(service, record)
        progress(f"{name:<9} stopped")


def _stop_record(service: Service | None, record: ServiceRecord) -> None:
    signal_number = service.stop_signal if service else 15
    process.stop(record.pid, record.started_at, signal_number)
    for path in record.paths:
        shutil.rmtree(path, ignore_errors=True)


def _remove_files(home: Path, keep_logs: bool = False) -> None:
    for name in (STATE_FILE, SECRETS_FILE):
        (home / name).unlink(missing_ok=True)
    if not keep_logs:
        shutil.rmtree(home / "logs", ignore_errors=True)
