"""The data plane's admin port (sandbox only, in the spirit of Envoy's admin interface).

Routes (:data:`ROUTES`), all JSON:

- ``GET /telemetry?since=<unix seconds>&after=<seq>&service=&source=&limit=`` ->
  ``{"records": [...], "last_seq": N}``, oldest first;
- ``GET /stats`` -> ``{"stats": [{"service", "version", "code", "count", "latency_ms_sum",
  "latency_ms_avg"}], "total": N}``;
- ``GET /listeners`` -> ``{"listeners": [...], "bind_errors": {port: message}}``;
- ``GET /ready`` -> ``LIVE`` (Envoy's readiness answer; the only route open to anyone).

Access: Envoy's own admin port has no authentication; what it shows here (every request of
every service) is what Consul's UI shows through its metrics proxy, so it is guarded as that
proxy is: a Consul ACL token (``X-Consul-Token``, or ``Authorization: Bearer``) that may read
every service and every node (``service_prefix "" { policy = "read" }`` and
``node_prefix "" { policy = "read" }`` with no deny below them) in the token's partition.
Refusals are Consul's: 403 ``ACL not found`` for an unknown token, 403 ``Permission denied:
... lacks permission 'service:read'`` otherwise (``text/plain``). A backend without ACLs (the
in-memory test catalog, or Consul with ACLs off) lets every request through. The ``Host``
header must name the loopback address and port of the admin port (DNS-rebinding defence).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from soa_sdk.sandbox.consul.exceptions import ConsulError, PermissionDenied
from soa_sdk.sandbox.mesh.http1 import Request, Response

if TYPE_CHECKING:
    from soa_sdk.sandbox.mesh.plane import MeshDataPlane

_JSON = [("Content-Type", "application/json")]


def _json(status: int, doc: Any) -> Response:
    return Response(status, json.dumps(doc).encode(), list(_JSON))


ROUTES: dict[str, str] = {
    "/telemetry": "_telemetry",
    "/stats": "_stats",
    "/listeners": "_listeners",
    "/ready": "_ready",
}
"""The admin port's routes (all ``GET``/``HEAD``): path -> handler method of AdminAPI."""
OPEN_ROUTES: frozenset[str] = frozenset({"/ready"})
"""The routes that need no token (readiness, as Envoy's ``/ready``)."""


def _text(status: int, text: str) -> Response:
    return Response(status, text.encode(), [("Content-Type", "text/plain; charset=utf-8")])


def _request_token(req: Request) -> str | None:
    token = req.header("x-consul-token")
    if token:
        return token
    auth = req.header("authorization") or ""
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return None


def reads_everything(authz: Any) -> tuple[bool, str]:
    """Whether a Consul authorizer may read every service and every node of its partition
    (Consul's ``ServiceReadAll`` and ``NodeReadAll``); else the resource it may not read."""
    if getattr(authz, "management", False):
        return True, ""
    for resource in ("service", "node"):
        if not authz.allowed(resource, "read", ""):
            return False, resource
        table = authz.rules.named[resource]
        if "deny" in (*table.exact.values(), *table.prefix.values()):
            return False, resource
    return True, ""


class AdminAPI:
    """Request handler of the admin port."""

    def __init__(self, plane: MeshDataPlane) -> None:
        self.plane = plane

    def handle(self, req: Request) -> Response:
        path = req.path.rstrip("/") or "/"
        refused = self._guard(req, path)
        if refused is not None:
            return refused
        if req.method not in ("GET", "HEAD"):
            return _json(405, {"error": "method not allowed"})
        handler = ROUTES.get(path)
        if handler is None:
            return _json(404, {"error": f"no such admin endpoint: {path}"})
        try:
            return getattr(self, handler)({k: v[-1] for k, v in parse_qs(req.query).items()})
        except ValueError as exc:
            return _json(400, {"error": str(exc)})

    def _stats(self, params: dict[str, str]) -> Response:
        stats = self.plane.telemetry.stats()
        return _json(200, {"stats": stats, "total": sum(s["count"] for s in stats)})

    def _listeners(self, params: dict[str, str]) -> Response:
        errors = {str(k): v for k, v in self.plane.bind_errors.items()}
        return _json(200, {"listeners": self.plane.listeners(), "bind_errors": errors})

    def _ready(self, params: dict[str, str]) -> Response:
        return Response(200, b"LIVE\n", [("Content-Type", "text/plain")])

    def _guard(self, req: Request, path: str) -> Response | None:
        """The Host header, then (but for ``/ready``) the Consul ACL token."""
        host = self.plane.host
        names = {host, "localhost"} if host in ("127.0.0.1", "localhost") else {host}
        allowed = {f"{name}:{self.plane.admin_port}" for name in names}
        if (req.header("host") or "").lower() not in allowed:
            return _json(403, {"error": "Host header not allowed: " + ", ".join(sorted(allowed))})
        if path in OPEN_ROUTES:
            return None
        authorize = getattr(self.plane.backend, "authorize", None)
        if not callable(authorize):
            return None  # a catalog without ACLs
        try:
            authz = authorize(_request_token(req))
        except ConsulError as exc:  # ACL not found
            return _text(exc.code, str(exc))
        ok, resource = reads_everything(authz)
        if not ok:
            return _text(403, str(PermissionDenied(authz.accessor_id, resource, "read")))
        return None

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
