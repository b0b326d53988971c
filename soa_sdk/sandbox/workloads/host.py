"""The workload host: runs demo workloads as threads and registers them with Consul over HTTP.

Each workload instance is a :class:`~.service.FakeService` on a free port, registered through
Consul's agent API (``PUT /v1/agent/service/register``) the way a runtime's agent would:

- the service: ``Meta: {version, runtime}``, tag ``<version>``, an HTTP check on ``/health``
  with a short interval (initial status ``passing``: the process is already serving);
- its sidecar: ``Kind: connect-proxy``, ``Proxy.DestinationServiceName/ID``,
  ``Proxy.LocalServiceAddress/Port`` (or ``Proxy.LocalServiceSocketPath``) and one
  ``Proxy.Upstreams`` entry per upstream (``DestinationName``, ``LocalBindPort``,
  ``DestinationPartition``/``DestinationPeer`` when given). The sandbox's Envoy opens those
  local ports; the workload calls its upstreams at ``http://127.0.0.1:<LocalBindPort>`` as
  fake-service's ``UPSTREAM_URIS`` would.

With ``socket_dir`` (the sandbox's host) each workload gets a folder of its own in it,
``w<N>/`` (mode ``0700``), which stands in for its task's or pod's network namespace:

- its application listens on the Unix socket ``w<N>/app.sock`` only, registered as the
  service's ``SocketPath`` and its sidecar's ``Proxy.LocalServiceSocketPath``, so that only its
  own sidecar reaches it (Envoy's ``local_app`` cluster dials the socket); its TCP port
  answers the health check's probes only;
- each upstream is registered with ``LocalBindSocketPath: w<N>/u<i>.sock`` and
  ``LocalBindSocketMode: "0600"`` instead of a port (Consul's Unix-socket upstreams), so the
  sidecar's upstream listener is that socket, which the workload dials
  (``http+unix://`` upstream URIs): no TCP port on the machine calls a service as this one.

What still bypasses the sidecar: any process of the same OS user can open the sockets (the
files are ``0600``, the folder ``0700``: other users cannot), and the probe port answers
``/health`` and ``/ready`` to anyone on the machine. The folder is removed when the instance
stops.

Stopping an instance deregisters both services (``PUT /v1/agent/service/deregister/:id``)
and closes its port. The control API in :mod:`.api` exposes this over HTTP.

The host holds no Consul token of its own. In the lab each start request brings a login,
``consul_login: {auth_method, bearer_token}``: the auth method of the workload's partition and
a workload-identity token (an OpenBao identity token for that service, see :mod:`.login`).
Every instance logs in with it, ``POST /v1/acl/login?partition=`` (``Meta: {"workload": id}``),
as a consul-ecs task's ``mesh-init`` or a consul-k8s pod's ``connect-init`` does with its
task role or service account token; Consul's binding rule makes a token with the service
identity of that service only (``service:write`` on it and its ``-sidecar-proxy``, read on
the rest). The instance registers and deregisters with that token, and logs out
(``POST /v1/acl/logout``) when it stops, which deletes the token. A caller may instead bring
a token of its own, ``consul_token`` (never logged out: not the host's to delete). With
neither the host calls Consul as the anonymous token, which default deny refuses. A refusal
from Consul (403) is answered as 403 with Consul's text; nothing is left running (a token
already made by a login is logged out again).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any

import requests

from soa_sdk.sandbox.ports import free_port
from soa_sdk.sandbox.workloads.service import FakeService, Timing, WorkloadConfig, unix_uri

_UNIX_PATH_MAX = 108  # sockaddr_un.sun_path on Linux, the final NUL included
_LONGEST_SOCKET = os.path.join("w99999", "u999.sock")  # in a socket folder (see _start_one)
_SOCKET_MODE = "0600"  # the upstreams' LocalBindSocketMode: the sandbox's own user only
_NAME_RE = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")
_DURATION_RE = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")
_SPEC_KEYS = {
    "name",
    "version",
    "partition",
    "runtime",
    "upstreams",
    "error_rate",
    "error_code",
    "latency_ms",
    "message",
    "count",
    "id",
    "health_code",
    "check_interval",
    "upstream_workers",
    "tags",
    "consul_token",
    "consul_token_accessor",
    "consul_login",
    "placement",
}
_UPDATE_KEYS = {"error_rate", "error_code", "latency_ms", "health_code", "message"}


class WorkloadError(Exception):
    """A request the host refuses; ``status`` is the HTTP status the control API answers."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Upstream:
    """An upstream as registered: on a local TCP port, or on a Unix socket (not both)."""

    name: str
    local_bind_port: int | None
    partition: str | None = None
    peer: str | None = None
    local_bind_socket_path: str | None = None

    def uri(self, host: str) -> str:
        """Where the workload calls it (fake-service's ``UPSTREAM_URIS``); ``host``: the
        address a TCP upstream listens on."""
        if self.local_bind_socket_path:
            return unix_uri(self.local_bind_socket_path)
        return f"http://{host}:{self.local_bind_port}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "local_bind_port": self.local_bind_port,
            "local_bind_socket_path": self.local_bind_socket_path,
            "partition": self.partition,
            "peer": self.peer,
        }


@dataclass
class Workload:
    """One running instance and what it was registered as."""

    id: str
    name: str
    version: str
    partition: str
    runtime: str
    service: FakeService
    upstreams: list[Upstream]
    check_interval: str
    tags: list[str] = field(default_factory=list)
    consul_token: str | None = field(default=None, repr=False)
    """The Consul ACL token it registers and deregisters with (a secret: never listed)."""
    consul_token_accessor: str | None = None
    """That token's AccessorID (not a secret): the login's, or as the caller gave it."""
    auth_method: str | None = None
    """The auth method the token came from (None: the caller's token); logged out on stop."""
    placement: dict[str, str] = field(default_factory=dict)
    """What placed it (the sandbox's scheduler: the ECS service and task definition it runs
    for); empty for an instance started by hand. Not registered in Consul."""
    socket_folder: str | None = None
    """Its own folder of Unix sockets (the application's, the upstreams'); removed on stop."""

    @property
    def sidecar_id(self) -> str:
        return f"{self.id}-sidecar-proxy"

    def to_dict(self) -> dict[str, Any]:
        cfg = self.service.config
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "partition": self.partition,
            "runtime": self.runtime,
            "address": self.service.host,
            "port": self.service.port,
            "url": self.service.address,
            "socket_path": self.service.socket_path,
            "sidecar_id": self.sidecar_id,
            "upstreams": [u.to_dict() for u in self.upstreams],
            "error_rate": cfg.error_rate,
            "error_code": cfg.error_code,
            "latency_ms": {
                "p50": cfg.latency_ms.p50,
                "p90": cfg.latency_ms.p90,
                "p99": cfg.latency_ms.p99,
            },
            "health_code": cfg.health_code,
            "message": cfg.message,
            "check_interval": self.check_interval,
            "consul_token_accessor": self.consul_token_accessor,
            "consul_auth_method": self.auth_method,
            "placement": dict(self.placement),
            "served": {str(k): v for k, v in sorted(self.service.served.items())},
        }


def _number(spec: dict[str, Any], key: str, kind: type, default: Any) -> Any:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WorkloadError(f"{key} must be a number")
    return kind(value)


def _parse_login(value: Any) -> dict[str, str] | None:
    """``consul_login``: ``{"auth_method": name, "bearer_token": JWT}`` (or None)."""
    if value is None:
        return None
    if (
        not isinstance(value, dict)
        or set(value) != {"auth_method", "bearer_token"}
        or not all(isinstance(v, str) and v for v in value.values())
    ):
        raise WorkloadError("consul_login must be {auth_method, bearer_token}, non-empty strings")
    return dict(value)


def _placement(value: Any) -> dict[str, str]:
    """``placement``: at most 12 string keys, each value a string of at most 512 characters."""
    if value is None:
        return {}
    if (
        not isinstance(value, dict)
        or len(value) > 12
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
        or any(len(k) > 64 or len(v) > 512 for k, v in value.items())
    ):
        raise WorkloadError("placement must map at most 12 names to strings (512 characters)")
    return dict(value)


def _timing(value: Any) -> Timing:
    if value is None:
        return Timing()
    if not isinstance(value, dict) or set(value) - {"p50", "p90", "p99"}:
        raise WorkloadError("latency_ms must be an object with p50, p90, p99 (milliseconds)")
    for k, v in value.items():
        if isinstance(v, bool) or not isinstance(v, int | float | None):
            raise WorkloadError(f"latency_ms.{k} must be a number")
    try:
        return Timing(**{k: (float(v) if v is not None else None) for k, v in value.items()})
    except (TypeError, ValueError) as exc:
        raise WorkloadError(str(exc)) from None


class WorkloadHost:
    """Starts, changes and stops workloads, keeping Consul's catalog in step."""

    def __init__(
        self,
        consul_addr: str,
        host: str = "127.0.0.1",
        check_interval: str = "1s",
        socket_dir: str | None = None,
    ) -> None:
        """``socket_dir``: where the workloads' Unix sockets go (module docstring); None:
        they listen on TCP ports, reachable directly."""
        self.consul_addr = consul_addr.rstrip("/")
        self.host = host
        self.check_interval = check_interval
        self.socket_dir = socket_dir
        if socket_dir:
            if len(os.path.join(socket_dir, _LONGEST_SOCKET)) >= _UNIX_PATH_MAX:
                # A Unix socket's path has at most 107 bytes: a deep folder gives way to a
                # short one of its own (mode 0700 too).
                self.socket_dir = tempfile.mkdtemp(prefix="soa-lab-workloads-")
            os.makedirs(self.socket_dir, mode=0o700, exist_ok=True)
            os.chmod(self.socket_dir, 0o700)
        self._sockets = 0
        self._http = requests.Session()
        self._lock = threading.RLock()
        self._workloads: dict[str, Workload] = {}
        self._seq: dict[tuple[str, str], int] = {}

    # -- Consul agent API -------------------------------------------------------------------
    def _consul(
        self, method: str, path: str, partition: str, body: Any = None, token: str | None = None
    ) -> Any:
        params = {"partition": partition} if partition != "default" else None
        headers = {"X-Consul-Token": token} if token else None
        try:
            resp = self._http.request(
                method,
                self.consul_addr + path,
                params=params,
                json=body,
                headers=headers,
                timeout=10,
            )
        except requests.RequestException as exc:
            msg = f"Consul at {self.consul_addr} is unreachable: {exc}"
            raise WorkloadError(msg, 502) from None
        if resp.status_code >= 300:
            text = resp.text.strip()[:300]
            status = 403 if resp.status_code == 403 else 502
            raise WorkloadError(
                f"Consul {method} {path} answered {resp.status_code}: {text}", status
            )
        try:
            return resp.json() if resp.content else None
        except ValueError:
            return None

    def _login(self, wl: Workload, login: dict[str, str]) -> None:
        """``POST /v1/acl/login``: the instance's own token, from its workload identity."""
        body = {
            "AuthMethod": login["auth_method"],
            "BearerToken": login["bearer_token"],
            "Meta": {"workload": wl.id},
        }
        token = self._consul("POST", "/v1/acl/login", wl.partition, body)
        wl.consul_token, wl.consul_token_accessor = token["SecretID"], token["AccessorID"]
        wl.auth_method = login["auth_method"]

    def _logout(self, wl: Workload) -> None:
        """``POST /v1/acl/logout`` with the login's token: Consul deletes it."""
        if not wl.auth_method:
            return
        try:
            self._consul("POST", "/v1/acl/logout", wl.partition, token=wl.consul_token)
        except WorkloadError:
            pass  # Consul is gone (shutdown) or the token already is (a reset): nothing to do
        wl.consul_token = wl.auth_method = None

    def _register(self, wl: Workload) -> None:
        svc = wl.service
        meta = {"version": wl.version, "runtime": wl.runtime}
        service = {
            "ID": wl.id,
            "Name": wl.name,
            "Address": svc.host,
            "Port": svc.port,
            "Tags": [wl.version, *wl.tags],
            "Meta": meta,
            **({"SocketPath": svc.socket_path} if svc.socket_path else {}),
            "Check": {
                "CheckID": f"service:{wl.id}",
                "Name": f"HTTP /health on {wl.id}",
                "HTTP": f"{svc.address}/health",
                "Method": "GET",
                "Interval": wl.check_interval,
                "Timeout": "1s",
                "Status": "passing",
            },
        }
        upstreams = []
        for up in wl.upstreams:
            item: dict[str, Any] = {"DestinationType": "service", "DestinationName": up.name}
            if up.local_bind_socket_path:
                item["LocalBindSocketPath"] = up.local_bind_socket_path
                item["LocalBindSocketMode"] = _SOCKET_MODE
            else:
                item["LocalBindAddress"] = self.host
                item["LocalBindPort"] = up.local_bind_port
            if up.partition:
                item["DestinationPartition"] = up.partition
            if up.peer:
                item["DestinationPeer"] = up.peer
            upstreams.append(item)
        sidecar = {
            "ID": wl.sidecar_id,
            "Name": f"{wl.name}-sidecar-proxy",
            "Kind": "connect-proxy",
            "Address": svc.host,
            # The sidecar's public port: the sandbox's Envoy listens there (mTLS, the
            # intentions' RBAC) and forwards to the workload's local address.
            "Port": free_port(self.host),
            "Meta": meta,
            "Proxy": {
                "DestinationServiceName": wl.name,
                "DestinationServiceID": wl.id,
                **(
                    {"LocalServiceSocketPath": svc.socket_path}
                    if svc.socket_path
                    else {"LocalServiceAddress": svc.host, "LocalServicePort": svc.port}
                ),
                "Upstreams": upstreams,
            },
        }
        if wl.partition != "default":
            service["Partition"] = sidecar["Partition"] = wl.partition
        token = wl.consul_token
        self._consul("PUT", "/v1/agent/service/register", wl.partition, service, token)
        try:
            self._consul("PUT", "/v1/agent/service/register", wl.partition, sidecar, token)
        except WorkloadError:
            self._deregister(wl, sidecar=False)
            raise

    def _deregister(self, wl: Workload, sidecar: bool = True) -> None:
        ids = [wl.sidecar_id, wl.id] if sidecar else [wl.id]
        for sid in ids:
            try:
                self._consul(
                    "PUT",
                    f"/v1/agent/service/deregister/{sid}",
                    wl.partition,
                    token=wl.consul_token,
                )
            except WorkloadError:
                pass  # Consul may be gone at shutdown; nothing else to do

    # -- operations --------------------------------------------------------------------------
    def start(self, spec: dict[str, Any]) -> list[Workload]:
        """Start ``count`` instances described by ``spec`` (see the control API) and register
        them; validates everything first, so a refused request starts nothing."""
        if not isinstance(spec, dict):
            raise WorkloadError("the body must be a JSON object")
        unknown = set(spec) - _SPEC_KEYS
        if unknown:
            raise WorkloadError(f"unknown field(s): {', '.join(sorted(unknown))}")
        name = spec.get("name")
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
            raise WorkloadError("name must be a valid Consul service name (letters, digits, -)")
        version = str(spec.get("version") or "v1")
        partition = str(spec.get("partition") or "default")
        runtime = str(spec.get("runtime") or "ec2")
        for key, value in (("version", version), ("partition", partition), ("runtime", runtime)):
            if not _NAME_RE.fullmatch(value) and not re.fullmatch(r"[A-Za-z0-9._-]+", value):
                raise WorkloadError(f"{key} {value!r} is not valid")
        count = _number(spec, "count", int, 1)
        if not 1 <= count <= 50:
            raise WorkloadError("count must be between 1 and 50")
        wanted_id = spec.get("id")
        if wanted_id is not None and (
            count != 1 or not isinstance(wanted_id, str) or not _NAME_RE.fullmatch(wanted_id)
        ):
            raise WorkloadError("id must be a valid name, and only with count 1")
        interval = str(spec.get("check_interval") or self.check_interval)
        if not _DURATION_RE.fullmatch(interval):
            raise WorkloadError(f"check_interval {interval!r} is not a duration like '1s'")
        tags = spec.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise WorkloadError("tags must be a list of strings")
        ups = self._parse_upstreams(spec.get("upstreams") or [])
        message = spec.get("message")
        if message is not None and not isinstance(message, str):
            raise WorkloadError("message must be a string")
        token = spec.get("consul_token")
        accessor = spec.get("consul_token_accessor")
        for key, value in (("consul_token", token), ("consul_token_accessor", accessor)):
            if value is not None and (not isinstance(value, str) or not value):
                raise WorkloadError(f"{key} must be a non-empty string")
        login = _parse_login(spec.get("consul_login"))
        placement = _placement(spec.get("placement"))
        if login is not None and (token is not None or accessor is not None):
            raise WorkloadError("give consul_login or consul_token, not both")
        base = WorkloadConfig(
            name=name,
            version=version,
            message=message if message is not None else f"{name} {version}",
            error_rate=_number(spec, "error_rate", float, 0.0),
            error_code=_number(spec, "error_code", int, 500),
            latency_ms=_timing(spec.get("latency_ms")),
            health_code=_number(spec, "health_code", int, 200),
            upstream_workers=_number(spec, "upstream_workers", int, 1),
        )
        try:
            base.validate()
        except ValueError as exc:
            raise WorkloadError(str(exc)) from None

        started: list[Workload] = []
        with self._lock:
            if wanted_id is not None and wanted_id in self._workloads:
                raise WorkloadError(f"workload {wanted_id!r} already exists", 409)
            try:
                for _ in range(count):
                    wl = self._start_one(
                        base, wanted_id, partition, runtime, ups, interval, tags, token, accessor,
                        login, placement,
                    )  # fmt: skip
                    started.append(wl)
            except Exception:
                for wl in started:
                    self._stop(wl)
                raise
        return started

    def _parse_upstreams(self, raw: Any) -> list[dict[str, Any]]:
        if not isinstance(raw, list):
            raise WorkloadError("upstreams must be a list of service names or objects")
        out = []
        for item in raw:
            if isinstance(item, str):
                item = {"name": item}
            if not isinstance(item, dict) or set(item) - {"name", "partition", "peer"}:
                raise WorkloadError("an upstream is a name or {name, partition?, peer?}")
            if not isinstance(item.get("name"), str) or not _NAME_RE.fullmatch(item["name"]):
                raise WorkloadError(f"upstream name {item.get('name')!r} is not valid")
            out.append(item)
        return out

    def _start_one(
        self,
        base: WorkloadConfig,
        wanted_id: str | None,
        partition: str,
        runtime: str,
        ups: list[dict[str, Any]],
        interval: str,
        tags: list[str],
        token: str | None = None,
        accessor: str | None = None,
        login: dict[str, str] | None = None,
        placement: dict[str, str] | None = None,
    ) -> Workload:
        key = (base.name, base.version)
        wid = wanted_id
        while wid is None or wid in self._workloads:
            self._seq[key] = self._seq.get(key, 0) + 1
            wid = f"{base.name}-{base.version}-{self._seq[key]}"
        folder = socket_path = None
        if self.socket_dir:
            self._sockets += 1  # short names: the paths must fit sun_path
            folder = os.path.join(self.socket_dir, f"w{self._sockets}")
            os.makedirs(folder, mode=0o700, exist_ok=True)
            os.chmod(folder, 0o700)
            socket_path = os.path.join(folder, "app.sock")
        upstreams = [
            Upstream(
                u["name"],
                None if folder else free_port(self.host),
                u.get("partition"),
                u.get("peer"),
                os.path.join(folder, f"u{i}.sock") if folder else None,
            )
            for i, u in enumerate(ups, 1)
        ]
        cfg = WorkloadConfig(
            **{**base.__dict__, "upstream_uris": [u.uri(self.host) for u in upstreams]}
        )
        try:
            service = FakeService(cfg, host=self.host, socket_path=socket_path).start()
        except Exception:
            _remove(folder)
            raise
        wl = Workload(
            wid,
            base.name,
            base.version,
            partition,
            runtime,
            service,
            upstreams,
            interval,
            list(tags),
            token,
            accessor,
            placement=dict(placement or {}),
            socket_folder=folder,
        )
        try:
            if login is not None:
                self._login(wl, login)
            self._register(wl)
        except Exception:
            self._logout(wl)
            service.stop()
            _remove(folder)
            raise
        self._workloads[wid] = wl
        return wl

    def list(self, name: str | None = None) -> list[Workload]:
        with self._lock:
            return [w for w in self._workloads.values() if name is None or w.name == name]

    def get(self, workload_id: str) -> Workload:
        with self._lock:
            wl = self._workloads.get(workload_id)
        if wl is None:
            raise WorkloadError(f"no workload {workload_id!r}", 404)
        return wl

    def update(self, workload_id: str, changes: dict[str, Any]) -> Workload:
        """Change error rate, error code, latency, health code or message at runtime."""
        wl = self.get(workload_id)
        if not isinstance(changes, dict) or not changes:
            raise WorkloadError("the body must be a non-empty JSON object")
        unknown = set(changes) - _UPDATE_KEYS
        if unknown:
            raise WorkloadError(f"cannot change: {', '.join(sorted(unknown))}")
        parsed: dict[str, Any] = {}
        for key, value in changes.items():
            if key == "latency_ms":
                parsed[key] = _timing(value)
            elif key == "message":
                if not isinstance(value, str):
                    raise WorkloadError("message must be a string")
                parsed[key] = value
            else:
                kind = float if key == "error_rate" else int
                parsed[key] = _number(changes, key, kind, None)
        try:
            wl.service.update(**parsed)
        except ValueError as exc:
            raise WorkloadError(str(exc)) from None
        return wl

    def stop(self, workload_id: str) -> Workload:
        with self._lock:
            wl = self.get(workload_id)
            self._workloads.pop(workload_id, None)
        self._stop(wl)
        return wl

    def _stop(self, wl: Workload) -> None:
        self._deregister(wl)
        self._logout(wl)
        wl.service.stop()
        _remove(wl.socket_folder)

    def stop_all(self) -> int:
        with self._lock:
            workloads = list(self._workloads.values())
            self._workloads.clear()
        for wl in workloads:
            self._stop(wl)
        return len(workloads)


def _remove(folder: str | None) -> None:
    """A workload's socket folder, and the sockets its sidecar's listeners left in it."""
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
