"""The sandbox's Consul Connect data plane (sidecar upstreams, ingress gateways, telemetry).

``MeshDataPlane(backend, host).start()`` runs inside the Consul emulator's process; see
:mod:`soa_sdk.sandbox.mesh.plane` for what it does and does not implement.
"""

from soa_sdk.sandbox.mesh.plane import ADMIN_KV_KEY, MeshDataPlane
from soa_sdk.sandbox.mesh.telemetry import Telemetry

__all__ = ["ADMIN_KV_KEY", "MeshDataPlane", "Telemetry"]
