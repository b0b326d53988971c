"""The scheduler's own small HTTP API (sandbox only: ECS's scheduler has none).

- ``GET /v1/health`` -> ``{"status": "ok"}`` (open, for the sandbox's supervisor);
- ``GET /v1/status`` -> what it runs per ECS service (revision, desired, running) and what
  its passes cost (:meth:`~.loop.SchedulerLoop.status`); with the workload host's API token
  (``Authorization: Bearer``: none -> 401, a wrong one -> 403), and a ``Host`` header naming
  the loopback address it listens on (else 403), as the workload host's API.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import Any

from soa_sdk.sandbox.workloads.api import bearer_token
from soa_sdk.sandbox.workloads.http1 import Request, Response

ROUTES: tuple[tuple[str, str], ...] = (("GET", "/v1/health"), ("GET", "/v1/status"))
"""(method, path) of every route."""


def _json(status: int, doc: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(
        status, json.dumps(doc).encode(), [("Content-Type", "application/json"), *(headers or [])]
    )


class SchedulerAPI:
    """The handler; ``allowed_hosts`` is set once the server is bound."""

    def __init__(self, token: str, status: Callable[[], dict[str, Any]]) -> None:
        if not token:
            raise ValueError("the scheduler's API needs a token")
        self._token = token.encode()
        self._status = status
        self.allowed_hosts: frozenset[str] = frozenset()

    def handle(self, req: Request) -> Response:
        if (req.method, req.path) not in ROUTES:
            return _json(404, {"error": f"no route for {req.method} {req.path}"})
        if req.path == "/v1/health":
            return _json(200, {"status": "ok"})
        host = (req.header("host") or "").lower()
        if self.allowed_hosts and host not in self.allowed_hosts:
            return _json(403, {"error": f"Host {host or '(none)'!r} is not allowed"})
        given = bearer_token(req)
        if given is None:
            return _json(
                401,
                {"error": "send the workload host's API token as 'Authorization: Bearer <token>'"},
                [("WWW-Authenticate", 'Bearer realm="scheduler"')],
            )
        if not hmac.compare_digest(given.encode(), self._token):
            return _json(403, {"error": "the API token is not valid for this scheduler"})
        return _json(200, self._status())
