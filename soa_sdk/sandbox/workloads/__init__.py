"""Demo workloads in the style of fake-service, and the host process that runs them.

- :class:`FakeService` / :class:`WorkloadConfig`: one workload instance (threads, one port);
- :class:`WorkloadHost`: starts instances and registers them (and their sidecars) in Consul;
- ``python -m soa_sdk.sandbox.workloads``: the host process with its control API;
- :class:`WorkloadHostClient`: the SDK's client of that API.
"""

from soa_sdk.sandbox.workloads.client import WorkloadHostClient, WorkloadHostError
from soa_sdk.sandbox.workloads.host import WorkloadError, WorkloadHost
from soa_sdk.sandbox.workloads.service import FakeService, Timing, WorkloadConfig

__all__ = [
    "FakeService",
    "Timing",
    "WorkloadConfig",
    "WorkloadError",
    "WorkloadHost",
    "WorkloadHostClient",
    "WorkloadHostError",
]
