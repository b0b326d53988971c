"""Scheduler: the stand-in for ECS's service scheduler (:mod:`soa_sdk.sandbox.scheduler`).

It runs the workload host's instances that the ECS services in moto ask for. It holds the
sandbox's AWS root keys (for the AWS stand-in's root-only feed), the workload host's API
token, and the Consul management and Vault root tokens with which each instance it starts
is given a login of its own service (:class:`~soa_sdk.sandbox.workloads.ConsulLogin`), all
in the environment, never on the command line."""

from __future__ import annotations

from typing import ClassVar

from soa_sdk.sandbox.services.base import Launch, LaunchContext, Service, http_ok, loopback_server
from soa_sdk.sandbox.state import RUN_FOLDER, ServiceRecord

#: The process's secrets: environment variable -> sandbox secret
#: (`soa_sdk.sandbox.scheduler.__main__.ENV`; not imported, which would load boto3 here).
SECRET_ENV = {
    "SOA_LAB_SCHEDULER_AWS_ACCESS_KEY_ID": "aws_access_key_id",
    "SOA_LAB_SCHEDULER_AWS_SECRET_ACCESS_KEY": "aws_secret_access_key",
    "SOA_LAB_SCHEDULER_WORKLOADS_TOKEN": "workloads_api_token",
    "SOA_LAB_SCHEDULER_CONSUL_TOKEN": "consul_management_token",
    "SOA_LAB_SCHEDULER_VAULT_TOKEN": "vault_root_token",
}


class SchedulerService(Service):
    name: ClassVar[str] = "scheduler"
    summary: ClassVar[str] = "ECS scheduler stand-in (runs what the ECS services ask for)"
    # Not on the workload host: it starts beside it and finds it through its run record.
    depends_on: ClassVar[tuple[str, ...]] = ("aws", "vault", "consul")
    lost_when_stopped: ClassVar[str] = "nothing: it reads what runs from the workload host"
    restart_alone: ClassVar[bool] = True
    restart_note: ClassVar[str] = "its state is the workload host's list and moto's services"

    def launch(self, context: LaunchContext) -> Launch:
        return loopback_server(
            "soa_sdk.sandbox.scheduler",
            *("--aws-url", context.urls["aws"]),
            *("--workloads-record", str(context.home / RUN_FOLDER / "workloads.json")),
            *("--consul-addr", context.urls["consul"]),
            *("--vault-addr", context.urls["vault"]),
            port=context.port_for(self.name),
            env={env: context.secrets[name] for env, name in SECRET_ENV.items()},
        )

    def is_healthy(self, record: ServiceRecord, secrets: dict[str, str]) -> bool:
        return http_ok(f"{record.url}/v1/health")
