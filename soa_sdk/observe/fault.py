"""A fault the service really returns: every instance of one version answers a share of its
requests with a 5xx (and, optionally, more slowly), until the fault is removed.

This is what a bad build or a bad configuration push does, and what the mesh cannot route
around: health checks and outlier detection take a failing *instance* out, but when every
instance of the version fails, the callers get the errors. Sandbox only: the workload host's
``PATCH /v1/workloads/:id`` sets fake-service's ``error_rate``, ``error_code`` and
``latency_ms`` (on AWS the same incident is a faulty deployment, step 3's canary).

What each instance answered with before is kept in Consul KV,
``soa-lab/observe/faults/<runtime>/<service>/<version>`` (``{instance id: settings}``), until
:func:`clear` puts it back: a notebook whose kernel died in the middle of an incident is
repaired by running it again (a fault injected again keeps the settings saved first).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from soa_sdk.errors import ValidationError
from soa_sdk.observe.context import Context, Runtime
from soa_sdk.release.plan import check_build

SETTINGS = ("error_rate", "error_code", "latency_ms")


def _key(runtime: Runtime, service: str, version: str) -> str:
    return f"soa-lab/observe/faults/{runtime.name}/{service}/{version}"


@dataclass
class Fault:
    """A fault on every instance of ``service`` ``version`` in ``runtime``; a context manager
    that removes it on leaving the ``with`` block, whatever happened inside."""

    ctx: Context
    runtime: Runtime
    service: str
    version: str
    settings: dict[str, Any]
    instances: list[str]

    def clear(self) -> list[str]:
        """Give every instance back what it answered with before; their ids."""
        return clear(self.ctx, self.runtime, self.service, self.version)

    def describe(self) -> str:
        """E.g. ``payments v1 (runtime-ec2): 50% of requests answer 500, p50 10 ms``."""
        latency = self.settings.get("latency_ms") or {}
        slow = ", ".join(f"{k} {v:g} ms" for k, v in latency.items() if v is not None)
        return (
            f"{self.service} {self.version} ({self.runtime.name}): "
            f"{self.settings['error_rate']:.0%} of requests answer {self.settings['error_code']}"
            + (f", {slow}" if slow else "")
        )

    def __enter__(self) -> Fault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.clear()


def declared_version(runtime: Runtime, service: str, version: object) -> str:
    """``version`` if ``service`` declares it in ``runtime`` (its first one when None)."""
    declared = runtime.spec.service(service)
    chosen = declared.versions[0] if version is None else version
    if not isinstance(chosen, str) or chosen not in declared.versions:
        raise ValidationError(
            f"{service} has no version {chosen!r} in {runtime.name} (its versions are "
            f"{', '.join(declared.versions)})."
        )
    return chosen


def inject(
    ctx: Context,
    runtime: Runtime,
    service: str,
    version: str | None,
    error_rate: float,
    error_code: int,
    latency_ms: dict[str, float] | None,
) -> Fault:
    """Give every instance of ``service`` ``version`` (its first declared one when None) the
    fault; what they had before is saved first (see the module docstring)."""
    ctx.controls(
        "Injecting a fault into a running service",
        "on AWS deploy a faulty build as a canary (step 3) instead.",
    )
    version = declared_version(runtime, service, version)
    settings = check_build(error_rate, error_code, latency_ms, None)
    settings = {k: v for k, v in settings.items() if v is not None}
    _check_order(settings.get("latency_ms") or {})
    mine = [
        w
        for w in ctx.workloads.list(service)
        if w.get("runtime") == runtime.name and w["version"] == version
    ]
    if not mine:
        raise ValidationError(f"{service} {version} has no running instance in {runtime.name}.")
    key = _key(runtime, service, version)
    _, saved = ctx.consul.client.kv.get(key)
    before = json.loads(saved["Value"]) if saved and saved.get("Value") else {}
    for workload in mine:
        before.setdefault(workload["id"], {k: workload[k] for k in SETTINGS})
    ctx.consul.client.kv.put(key, json.dumps(before))
    for workload in mine:
        ctx.workloads.update(workload["id"], **settings)
    return Fault(ctx, runtime, service, version, settings, [w["id"] for w in mine])


def _check_order(latency: dict[str, float | None]) -> None:
    """p50 <= p90 <= p99, as fake-service wants them (a missing one is the one below it)."""
    p50 = latency.get("p50") or 0.0
    p90 = latency.get("p90")
    p90 = p50 if p90 is None else p90
    p99 = latency.get("p99")
    p99 = p90 if p99 is None else p99
    if not p50 <= p90 <= p99:
        raise ValidationError(
            f"latency_ms must satisfy p50 <= p90 <= p99 (a missing one is the one below it), "
            f"not {latency!r}."
        )


def clear(ctx: Context, runtime: Runtime, service: str, version: str) -> list[str]:
    """Put back what the instances answered with before the fault (nothing saved: nothing
    to do); the ids of the instances given back their settings."""
    key = _key(runtime, service, version)
    _, saved = ctx.consul.client.kv.get(key)
    if not saved or not saved.get("Value"):
        return []
    running = {w["id"] for w in ctx.workloads.list(service)}
    restored = []
    for instance, settings in json.loads(saved["Value"]).items():
        if instance in running:  # one stopped since has nothing to give back
            ctx.workloads.update(instance, **settings)
            restored.append(instance)
    ctx.consul.client.kv.delete(key)
    return restored
