"""The agent-local health of a service: ``/v1/agent/health/service/id/:id`` and ``/name/:name``.

As Consul's ``agent/agent_endpoint.go`` (``AgentHealthServiceByID`` / ``ByName``): the
instance's checks on this agent, its node's checks included (``serfHealth`` is the catalog's,
not the agent's), aggregated as ``api.HealthChecks.AggregatedStatus`` does (a maintenance
check wins, then critical, then warning; no check is passing). The HTTP status says it:
200 passing, 429 warning, 503 critical or maintenance, 404 unknown; by name, the worst
instance decides. ``?format=text`` (or ``Accept: text/plain``) answers the status word alone.
``service:read`` is required (by ID, only once the instance is found, as Consul).
"""

from __future__ import annotations

from typing import Any

from ..exceptions import HTTPError
from .catalog import ce_shape
from .core import Authz, Store
from .operator import NODE_MAINT, SERVICE_MAINT
from .records import Check, Service

#: the HTTP status of each aggregated status (``agentHealthService``)
STATUS_CODES = {"passing": 200, "warning": 429, "critical": 503, "maintenance": 503}

#: ``api.HealthCheckDefinition`` with nothing set, as the agent endpoint marshals it
_EMPTY_DEFINITION: dict[str, Any] = {
    "HTTP": "",
    "Header": None,
    "Method": "",
    "Body": "",
    "TLSServerName": "",
    "TLSSkipVerify": False,
    "TCP": "",
    "TCPUseTLS": False,
    "UDP": "",
    "GRPC": "",
    "OSService": "",
    "GRPCUseTLS": False,
    "Interval": "0s",
    "Timeout": "0s",
    "DeregisterCriticalServiceAfter": "0s",
}


def aggregated_status(checks: list[dict[str, Any]]) -> str:
    """``api.HealthChecks.AggregatedStatus``."""
    seen = set()
    for chk in checks:
        if chk["CheckID"] == NODE_MAINT or chk["CheckID"].startswith(SERVICE_MAINT):
            seen.add("maintenance")
        else:
            seen.add(chk["Status"])
    for status in ("maintenance", "critical", "warning"):
        if status in seen:
            return status
    return "passing"


def _check_doc(chk: Check) -> dict[str, Any]:
    """The ``api.HealthCheck`` the endpoint builds (only these fields are copied over)."""
    doc = {
        "Node": chk.node,
        "CheckID": chk.check_id,
        "Name": chk.spec.name,
        "Status": chk.status,
        "Notes": chk.spec.notes,
        "Output": chk.output,
        "ServiceID": chk.service_id,
        "ServiceName": chk.service_name,
        "ServiceTags": list(chk.service_tags),
        "Type": "",
        "ExposedPort": 0,
        "Definition": dict(_EMPTY_DEFINITION),
        "CreateIndex": 0,
        "ModifyIndex": 0,
    }
    if chk.partition != "default":
        doc.update(Partition=chk.partition, Namespace="default")
    return doc


class AgentHealthState(Store):
    """Aggregated health of the agent's service instances."""

    def _instance_health(self, svc: Service) -> tuple[int, str, dict[str, Any]]:
        checks = [
            _check_doc(c)
            for (p, n, _), c in sorted(self._checks.items(), key=lambda kv: kv[0])
            if (p, n) == (svc.partition, svc.node)
            and c.service_id in ("", svc.id)
            and c.check_id != "serfHealth"
        ]
        status = aggregated_status(checks)
        return (
            STATUS_CODES[status],
            status,
            {
                "AggregatedStatus": status,
                "Service": ce_shape(svc.to_dict(with_index=False)),
                "Checks": checks,
            },
        )

    def agent_health_by_id(
        self, service_id: str, partition: str = "default", authz: Authz = None
    ) -> tuple[int, str, dict[str, Any]]:
        """``GET /v1/agent/health/service/id/:id``: (HTTP status, status word, body)."""
        if not service_id:
            raise HTTPError(400, "Missing serviceID")
        partition = self.check_partition(partition)
        with self._lock:
            svc = self._services.get((partition, self.node_name, service_id))
            if svc is None:
                body = {"AggregatedStatus": "critical", "Checks": None, "Service": None}
                return 404, f"ServiceId {service_id} not found", body
            self._require(authz, "service", "read", svc.service, partition)
            return self._instance_health(svc)

    def agent_health_by_name(
        self, name: str, partition: str = "default", authz: Authz = None
    ) -> tuple[int, str, list[dict[str, Any]]]:
        """``GET /v1/agent/health/service/name/:name``: the worst instance decides."""
        if not name:
            raise HTTPError(400, "Missing service Name")
        partition = self.check_partition(partition)
        self._require(authz, "service", "read", name, partition)
        code, status = 404, f"ServiceName {name} Not Found"
        out = []
        with self._lock:
            for (p, n, _), svc in sorted(self._services.items(), key=lambda kv: kv[0]):
                if (p, n) != (partition, self.node_name) or svc.service != name:
                    continue
                scode, sstatus, doc = self._instance_health(svc)
                out.append(doc)
                if code == 404 or scode > code:
                    code, status = scode, sstatus
        return code, status, out
