"""Start, inspect and stop the sandbox: ``soa-lab up | status | down``.

``up`` starts every service as a background process that outlives the command, wave by wave
(services of a wave start in parallel), waits until each answers a real health request, and
writes the state file. Run again, it finds the running sandbox and changes nothing. If any
service fails to start, everything started so far is stopped: nothing is half-started.
``down`` stops every process the sandbox started and removes the state and data folders.

Misuse it survives:

- ``up`` and ``down`` hold a lock (``flock`` on ``lock`` in the sandbox home) while they run:
  a second ``up`` waits for the first, then finds its sandbox running.
- Every service process is also recorded on its own (``run/NAME.json``, written the moment
  it starts), and each runs in a process group of its own: ``down`` stops everything even
  when ``state.json`` is gone or garbage, and a pid is only signalled when its creation time
  is the recorded one (a reused pid is never killed).
- ``up`` on a partly dead sandbox says which services died and what state went with them,
  then restarts them. The rule, per service (:attr:`Service.restart_alone`): a dead service
  is restarted on its own, on its old port, while the rest keeps running, only when nothing
  the others hold refers to state it lost. That is PostgreSQL's case (its data is on disk
  and comes back), Envoy's (Consul's xDS server gives it every proxy's configuration again;
  only its counters restart from zero) and the frontend's. Every other service keeps the
  lab's state in memory, and the others point at it (AWS accounts and Consul partitions and
  the runtime registry; Consul's registrations and the workload host's instances; Vault's
  leases and the database users they made; Vault's store and Boundary's users), so keeping
  the rest would leave it inconsistent: ``up`` starts afresh, and says so. A service whose
  dependency is restarted is restarted too.
- ``status`` shows a service that answers while one it depends on is down as
  ``degraded: consul is down``.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soa_sdk.errors import SandboxError, SandboxNotRunning
from soa_sdk.sandbox import process, tls
from soa_sdk.sandbox.providers import mirror
from soa_sdk.sandbox.services import LaunchContext, Service, by_name, waves
from soa_sdk.sandbox.state import (
    LOCK_FILE,
    RUN_FOLDER,
    SECRETS_FILE,
    STATE_FILE,
    SandboxState,
    SandboxStateInvalid,
    ServiceRecord,
    read_run_records,
    sandbox_home,
    write_run_record,
)

Progress = Callable[[str], None]

MISSING = "missing from state.json"
"""The health of a service the state file has no record of."""

LOCK_WAIT = 180.0
"""Seconds a second ``up`` or ``down`` waits for the one that holds the lock."""


@dataclass(frozen=True)
class ServiceStatus:
    """One line of ``soa-lab status``."""

    name: str
    summary: str
    url: str
    pid: int
    running: bool
    healthy: bool
    """It answers, and so does every service it depends on."""
    health: str = ""
    """``healthy``, ``stopped``, ``not answering``, ``degraded: consul is down`` or
    ``missing from state.json``."""
    answers: bool = False
    """Its own health request succeeds (whatever its dependencies do)."""
    facts: dict[str, Any] = field(default_factory=dict)
    """What it says of itself beyond its health (``Service.observe``; asked for only)."""
    notes: list[str] = field(default_factory=list)
    """The same, as lines of text."""
    recorded: bool = True
    """state.json has a record of it (``soa-lab up`` writes one for every service; False for
    a service a hand-edited or truncated state file lost: ``health`` is then ``missing``)."""

    def as_dict(self) -> dict[str, object]:
        return {
            **self.facts,
            "name": self.name,
            "summary": self.summary,
            "url": self.url,
            "pid": self.pid,
            "running": self.running,
            "healthy": self.healthy,
            "health": self.health,
        }


def _quiet(message: str) -> None:
    """The default progress reporter: says nothing."""


def up(home: Path | str | None = None, progress: Progress = _quiet) -> tuple[SandboxState, bool]:
    """Start the sandbox in ``home`` unless one already runs there.

    Returns the state and whether anything was started. A partly dead sandbox is repaired
    (see the module's docstring for the rule) and a broken state file is rebuilt from the
    per-service records, each time saying what happened.
    """
    home = Path(home) if home else sandbox_home()
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _exclusive(home, progress):
        state, problem = _recorded(home)
        if state is None:
            return _start_afresh(home, progress), True
        if problem:
            progress(problem)
        if not state.services:
            progress("Starting the sandbox afresh: state.json names no service.")
            _stop_everything(home, keep_logs=True)
            return _start_afresh(home, progress), True
        statuses = status(state)
        services = by_name()
        broken = [s for s in statuses if s.recorded and not s.answers]
        missing = [s.name for s in statuses if not s.recorded]
        if not broken and not missing:
            if problem:
                state.save()
                progress("Every service still runs: wrote state.json again from those records.")
            else:
                progress("The sandbox is already running; nothing to do.")
            return state, False
        for lost in broken:
            service = services.get(lost.name)
            what = "died" if not lost.running else "runs but does not answer"
            gone = service.lost_when_stopped if service else "whatever it held"
            progress(f"{lost.name} {what} (pid {lost.pid}); lost with it: {gone}.")
        for name in missing:
            progress(f"{name} is missing from the sandbox's records.")
        names = _with_dependents({s.name for s in broken} | set(missing))
        reason = _why_not_alone(state, names)
        if reason is None:
            try:
                _restart(state, names, progress)
            except SandboxError as error:
                reason = f"restarting {', '.join(names)} failed ({error})"
            else:
                state.save()
                progress(
                    f"Restarted {', '.join(names)}; the other services kept running, with "
                    "their state."
                )
                return state, True
        progress(
            f"Starting the sandbox afresh: {reason}. What the lab made in it is gone: run the "
            "notebooks again from the first."
        )
        _stop_everything(home, progress, keep_logs=True)
        return _start_afresh(home, progress), True


def running(home: Path | str | None = None) -> SandboxState | None:
    """The sandbox in ``home`` when it runs and every service answers; None otherwise."""
    home = Path(home) if home else sandbox_home()
    if not SandboxState.exists(home):
        return None
    try:
        state = SandboxState.load(home)
    except SandboxNotRunning:
        return None
    return state if all(s.healthy for s in status(state)) else None


def busy(home: Path | str | None = None) -> int | None:
    """The pid of the ``soa-lab up`` or ``down`` working on ``home`` right now (0 when it is
    not known), or None when none is."""
    path = (Path(home) if home else sandbox_home()) / LOCK_FILE
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        if _try_lock(descriptor):
            return None
        return _holder(path)
    finally:
        os.close(descriptor)


def status(state: SandboxState | None = None, observe: bool = False) -> list[ServiceStatus]:
    """The health of every service the state file names (a real health request each); a
    service that answers while one it depends on does not is ``degraded``, and a service of
    the sandbox the state file does not name at all is ``missing from state.json`` (never
    healthy: an empty ``services`` object is no running sandbox). With ``observe``, also what
    each service that answers says of itself (``Service.observe``: for an Envoy, the config it
    accepted over xDS and its NACKs)."""
    state = state or SandboxState.load()
    services = by_name()
    own: dict[str, tuple[bool, bool]] = {}
    for name, record in state.services.items():
        service = services.get(name)
        alive = process.is_running(record.pid, record.started_at)
        answers = bool(alive and service and service.is_healthy(record, state.secrets))
        own[name] = (alive, answers)
    result = []
    for name, record in state.services.items():
        service = services.get(name)
        alive, answers = own[name]
        down = [
            d for d in (service.depends_on if service else ()) if not own.get(d, (False, False))[1]
        ]
        if not alive:
            health = "stopped"
        elif not answers:
            health = "not answering"
        elif down:
            health = f"degraded: {', '.join(down)} {'is' if len(down) == 1 else 'are'} down"
        else:
            health = "healthy"
        summary = service.summary if service else "(unknown service)"
        seen = service.observe(record, state.home) if observe and service and answers else None
        result.append(
            ServiceStatus(
                name,
                summary,
                record.url,
                record.pid,
                alive,
                health == "healthy",
                health,
                answers,
                seen.facts if seen else {},
                seen.lines if seen else [],
            )
        )
    for name, service in services.items():
        if name not in state.services:
            result.append(
                ServiceStatus(name, service.summary, "", 0, False, False, MISSING, recorded=False)
            )
    return result


def down(home: Path | str | None = None, progress: Progress = _quiet) -> bool:
    """Stop every process of the sandbox in ``home`` and remove its state and data.

    The processes are found in ``state.json`` and in the per-service records, so a missing
    or broken state file orphans nothing. Returns False when there was nothing to stop.
    """
    home = Path(home) if home else sandbox_home()
    if not home.is_dir():
        return False
    with _exclusive(home, progress):
        return _stop_everything(home, progress)


# -- starting ------------------------------------------------------------------------------
def _start_afresh(home: Path, progress: Progress) -> SandboxState:
    state = SandboxState(home)
    for service in by_name().values():
        state.secrets.update(service.new_secrets())
    tls.renew(home)  # a new CA for every fresh sandbox; its TLS listeners serve with it
    try:
        for wave in waves():
            _start_wave(wave, state, progress)
    except BaseException:
        _stop_everything(home, keep_logs=True)  # the error message points at the logs
        raise
    state.save()
    return state


def _restart(state: SandboxState, names: list[str], progress: Progress) -> None:
    """Start ``names`` again in ``state``, on their old ports and data, leaving the rest."""
    services = by_name()
    previous = {name: state.services[name] for name in names if name in state.services}
    for name, record in previous.items():
        process.stop(record.pid, record.started_at, services[name].stop_signal)
    for wave in waves():
        chosen = [service for service in wave if service.name in names]
        if chosen:
            _start_wave(chosen, state, progress, previous)


def _start_wave(
    wave: list[Service],
    state: SandboxState,
    progress: Progress,
    previous: dict[str, ServiceRecord] | None = None,
) -> None:
    context = LaunchContext(
        state.home,
        {name: record.url for name, record in state.services.items()},
        state.secrets,
        {name: dict(record.extra) for name, record in state.services.items()},
        previous or {},
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


def _log_tail(log: Path, lines: int = 4) -> str:
    """The last lines of a service's log, for the error that names it (``soa-lab up`` removes
    a sandbox that failed to start, the log with it)."""
    try:
        kept = log.read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return "(no log)"
    return " | ".join(line.strip() for line in kept) or "(empty)"


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
    write_run_record(context.home, record)

    def ready() -> bool:
        if not child.is_running() or child.status() == "zombie":
            raise SandboxError(
                f"The {service.name} service exited during start; see its log at {log}. "
                f"It ends: {_log_tail(log)}"
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
    write_run_record(context.home, record)
    progress(f"{service.name:<9} healthy at {launch.url}  ({time.monotonic() - started:.1f} s)")
    return record


# -- repairing -----------------------------------------------------------------------------
def _recorded(home: Path) -> tuple[SandboxState | None, str]:
    """The sandbox as recorded, and what was wrong with state.json ("" when nothing was).

    A missing or broken state.json is replaced by the per-service records; (None, "") when
    there is no record of any sandbox at all.
    """
    try:
        state = SandboxState.load(home)
    except SandboxStateInvalid as error:
        problem = f"The sandbox's state.json is not usable ({error.reason})"
    except SandboxNotRunning:
        problem = "The sandbox's state.json is missing"
    else:
        return _with_run_records(state)
    state = SandboxState.from_run_records(home)
    if state is None:
        if (home / STATE_FILE).exists():
            return SandboxState(home), f"{problem}, and no process records are left."
        return None, ""
    return state, f"{problem}; found its processes from their records in {home / RUN_FOLDER}."


def _with_run_records(state: SandboxState) -> tuple[SandboxState, str]:
    """``state`` completed with the per-service records of services it does not name (a
    state.json edited or cut short), and what was missing ("" when nothing was)."""
    lost = {n: r for n, r in read_run_records(state.home).items() if n not in state.services}
    if not lost:
        return state, ""
    order = [service.name for wave in waves() for service in wave]
    merged = {**state.services, **lost}
    state.services = {n: merged[n] for n in sorted(merged, key=_position(order))}
    return state, (
        f"The sandbox's state.json has no record of {', '.join(lost)}; found "
        f"{'it' if len(lost) == 1 else 'them'} from the records in {state.home / RUN_FOLDER}."
    )


def _position(order: list[str]) -> Callable[[str], int]:
    return lambda name: order.index(name) if name in order else len(order)


def _with_dependents(names: set[str]) -> list[str]:
    """``names`` and every service that depends on one of them, in start order."""
    chosen = set(names)
    for wave in waves():
        for service in wave:
            if chosen & set(service.depends_on):
                chosen.add(service.name)
    order = [service.name for wave in waves() for service in wave]
    return [name for name in order if name in chosen] + sorted(chosen - set(order))


def _why_not_alone(state: SandboxState, names: list[str]) -> str | None:
    """Why ``names`` cannot be restarted while the rest keeps running; None when they can."""
    if not state.secrets:
        return (
            "secrets.json is missing or unreadable, so the tokens and passwords the services "
            "were started with are lost"
        )
    services = by_name()
    for name in names:
        service = services.get(name)
        if service is None:
            return f"the records name an unknown service '{name}'"
        if not service.restart_alone:
            note = f" ({service.restart_note})" if service.restart_note else ""
            return f"{name} held state the other services refer to{note}"
    return None


# -- stopping ------------------------------------------------------------------------------
def _stop_everything(home: Path, progress: Progress = _quiet, keep_logs: bool = False) -> bool:
    """Stop every process state.json or a per-service record names; remove the files."""
    records: list[ServiceRecord] = []
    try:
        records += SandboxState.load(home).services.values()
    except SandboxStateInvalid as error:
        progress(
            f"The sandbox's state.json is not usable ({error.reason}); stopping what the "
            f"per-service records in {home / RUN_FOLDER} name."
        )
    except SandboxNotRunning:
        pass
    known = {(r.pid, r.started_at) for r in records}
    records += [r for r in read_run_records(home).values() if (r.pid, r.started_at) not in known]
    order = [service.name for wave in waves() for service in wave]
    services = by_name()
    # Stop dependents first: the reverse of the start order.
    for record in sorted(records, key=lambda r: order.index(r.name) if r.name in order else -1)[
        ::-1
    ]:
        _stop_record(services.get(record.name), record)
        progress(f"{record.name:<9} stopped")
    _remove_files(home, keep_logs)
    return bool(records)


def _stop_record(service: Service | None, record: ServiceRecord) -> None:
    signal_number = service.stop_signal if service else 15
    process.stop(record.pid, record.started_at, signal_number)
    for path in record.paths:
        shutil.rmtree(path, ignore_errors=True)


def _remove_files(home: Path, keep_logs: bool = False) -> None:
    for name in (STATE_FILE, SECRETS_FILE):
        (home / name).unlink(missing_ok=True)
    shutil.rmtree(home / RUN_FOLDER, ignore_errors=True)
    shutil.rmtree(tls.files(home).ca.parent, ignore_errors=True)
    # Terraform's working data and identity token belong to this sandbox's S3 and OpenBao.
    shutil.rmtree(mirror.terraform_home(home), ignore_errors=True)
    if not keep_logs:
        shutil.rmtree(home / "logs", ignore_errors=True)


# -- the lock ------------------------------------------------------------------------------
@contextmanager
def _exclusive(home: Path, progress: Progress) -> Iterator[None]:
    """Hold the sandbox's lock: one ``up`` or ``down`` at a time on a home. The lock file is
    never removed (a waiter would then lock a file nobody else sees)."""
    path = home / LOCK_FILE
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _try_lock(descriptor):
            holder = _holder(path)
            who = f" (pid {holder})" if holder else ""
            progress(
                f"Another soa-lab command{who} is starting or stopping this sandbox; "
                "waiting for it to finish."
            )
            if not process.wait_until(lambda: _try_lock(descriptor), LOCK_WAIT, interval=0.1):
                raise SandboxError(
                    f"Another soa-lab command{who} has been starting or stopping the sandbox "
                    f"in {home} for {LOCK_WAIT:.0f} s. Wait for it, or stop it and run "
                    "`soa-lab down`."
                )
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _try_lock(descriptor: int) -> bool:
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        if error.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return False
        raise
    return True


def _holder(path: Path) -> int:
    try:
        return int(path.read_text().strip() or 0)
    except (OSError, ValueError):
        return 0
