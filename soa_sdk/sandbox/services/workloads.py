"""Workloads: the host process that runs the demo services (fake-service style) for every
runtime, registers them in Consul and puts them behind mesh sidecars
(:mod:`soa_sdk.sandbox.workloads`). It stands in for ECS tasks, EKS pods and EC2 instances.
Each workload has a folder of Unix sockets in ``<home>/workloads``: its application's, which
only its sidecar dials (Consul's ``SocketPath``), and its sidecar's upstream listeners, which
it dials (Consul's ``LocalBindSocketPath``); no TCP port calls a service as another.

Its control API needs the sandbox secret ``workloads_api_token`` (passed in the environment,
never on the command line). It holds no Consul token: each workload registers with a token of
its own service's identity, which the SDK creates (:class:`~soa_sdk.sandbox.workloads.
WorkloadHostClient`)."""

from __future__ import annotations

from typing import ClassVar

from soa_sdk.sandbox.services.base import Launch, LaunchContext, Service, http_ok, loopback_server
from soa_sdk.sandbox.state import ServiceRecord
from soa_sdk.sandbox.workloads.api import TOKEN_ENV

API_TOKEN = "workloads_api_token"


class WorkloadsService(Service):
    name: ClassVar[str] = "workloads"
    summary: ClassVar[str] = "Workload host (the runtimes' demo services)"
    depends_on: ClassVar[tuple[str, ...]] = ("consul",)
    lost_when_stopped: ClassVar[str] = (
        "every runtime's demo workloads (the stand-ins for ECS tasks, EKS pods, EC2 instances)"
    )
    restart_note: ClassVar[str] = "Consul still lists them and the runtime registry says they run"

    secret_names: ClassVar[tuple[str, ...]] = (API_TOKEN,)

    def launch(self, context: LaunchContext) -> Launch:
        return loopback_server(
            "soa_sdk.sandbox.workloads",
            *("--consul-addr", context.urls["consul"]),
            *("--socket-dir", str(context.home / "workloads")),
            paths=[str(context.home / "workloads")],
            env={TOKEN_ENV: context.secrets[API_TOKEN]},
        )

    def is_healthy(self, record: ServiceRecord, secrets: dict[str, str]) -> bool:
        headers = {"Authorization": f"Bearer {secrets.get(API_TOKEN, '')}"}
        return http_ok(f"{record.url}/v1/health", headers)
