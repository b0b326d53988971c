"""``python -m soa_sdk.sandbox.boundary``: a standalone emulated controller, like
``boundary dev`` (global scope, password auth method ``ampw_1234567890``, the admin user
``u_1234567890`` with account ``acctpw_1234567890`` and the default roles).

The admin password comes from the environment variable ``BOUNDARY_ADMIN_PASSWORD`` (a secret
on a command line shows in ``ps``); ``--admin-password`` is kept for quick manual runs."""

from __future__ import annotations

import argparse
import os
import signal
import sys

from .models import BoundaryBackend
from .server import create_server
from .urls import unimplemented

PASSWORD_ENV = "BOUNDARY_ADMIN_PASSWORD"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m soa_sdk.sandbox.boundary", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9200)
    p.add_argument("--admin-login-name", default="admin")
    p.add_argument("--admin-password",
                   help="prefer the BOUNDARY_ADMIN_PASSWORD environment variable")  # fmt: skip
    p.add_argument("--tls-port", type=int, help="also serve the API over TLS on this port")
    p.add_argument("--tls-cert-file", help="the TLS listener's certificate (PEM)")
    p.add_argument("--tls-key-file", help="the TLS listener's private key (PEM)")
    p.add_argument("--recording-s3-endpoint", help="S3 (moto) URL for session recordings")
    p.add_argument("--recording-region", default="us-east-1")
    p.add_argument("--auth-token-ttl", type=float, default=None,
                   help="seconds an auth token lives (Boundary's auth_token_time_to_live; "
                   "default 7 days)")  # fmt: skip
    p.add_argument("--list-unimplemented", action="store_true",
                   help="print the Boundary API operations the sandbox does not serve")  # fmt: skip
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.list_unimplemented:
        print("\n".join(unimplemented()))
        doc = (BoundaryBackend.__doc__ or "").split("Not implemented", 1)
        if len(doc) == 2:
            print("\nNot implemented" + " ".join(doc[1].split()))
        return 0
    password = os.environ.get(PASSWORD_ENV) or args.admin_password
    if not password:
        print(f"error: set {PASSWORD_ENV} (or --admin-password)", file=sys.stderr)
        return 2
    store = None
    if args.recording_s3_endpoint:
        from .recording import S3RecordingStore

        store = S3RecordingStore(args.recording_s3_endpoint, args.recording_region)
    backend = BoundaryBackend(recording_store=store)
    if args.auth_token_ttl is not None:
        if args.auth_token_ttl <= 0:
            print("error: --auth-token-ttl must be positive", file=sys.stderr)
            return 2
        backend.auth_token_ttl = args.auth_token_ttl
    backend.bootstrap_dev(args.admin_login_name, password)
    tls = None
    if args.tls_port:
        if not (args.tls_cert_file and args.tls_key_file):
            print("error: --tls-port needs --tls-cert-file and --tls-key-file", file=sys.stderr)
            return 2
        tls = (args.tls_port, args.tls_cert_file, args.tls_key_file)
    server = create_server(backend, args.host, args.port, tls)

    def _stop(signum, frame):  # serve_forever returns once shutdown runs in another thread
        import threading

        threading.Thread(target=server.stop, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"boundary sandbox listening on {server.url}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
