"""Fixtures: a real emulator on a free loopback port, driven by python-consul2 and requests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import consul
import pytest
import requests

from soa_sdk.sandbox.consul import ConsulBackend, create_server

ROOT = "root-token-for-tests"


@dataclass
class Running:
    backend: ConsulBackend
    url: str
    port: int
    root: str

    def client(self, token: str | None = None) -> consul.Consul:
        return consul.Consul("127.0.0.1", self.port, token=token)

    def http(
        self, method: str, path: str, token: str | None = ROOT, **kw: object
    ) -> requests.Response:
        headers = dict(kw.pop("headers", {}) or {})  # type: ignore[call-overload]
        if token:
            headers["X-Consul-Token"] = token
        return requests.request(method, self.url + path, headers=headers, timeout=10, **kw)  # type: ignore[arg-type]


def _start(backend: ConsulBackend) -> Iterator[Running]:
    server = create_server(backend, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Running(backend, f"http://127.0.0.1:{server.server_port}", server.server_port, ROOT)
    finally:
        server.shutdown()
        backend.close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def module_consul() -> Iterator[Running]:
    yield from _start(ConsulBackend(initial_management_token=ROOT))


@pytest.fixture
def cs(module_consul: Running) -> Running:
    """The module's emulator, reset to an empty cluster before each test."""
    r = module_consul.http("PUT", "/v1/_sandbox/reset")
    assert r.status_code == 200, r.text
    return module_consul


@pytest.fixture
def root(cs: Running) -> consul.Consul:
    return cs.client(ROOT)


@pytest.fixture(scope="module")
def open_consul() -> Iterator[Running]:
    """An emulator with ACLs disabled."""
    yield from _start(ConsulBackend(acl_enabled=False))
