"""The sandbox's state file: which services run where, and the secrets they were started with.

Layout of the sandbox home (``$SOA_LAB_HOME``, default ``~/.soa-lab``)::

    state.json     endpoints, process ids, data folders (no secrets; mode 0644)
    secrets.json   root tokens and passwords (mode 0600: readable by the owner only)
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
STATE_VERSION = 1


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
            "services": {name: asdict(record) for name, record in self.services.items()},
        }
        _write_atomically(self.home / STATE_FILE, json.dumps(document, indent=2), 0o644)
        _write_atomically(self.home / SECRETS_FILE, json.dumps(self.secrets), 0o600)

    @classmethod
    def load(cls, home: Path | None = None) -> SandboxState:
        """Read the state of the sandbox in ``home``; :class:`SandboxNotRunning` if none."""
        home = home or sandbox_home()
        path = home / STATE_FILE
        try:
            document = json.loads(path.read_text())
        except FileNotFoundError:
            raise SandboxNotRunning(
                f"No sandbox is running (no state file at {path}). Start one with `soa-lab up`."
            ) from None
        except (OSError, ValueError) as error:
            raise SandboxNotRunning(
                f"The sandbox state file {path} is unreadable ({error}). "
                "Run `soa-lab down` to clear it, then `soa-lab up`."
            ) from None
        services = {
            name: ServiceRecord(**record) for name, record in document.get("services", {}).items()
        }
        try:
            secrets = json.loads((home / SECRETS_FILE).read_text())
        except (OSError, ValueError):
            secrets = {}
        return cls(home, services, document.get("created_at", 0.0), secrets)

    @staticmethod
    def exists(home: Path | None = None) -> bool:
        """True when a state file is present (its processes may still be dead)."""
        return ((home or sandbox_home()) / STATE_FILE).exists()


def _write_atomically(path: Path, text: str, mode: int) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.chmod(temporary, mode)
    os.replace(temporary, path)
