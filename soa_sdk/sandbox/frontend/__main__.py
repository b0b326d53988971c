"""``python -m soa_sdk.sandbox.frontend``: run the sandbox's CloudFront edge.

    SOA_LAB_FRONTEND_TOKEN=... AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... \\
        python -m soa_sdk.sandbox.frontend --port 8700 --aws-url http://127.0.0.1:5000 \\
        --consul-url http://127.0.0.1:8500 [--state-file PATH]

The token and the AWS keys come from the environment only (a command line shows in ``ps``).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from pathlib import Path

from soa_sdk.sandbox.frontend import TOKEN_ENV
from soa_sdk.sandbox.frontend.edge import AwsReader, Edge, OriginTrust


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m soa_sdk.sandbox.frontend")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--aws-url", required=True)
    parser.add_argument("--consul-url", required=True)
    parser.add_argument("--state-file", type=Path)
    args = parser.parse_args(argv)
    token = os.environ.get(TOKEN_ENV)
    keys = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not token or not all(keys):
        parser.error(f"set {TOKEN_ENV}, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    reader = AwsReader(args.aws_url, keys[0] or "", keys[1] or "")
    edge = Edge(reader, OriginTrust(args.consul_url), token, args.state_file)
    edge.restore()
    server = edge.serve(args.host, args.port)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    threading.Thread(target=server.serve_forever, daemon=True, name="edge").start()
    logging.info("CloudFront edge listening on http://%s:%s", *server.server_address[:2])
    done.wait()
    server.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
