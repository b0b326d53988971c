"""Typed errors with messages a workshop attendee understands.

Every error the SDK raises on purpose derives from :class:`SoaLabError`. Its message is one or
two plain sentences: what is wrong, and what to do about it. Errors from the underlying
clients (botocore, hvac, requests) are translated in one place per client (see
:func:`soa_sdk.awsclient.translate_client_error`) so callers catch one family of exceptions.
"""

from __future__ import annotations

from typing import TypeVar

Controls = TypeVar("Controls")


class SoaLabError(Exception):
    """Base class of every error the SDK raises on purpose."""


class ValidationError(SoaLabError, ValueError):
    """A parameter or a specification is invalid. Raised before any API call."""


class SpecificationError(ValidationError):
    """A specification file (for example ``terraform/org/organization.auto.tfvars.json``)
    is missing or malformed."""


class SandboxError(SoaLabError):
    """The local sandbox is not running, is unhealthy, or could not be started."""


class SandboxNotRunning(SandboxError):
    """No sandbox state file, or the processes it names are gone."""


class ServiceUnavailable(SoaLabError):
    """An endpoint (AWS, Vault, Consul, Boundary, the workload host) did not answer.

    ``service`` names the sandbox service (``"workloads"``, ``"consul"``...) and ``url`` where
    it was called, when known (see :func:`soa_sdk.reachability.unavailable`)."""

    service: str | None = None
    url: str | None = None


class NotFound(SoaLabError, LookupError):
    """A named resource (account, OU, runtime, service...) does not exist."""


class Conflict(SoaLabError):
    """The request clashes with what exists (a name taken, a canary already running...)."""


class AccessDenied(SoaLabError, PermissionError):
    """The caller's credentials do not allow the action."""


class SandboxOnly(ValidationError, ServiceUnavailable):
    """Something only the sandbox can do (see :mod:`soa_sdk.sandbox.controls`) was asked of
    a lab on real endpoints. Both a ``ValidationError`` (not for this target) and a
    ``ServiceUnavailable`` (no such endpoint), as the steps raised before it existed."""


def only_on_sandbox(what: str, instead: str) -> SandboxOnly:
    """The error a step built without sandbox controls raises: ``what`` is only available on
    the sandbox, and ``instead`` says what to do on real endpoints."""
    return SandboxOnly(f"{what} is only available on the sandbox: {instead}")


def require_sandbox(controls: Controls | None, what: str, instead: str) -> Controls:
    """``controls`` (the sandbox's, :mod:`soa_sdk.sandbox.controls`), or, when there are none
    (real endpoints), the :func:`only_on_sandbox` error saying ``what`` and ``instead``."""
    if controls is None:
        raise only_on_sandbox(what, instead)
    return controls
