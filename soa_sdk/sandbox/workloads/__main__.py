"""``python -m soa_sdk.sandbox.workloads``: run a workload host and its control API.

    SOA_LAB_WORKLOADS_TOKEN=... python -m soa_sdk.sandbox.workloads --host 127.0.0.1 \
        --port 8600 --consul-addr http://127.0.0.1:8500 [--check-interval 1s] \
        [--socket-dir FOLDER]

The API token comes from the environment only (a command line shows in ``ps``). The host
holds no Consul token: every workload registers with the token its start request brings.
With ``--socket-dir`` each workload gets a folder in it for its Unix sockets: its
application's, which only its sidecar dials, and its sidecar's upstream listeners, which only
it dials (:mod:`.host`). On SIGTERM or SIGINT every workload is
deregistered and stopped.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import threading

from soa_sdk.sandbox.workloads.api import TOKEN_ENV, ControlAPI, loopback_hosts
from soa_sdk.sandbox.workloads.host import WorkloadHost
from soa_sdk.sandbox.workloads.http1 import HTTPServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m soa_sdk.sandbox.workloads")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--consul-addr", default=os.environ.get("CONSUL_HTTP_ADDR"))
    parser.add_argument("--check-interval", default="1s")
    parser.add_argument("--socket-dir", help="the workloads listen on Unix sockets in it")
    args = parser.parse_args(argv)
    if not args.consul_addr:
        parser.error("--consul-addr (or CONSUL_HTTP_ADDR) is required")
    token = os.environ.get(TOKEN_ENV)
    if not token:
        parser.error(f"set {TOKEN_ENV}: every request to the control API must carry it")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    addr = args.consul_addr if "://" in args.consul_addr else f"http://{args.consul_addr}"
    host = WorkloadHost(addr, args.host, args.check_interval, args.socket_dir)
    api = ControlAPI(host, token)
    server = HTTPServer(args.host, args.port, api.handle, name="workload-host")
    api.allowed_hosts = loopback_hosts(server.host, server.port)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    server.start()
    logging.info("workload host listening on http://%s:%s", server.host, server.port)
    print(f"listening on http://{server.host}:{server.port}", flush=True)
    done.wait()
    stopped = host.stop_all()
    server.close()
    if host.socket_dir and host.socket_dir != args.socket_dir:  # a folder of its own
        shutil.rmtree(host.socket_dir, ignore_errors=True)
    logging.info("stopped %d workload(s)", stopped)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
