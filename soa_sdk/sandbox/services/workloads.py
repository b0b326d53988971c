"""Workloads: the host process that runs the demo services (fake-service style) for every
runtime, registers them in Consul and puts them behind mesh sidecars
(:mod:`soa_sdk.sandbox.workloads`). It stands in for ECS tasks, EKS pods and EC2 instances."""

from __future__ import annotations

from typing import ClassVar

from soa_sdk.sandbox.ports import LOOPBACK, free_port
from soa_sdk.sandbox.services.base import Launch, LaunchContext, Service, http_ok, python_module
from soa_sdk.sandbox.services.consul import MANAGEMENT_TOKEN
from soa_sdk.sandbox.state import ServiceRecord


class WorkloadsService(Service):
    name: ClassVar[str] = "workloads"
    summary: ClassVar[str] = "Workload host (the runtimes' demo services)"
    depends_on: ClassVar[tuple[str, ...]] = ("consul",)

    def launch(self, context: LaunchContext) -> Launch:
        port = free_port()
        return Launch(
            command=python_module(
                "soa_sdk.sandbox.workloads",
                "--host",
                LOOPBACK,
                "--port",
                str(port),
                "--consul-addr",
                context.urls["consul"],
            ),
            url=f"http://{LOOPBACK}:{port}",
            env={"CONSUL_HTTP_TOKEN": context.secrets[MANAGEMENT_TOKEN]},
        )

    def is_healthy(self, record: ServiceRecord, secrets: dict[str, str]) -> bool:
        return http_ok(f"{record.url}/v1/health")
