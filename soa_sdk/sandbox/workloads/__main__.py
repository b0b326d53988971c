"""``python -m soa_sdk.sandbox.workloads``: run a workload host and its control API.

    python -m soa_sdk.sandbox.workloads --host 127.0.0.1 --port 8500 \
        --consul-addr http://127.0.0.1:8500 --consul-token TOKEN [--check-interval 1s]

The Consul token may also come from ``CONSUL_HTTP_TOKEN`` (better: it stays out of ``ps``).
On SIGTERM or SIGINT every workload is deregistered and stopped.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading

from soa_sdk.sandbox.mesh.http1 import HTTPServer
from soa_sdk.sandbox.workloads.api import ControlAPI
from soa_sdk.sandbox.workloads.host import WorkloadHost


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m soa_sdk.sandbox.workloads")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--consul-addr", default=os.environ.get("CONSUL_HTTP_ADDR"))
    parser.add_argument("--consul-token", default=os.environ.get("CONSUL_HTTP_TOKEN"))
    parser.add_argument("--check-interval", default="1s")
    args = parser.parse_args(argv)
    if not args.consul_addr:
        parser.error("--consul-addr (or CONSUL_HTTP_ADDR) is required")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    addr = args.consul_addr if "://" in args.consul_addr else f"http://{args.consul_addr}"
    host = WorkloadHost(addr, args.consul_token, args.host, args.check_interval)
    server = HTTPServer(args.host, args.port, ControlAPI(host).handle, name="workload-host")
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    server.start()
    logging.info("workload host listening on http://%s:%s", server.host, server.port)
    print(f"listening on http://{server.host}:{server.port}", flush=True)
    done.wait()
    stopped = host.stop_all()
    server.close()
    logging.info("stopped %d workload(s)", stopped)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
