"""Run the emulator like ``consul agent -dev``.

``python -m soa_sdk.sandbox.consul --host 127.0.0.1 --port 8500
[--acl-initial-management TOKEN | --acl-disabled] [--datacenter dc1] [--node-name NAME]
[--vault-addr URL --grpc-port PORT [--access-log PATH] [--xds-status PATH]]
[--https-port PORT --tls-cert FILE --tls-key FILE]``

With ``--https-port`` the same API is also served over TLS on that port, as Consul's
``ports.https`` with ``tls.https.cert_file`` / ``key_file``.

With ``--vault-addr`` (the token in ``$VAULT_TOKEN``) the Connect CA runs on that Vault's PKI
engine (Consul's Vault CA provider) and, with ``--grpc-port``, the xDS server (ADS) for
Envoy on that port, as Consul's agent serves it on its gRPC port
(:class:`soa_sdk.sandbox.connect.controller.Controller`); with ``--xds-status`` it keeps what
the Envoys accepted and rejected in that JSON file (:mod:`soa_sdk.sandbox.connect.xds_status`).
Warnings (an Envoy's NACK among them) go to stderr, one line each, with the time.
``python -m soa_sdk.sandbox.consul --list-unimplemented`` prints what is left out.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from typing import Any

from .models import ConsulBackend
from .server import create_server


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m soa_sdk.sandbox.consul", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8500)
    acl = p.add_mutually_exclusive_group()
    acl.add_argument(
        "--acl-initial-management",
        metavar="TOKEN",
        default=os.environ.get("CONSUL_ACL_INITIAL_MANAGEMENT"),
        help="the management token (default: $CONSUL_ACL_INITIAL_MANAGEMENT, else generated)",
    )
    acl.add_argument("--acl-disabled", action="store_true", help="run with ACLs off")
    p.add_argument("--datacenter", default="dc1")
    p.add_argument("--node-name", default="sandbox")
    p.add_argument("--vault-addr", help="the Vault (OpenBao) of the Connect CA; $VAULT_TOKEN")
    p.add_argument("--grpc-port", type=int, help="serve xDS (ADS) to Envoy on this port")
    p.add_argument("--access-log", help="where the Envoys write their access log (JSON lines)")
    p.add_argument("--xds-status", help="a JSON file for what the Envoys accepted and rejected")
    p.add_argument("--https-port", type=int, help="also serve the API over TLS on this port")
    p.add_argument("--tls-cert", help="the HTTPS listener's certificate (PEM)")
    p.add_argument("--tls-key", help="the HTTPS listener's key (PEM)")
    p.add_argument("--list-unimplemented", action="store_true", help="print what is left out")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list_unimplemented:
        from .not_implemented import main as report

        report()
        return 0
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    backend = ConsulBackend(
        datacenter=args.datacenter,
        node_name=args.node_name,
        acl_enabled=not args.acl_disabled,
        initial_management_token=args.acl_initial_management,
        address=args.host,
    )
    server = create_server(backend, args.host, args.port)
    servers = [server]
    if args.https_port is not None:
        if not (args.tls_cert and args.tls_key):
            raise SystemExit("--https-port needs --tls-cert and --tls-key")
        servers.append(
            create_server(backend, args.host, args.https_port, (args.tls_cert, args.tls_key))
        )
    controller: Any = None
    if args.vault_addr:
        controller = _connect(backend, args)

    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    threads = [
        threading.Thread(target=s.serve_forever, name=f"consul-{s.scheme}", daemon=True)
        for s in servers
    ]
    for thread in threads:
        thread.start()
    acl_note = "disabled" if args.acl_disabled else "enabled (default deny)"
    print(
        f"consul sandbox: http://{args.host}:{server.server_port} datacenter={args.datacenter} "
        f"node={args.node_name} acl={acl_note}",
        flush=True,
    )
    for extra in servers[1:]:
        print(f"consul sandbox: {extra.url}", flush=True)
    stop.wait()
    if controller is not None:
        controller.stop()
    for each in servers:
        each.shutdown()
    backend.close()
    for thread in threads:
        thread.join(timeout=5)
    return 0


def _connect(backend: ConsulBackend, args: argparse.Namespace) -> Any:
    """The Connect CA on Vault and, with ``--grpc-port``, the xDS server; the controller."""
    import hvac

    from soa_sdk.sandbox.connect.ca import ConnectCA
    from soa_sdk.sandbox.connect.controller import Controller

    ca = ConnectCA(hvac.Client(args.vault_addr, token=os.environ.get("VAULT_TOKEN", "")))
    ca.setup()
    backend.connect_ca = ca
    if not args.grpc_port:
        return None
    controller = Controller(
        backend,
        ca,
        args.host,
        args.grpc_port,
        access_log=args.access_log,
        status_path=args.xds_status,
        # ACLs on: every Envoy's xDS stream needs a token allowing its proxies (as Consul's)
        resolve_token=backend.authorize,
    )
    port = controller.start()
    print(f"consul sandbox: xDS (ADS) on {args.host}:{port}", flush=True)
    return controller


if __name__ == "__main__":
    sys.exit(main())
