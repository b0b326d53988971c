"""The services of the sandbox, in the order they are listed to users.

To add one, write a module with a :class:`~soa_sdk.sandbox.services.base.Service` subclass
and add an instance here.
"""

from __future__ import annotations

from soa_sdk.sandbox.services.aws import AwsService
from soa_sdk.sandbox.services.base import Launch, LaunchContext, Service
from soa_sdk.sandbox.services.boundary import BoundaryService
from soa_sdk.sandbox.services.consul import ConsulService
from soa_sdk.sandbox.services.envoy import envoy_services
from soa_sdk.sandbox.services.frontend import FrontendService
from soa_sdk.sandbox.services.postgres import PostgresService
from soa_sdk.sandbox.services.postgres_tls import PostgresTlsService
from soa_sdk.sandbox.services.scheduler import SchedulerService
from soa_sdk.sandbox.services.vault import VaultService
from soa_sdk.sandbox.services.workloads import WorkloadsService

SERVICES: tuple[Service, ...] = (
    AwsService(),
    VaultService(),
    PostgresService(),
    PostgresTlsService(),
    ConsulService(),
    *envoy_services(),
    WorkloadsService(),
    SchedulerService(),
    BoundaryService(),
    FrontendService(),
)


def by_name() -> dict[str, Service]:
    """The services keyed by name."""
    return {service.name: service for service in SERVICES}


def waves() -> list[list[Service]]:
    """The services grouped in start waves: each wave depends only on earlier ones."""
    remaining = list(SERVICES)
    started: set[str] = set()
    result: list[list[Service]] = []
    while remaining:
        wave = [s for s in remaining if set(s.depends_on) <= started]
        if not wave:
            names = ", ".join(s.name for s in remaining)
            raise RuntimeError(f"sandbox services with unmet or circular dependencies: {names}")
        result.append(wave)
        started.update(s.name for s in wave)
        remaining = [s for s in remaining if s not in wave]
    return result


__all__ = ["SERVICES", "Launch", "LaunchContext", "Service", "by_name", "waves"]
