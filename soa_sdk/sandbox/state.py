"""The sandbox's state file: which services run where, and the secrets they were started with.

Layout of the sandbox home (``$SOA_LAB_HOME``, default ``~/.soa-lab``)::

    state.json     endpoints, process ids, data folders (no secrets; mode 0644)
    secrets.json   root tokens and passwords (mode 0600: readable by the owner only)
    run/NAME.json  one record per service process, written the moment it is started: how
                   ``soa-lab down`` finds every process even when state.json is gone or broken
    lock           held by ``soa-lab up`` and ``down`` while they run (``flock``): one at a time
    logs/          one log file per service

Notebooks run in fresh kernels (papermill), so this file is how each of them finds the
sandbox that ``soa-lab up`` started.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from soa_sdk.errors import SandboxNotRunning

STATE_FILE = "state.json"
SECRETS_FILE = "secrets.json"
RUN_FOLDER = "run"
LOCK_FILE = "lock"
STATE_VERSION = 1


class SandboxStateInvalid(SandboxNotRunning):
    """The state file is there but empty, not JSON, or not shaped as ``soa-lab up`` writes it."""

    reason: str = ""
    """What is wrong with it, in a few words ("it is empty")."""


def sandbox_home() -> Path:
    """The folder that holds the sandbox's state: ``$SOA_LAB_HOME`` or ``~/.soa-lab``."""
    configured = os.environ.get("SOA_LAB_HOME")
    return Path(configured).expanduser() if configured else Path.home() / ".soa-lab"


@dataclass
class ServiceRecord:
    """One running service: where it answers and which process serves it."""

    name: str
    url: str
    pid: int
    started_at: float
    """The process's creation time (seconds since the epoch), to tell a reused pid apart."""
    log: str = ""
    paths: list[str] = field(default_factory=list)
    """Folders the service owns and that ``soa-lab down`` removes."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Further endpoints or facts (no secrets), for example a data plane's admin URL."""

    @classmethod
    def from_document(cls, name: str, document: object) -> ServiceRecord:
        """The record ``document`` (as :meth:`as_document` wrote it) describes; ValueError
        saying which field is wrong otherwise."""
        if not isinstance(document, dict):
            raise ValueError(f"the entry of service '{name}' is not an object")
        kinds: dict[str, tuple[type, ...]] = {
            "url": (str,),
            "pid": (int,),
            "started_at": (int, float),
            "log": (str,),
            "paths": (list,),
            "extra": (dict,),
        }
        for key, kind in kinds.items():
            required = key in ("url", "pid", "started_at")
            if key not in document:
                if required:
                    raise ValueError(f"service '{name}' has no '{key}'")
                continue
            value = document[key]
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ValueError(f"service '{name}': '{key}' has the wrong type")
        paths = document.get("paths", [])
        if not all(isinstance(path, str) for path in paths):
            raise ValueError(f"service '{name}': 'paths' must be a list of folder names")
        if document["pid"] <= 0:
            raise ValueError(f"service '{name}': 'pid' must be positive")
        return cls(
            name=name,
            url=document["url"],
            pid=document["pid"],
            started_at=float(document["started_at"]),
            log=document.get("log", ""),
            paths=list(paths),
            extra=dict(document.get("extra", {})),
        )

    def as_document(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SandboxState:
    """What ``soa-lab up`` wrote: the services, and (separately, owner-only) the secrets."""

    home: Path
    services: dict[str, ServiceRecord] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    secrets: dict[str, str] = field(default_factory=dict, repr=False)

    def url(self, service: str) -> str:
        """The endpoint URL of ``service`` (``aws``, ``vault``, ``postgres``, ...)."""
        try:
            return self.services[service].url
        except KeyError:
            known = ", ".join(sorted(self.services)) or "none"
            raise SandboxNotRunning(
                f"The sandbox has no '{service}' service (it runs: {known}). "
                "Run `soa-lab down` then `soa-lab up` to start a complete sandbox."
            ) from None

    def secret(self, name: str) -> str:
        """A secret the sandbox was started with (a root token, a password)."""
        try:
            return self.secrets[name]
        except KeyError:
            raise SandboxNotRunning(
                f"The sandbox has no secret named '{name}'. Run `soa-lab doctor`."
            ) from None

    def __repr__(self) -> str:
        names = ", ".join(sorted(self.services))
        return f"SandboxState(home={str(self.home)!r}, services=[{names}])"

    # -- files -----------------------------------------------------------------------------
    def save(self) -> None:
        """Write ``state.json`` and, readable by the owner only, ``secrets.json``."""
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        document = {
            "version": STATE_VERSION,
            "created_at": self.created_at,
            "services": {name: record.as_document() for name, record in self.services.items()},
        }
        _write_atomically(self.home / STATE_FILE, json.dumps(document, indent=2), 0o644)
        _write_atomically(self.home / SECRETS_FILE, json.dumps(self.secrets), 0o600)

    @classmethod
    def load(cls, home: Path | None = None) -> SandboxState:
        """Read the state of the sandbox in ``home``: :class:`SandboxNotRunning` if there is
        none, :class:`SandboxStateInvalid` if the file is empty, not JSON or wrongly shaped."""
        home = home or sandbox_home()
        path = home / STATE_FILE
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise SandboxNotRunning(
                f"No sandbox is running (no state file at {path}). Start one with `soa-lab up`."
            ) from None
        except (OSError, ValueError) as error:
            raise invalid_state(path, f"it cannot be read: {error}") from None
        try:
            services, created_at = _parse(text)
        except ValueError as error:
            raise invalid_state(path, str(error)) from None
        return cls(home, services, created_at, read_secrets(home))

    @classmethod
    def from_run_records(cls, home: Path | None = None) -> SandboxState | None:
        """The sandbox as its per-service records in ``run/`` describe it (how ``soa-lab up``
        and ``down`` find it when state.json is missing or broken); None if there are none."""
        home = home or sandbox_home()
        records = read_run_records(home)
        if not records:
            return None
        created_at = min(record.started_at for record in records.values())
        return cls(home, records, created_at, read_secrets(home))

    @staticmethod
    def exists(home: Path | None = None) -> bool:
        """True when a state file is present (its processes may still be dead)."""
        return ((home or sandbox_home()) / STATE_FILE).exists()


def invalid_state(path: Path, reason: str) -> SandboxStateInvalid:
    """The error for a state file that is there but cannot be used (``reason`` kept on it)."""
    error = SandboxStateInvalid(
        f"The sandbox state file {path} is not usable ({reason}). `soa-lab down` still stops "
        "everything the sandbox started (it also keeps a record per process) and clears it; "
        "`soa-lab up` repairs it or starts afresh."
    )
    error.reason = reason
    return error


def _parse(text: str) -> tuple[dict[str, ServiceRecord], float]:
    """The services and creation time in a state file's text; ValueError saying what is wrong."""
    if not text.strip():
        raise ValueError("it is empty")
    try:
        document = json.loads(text)
    except ValueError as error:
        raise ValueError(f"it is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise ValueError("it holds no JSON object")
    services = document.get("services")
    if not isinstance(services, dict):
        raise ValueError("it has no 'services' object")
    created_at = document.get("created_at", 0.0)
    if not isinstance(created_at, (int, float)) or isinstance(created_at, bool):
        raise ValueError("'created_at' is not a number")
    records = {name: ServiceRecord.from_document(name, entry) for name, entry in services.items()}
    return records, float(created_at)


def read_secrets(home: Path) -> dict[str, str]:
    """``secrets.json``; empty when it is missing or broken (the services then do not answer
    to the lab, and ``soa-lab up`` starts afresh)."""
    try:
        secrets = json.loads((home / SECRETS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(secrets, dict) or not all(isinstance(v, str) for v in secrets.values()):
        return {}
    return secrets


def write_run_record(home: Path, record: ServiceRecord) -> None:
    """Record one service process in ``run/NAME.json`` (written as soon as it is started)."""
    folder = home / RUN_FOLDER
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    _write_atomically(folder / f"{record.name}.json", json.dumps(record.as_document()), 0o644)


def read_run_records(home: Path) -> dict[str, ServiceRecord]:
    """Every valid per-service record in ``run/`` (a broken one is skipped)."""
    records = {}
    for path in sorted((home / RUN_FOLDER).glob("*.json")):
        try:
            record = ServiceRecord.from_document(path.stem, json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
        records[record.name] = record
    return records


def _write_atomically(path: Path, text: str, mode: int) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.chmod(temporary, mode)
    os.replace(temporary, path)
