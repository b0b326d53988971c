"""The session proxy against a loopback echo server: cancellation closes live connections,
the connection limit holds, an expired session is refused."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from .conftest import Api


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(4096):
            self.request.sendall(data)


@pytest.fixture(scope="module")
def echo() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _session(admin: Api, project: dict, port: int, **target: object) -> dict:
    t = admin.ok(
        "POST",
        "/v1/targets",
        {
            "scope_id": project["project"],
            "type": "tcp",
            "name": f"echo-{time.time_ns()}",
            "address": f"127.0.0.1:{port}",
            **target,
        },
    )
    return admin.ok("POST", f"/v1/targets/{t['id']}:authorize-session")["item"]


def _connect(admin: Api, auth: dict) -> tuple[str, int]:
    resp = admin.post("/sandbox/connect", {"authorization_token": auth["authorization_token"]})
    assert resp.status_code == 200, resp.text
    return resp.json()["address"], resp.json()["port"]


def _roundtrip(sock: socket.socket, data: bytes) -> bytes:
    sock.sendall(data)
    return sock.recv(4096)


def _closed(sock: socket.socket) -> bool:
    sock.settimeout(2)
    try:
        return sock.recv(1) == b""
    except OSError:
        return True


def test_cancel_closes_live_connections(admin: Api, project, echo: int):
    auth = _session(admin, project, echo)
    addr = _connect(admin, auth)
    with socket.create_connection(addr) as sock:
        assert _roundtrip(sock, b"hello") == b"hello"
        sess = admin.ok("GET", f"/v1/sessions/{auth['session_id']}")
        assert sess["status"] == "active"
        admin.ok("POST", f"/v1/sessions/{sess['id']}:cancel", {"version": sess["version"]})
        assert _closed(sock)
    final = admin.ok("GET", f"/v1/sessions/{auth['session_id']}")
    assert final["status"] == "terminated" and final["termination_reason"] == "canceled"
    assert final["connections"][0]["bytes_up"] == "5"
    # A canceled session's authorization token opens nothing any more.
    refused = admin.post("/sandbox/connect", {"authorization_token": auth["authorization_token"]})
    assert refused.status_code in (400, 401)


def test_connection_limit_is_enforced(admin: Api, project, echo: int):
    auth = _session(admin, project, echo, session_connection_limit=1)
    assert auth["connection_limit"] == 1
    addr = _connect(admin, auth)
    with socket.create_connection(addr) as first:
        assert _roundtrip(first, b"one") == b"one"
        with socket.create_connection(addr) as second:
            assert _closed(second)  # the second connection is refused
        assert _roundtrip(first, b"still") == b"still"
    deadline = time.time() + 5
    while admin.ok("GET", f"/v1/sessions/{auth['session_id']}")["status"] != "terminated":
        assert time.time() < deadline, "session did not end after its last connection"
        time.sleep(0.05)
    final = admin.ok("GET", f"/v1/sessions/{auth['session_id']}")
    assert final["termination_reason"] == "connection limit"


def test_expired_session_is_refused_and_closed(admin: Api, project, echo: int):
    auth = _session(admin, project, echo, session_max_seconds=1)
    addr = _connect(admin, auth)
    with socket.create_connection(addr) as sock:
        assert _roundtrip(sock, b"x") == b"x"
        time.sleep(1.2)
        assert _closed(sock)
    resp = admin.post("/sandbox/connect", {"authorization_token": auth["authorization_token"]})
    assert resp.status_code in (400, 401)
    final = admin.ok("GET", f"/v1/sessions/{auth['session_id']}")
    assert final["status"] == "terminated" and final["termination_reason"] == "timed out"
