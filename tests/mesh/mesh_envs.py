"""Two ways to stand up Consul + the mesh + a workload host for the mesh tests.

- ``MemoryEnv``: the data plane in-process over ``MemoryCatalog`` (a stand-in of the Consul
  backend), the real ``WorkloadHost`` whose Consul calls land in that catalog, and a small
  HTTP check runner. Workloads, listeners and requests are real sockets.
- ``ConsulEnv``: the real thing end to end: the Consul emulator process with ``--mesh``, the
  workload host process, python-consul2 for config entries, the mesh admin URL read from KV.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from typing import Any

import requests

from soa_sdk.sandbox.mesh import MeshDataPlane
from soa_sdk.sandbox.mesh.matching import parse_duration
from soa_sdk.sandbox.mesh.view import MemoryCatalog
from soa_sdk.sandbox.ports import free_port
from soa_sdk.sandbox.workloads import WorkloadHost, WorkloadHostClient

CHECK_INTERVAL = 0.2  # what the workloads register
CONSUL_MIN_INTERVAL = 1.0  # Consul raises shorter check intervals to one second


class MemoryHost(WorkloadHost):
    """WorkloadHost whose agent API calls are applied to a MemoryCatalog."""

    def __init__(self, catalog: MemoryCatalog) -> None:
        super().__init__("http://unused.invalid", check_interval=f"{int(CHECK_INTERVAL * 1000)}ms")
        self.catalog = catalog
        self.checks: dict[str, tuple[str, float, str]] = {}  # id -> (url, interval, partition)

    def _consul(
        self, method: str, path: str, partition: str, body: Any = None, token: Any = None
    ) -> None:
        if path == "/v1/agent/service/register":
            svc = dict(body)
            svc["Service"] = svc.pop("Name")
            check = svc.pop("Check", None)
            self.catalog.register(svc, partition)
            if check:
                interval = parse_duration(check["Interval"], 1.0)
                self.checks[svc["ID"]] = (check["HTTP"], interval, partition)
        else:
            sid = path.rsplit("/", 1)[1]
            self.checks.pop(sid, None)
            self.catalog.deregister(sid, partition)


class _Env:
    """What the environments share: the config entries and ingress gateways a test adds,
    undone by :meth:`reset` (workloads too). Subclasses say how to write them."""

    host: Any

    def __init__(self) -> None:
        self._entries: set[tuple[str, str]] = set()
        self._ingress: list[str] = []

    def put_config(self, entry: dict[str, Any]) -> None:
        self._entries.add((entry["Kind"], entry["Name"]))
        self._put_config(entry)

    def register_ingress(self, name: str, port: int) -> None:
        self._ingress.append(name)
        self._register_ingress(name, port)

    def reset(self) -> None:
        self.host.stop_all()
        for sid in self._ingress:
            self._deregister_ingress(sid)
        for kind, name in sorted(self._entries, key=lambda e: _DELETE_ORDER.index(e[0])):
            self.delete_config(kind, name)
        self._entries.clear()
        self._ingress.clear()

    def delete_config(self, kind: str, name: str) -> None:
        raise NotImplementedError

    def _put_config(self, entry: dict[str, Any]) -> None:
        raise NotImplementedError

    def _register_ingress(self, name: str, port: int) -> None:
        raise NotImplementedError

    def _deregister_ingress(self, sid: str) -> None:
        raise NotImplementedError


# Gateways and routers first: Consul refuses to delete what others still use.
_DELETE_ORDER = [
    "ingress-gateway",
    "service-intentions",
    "service-router",
    "service-splitter",
    "service-resolver",
    "service-defaults",
    "proxy-defaults",
]


class _InProcessEnv(_Env):
    """An environment whose workload host runs in this process (a :class:`WorkloadHost`)."""

    host: WorkloadHost

    def start(self, name: str, version: str = "v1", **spec: Any) -> list[dict[str, Any]]:
        return [w.to_dict() for w in self.host.start({"name": name, "version": version, **spec})]

    def update(self, workload_id: str, **changes: Any) -> None:
        self.host.update(workload_id, changes)

    def workloads(self) -> list[dict[str, Any]]:
        return [w.to_dict() for w in self.host.list()]


class MemoryEnv(_InProcessEnv):
    name = "memory"
    check_interval = CHECK_INTERVAL  # the stand-in check runner has no minimum

    def __init__(self) -> None:
        super().__init__()
        self.catalog = MemoryCatalog()
        self.plane = MeshDataPlane(self.catalog).start()
        self.admin_url = self.plane.admin_url
        self.admin_headers: dict[str, str] = {}  # no ACLs
        self.host = MemoryHost(self.catalog)
        self._stop = threading.Event()
        self._checker = threading.Thread(target=self._run_checks, daemon=True)
        self._checker.start()

    def _run_checks(self) -> None:
        session = requests.Session()
        status: dict[str, str] = {}
        while not self._stop.wait(CHECK_INTERVAL):
            for sid, (url, _, partition) in list(self.host.checks.items()):
                try:
                    code = session.get(url, timeout=1).status_code
                except requests.RequestException:
                    code = 0
                new = "passing" if 200 <= code < 300 else "warning" if code == 429 else "critical"
                if status.get(sid) != new and sid in self.host.checks:
                    status[sid] = new
                    self.catalog.set_status(sid, new, partition)

    def _put_config(self, entry: dict[str, Any]) -> None:
        self.catalog.put_config_entry(entry)

    def delete_config(self, kind: str, name: str) -> None:
        self.catalog.delete_config_entry(kind, name)

    def _register_ingress(self, name: str, port: int) -> None:
        self.catalog.register(
            {
                "ID": name,
                "Service": name,
                "Kind": "ingress-gateway",
                "Port": port,
                "Address": "127.0.0.1",
            }
        )

    def _deregister_ingress(self, sid: str) -> None:
        self.catalog.deregister(sid)

    def close(self) -> None:
        self._stop.set()
        self.reset()
        self.plane.stop()


class BackendHost(WorkloadHost):
    """WorkloadHost whose agent API calls go straight to a ConsulBackend (no HTTP)."""

    def __init__(self, backend: Any) -> None:
        super().__init__("http://unused.invalid", check_interval=f"{int(CHECK_INTERVAL * 1000)}ms")
        self.backend = backend

    def _consul(
        self, method: str, path: str, partition: str, body: Any = None, token: Any = None
    ) -> None:
        if path == "/v1/agent/service/register":
            self.backend.register_service(body, partition)
        else:
            self.backend.deregister_service(path.rsplit("/", 1)[1], partition)


class BackendEnv(_InProcessEnv):
    """The real ConsulBackend (and its check runner) in-process, without its HTTP layer."""

    name = "backend"
    check_interval = CONSUL_MIN_INTERVAL

    def __init__(self) -> None:
        from soa_sdk.sandbox.consul import ConsulBackend

        super().__init__()
        self.backend = ConsulBackend(acl_enabled=False)
        self.plane = MeshDataPlane(self.backend).start()
        self.admin_url = self.backend.kv_raw("_sandbox/mesh/admin").decode()
        self.admin_headers: dict[str, str] = {}  # no ACLs
        self.host = BackendHost(self.backend)

    def _put_config(self, entry: dict[str, Any]) -> None:
        assert self.backend.config_apply(entry) is True

    def delete_config(self, kind: str, name: str) -> None:
        self.backend.config_delete(kind, name)

    def _register_ingress(self, name: str, port: int) -> None:
        self.backend.register_service(
            {"ID": name, "Name": name, "Kind": "ingress-gateway", "Port": port}
        )

    def _deregister_ingress(self, sid: str) -> None:
        self.backend.deregister_service(sid)

    def close(self) -> None:
        self.reset()
        self.plane.stop()
        self.backend.close()


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


class ConsulEnv(_Env):
    name = "consul"
    check_interval = CONSUL_MIN_INTERVAL

    def __init__(self) -> None:
        import consul  # python-consul2

        super().__init__()
        self.token = "mesh-test-root-token"
        self.port = free_port()
        self.addr = f"http://127.0.0.1:{self.port}"
        # The workload host's API token; it holds no Consul token (the client gives each
        # workload one with its service's identity).
        env = {**os.environ, "SOA_LAB_WORKLOADS_TOKEN": self.token}
        self._procs: list[subprocess.Popen[bytes]] = []
        consul_proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "soa_sdk.sandbox.consul",
                "--port",
                str(self.port),
                "--acl-initial-management",
                self.token,
                "--mesh",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._procs.append(consul_proc)
        _wait_http(self.addr + "/v1/status/leader", consul_proc)
        self.consul = consul.Consul(host="127.0.0.1", port=self.port, token=self.token)
        deadline = time.monotonic() + 10
        value = None
        while value is None and time.monotonic() < deadline:
            _, item = self.consul.kv.get("_sandbox/mesh/admin")
            value = item and item["Value"]
            if value is None:
                time.sleep(0.05)
        if value is None:
            raise RuntimeError("the mesh did not publish its admin URL in Consul KV")
        self.admin_url = value.decode()
        self.admin_headers = {"X-Consul-Token": self.token}
        host_port = free_port()
        host_proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "soa_sdk.sandbox.workloads",
                "--port",
                str(host_port),
                "--consul-addr",
                self.addr,
                "--check-interval",
                f"{int(CHECK_INTERVAL * 1000)}ms",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._procs.append(host_proc)
        self.host = WorkloadHostClient(
            f"http://127.0.0.1:{host_port}", self.token, self.addr, self.token
        )
        _wait_http(self.host.addr + "/v1/health", host_proc)
        self._http = requests.Session()
        self._http.headers["X-Consul-Token"] = self.token

    def start(self, name: str, version: str = "v1", **spec: Any) -> list[dict[str, Any]]:
        return self.host.start(name, version, **spec)

    def update(self, workload_id: str, **changes: Any) -> None:
        self.host.update(workload_id, **changes)

    def workloads(self) -> list[dict[str, Any]]:
        return self.host.list()

    def _put_config(self, entry: dict[str, Any]) -> None:
        assert self.consul.config.put(entry) is True

    def delete_config(self, kind: str, name: str) -> None:
        self.consul.config.delete(kind, name)

    def _register_ingress(self, name: str, port: int) -> None:
        resp = self._http.put(
            self.addr + "/v1/agent/service/register",
            json={
                "ID": name,
                "Name": name,
                "Kind": "ingress-gateway",
                "Port": port,
                "Address": "127.0.0.1",
            },
        )
        resp.raise_for_status()

    def _deregister_ingress(self, sid: str) -> None:
        self._http.put(f"{self.addr}/v1/agent/service/deregister/{sid}")

    def close(self) -> None:
        try:
            self.reset()
        finally:
            for proc in reversed(self._procs):
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
