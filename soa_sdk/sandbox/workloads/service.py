"""A demo workload in the style of nicholasjackson/fake-service (the talk's fake-service).

What fake-service does, and we do too (its environment variable in brackets):
- answers every path except ``/health`` and ``/ready`` with a JSON document whose fields are
  fake-service's own: ``name``, ``uri``, ``type`` ("HTTP"), ``ip_addresses``, ``start_time``,
  ``end_time``, ``duration`` (a Go duration string such as ``"1.204ms"``), ``body`` (the
  message: JSON when it starts with ``{``, else a string), ``upstream_calls`` (a map from the
  called URI to the upstream's own reply), ``code`` and ``error``;
- calls its upstream URIs [UPSTREAM_URIS] in order, or with N workers [UPSTREAM_WORKERS], and
  appends the inbound path, query string and headers to each call
  [HTTP_CLIENT_APPEND_REQUEST=true]; any upstream error or non-200 answer makes its own
  answer a 500 that still carries the upstream replies;
- injects errors [ERROR_RATE, ERROR_CODE] before calling upstreams, with the body
  ``"error": "Service error automatically injected"``;
- takes a random service time with the given percentiles [TIMING_50/90/99_PERCENTILE],
  counting time already spent on upstream calls;
- ``/health`` answers [HEALTH_CHECK_RESPONSE_CODE] with ``OK``.

An upstream URI is ``http://host:port[/path]`` as fake-service's, or
``http+unix://<percent-encoded socket path>[/path]`` (the convention of requests-unixsocket and
docker-py) for an upstream listener on a Unix socket (Consul's ``LocalBindSocketPath``),
which the workload dials instead of a TCP port (:func:`unix_uri` makes one).

With ``socket_path`` (the workload host's way) the application listens on that Unix socket
only, which its sidecar's ``local_app`` cluster dials (Consul's ``SocketPath``), and the TCP
port answers ``/health`` and ``/ready`` only (404 otherwise): the probe port Consul's HTTP
check calls, like a Kubernetes pod's probe port.

What it does not do: gRPC, rate limiting, error type ``delay``, CPU/memory load, tracing,
CORS, the UI, TLS. Calls to upstreams reuse keep-alive connections from one pool shared by
every workload of the process (fake-service's HTTP_CLIENT_KEEP_ALIVES=true).
"""

from __future__ import annotations

import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import SplitResult, quote, unquote, urlsplit

from soa_sdk.sandbox.headers import NOT_FORWARDED
from soa_sdk.sandbox.workloads.http1 import (
    ConnectionPool,
    HTTPServer,
    Request,
    Response,
)

INJECTED_ERROR = "Service error automatically injected"
HTTP, HTTP_UNIX = "http", "http+unix"  # the upstream URIs' schemes
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"
_JSON = [("Content-Type", "application/json")]
_TEXT = [("Content-Type", "text/plain; charset=utf-8")]


def go_duration(seconds: float) -> str:
    """Format a duration the way Go's ``time.Duration.String`` does (``"202.008µs"``)."""
    ns = round(seconds * 1e9)
    if ns < 1000:
        return f"{ns}ns"

    def trim(value: float, digits: int) -> str:
        return f"{value:.{digits}f}".rstrip("0").rstrip(".")

    if ns < 1_000_000:
        return trim(ns / 1e3, 3) + "µs"
    if ns < 1_000_000_000:
        return trim(ns / 1e6, 6) + "ms"
    minutes, secs = divmod(ns / 1e9, 60)
    if minutes:
        return f"{int(minutes)}m{trim(secs, 9) or '0'}s"
    return trim(secs, 9) + "s"


@dataclass
class Timing:
    """Service-time percentiles in milliseconds; missing ones default as fake-service's do."""

    p50: float = 0.0
    p90: float | None = None
    p99: float | None = None

    def __post_init__(self) -> None:
        if self.p90 is None:
            self.p90 = self.p50
        if self.p99 is None:
            self.p99 = self.p90
        if min(self.p50, self.p90, self.p99) < 0:
            raise ValueError("latency percentiles must be >= 0")
        if not self.p50 <= self.p90 <= self.p99:
            raise ValueError("latency percentiles must satisfy p50 <= p90 <= p99")

    def sample(self) -> float:
        """One service time in seconds, drawn so the percentiles come out as configured."""
        if self.p99 == 0:
            return 0.0
        u = random.random()
        p50, p90, p99 = self.p50, self.p90, self.p99
        assert p90 is not None and p99 is not None
        if u < 0.5:
            ms = random.uniform(p50 * 0.5, p50)
        elif u < 0.9:
            ms = random.uniform(p50, p90)
        elif u < 0.99:
            ms = random.uniform(p90, p99)
        else:
            ms = random.uniform(p99, p99 * 1.1)
        return ms / 1000.0


@dataclass
class WorkloadConfig:
    """What a fake-service instance is told through its environment."""

    name: str
    version: str = "v1"
    message: str = "Hello World"
    upstream_uris: list[str] = field(default_factory=list)
    upstream_workers: int = 1
    error_rate: float = 0.0
    error_code: int = 500
    latency_ms: Timing = field(default_factory=Timing)
    health_code: int = 200
    append_request: bool = True
    client_timeout: float = 30.0

    def validate(self) -> None:
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError("error_rate must be between 0 and 1")
        for code, what in ((self.error_code, "error_code"), (self.health_code, "health_code")):
            if not 100 <= code <= 599:
                raise ValueError(f"{what} must be an HTTP status code (100-599)")
        if self.upstream_workers < 1:
            raise ValueError("upstream_workers must be >= 1")
        for uri in self.upstream_uris:
            parts = urlsplit(uri)
            where = parts.netloc if parts.scheme == HTTP_UNIX else parts.hostname
            if parts.scheme not in (HTTP, HTTP_UNIX) or not where:
                raise ValueError(f"upstream URI {uri!r} is not an http:// or http+unix:// URI")


def unix_uri(socket_path: str) -> str:
    """The upstream URI of an upstream listener on the Unix socket ``socket_path``."""
    return f"{HTTP_UNIX}://{quote(socket_path, safe='')}"


def _socket_path(parts: SplitResult) -> str | None:
    """The Unix socket an ``http+unix://`` URI names (None for ``http://``)."""
    return unquote(parts.netloc) if parts.scheme == HTTP_UNIX else None


_shared_pool = ConnectionPool(timeout=30.0)


class FakeService:
    """One running workload instance: an HTTP server answering like fake-service."""

    def __init__(
        self,
        config: WorkloadConfig,
        host: str = "127.0.0.1",
        port: int = 0,
        pool: ConnectionPool | None = None,
        socket_path: str | None = None,
    ) -> None:
        config.validate()
        self.config = config
        self.pool = pool or _shared_pool
        self.socket_path = socket_path
        name = f"workload-{config.name}"
        self._app: HTTPServer | None = None
        if socket_path:
            self._app = HTTPServer("", 0, self.handle, name=name, unix_path=socket_path)
        probe = self._probe if socket_path else self.handle
        try:
            self._server = HTTPServer(host, port, probe, name=name)
        except OSError:
            if self._app is not None:
                self._app.close()
            raise
        self.host = self._server.host
        self.port = self._server.port
        self._workers: ThreadPoolExecutor | None = None
        self._stats_lock = threading.Lock()
        self.served: dict[int, int] = {}

    @property
    def address(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> FakeService:
        if self._app is not None:
            self._app.start()
        self._server.start()
        return self

    def stop(self) -> None:
        if self._app is not None:
            self._app.close()
        self._server.close()
        if self._workers is not None:
            self._workers.shutdown(wait=False)

    def update(self, **changes: Any) -> None:
        """Change behaviour at runtime (error_rate, error_code, latency_ms, health_code, ...)."""
        fields = {k: v for k, v in asdict(self.config).items() if k != "latency_ms"}
        fields["latency_ms"] = self.config.latency_ms
        for key, value in changes.items():
            if key not in fields:
                raise ValueError(f"unknown setting {key!r}")
            if key == "latency_ms" and isinstance(value, dict):
                value = Timing(**value)
            fields[key] = value
        new = WorkloadConfig(**fields)
        new.validate()
        self.config = new  # one reference swap: handlers see either the old or the new config

    # -- request handling -------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        path = req.path
        # Probes are not application traffic: ``served`` counts only the latter, so that it
        # can be compared with the mesh's telemetry whatever the check interval.
        if path == "/health":
            return Response(self.config.health_code, b"OK", list(_TEXT))
        if path == "/ready":
            return Response(200, b"OK", list(_TEXT))
        return self._count(self._main(req))

    def _probe(self, req: Request) -> Response:
        """The TCP port beside a Unix-socket application: probes only."""
        if req.path in ("/health", "/ready"):
            return self.handle(req)
        body = b"reachable only through its sidecar\n"
        return Response(404, body, list(_TEXT))

    def _count(self, resp: Response) -> Response:
        with self._stats_lock:
            self.served[resp.status] = self.served.get(resp.status, 0) + 1
        return resp

    def _main(self, req: Request) -> Response:
        cfg = self.config
        start = time.time()
        t0 = time.perf_counter()
        doc: dict[str, Any] = {
            "name": cfg.name,
            "uri": req.target,
            "type": "HTTP",
            "ip_addresses": [self.host],
        }
        if cfg.error_rate and random.random() < cfg.error_rate:
            doc["code"] = cfg.error_code
            doc["error"] = INJECTED_ERROR
            return Response(cfg.error_code, _encode(doc), list(_JSON))

        upstream_failed = False
        if cfg.upstream_uris:
            calls, upstream_failed = self._call_upstreams(cfg, req)
            doc["upstream_calls"] = calls
        if upstream_failed:
            code = 500
        else:
            remaining = cfg.latency_ms.sample() - (time.perf_counter() - t0)
            if remaining > 0:
                time.sleep(remaining)
            code = 200
        elapsed = time.perf_counter() - t0
        doc["start_time"] = datetime.fromtimestamp(start).strftime(_TIME_FORMAT)
        doc["end_time"] = datetime.fromtimestamp(start + elapsed).strftime(_TIME_FORMAT)
        doc["duration"] = go_duration(elapsed)
        doc["body"] = _message_body(cfg.message)
        doc["code"] = code
        # Keep fake-service's key order: upstream_calls comes after body.
        if "upstream_calls" in doc:
            doc["upstream_calls"] = doc.pop("upstream_calls")
            doc["code"] = doc.pop("code")
        return Response(code, _encode(doc), list(_JSON))

    def _call_upstreams(self, cfg: WorkloadConfig, req: Request) -> tuple[dict[str, Any], bool]:
        if cfg.upstream_workers > 1 and len(cfg.upstream_uris) > 1:
            if self._workers is None:
                self._workers = ThreadPoolExecutor(cfg.upstream_workers)
            results = list(self._workers.map(lambda u: self._call(cfg, u, req), cfg.upstream_uris))
        else:
            results = [self._call(cfg, uri, req) for uri in cfg.upstream_uris]
        calls = {uri: doc for uri, doc, _ in results}
        return calls, any(not ok for _, _, ok in results)

    def _call(self, cfg: WorkloadConfig, uri: str, req: Request) -> tuple[str, Any, bool]:
        parts = urlsplit(uri)
        base = parts.path.rstrip("/")
        target = base + req.target if cfg.append_request else (base or "/")
        if parts.query:
            target += ("&" if "?" in target else "?") + parts.query
        headers: list[tuple[str, str]] = []
        if cfg.append_request:
            headers = [(k, v) for k, v in req.headers if k.lower() not in NOT_FORWARDED]
        unix_path = _socket_path(parts)
        try:
            resp = self.pool.request(
                "localhost" if unix_path else parts.hostname or "127.0.0.1",
                0 if unix_path else parts.port or 80,
                "GET",
                target or "/",
                headers,
                timeout=cfg.client_timeout,
                unix_path=unix_path,
            )
        except Exception as exc:  # any transport failure is reported in the reply, as upstream
            return uri, {"uri": uri, "code": -1, "error": str(exc)}, False
        try:
            doc = json.loads(resp.body)
            if not isinstance(doc, dict):
                raise ValueError
            doc["uri"] = uri
        except ValueError:
            doc = {"uri": uri, "code": resp.status, "error": resp.body.decode("utf-8", "replace")}
        return uri, doc, resp.status == 200


def _message_body(message: str) -> Any:
    if message.lstrip().startswith("{"):
        try:
            return json.loads(message)
        except ValueError:
            return message
    return message


def _encode(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()
