"""``python -m soa_sdk.sandbox.scheduler``: the sandbox's stand-in for ECS's scheduler.

    SOA_LAB_SCHEDULER_...=... python -m soa_sdk.sandbox.scheduler \
        --host 127.0.0.1 --port P --aws-url URL --workloads-record PATH --consul-addr URL \
        --vault-addr URL

``--workloads-record``: the workload host's run record (``<home>/run/workloads.json``), where
it finds the host (:mod:`.host`).

Its secrets come from the environment (a command line shows in ``ps``): the sandbox's AWS
root keys (for the feed), the workload host's API token, and the Consul and Vault tokens
with which :class:`~soa_sdk.sandbox.workloads.ConsulLogin` gives each started instance its
login (the orchestrator's part: the ECS agent handing a task its role). It answers
``GET /v1/health`` and ``GET /v1/status`` (:mod:`.api`) on its port. On SIGTERM it stops
reconciling; the instances stay with the workload host, which stops them when it stops.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from pathlib import Path

from soa_sdk.sandbox.scheduler.api import SchedulerAPI
from soa_sdk.sandbox.scheduler.feed import ComputeFeed
from soa_sdk.sandbox.scheduler.host import RecordedHost
from soa_sdk.sandbox.scheduler.loop import SchedulerLoop
from soa_sdk.sandbox.scheduler.reconciler import Reconciler
from soa_sdk.sandbox.workloads.api import loopback_hosts
from soa_sdk.sandbox.workloads.http1 import HTTPServer
from soa_sdk.sandbox.workloads.login import ConsulLogin

ENV = {
    "aws_access_key_id": "SOA_LAB_SCHEDULER_AWS_ACCESS_KEY_ID",
    "aws_secret_access_key": "SOA_LAB_SCHEDULER_AWS_SECRET_ACCESS_KEY",
    "workloads_token": "SOA_LAB_SCHEDULER_WORKLOADS_TOKEN",
    "consul_token": "SOA_LAB_SCHEDULER_CONSUL_TOKEN",
    "vault_token": "SOA_LAB_SCHEDULER_VAULT_TOKEN",
}
"""The environment variables the process reads its secrets from."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m soa_sdk.sandbox.scheduler")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    for name in ("--aws-url", "--workloads-record", "--consul-addr", "--vault-addr"):
        parser.add_argument(name, required=True)
    args = parser.parse_args(argv)
    secrets = {key: os.environ.get(variable, "") for key, variable in ENV.items()}
    missing = [ENV[key] for key, value in secrets.items() if not value]
    if missing:
        parser.error(f"set {', '.join(missing)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    login = ConsulLogin(
        args.consul_addr, secrets["consul_token"], args.vault_addr, secrets["vault_token"]
    )
    host = RecordedHost(Path(args.workloads_record), secrets["workloads_token"], login)
    feed = ComputeFeed(args.aws_url, secrets["aws_access_key_id"], secrets["aws_secret_access_key"])
    loop = SchedulerLoop(feed, Reconciler(host, feed))
    api = SchedulerAPI(secrets["workloads_token"], loop.status)
    server = HTTPServer(args.host, args.port, api.handle, name="scheduler")
    api.allowed_hosts = loopback_hosts(server.host, server.port)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    server.start()
    loop.start()
    logging.info("scheduler listening on http://%s:%s", server.host, server.port)
    print(f"listening on http://{server.host}:{server.port}", flush=True)
    done.wait()
    loop.stop()
    server.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
