"""Requests/s and added latency of the Envoy mesh (issue 14), side by side in one run.

    python benchmarks/envoy_mesh.py [-n 20000] [-c 8] [--concurrency 1] [--app fake-service]

Starts OpenBao (dev) for the Connect CA, the Consul emulator's backend in this process with
the ADS server, one Envoy for the runtime (the ``store`` and ``inventory`` sidecars and an
ingress gateway, over xDS), and as the workload a second Envoy answering ``200`` itself
(``direct_response``), so the workload costs next to nothing and the figures are the mesh's.
Then it drives ``-n`` requests over ``-c`` keep-alive connections (a load-generator child
process, raw HTTP/1.1) at:

- direct: the workload's own port;
- one sidecar: a plaintext Envoy hop to the workload (a static listener, no TLS, no RBAC);
- two-hop mTLS: store's upstream listener -> inventory's sidecar (mTLS, RBAC) -> workload;
- ingress: the ingress gateway -> inventory's sidecar (mTLS, RBAC) -> workload;

and prints requests/s, p50/p99 and what each path adds to direct, and the Envoys' RSS.
With ``--app fake-service`` the workload is a real :class:`FakeService` (in a child process,
on TCP) instead: "direct" and the hops then include the workloads' own HTTP stack
(``workloads/http1.py``) and its fake-service reply.
No figure is asserted anywhere: the numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import hvac
import psutil
import requests

from soa_sdk.sandbox.connect.ca import ConnectCA
from soa_sdk.sandbox.connect.controller import Controller
from soa_sdk.sandbox.consul import ConsulBackend
from soa_sdk.sandbox.envoy import EnvoyProcess, envoy_binary
from soa_sdk.sandbox.ports import free_port
from soa_sdk.sandbox.services.vault import bao_binary


def _static_envoy(folder: Path, listen: int, upstream: int | None, concurrency: int) -> Any:
    """An Envoy from a static bootstrap: a direct 200 (upstream None) or a plain proxy."""
    if upstream is None:
        route = {
            "match": {"prefix": "/"},
            "direct_response": {"status": 200, "body": {"inline_string": "ok\n"}},
        }
        clusters: list[dict[str, Any]] = []
    else:
        route = {"match": {"prefix": "/"}, "route": {"cluster": "app"}}
        clusters = [
            {
                "name": "app",
                "type": "STATIC",
                "connect_timeout": "1s",
                "load_assignment": {
                    "cluster_name": "app",
                    "endpoints": [
                        {
                            "lb_endpoints": [
                                {
                                    "endpoint": {
                                        "address": {
                                            "socket_address": {
                                                "address": "127.0.0.1",
                                                "port_value": upstream,
                                            }
                                        }
                                    }
                                }
                            ]
                        }
                    ],
                },
            }
        ]
    hcm = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager"
        ".v3.HttpConnectionManager",
        "stat_prefix": "bench",
        "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [route]}]},
        "http_filters": [
            {
                "name": "envoy.filters.http.router",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
                },
            }
        ],
    }
    boot = {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
        "static_resources": {
            "listeners": [
                {
                    "name": "l",
                    "address": {"socket_address": {"address": "127.0.0.1", "port_value": listen}},
                    "filter_chains": [
                        {
                            "filters": [
                                {
                                    "name": "envoy.filters.network.http_connection_manager",
                                    "typed_config": hcm,
                                }
                            ]
                        }
                    ],
                }
            ],
            "clusters": clusters,
        },
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "b.json").write_text(json.dumps(boot))
    return subprocess.Popen(
        [
            envoy_binary(),
            "-c",
            str(folder / "b.json"),
            "--disable-hot-restart",
            "--concurrency",
            str(concurrency),
            "--log-level",
            "error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def app_child(port: int) -> None:
    """Serve a fake-service workload on ``port`` until stdin closes."""
    from soa_sdk.sandbox.workloads import FakeService, WorkloadConfig

    app = FakeService(WorkloadConfig("inventory"), port=port).start()
    print("ready", flush=True)
    sys.stdin.read()
    app.stop()


def _fake_service(port: int) -> subprocess.Popen[Any]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--app-child", str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.readline()
    return proc


def load_child(port: int, n: int, conns: int) -> None:
    """Drive ``n`` GETs over ``conns`` keep-alive connections; print JSON latencies."""
    request = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    per = n // conns
    lat: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def worker() -> None:
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        mine = []
        buf = b""
        for _ in range(per):
            t0 = time.perf_counter()
            s.sendall(request)
            while True:
                head_end = buf.find(b"\r\n\r\n")
                if head_end >= 0:
                    head = buf[:head_end].lower()
                    i = head.find(b"content-length:")
                    length = int(head[i + 15 :].split(b"\r\n", 1)[0]) if i >= 0 else 0
                    total = head_end + 4 + length
                    if len(buf) >= total:
                        if not buf.startswith(b"HTTP/1.1 200"):
                            errors[0] += 1
                        buf = buf[total:]
                        break
                chunk = s.recv(65536)
                if not chunk:
                    raise ConnectionError("closed")
                buf += chunk
            mine.append(time.perf_counter() - t0)
        s.close()
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(conns)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    lat.sort()
    print(
        json.dumps(
            {
                "rps": len(lat) / elapsed,
                "p50_ms": 1000 * statistics.median(lat),
                "p99_ms": 1000 * lat[int(0.99 * (len(lat) - 1))],
                "errors": errors[0],
            }
        )
    )


def drive(port: int, n: int, conns: int) -> dict[str, float]:
    warm = subprocess.run(
        [sys.executable, __file__, "--child", str(port), str(min(n, 2000)), str(conns)],
        capture_output=True,
        text=True,
        check=True,
    )
    del warm
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(port), str(n), str(conns)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20000)
    ap.add_argument("-c", type=int, default=8)
    ap.add_argument("--concurrency", type=int, default=1, help="Envoy worker threads")
    ap.add_argument(
        "--app",
        choices=("envoy", "fake-service"),
        default="envoy",
        help="the workload: Envoy's direct_response (the mesh alone) or a FakeService",
    )
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-envoy-"))
    procs: list[subprocess.Popen[Any]] = []
    token = secrets.token_hex(16)
    vport = free_port()
    procs.append(
        subprocess.Popen(
            [
                bao_binary() or "bao",
                "server",
                "-dev",
                f"-dev-listen-address=127.0.0.1:{vport}",
                "-dev-no-store-token",
            ],
            env={**os.environ, "BAO_DEV_ROOT_TOKEN_ID": token},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    envoy = None
    controller = None
    try:
        client = hvac.Client(f"http://127.0.0.1:{vport}", token=token)
        for _ in range(200):
            try:
                if client.sys.is_initialized():
                    break
            except Exception:
                time.sleep(0.05)
        ca = ConnectCA(client)
        ca.setup()
        app_port, side_port, up_port, ing_port = free_port(), free_port(), free_port(), free_port()
        if args.app == "fake-service":
            procs.append(_fake_service(app_port))
        else:
            procs.append(_static_envoy(tmp / "app", app_port, None, args.concurrency))
        procs.append(_static_envoy(tmp / "side", side_port, app_port, args.concurrency))
        b = ConsulBackend(initial_management_token=token)
        b.register_service(
            {
                "Name": "inventory",
                "ID": "inventory-1",
                "Port": app_port,
                "Connect": {"SidecarService": {"Port": free_port()}},
            }
        )
        b.register_service(
            {
                "Name": "store",
                "ID": "store-1",
                "Port": free_port(),
                "Connect": {
                    "SidecarService": {
                        "Port": free_port(),
                        "Proxy": {
                            "Upstreams": [
                                {"DestinationName": "inventory", "LocalBindPort": up_port}
                            ]
                        },
                    }
                },
            }
        )
        b.register_service(
            {"Name": "ingress", "ID": "ingress-1", "Kind": "ingress-gateway", "Port": 8443}
        )
        b.config_apply({"Kind": "service-defaults", "Name": "inventory", "Protocol": "http"})
        b.config_apply(
            {
                "Kind": "ingress-gateway",
                "Name": "ingress",
                "Listeners": [
                    {
                        "Port": ing_port,
                        "Protocol": "http",
                        "Services": [{"Name": "inventory", "Hosts": ["*"]}],
                    }
                ],
            }
        )
        b.config_apply(
            {
                "Kind": "service-intentions",
                "Name": "inventory",
                "Sources": [
                    {"Name": "store", "Action": "allow"},
                    {"Name": "ingress", "Action": "allow"},
                ],
            }
        )
        controller = Controller(b, ca)
        ads_port = controller.start()
        envoy = EnvoyProcess(
            "rt",
            ads_port,
            tmp / "rt",
            metadata={"partition": "default"},
            concurrency=args.concurrency,
        )
        envoy.start()
        envoy.wait_ready()
        for port in (app_port, side_port, up_port, ing_port):
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if requests.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                time.sleep(0.1)
            else:
                raise SystemExit(f"port {port} never answered 200")
        results = {
            "direct": drive(app_port, args.n, args.c),
            "one sidecar (plaintext)": drive(side_port, args.n, args.c),
            "two-hop mTLS": drive(up_port, args.n, args.c),
            "ingress -> sidecar (mTLS)": drive(ing_port, args.n, args.c),
        }
        base = results["direct"]
        print(f"{args.n} requests, {args.c} keep-alive connections, ", end="")
        print(f"Envoy --concurrency {args.concurrency}, workload {args.app}")
        cols = ("req/s", "p50 ms", "p99 ms", "+p50", "+p99", "errors")
        print(f"{'path':28} " + " ".join(f"{c:>8}" for c in cols))
        for name, r in results.items():
            added50 = r["p50_ms"] - base["p50_ms"]
            added99 = r["p99_ms"] - base["p99_ms"]
            print(
                f"{name:28} {r['rps']:8.0f} {r['p50_ms']:8.3f} {r['p99_ms']:8.3f} "
                f"{added50:8.3f} {added99:8.3f} {r['errors']:8d}"
            )
        assert envoy.process is not None
        rss = psutil.Process(envoy.process.pid).memory_info().rss / 2**20
        print(f"mesh Envoy (2 sidecars + ingress) RSS after the run: {rss:.0f} MiB")
        for p in procs[1:]:
            mib = psutil.Process(p.pid).memory_info().rss / 2**20
            what = "workload" if args.app == "fake-service" and p is procs[1] else "static Envoy"
            print(f"{what} pid {p.pid} RSS: {mib:.0f} MiB")
    finally:
        if envoy is not None:
            envoy.stop()
        if controller is not None:
            controller.stop()
        for p in procs:
            if p.stdin is not None:
                p.stdin.close()
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        load_child(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--app-child":
        app_child(int(sys.argv[2]))
    else:
        main()
