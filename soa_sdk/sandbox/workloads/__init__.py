"""Demo workloads in the style of fake-service, and the host process that runs them.

- :class:`FakeService` / :class:`WorkloadConfig`: one workload instance (threads, one port);
- :class:`WorkloadHost`: starts instances and registers them (and their sidecars) in Consul;
- ``python -m soa_sdk.sandbox.workloads``: the host process with its control API;
- :class:`WorkloadHostClient`: the SDK's client of that API;
- :class:`ConsulLogin`: the auth method the workloads log in to Consul with, and their
  OpenBao identity tokens.
"""

from soa_sdk.sandbox.workloads.client import WorkloadHostClient, WorkloadHostError
from soa_sdk.sandbox.workloads.host import WorkloadError, WorkloadHost
from soa_sdk.sandbox.workloads.login import ConsulLogin
from soa_sdk.sandbox.workloads.service import FakeService, Timing, WorkloadConfig

__all__ = [
    "ConsulLogin",
    "FakeService",
    "Timing",
    "WorkloadConfig",
    "WorkloadError",
    "WorkloadHost",
    "WorkloadHostClient",
    "WorkloadHostError",
]
