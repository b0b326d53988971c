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
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from soa_sdk.sandbox.state import ServiceRecord


@dataclass
class LaunchContext:
    """What a service needs to know to start: where to write, what others serve, secrets."""

    home: Path
    urls: dict[str, str]
    """Endpoints of the services already started (those this one depends on)."""
    secrets: dict[str, str]
    """Secrets of the whole sandbox; a service adds its own in :meth:`Service.new_secrets`."""

    @property
    def logs(self) -> Path:
        return self.home / "logs"


@dataclass
class Launch:
    """How to run one service's process, and where it will answer."""

    command: list[str]
    url: str
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    paths: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


class Service:
    """One service of the sandbox. Subclasses fill in the class attributes and methods."""

    name: ClassVar[str]
    summary: ClassVar[str]
    depends_on: ClassVar[tuple[str, ...]] = ()
    stop_signal: ClassVar[int] = signal.SIGTERM
    start_timeout: ClassVar[float] = 20.0

    def new_secrets(self) -> dict[str, str]:
        """Secrets to generate for this service at start (a root token, a password)."""
        return {}

    def launch(self, context: LaunchContext) -> Launch:
        """Prepare what the process needs (folders, files) and say how to run it."""
        raise NotImplementedError

    def is_healthy(self, record: ServiceRecord, secrets: dict[str, str]) -> bool:
        """Answer a real health request against the running service."""
        raise NotImplementedError

    def details(self, record: ServiceRecord, secrets: dict[str, str]) -> dict[str, Any]:
        """Facts learned once the service is healthy (no secrets), kept in the state file."""
        return {}

    def problems(self) -> list[str]:
        """What is missing on this machine for the service to start (for `soa-lab doctor`)."""
        return []


def random_secret(prefix: str = "") -> str:
    """A fresh random secret (URL-safe), created anew for every sandbox."""
    return prefix + secrets_module.token_urlsafe(24)


def python_module(module: str, *arguments: str) -> list[str]:
    """The command that runs ``python -m module`` with this interpreter."""
    return [sys.executable, "-m", module, *arguments]


def http_ok(url: str, headers: dict[str, str] | None = None, timeout: float = 1.0) -> bool:
    """True when ``GET url`` answers 2xx."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False
