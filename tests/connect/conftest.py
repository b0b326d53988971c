"""Fixtures: a real mesh in miniature, without the whole sandbox.

An in-process Consul emulator backend (ACLs on, so intentions default to deny), a real
OpenBao dev server for the Connect CA, the ADS server, one real Envoy holding every proxy,
and small HTTP workloads. Everything started here is stopped here.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import hvac
import pytest
import requests

from soa_sdk.sandbox.connect.ca import ConnectCA
from soa_sdk.sandbox.connect.controller import Controller
from soa_sdk.sandbox.consul import ConsulBackend
from soa_sdk.sandbox.envoy import EnvoyProcess
from soa_sdk.sandbox.ports import free_port
from soa_sdk.sandbox.services.vault import bao_binary


def soa_lab_cli(home: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """The real ``soa-lab`` CLI (``python -m soa_sdk.cli``) on the sandbox in ``home``."""
    return subprocess.run(
        [sys.executable, "-m", "soa_sdk.cli", *arguments],
        env={**os.environ, "SOA_LAB_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def eventually(check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05) -> Any:
    """``check()``'s first truthy value before ``timeout`` (generous: no timing asserted)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except Exception as exc:
            last = exc
        time.sleep(interval)
    raise AssertionError(f"not reached in {timeout}s; last: {last!r}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in two writes
    server: _Workload  # type: ignore[assignment]

    def do_GET(self) -> None:
        body = json.dumps(
            {
                "name": self.server.name,
                "version": self.server.version,
                "path": self.path,
                "xfcc": self.headers.get("x-forwarded-client-cert", ""),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class _Workload(ThreadingHTTPServer):
    daemon_threads = True
    name = ""
    version = ""


@dataclass
class Mesh:
    backend: ConsulBackend
    ca: ConnectCA
    controller: Controller
    envoy: EnvoyProcess
    workloads: list[_Workload] = field(default_factory=list)

    def workload(self, name: str, version: str = "v1") -> int:
        server = _Workload(("127.0.0.1", 0), _Handler)
        server.name, server.version = name, version
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.workloads.append(server)
        return server.server_address[1]

    def register(
        self,
        name: str,
        sid: str,
        version: str = "v1",
        upstreams: list[dict[str, Any]] | None = None,
        partition: str = "default",
    ) -> int:
        """A workload, its service and sidecar; returns the sidecar's public port."""
        port = self.workload(name, version)
        public = free_port()
        self.backend.register_service(
            {
                "Name": name,
                "ID": sid,
                "Port": port,
                "Meta": {"version": version},
                "Check": {"CheckID": f"{sid}-ttl", "TTL": "1h", "Status": "passing"},
                "Connect": {
                    "SidecarService": {
                        "Port": public,
                        "Proxy": {"Upstreams": upstreams or []},
                    }
                },
            },
            partition=partition,
        )
        return public

    def apply(self, entry: dict[str, Any], partition: str = "default") -> None:
        self.backend.config_apply(entry, partition=partition)

    def delete(self, kind: str, name: str, partition: str = "default") -> None:
        self.backend.config_delete(kind, name, partition=partition)


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[hvac.Client]:
    token = secrets.token_hex(16)
    port = free_port()
    log = tmp_path_factory.mktemp("bao") / "bao.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                bao_binary() or "bao",
                "server",
                "-dev",
                f"-dev-listen-address=127.0.0.1:{port}",
                "-dev-no-store-token",
            ],
            env={**os.environ, "BAO_DEV_ROOT_TOKEN_ID": token, "VAULT_DEV_ROOT_TOKEN_ID": token},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    client = hvac.Client(f"http://127.0.0.1:{port}", token=token)
    try:
        eventually(lambda: client.sys.is_initialized() and not client.sys.is_sealed())
        yield client
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def mesh(vault: hvac.Client, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    folder: Path = tmp_path_factory.mktemp("envoy")
    backend = ConsulBackend(initial_management_token=secrets.token_hex(8))
    ca = ConnectCA(vault)
    ca.setup()
    controller = Controller(backend, ca, access_log=str(folder / "access.log"))
    ads_port = controller.start()
    envoy = EnvoyProcess("rt", ads_port, folder, metadata={"partition": "*"})
    m = Mesh(backend, ca, controller, envoy)
    try:
        envoy.start()
        envoy.wait_ready()
        yield m
    finally:
        envoy.stop()
        controller.stop()
        for w in m.workloads:
            w.shutdown()
            w.server_close()
        backend.close()


def get(url: str, session: requests.Session | None = None, **kw: Any) -> requests.Response:
    return (session or requests).get(url, timeout=10, **kw)
