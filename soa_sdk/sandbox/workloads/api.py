"""The workload host's control API (sandbox only: no such API exists on AWS or in Consul).

It listens on loopback and has no authentication; it stands in for "deploy a new version
of a service" on a runtime. JSON in and out:

- ``GET /v1/health`` -> ``{"status": "ok", "workloads": N}``
- ``GET /v1/workloads[?name=]`` -> ``{"workloads": [...]}``
- ``POST /v1/workloads`` {name, version, partition, runtime, upstreams, error_rate,
  error_code, latency_ms: {p50, p90, p99}, message, count, id, health_code, check_interval,
  tags} -> 201 ``{"workloads": [...]}``
- ``GET /v1/workloads/:id`` -> the workload
- ``PATCH /v1/workloads/:id`` {error_rate, error_code, latency_ms, health_code, message}
  -> the workload (e.g. ``{"health_code": 500}`` makes its ``/health`` fail)
- ``DELETE /v1/workloads/:id`` -> the workload, deregistered and stopped
- ``DELETE /v1/workloads`` -> ``{"stopped": N}``

Errors: ``{"error": "..."}`` with 400 (bad input, nothing changed), 404, 405, 409, and 502
when Consul refused or could not be reached (nothing is left running).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, unquote

from soa_sdk.sandbox.mesh.http1 import Request, Response
from soa_sdk.sandbox.workloads.host import WorkloadError, WorkloadHost

_JSON = [("Content-Type", "application/json")]


def _json(status: int, doc: Any) -> Response:
    return Response(status, json.dumps(doc).encode(), list(_JSON))


class ControlAPI:
    """HTTP handler over a :class:`WorkloadHost`."""

    def __init__(self, host: WorkloadHost) -> None:
        self.host = host

    def handle(self, req: Request) -> Response:
        try:
            return self._route(req)
        except WorkloadError as exc:
            return _json(exc.status, {"error": str(exc)})

    def _body(self, req: Request) -> Any:
        try:
            return json.loads(req.body or b"{}")
        except ValueError:
            raise WorkloadError("the body is not valid JSON") from None

    def _route(self, req: Request) -> Response:
        parts = [unquote(p) for p in req.path.strip("/").split("/") if p]
        method = req.method
        if parts == ["v1", "health"] and method == "GET":
            return _json(200, {"status": "ok", "workloads": len(self.host.list())})
        if parts[:2] != ["v1", "workloads"] or len(parts) > 3:
            return _json(404, {"error": f"no route for {req.path}"})
        if len(parts) == 2:
            if method == "GET":
                name = parse_qs(req.query).get("name", [None])[-1]
                return _json(200, {"workloads": [w.to_dict() for w in self.host.list(name)]})
            if method == "POST":
                started = self.host.start(self._body(req))
                return _json(201, {"workloads": [w.to_dict() for w in started]})
            if method == "DELETE":
                return _json(200, {"stopped": self.host.stop_all()})
            return _json(405, {"error": f"{method} not allowed on /v1/workloads"})
        wid = parts[2]
        if method == "GET":
            return _json(200, self.host.get(wid).to_dict())
        if method == "PATCH":
            return _json(200, self.host.update(wid, self._body(req)).to_dict())
        if method == "DELETE":
            return _json(200, self.host.stop(wid).to_dict())
        return _json(405, {"error": f"{method} not allowed on /v1/workloads/:id"})
