"""The workload host's control API (sandbox only: no such API exists on AWS or in Consul).

It stands in for "deploy a new version of a service" on a runtime, and guards itself as a
local control API must (anyone on the machine, and any web page a browser on it opens, can
send it requests):

- every request carries the host's API token, ``Authorization: Bearer <token>`` (the
  sandbox's secret ``workloads_api_token``): none -> 401 with ``WWW-Authenticate: Bearer``,
  a wrong one -> 403;
- the ``Host`` header must name the loopback address and port the host listens on
  (``127.0.0.1:<port>`` or ``localhost:<port>``), else 403: a DNS-rebinding page, whose
  requests carry its own host name, is refused;
- bodies are JSON only (``Content-Type: application/json``), else 415: with the bearer token
  and a JSON body no request is a CORS "simple request", so a page cannot send one without a
  preflight, which this API never grants (it sends no ``Access-Control-Allow-*`` header).

The host holds no Consul token: a ``POST`` brings a login (``consul_login``: the partition's
auth method and the service's workload-identity token), with which every instance logs in to
Consul for a token of its own service's identity and logs out when it stops (see
:mod:`.host`), or a Consul ACL token to register with (``consul_token``).

JSON in and out:

- ``GET /v1/health`` -> ``{"status": "ok", "workloads": N}``
- ``GET /v1/workloads[?name=]`` -> ``{"workloads": [...]}``
- ``POST /v1/workloads`` {name, version, partition, runtime, upstreams, error_rate,
  error_code, latency_ms: {p50, p90, p99}, message, count, id, health_code, check_interval,
  tags, consul_login: {auth_method, bearer_token}, consul_token, consul_token_accessor,
  placement: {name: text} (what placed it: the sandbox's scheduler names the ECS service and
  task definition)} -> 201 ``{"workloads": [...]}``
- ``GET /v1/workloads/:id`` -> the workload
- ``PATCH /v1/workloads/:id`` {error_rate, error_code, latency_ms, health_code, message}
  -> the workload (e.g. ``{"health_code": 500}`` makes its ``/health`` fail)
- ``DELETE /v1/workloads/:id`` -> the workload, deregistered and stopped
- ``DELETE /v1/workloads`` -> ``{"stopped": N}``

Errors: ``{"error": "..."}`` with 400 (bad input, nothing changed), 401, 403 (also when
Consul refused the workload's token), 404, 405, 409, 415, and 502 when Consul failed or could
not be reached (nothing is left running).
"""

from __future__ import annotations

import hmac
import json
from typing import Any
from urllib.parse import parse_qs, unquote

from soa_sdk.sandbox.workloads.host import WorkloadError, WorkloadHost
from soa_sdk.sandbox.workloads.http1 import Request, Response

_JSON = [("Content-Type", "application/json")]
TOKEN_ENV = "SOA_LAB_WORKLOADS_TOKEN"
"""The environment variable the host process reads its API token from (never argv)."""


def _json(status: int, doc: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, json.dumps(doc).encode(), [*_JSON, *(headers or [])])


def loopback_hosts(host: str, port: int) -> frozenset[str]:
    """The ``Host`` header values that name a loopback listener on ``host:port``."""
    names = {host, "127.0.0.1", "localhost"} if host in ("127.0.0.1", "localhost") else {host}
    return frozenset(f"{name}:{port}".lower() for name in names)


def bearer_token(req: Request) -> str | None:
    """The token of ``Authorization: Bearer <token>``, or None."""
    auth = req.header("authorization") or ""
    scheme, _, value = auth.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


class ControlAPI:
    """HTTP handler over a :class:`WorkloadHost`.

    ``token`` is the API token every request must carry; ``allowed_hosts`` the ``Host``
    header values accepted (set it, e.g. with :func:`loopback_hosts`, once the server is
    bound; empty means the check is skipped, for in-process tests only).
    """

    def __init__(
        self, host: WorkloadHost, token: str, allowed_hosts: frozenset[str] = frozenset()
    ) -> None:
        if not token:
            raise ValueError("the workload host's API needs a token")
        self.host = host
        self._token = token.encode()
        self.allowed_hosts = allowed_hosts

    def handle(self, req: Request) -> Response:
        refused = self._guard(req)
        if refused is not None:
            return refused
        try:
            return self._route(req)
        except WorkloadError as exc:
            return _json(exc.status, {"error": str(exc)})

    def _guard(self, req: Request) -> Response | None:
        """Host header, then token, then content type; a refused request changes nothing."""
        if self.allowed_hosts:
            host = (req.header("host") or "").lower()
            if host not in self.allowed_hosts:
                return _json(
                    403,
                    {
                        "error": f"Host {host or '(none)'!r} is not allowed: the workload host "
                        f"answers only requests for {', '.join(sorted(self.allowed_hosts))}"
                    },
                )
        token = bearer_token(req)
        if token is None:
            return _json(
                401,
                {
                    "error": "authentication required: send the workload host's API token as "
                    "'Authorization: Bearer <token>' (the sandbox secret workloads_api_token)"
                },
                [("WWW-Authenticate", 'Bearer realm="workload-host"')],
            )
        if not hmac.compare_digest(token.encode(), self._token):
            return _json(
                403,
                {"error": "the API token is not valid for this workload host"},
                [("WWW-Authenticate", 'Bearer realm="workload-host", error="invalid_token"')],
            )
        if req.body or req.method in ("POST", "PUT", "PATCH"):
            ctype = (req.header("content-type") or "").split(";", 1)[0].strip().lower()
            if ctype != "application/json":
                return _json(
                    415,
                    {
                        "error": f"unsupported Content-Type {ctype or '(none)'!r}: "
                        "send JSON with 'Content-Type: application/json'"
                    },
                )
        return None

    def _body(self, req: Request) -> Any:
        try:
            return json.loads(req.body or b"{}")
        except ValueError:
            raise WorkloadError("the body is not valid JSON") from None

    def _route(self, req: Request) -> Response:
        parts = [unquote(p) for p in req.path.strip("/").split("/") if p]
        shape = "/" + "/".join(parts[:2] + ["{id}"] * len(parts[2:3]))
        methods = [m for m, path, _ in ROUTES if path == shape]
        if not methods or len(parts) > 3:
            return _json(404, {"error": f"no route for {req.path}"})
        if req.method not in methods:
            return _json(405, {"error": f"{req.method} not allowed on {shape}"})
        name = next(n for m, path, n in ROUTES if path == shape and m == req.method)
        return getattr(self, name)(req, *parts[2:3])

    def _health(self, req: Request) -> Response:
        return _json(200, {"status": "ok", "workloads": len(self.host.list())})

    def _list(self, req: Request) -> Response:
        name = parse_qs(req.query).get("name", [None])[-1]
        return _json(200, {"workloads": [w.to_dict() for w in self.host.list(name)]})

    def _start(self, req: Request) -> Response:
        started = self.host.start(self._body(req))
        return _json(201, {"workloads": [w.to_dict() for w in started]})

    def _stop_all(self, req: Request) -> Response:
        return _json(200, {"stopped": self.host.stop_all()})

    def _get(self, req: Request, wid: str) -> Response:
        return _json(200, self.host.get(wid).to_dict())

    def _update(self, req: Request, wid: str) -> Response:
        return _json(200, self.host.update(wid, self._body(req)).to_dict())

    def _stop(self, req: Request, wid: str) -> Response:
        return _json(200, self.host.stop(wid).to_dict())


ROUTES: tuple[tuple[str, str, str], ...] = (
    ("GET", "/v1/health", "_health"),
    ("GET", "/v1/workloads", "_list"),
    ("POST", "/v1/workloads", "_start"),
    ("DELETE", "/v1/workloads", "_stop_all"),
    ("GET", "/v1/workloads/{id}", "_get"),
    ("PATCH", "/v1/workloads/{id}", "_update"),
    ("DELETE", "/v1/workloads/{id}", "_stop"),
)
"""The route table: (method, path, handler method of :class:`ControlAPI`)."""
