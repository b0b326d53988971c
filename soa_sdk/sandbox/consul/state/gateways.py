"""The services linked to a gateway: ``GET /v1/catalog/gateway-services/:gateway``.

As Consul's ``Catalog.GatewayServices`` (``agent/consul/catalog_endpoint.go``) over the
``ingress-gateway`` config entry named after the gateway: one ``GatewayService`` per service
of each listener (``Gateway``, ``Service``, ``GatewayKind``, the listener's ``Port`` and
``Protocol``, the service's ``Hosts``). A ``*`` service links every typical service of the
partition that is not named on its own for that port (``FromWildcard``), and is itself not
listed. ``service:read`` on the gateway is required; linked services the token may not read
are left out; a name without a gateway config entry answers ``null`` (Consul logs a warning
and answers an empty result).

Not implemented: ``terminating-gateway`` links (the sandbox refuses that config entry kind,
see :mod:`..config_entries`), so ``CAFile``/``CertFile``/``KeyFile``/``SNI`` never appear.
"""

from __future__ import annotations

from typing import Any

from ..exceptions import HTTPError
from .core import Authz, Store


def _name(name: str, partition: str) -> dict[str, str]:
    """A ``structs.ServiceName`` as CE marshals it (Enterprise meta only off default)."""
    if partition == "default":
        return {"Name": name}
    return {"Name": name, "Namespace": "default", "Partition": partition}


class GatewayServicesState(Store):
    """Gateway -> linked services, read from the gateways' config entries."""

    def catalog_gateway_services(
        self, gateway: str, partition: str = "default", authz: Authz = None
    ) -> list[dict[str, Any]] | None:
        """``GET /v1/catalog/gateway-services/:gateway``."""
        if not gateway:
            raise HTTPError(400, "Missing gateway name")
        partition = self.check_partition(partition)
        self._require(authz, "service", "read", gateway, partition)
        with self._lock:
            entry = self._config.get((partition, "ingress-gateway", gateway))
            if entry is None:
                return None
            typical = self._typical_names(partition)
            out: list[dict[str, Any]] = []
            for listener in entry.body.get("Listeners") or []:
                port, protocol = int(listener.get("Port") or 0), listener.get("Protocol") or ""
                services = listener.get("Services") or []
                named = {s.get("Name") for s in services} - {"*"}
                for svc in services:
                    wildcard = svc.get("Name") == "*"
                    for name in sorted(set(typical) - named) if wildcard else [svc.get("Name")]:
                        doc: dict[str, Any] = {
                            "Gateway": _name(gateway, partition),
                            "Service": _name(name, partition),
                            "GatewayKind": "ingress-gateway",
                        }
                        if port:
                            doc["Port"] = port
                        if protocol:
                            doc["Protocol"] = protocol
                        if svc.get("Hosts"):
                            doc["Hosts"] = list(svc["Hosts"])
                        if wildcard:
                            doc["FromWildcard"] = True
                        doc.update(entry.indexes())
                        if self._can_read_service(authz, name, partition):
                            out.append(doc)
        return out
