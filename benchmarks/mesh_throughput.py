"""Throughput and latency of the sandbox mesh: a workload called directly vs through the mesh.

    python benchmarks/mesh_throughput.py [-n 5000] [-c 8] [--backend auto|consul|memory]

Starts Consul (the emulator process with ``--mesh``) and a workload host process, then a
leaf workload ``inventory`` and a ``web`` workload whose sidecar has ``inventory`` as an
upstream, and an ingress gateway listener for ``inventory``. It drives N requests with K
concurrent clients (keep-alive connections, this process) at three places:

- direct: the inventory workload's own port;
- sidecar: web's upstream listener (router/splitter/resolver/intentions on every request);
- ingress: the ingress gateway listener;

and prints requests/s, p50 and p99 latency for each, the latency the mesh adds (p50, p99)
and the throughput ratio. With ``--backend memory`` (or ``auto`` while the Consul emulator
is missing), one child process runs the data plane over an in-memory catalog together with
the workloads, which is a harsher setting (plane and workloads share one GIL).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

import requests

from soa_sdk.sandbox.mesh.http1 import ConnectionPool
from soa_sdk.sandbox.ports import free_port

TOKEN = "bench-root-token"


def _wait(url: str, proc: subprocess.Popen[Any], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args} exited with {proc.returncode}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not come up")


def consul_stack(procs: list[subprocess.Popen[Any]]) -> dict[str, str]:
    import consul

    from soa_sdk.sandbox.workloads import WorkloadHostClient

    port = free_port()
    addr = f"http://127.0.0.1:{port}"
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "soa_sdk.sandbox.consul",
            "--port",
            str(port),
            "--acl-initial-management",
            TOKEN,
            "--mesh",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    procs.append(p)
    _wait(addr + "/v1/status/leader", p)
    host_port = free_port()
    h = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "soa_sdk.sandbox.workloads",
            "--port",
            str(host_port),
            "--consul-addr",
            addr,
        ],
        env={**os.environ, "SOA_LAB_WORKLOADS_TOKEN": TOKEN},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    procs.append(h)
    _wait(f"http://127.0.0.1:{host_port}/v1/health", h)
    c = consul.Consul(port=port, token=TOKEN)
    for name in ("inventory", "web"):
        c.config.put({"Kind": "service-defaults", "Name": name, "Protocol": "http"})
    host = WorkloadHostClient(f"http://127.0.0.1:{host_port}", TOKEN, addr, TOKEN)
    (inv,) = host.start("inventory", "v1")
    (web,) = host.start("web", "v1", upstreams=["inventory"])
    ingress_port = free_port()
    c.config.put(
        {
            "Kind": "ingress-gateway",
            "Name": "ingress-gateway",
            "Listeners": [
                {"Port": ingress_port, "Protocol": "http", "Services": [{"Name": "inventory"}]}
            ],
        }
    )
    requests.put(
        addr + "/v1/agent/service/register",
        headers={"X-Consul-Token": TOKEN},
        json={"Name": "ingress-gateway", "Kind": "ingress-gateway", "Port": ingress_port},
        timeout=5,
    ).raise_for_status()
    return {
        "direct": inv["url"],
        "sidecar": f"http://127.0.0.1:{web['upstreams'][0]['local_bind_port']}",
        "ingress": f"http://127.0.0.1:{ingress_port}",
    }


def memory_stack_child() -> None:
    """Child process: plane + in-memory catalog + workloads; prints the URLs, then waits."""
    from soa_sdk.sandbox.mesh import MeshDataPlane
    from soa_sdk.sandbox.mesh.view import MemoryCatalog
    from soa_sdk.sandbox.workloads import FakeService, WorkloadConfig

    cat = MemoryCatalog()
    plane = MeshDataPlane(cat).start()
    inv = FakeService(WorkloadConfig("inventory", message="inventory v1")).start()
    cat.register(
        {
            "ID": "inventory-v1-1",
            "Service": "inventory",
            "Address": "127.0.0.1",
            "Port": inv.port,
            "Meta": {"version": "v1"},
        }
    )
    up, ingress = free_port(), free_port()
    cat.register(
        {
            "ID": "web-sidecar-proxy",
            "Service": "web-sidecar-proxy",
            "Kind": "connect-proxy",
            "Port": free_port(),
            "Proxy": {
                "DestinationServiceName": "web",
                "Upstreams": [{"DestinationName": "inventory", "LocalBindPort": up}],
            },
        }
    )
    cat.put_config_entry(
        {
            "Kind": "ingress-gateway",
            "Name": "ingress-gateway",
            "Listeners": [
                {"Port": ingress, "Protocol": "http", "Services": [{"Name": "inventory"}]}
            ],
        }
    )
    cat.register(
        {
            "ID": "ingress-gateway",
            "Service": "ingress-gateway",
            "Kind": "ingress-gateway",
            "Port": ingress,
        }
    )
    print(
        json.dumps(
            {
                "direct": inv.address,
                "sidecar": f"http://127.0.0.1:{up}",
                "ingress": f"http://127.0.0.1:{ingress}",
            }
        ),
        flush=True,
    )
    sys.stdin.read()
    plane.stop()


def drive(url: str, n: int, concurrency: int) -> dict[str, float]:
    """Send n GETs to url from `concurrency` threads; latency in ms, per request."""
    host, port = url.split("//", 1)[1].split(":")
    pool = ConnectionPool(timeout=10)
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    per_thread = [n // concurrency + (1 if i < n % concurrency else 0) for i in range(concurrency)]

    def worker(count: int) -> None:
        mine = []
        bad = 0
        for _ in range(count):
            t0 = time.perf_counter()
            resp = pool.request(host, int(port), "GET", "/", [("Host", f"{host}:{port}")])
            mine.append((time.perf_counter() - t0) * 1000)
            bad += resp.status != 200
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    for _ in range(200):  # warm up connections and caches
        pool.request(host, int(port), "GET", "/")
    threads = [threading.Thread(target=worker, args=(c,)) for c in per_thread]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    pool.close()
    q = statistics.quantiles(latencies, n=100)
    return {"rps": n / elapsed, "p50": q[49], "p99": q[98], "errors": errors[0]}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", "--requests", type=int, default=5000)
    parser.add_argument("-c", "--concurrency", type=int, default=8)
    parser.add_argument("--backend", choices=["auto", "consul", "memory"], default="auto")
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_stack_child()
        return 0
    backend = args.backend
    if backend == "auto":
        found = (
            importlib.util.find_spec("soa_sdk.sandbox.consul") is not None
            and importlib.util.find_spec("soa_sdk.sandbox.consul.__main__") is not None
        )
        backend = "consul" if found else "memory"
    procs: list[subprocess.Popen[Any]] = []
    try:
        if backend == "consul":
            urls = consul_stack(procs)
        else:
            child = subprocess.Popen(
                [sys.executable, __file__, "--memory-child"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            procs.append(child)
            assert child.stdout is not None
            urls = json.loads(child.stdout.readline())
        print(
            f"backend={backend} requests={args.requests} concurrency={args.concurrency} "
            f"cpus={os.cpu_count()}"
        )
        results = {}
        for name in ("direct", "sidecar", "ingress"):
            r = results[name] = drive(urls[name], args.requests, args.concurrency)
            print(
                f"{name:8s} {r['rps']:8.0f} req/s   p50 {r['p50']:6.2f} ms   "
                f"p99 {r['p99']:6.2f} ms   errors {r['errors']}"
            )
        d = results["direct"]
        for name in ("sidecar", "ingress"):
            r = results[name]
            print(
                f"{name:8s} adds p50 {r['p50'] - d['p50']:+.2f} ms, p99 "
                f"{r['p99'] - d['p99']:+.2f} ms; throughput ratio mesh/direct "
                f"{r['rps'] / d['rps']:.2f}"
            )
    finally:
        for p in reversed(procs):
            if p.stdin:
                p.stdin.close()
            p.terminate()
            p.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
