"""What every sandbox service module provides.

Adding a service to the sandbox is one small module in this package that defines a
:class:`Service` subclass and is listed in :data:`soa_sdk.sandbox.services.SERVICES`. The
lifecycle (:mod:`soa_sdk.sandbox.lifecycle`) starts services wave by wave (a service starts
once those it depends on are healthy), health-checks them, records them in the state file
and stops them.
"""

from __future__ import annotations

import secrets as secrets_module
import signal
import socket
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NamedTuple
from urllib.parse import urlparse

from soa_sdk.errors import SandboxError
from soa_sdk.sandbox.ports import LOOPBACK, free_port
from soa_sdk.sandbox.state import ServiceRecord


@dataclass
class LaunchContext:
    """What a service needs to know to start: where to write, what others serve, secrets."""

    home: Path
    urls: dict[str, str]
    """Endpoints of the services already started (those this one depends on)."""
    secrets: dict[str, str]
    """Secrets of the whole sandbox; a service adds its own in :meth:`Service.new_secrets`."""
    extras: dict[str, dict[str, Any]] = field(default_factory=dict)
    """What the services already started recorded of themselves (``ServiceRecord.extra``:
    e.g. Consul's gRPC port, which the Envoys' bootstrap names)."""
    previous: dict[str, ServiceRecord] = field(default_factory=dict)
    """When ``soa-lab up`` restarts a dead service on its own, its last record: it comes back
    on the same port (what the others were told stays true) and, if it keeps data on disk,
    on the same data."""

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    def extra_port_for(self, service: str, key: str) -> int:
        """A free port for the URL ``service`` records as ``extra[key]`` (a second
        listener): its previous one when it is being restarted and it is still free."""
        previous = self.previous.get(service)
        port = urlparse(str(previous.extra.get(key, ""))).port if previous else None
        return port if port is not None and _bindable(port) else free_port()

    def port_for(self, service: str) -> int:
        """A free port for ``service``: its previous one when it is being restarted."""
        previous = self.previous.get(service)
        if previous is None:
            return free_port()
        port = urlparse(previous.url).port
        if port is None or not _bindable(port):
            raise SandboxError(
                f"the {service} service's port {port} is now taken by another process"
            )
        return port


@dataclass
class Launch:
    """How to run one service's process, and where it will answer."""

    command: list[str]
    url: str
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    paths: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


class Observed(NamedTuple):
    """What ``soa-lab status`` shows of a running service beyond its health."""

    facts: dict[str, Any]
    """For ``soa-lab status --json`` (no secrets)."""
    lines: list[str]
    """For the text output, under the table."""


class Service:
    """One service of the sandbox. Subclasses fill in the class attributes and methods."""

    name: ClassVar[str]
    summary: ClassVar[str]
    depends_on: ClassVar[tuple[str, ...]] = ()
    stop_signal: ClassVar[int] = signal.SIGTERM
    start_timeout: ClassVar[float] = 20.0
    lost_when_stopped: ClassVar[str] = "its in-memory state"
    """What goes with the process when it dies (``soa-lab up`` says it)."""
    restart_alone: ClassVar[bool] = False
    """True when, dead, it can be restarted while the others keep running: nothing the
    others hold refers to state it lost. Otherwise ``soa-lab up`` starts afresh."""
    restart_note: ClassVar[str] = ""
    """Why (not): what the others hold that refers to its state."""
    secret_names: ClassVar[tuple[str, ...]] = ()
    """The secrets :meth:`new_secrets` generates, each a :func:`random_secret`."""

    def new_secrets(self) -> dict[str, str]:
        """Secrets to generate for this service at start (a root token, a password)."""
        return {name: random_secret() for name in self.secret_names}

    def launch(self, context: LaunchContext) -> Launch:
        """Prepare what the process needs (folders, files) and say how to run it."""
        raise NotImplementedError

    def is_healthy(self, record: ServiceRecord, secrets: dict[str, str]) -> bool:
        """Answer a real health request against the running service."""
        raise NotImplementedError

    def details(self, record: ServiceRecord, secrets: dict[str, str]) -> dict[str, Any]:
        """Facts learned once the service is healthy (no secrets), kept in the state file."""
        return {}

    def observe(self, record: ServiceRecord, home: Path) -> Observed:
        """What it says of itself now, beyond its health (read at each ``soa-lab status``)."""
        return Observed({}, [])

    def problems(self) -> list[str]:
        """What is missing on this machine for the service to start (for `soa-lab doctor`)."""
        return []


def random_secret(prefix: str = "") -> str:
    """A fresh random secret (URL-safe), created anew for every sandbox."""
    return prefix + secrets_module.token_urlsafe(24)


def python_module(module: str, *arguments: str) -> list[str]:
    """The command that runs ``python -m module`` with this interpreter."""
    return [sys.executable, "-m", module, *arguments]


def loopback_server(
    module: str,
    *arguments: str,
    port: int | None = None,
    env: dict[str, str] | None = None,
    paths: list[str] | None = None,
) -> Launch:
    """How to run one of our servers, ``python -m module --host 127.0.0.1 --port N
    arguments...``, on ``port`` (a free one by default), and the URL it answers on."""
    port = free_port() if port is None else port
    return Launch(
        command=python_module(module, "--host", LOOPBACK, "--port", str(port), *arguments),
        url=f"http://{LOOPBACK}:{port}",
        env=env or {},
        paths=paths or [],
    )


def http_ok(url: str, headers: dict[str, str] | None = None, timeout: float = 1.0) -> bool:
    """True when ``GET url`` answers 2xx."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _bindable(port: int) -> bool:
    """True when a server could listen on ``port`` (``SO_REUSEADDR``, as servers set it, so
    connections of the dead server that linger in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
        return True
