"""Consul: our emulator of Consul's HTTP API (:mod:`soa_sdk.sandbox.consul`), with the mesh
data plane (:mod:`soa_sdk.sandbox.mesh`) in the same process, like ``consul agent -dev``
with Envoy sidecars. ACLs are on; the initial management token is generated per sandbox and
passed in the environment."""

from __future__ import annotations

import urllib.request
from typing import Any, ClassVar

from soa_sdk.sandbox.ports import LOOPBACK, free_port
from soa_sdk.sandbox.services.base import (
    Launch,
    LaunchContext,
    Service,
    http_ok,
    python_module,
    random_secret,
)
from soa_sdk.sandbox.state import ServiceRecord

MANAGEMENT_TOKEN = "consul_management_token"
MESH_ADMIN_KEY = "_sandbox/mesh/admin"


class ConsulService(Service):
    name: ClassVar[str] = "consul"
    summary: ClassVar[str] = "Consul API and service mesh (emulator + data plane)"
    lost_when_stopped: ClassVar[str] = (
        "Consul's in-memory state: admin partitions, the runtime registry (KV), service "
        "registrations, intentions, config entries, ACL tokens"
    )
    restart_note: ClassVar[str] = (
        "the AWS accounts and the workload host's services belong to those partitions"
    )

    def new_secrets(self) -> dict[str, str]:
        return {MANAGEMENT_TOKEN: random_secret()}

    def launch(self, context: LaunchContext) -> Launch:
        port = free_port()
        return Launch(
            command=python_module(
                "soa_sdk.sandbox.consul", "--host", LOOPBACK, "--port", str(port), "--mesh"
            ),
            url=f"http://{LOOPBACK}:{port}",
            env={"CONSUL_ACL_INITIAL_MANAGEMENT": context.secrets[MANAGEMENT_TOKEN]},
        )

    def is_healthy(self, record: ServiceRecord, secrets: dict[str, str]) -> bool:
        # Consul answers the leader's address once it can serve; the mesh publishes its
        # admin address in the KV store once its listeners run.
        return http_ok(f"{record.url}/v1/status/leader") and bool(self.details(record, secrets))

    def details(self, record: ServiceRecord, secrets: dict[str, str]) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{record.url}/v1/kv/{MESH_ADMIN_KEY}?raw",
            headers={"X-Consul-Token": secrets.get(MANAGEMENT_TOKEN, "")},
        )
        try:
            with urllib.request.urlopen(request, timeout=1.0) as response:
                return {"mesh_admin_url": response.read().decode().strip()}
        except (OSError, ValueError):
            return {}
