"""`python -m soa_sdk.sandbox.aws --host 127.0.0.1 --port P`: the sandbox AWS server."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType

from soa_sdk.sandbox.aws.server import AwsServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m soa_sdk.sandbox.aws", description=__doc__)
    parser.add_argument("-H", "--host", default="127.0.0.1", help="address to bind")
    parser.add_argument(
        "-p", "--port", type=int, default=int(os.environ.get("MOTO_PORT", 5000)), help="port"
    )
    args = parser.parse_args(argv)
    # moto builds some URLs (e.g. SQS queue URLs, presigned links) from MOTO_PORT.
    os.environ.setdefault("MOTO_PORT", str(args.port))

    server = AwsServer(args.host, args.port)

    def stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever to return, so it must run off the serving thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"soa-lab AWS sandbox (moto) serving on {server.url}", file=sys.stderr, flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
