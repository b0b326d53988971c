"""A sidecar's upstream listeners are reachable only where its workload is (issue 12).

On ECS or EKS the listener a workload dials to call an upstream through the mesh is on the
task's or pod's own loopback: nothing outside it can call a service as that workload. The
sandbox's workloads share one machine, so the workload host registers every upstream with
Consul's ``LocalBindSocketPath`` (a Unix socket in the workload's own 0700 folder) and
``LocalBindSocketMode`` 0600 instead of a ``LocalBindPort``: Envoy has no TCP listener that
calls a service as another, and another user of the machine cannot open the socket. The
workloads (and the SDK's probes, as the sandbox's own user) still call through them.
"""

from __future__ import annotations

import os
import stat
import subprocess
import tempfile
from typing import Any

import pytest
import requests

from .test_anonymous_sweep import envoy_listeners

#: What a local process of another user meets when it dials a socket: its errno's name.
_DIAL = """
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1])
    print("connected")
except OSError as error:
    print(type(error).__name__)
"""
NOBODY = 65534


@pytest.fixture(scope="module")
def ecs(lab: Any) -> Any:
    """The production runtime ``runtime-ecs`` (created when missing)."""
    lab.org.require()
    return lab.runtime.require("runtime-ecs")


def _listeners(lab: Any) -> list[dict[str, Any]]:
    reply = requests.get(
        lab.sandbox.envoy_admin_urls[0] + "/listeners",
        params={"format": "json"},
        headers=lab.sandbox.envoy_admin_headers,
        timeout=5,
    )
    reply.raise_for_status()
    return list(reply.json()["listener_statuses"])


def _dial_as_nobody(path: str) -> str:
    """Connect to the Unix socket ``path`` from a process of user ``nobody``."""
    done = subprocess.run(
        ["/usr/bin/python3", "-c", _DIAL, path],
        user=NOBODY,
        group=NOBODY,
        extra_groups=[],
        cwd="/",
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout.strip()


def test_no_tcp_port_calls_a_service_as_another(lab: Any, sandbox: Any, ecs: Any) -> None:
    """No TCP listener of the Envoy but the admin guard, sidecars' public listeners (mTLS)
    and the ingress; each upstream of each store is a pipe listener on a socket of mode 0600
    in that store's own folder (0700), both the sandbox's user's."""
    assert envoy_listeners(lab, sandbox)["upstream"] == []
    pipes = {
        item["name"]: item["local_address"]["pipe"]["path"]
        for item in _listeners(lab)
        if "pipe" in item["local_address"]
    }
    stores = lab.workloads.list("store")
    assert stores, "runtime-ecs runs store"
    for workload in stores:
        folder = os.path.dirname(workload["socket_path"])
        assert {u["name"] for u in workload["upstreams"]} == {"inventory", "customers", "payments"}
        for upstream in workload["upstreams"]:
            path = upstream["local_bind_socket_path"]
            assert upstream["local_bind_port"] is None and os.path.dirname(path) == folder
            assert pipes[f"{upstream['name']}:{path}"] == path
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
            assert os.stat(path).st_uid == os.getuid()
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
        assert os.stat(folder).st_uid == os.getuid()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to run a client as another user")
def test_another_user_cannot_open_an_upstream_socket(lab: Any, ecs: Any) -> None:
    """Through the folder, or through a link to the socket in a folder anyone may enter (so
    that the socket's own mode is what refuses)."""
    (workload, *_) = lab.workloads.list("store")
    path = next(u for u in workload["upstreams"] if u["name"] == "inventory")
    path = path["local_bind_socket_path"]
    with tempfile.TemporaryDirectory(prefix="uds-link-") as open_folder:
        os.chmod(open_folder, 0o755)
        link = os.path.join(open_folder, "inventory.sock")
        os.link(path, link)
        assert _dial_as_nobody(path) == "PermissionError"
        assert _dial_as_nobody(link) == "PermissionError"
        os.chmod(link, 0o666)  # the same socket, open to all: the client is not what refuses
        try:
            assert _dial_as_nobody(link) == "connected"
        finally:
            os.chmod(link, 0o600)


def test_the_workloads_and_the_probes_still_call_through_them(lab: Any, ecs: Any) -> None:
    status, reply = lab.runtime.call("runtime-ecs", "/")
    assert status == 200, reply
    calls = reply["upstream_calls"]
    assert {c["name"] for c in calls.values()} == {"inventory", "customers", "payments"}
    assert all(uri.startswith("http+unix://") for uri in calls)
    assert all(c["code"] == 200 for c in calls.values())
    allowed = lab.observe.attempt_call("runtime-ecs", "store", "inventory")
    assert (allowed.status, allowed.denied) == (200, False)
    denied = lab.observe.attempt_call("runtime-ecs", "inventory", "store")
    assert denied.denied, denied
    sidecar = lab.runtime.proxy_config("runtime-ecs", "store")
    upstreams = [r for r in sidecar.listeners.rows if r["role"].startswith("upstream")]
    assert len(upstreams) == 3 * len(lab.workloads.list("store"))
    assert all(r["address"].startswith("unix:/") for r in upstreams)
