"""Consul: our emulator of Consul's HTTP API (:mod:`soa_sdk.sandbox.consul`), like
``consul agent -dev``, with the Connect CA on the sandbox's Vault (Consul's Vault CA provider
on OpenBao's PKI engine, hence the dependency) and the xDS server for the Envoys on its gRPC
port (:mod:`soa_sdk.sandbox.connect`), for the sandbox's Envoy (:mod:`.envoy`).
ACLs are on; the initial management token is generated per sandbox and passed in the
environment, and so is Vault's token. The API is served over HTTP (the URL the SDK and the
workloads use) and over HTTPS on a second port, as Consul's ``ports.https``, with a
certificate from the sandbox's own CA (:mod:`soa_sdk.sandbox.tls`; ``extra`` has
``https_url`` and ``ca_file``, what ``CONSUL_CACERT`` names): ``shared_services/consul``
takes only an ``https://`` address."""

from __future__ import annotations

from typing import ClassVar

from soa_sdk.sandbox import tls
from soa_sdk.sandbox.ports import LOOPBACK, free_port
from soa_sdk.sandbox.services.base import (
    Launch,
    LaunchContext,
    Service,
    http_ok,
    python_module,
    random_secret,
)
from soa_sdk.sandbox.services.envoy import XDS_STATUS_FILE
from soa_sdk.sandbox.services.vault import ROOT_TOKEN as VAULT_TOKEN
from soa_sdk.sandbox.state import ServiceRecord

MANAGEMENT_TOKEN = "consul_management_token"
DATACENTER = "dc1"


class ConsulService(Service):
    name: ClassVar[str] = "consul"
    summary: ClassVar[str] = "Consul API, Connect CA and xDS (emulator)"
    depends_on: ClassVar[tuple[str, ...]] = ("vault",)
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
        port, grpc_port, https_port = free_port(), free_port(), free_port()
        certificates = tls.ensure(context.home)
        arguments = ["--host", LOOPBACK, "--port", str(port), "--datacenter", DATACENTER]
        arguments += ["--https-port", str(https_port)]
        arguments += ["--tls-cert", str(certificates.cert), "--tls-key", str(certificates.key)]
        arguments += ["--vault-addr", context.urls["vault"], "--grpc-port", str(grpc_port)]
        access_log = str(context.logs / "envoy-access.log")
        arguments += ["--access-log", access_log]
        arguments += ["--xds-status", str(context.home / XDS_STATUS_FILE)]
        return Launch(
            command=python_module("soa_sdk.sandbox.consul", *arguments),
            url=f"http://{LOOPBACK}:{port}",
            paths=[str(context.home / XDS_STATUS_FILE.parent)],
            env={
                "CONSUL_ACL_INITIAL_MANAGEMENT": context.secrets[MANAGEMENT_TOKEN],
                "VAULT_TOKEN": context.secrets[VAULT_TOKEN],
            },
            extra={
                "grpc_port": grpc_port,
                "envoy_access_log": access_log,
                "https_url": f"https://{LOOPBACK}:{https_port}",
                "ca_file": str(certificates.ca),
            },
        )

    def is_healthy(self, record: ServiceRecord, secrets: dict[str, str]) -> bool:
        # Consul answers the leader's address once it can serve.
        return http_ok(f"{record.url}/v1/status/leader")
