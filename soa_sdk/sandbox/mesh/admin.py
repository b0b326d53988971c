"""The data plane's admin port (sandbox only, in the spirit of Envoy's admin interface).

Routes, all JSON, no authentication (it listens on loopback, like Envoy's admin):

- ``GET /telemetry?since=<unix seconds>&after=<seq>&service=&source=&limit=`` ->
  ``{"records": [...], "last_seq": N}``, oldest first;
- ``GET /stats`` -> ``{"stats": [{"service", "version", "code", "count", "latency_ms_sum",
  "latency_ms_avg"}], "total": N}``;
- ``GET /listeners`` -> ``{"listeners": [...], "bind_errors": {port: message}}``;
- ``GET /ready`` -> ``LIVE`` (Envoy's readiness answer).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from soa_sdk.sandbox.mesh.http1 import Request, Response

if TYPE_CHECKING:
    from soa_sdk.sandbox.mesh.plane import MeshDataPlane

_JSON = [("Content-Type", "application/json")]


def _json(status: int, doc: Any) -> Response:
    return Response(status, json.dumps(doc).encode(), list(_JSON))


class AdminAPI:
    """Request handler of the admin port."""

    def __init__(self, plane: MeshDataPlane) -> None:
        self.plane = plane

    def handle(self, req: Request) -> Response:
        if req.method not in ("GET", "HEAD"):
            return _json(405, {"error": "method not allowed"})
        path = req.path.rstrip("/") or "/"
        try:
            params = {k: v[-1] for k, v in parse_qs(req.query).items()}
            if path == "/telemetry":
                return self._telemetry(params)
            if path == "/stats":
                stats = self.plane.telemetry.stats()
                return _json(200, {"stats": stats, "total": sum(s["count"] for s in stats)})
            if path == "/listeners":
                errors = {str(k): v for k, v in self.plane.bind_errors.items()}
                return _json(200, {"listeners": self.plane.listeners(), "bind_errors": errors})
            if path == "/ready":
                return Response(200, b"LIVE\n", [("Content-Type", "text/plain")])
        except ValueError as exc:
            return _json(400, {"error": str(exc)})
        return _json(404, {"error": f"no such admin endpoint: {path}"})

    def _telemetry(self, params: dict[str, str]) -> Response:
        def number(name: str, kind: type) -> Any:
            raw = params.get(name)
            if raw in (None, ""):
                return None
            try:
                value = kind(raw)
            except ValueError:
                raise ValueError(f"{name} must be a number, got {raw!r}") from None
            if value < 0:
                raise ValueError(f"{name} must be >= 0")
            return value

        tel = self.plane.telemetry
        last = tel.last_seq
        records = tel.query(
            since=number("since", float),
            service=params.get("service") or None,
            limit=number("limit", int),
            after=number("after", int),
            source=params.get("source") or None,
        )
        return _json(200, {"records": records, "last_seq": last})
