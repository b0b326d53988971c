"""Serve a provider the way HashiCorp's go-plugin does, so Terraform can start or attach to it.

Two ways in, as Terraform offers them:

- **Launched** (``terraform init/plan/apply`` runs the mirror's executable): Terraform sets
  ``TF_PLUGIN_MAGIC_COOKIE``, ``PLUGIN_PROTOCOL_VERSIONS`` and, with go-plugin's AutoMTLS
  (Terraform always enables it), ``PLUGIN_CLIENT_CERT``: the PEM certificate Terraform will
  present. As go-plugin's ``Serve`` does, we make a self-signed server certificate
  (CN ``localhost``), require and trust only the client's certificate, listen on
  ``127.0.0.1:<port>``, and print the handshake line
  ``1|6|tcp|127.0.0.1:<port>|grpc|<server cert, DER, base64 without padding>``.
- **Reattach** (:func:`serve_reattach`): one long-lived provider on a loopback port, named to
  Terraform in ``TF_REATTACH_PROVIDERS`` (go-plugin's ``ReattachConfig`` with ``Test: true``,
  so Terraform neither starts nor stops it). One process serves every command, instead of
  Terraform starting the provider five to eight times per command. No TLS (as go-plugin's
  reattach has none); like the sandbox's own APIs it listens on loopback only.

Beside ``tfplugin6.Provider``, go-plugin clients call the gRPC health service (``plugin``
must answer SERVING), ``plugin.GRPCController/Shutdown`` (we stop), ``plugin.GRPCBroker``
(a stream we hold open and never use) and ``plugin.GRPCStdio`` (we send nothing). Those four
are tiny messages, encoded here by hand rather than with their .proto files.
"""

from __future__ import annotations

import base64
import datetime
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc
from google.protobuf import message_factory

from soa_sdk.sandbox.providers.protocol import tfplugin6_pb2 as pb

log = logging.getLogger(__name__)

MAGIC_COOKIE_KEY = "TF_PLUGIN_MAGIC_COOKIE"
MAGIC_COOKIE_VALUE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
PROTOCOL_VERSION = 6

_STREAMING = {"ListResource", "ReadStateBytes", "WriteStateBytes", "InvokeAction"}
_SERVING = b"\x08\x01"  # grpc.health.v1.HealthCheckResponse{status: SERVING}


def _raw(value: bytes) -> bytes:
    return value


class _PerConnection:
    """One servicer per client connection: Terraform opens one connection per provider
    configuration (``aws`` and ``aws.management`` are two), and a reattached process serves
    them all, so each must keep its own ``ConfigureProvider``."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory
        self.servicers: dict[str, Any] = {}
        self.lock = threading.Lock()

    def servicer(self, peer: str) -> Any:
        with self.lock:
            if peer not in self.servicers:
                self.servicers[peer] = self.factory()
            return self.servicers[peer]


def _provider_handler(factory: Callable[[], Any]) -> grpc.GenericRpcHandler:
    """Every ``tfplugin6.Provider`` method: the connection's servicer's, or an empty response."""
    service = pb.DESCRIPTOR.services_by_name["Provider"]
    handlers: dict[str, grpc.RpcMethodHandler] = {}
    connections = _PerConnection(factory)
    for method in service.methods:
        request_class = message_factory.GetMessageClass(method.input_type)
        response_class = message_factory.GetMessageClass(method.output_type)
        if method.name in _STREAMING:
            continue

        def call(
            request: Any,
            context: grpc.ServicerContext,
            response_class: Any = response_class,
            name: str = method.name,
        ) -> Any:
            implementation = getattr(connections.servicer(context.peer()), name, None)
            if implementation is None:
                return response_class()
            log.debug("%s", name)
            return implementation(request, context)

        handlers[method.name] = grpc.unary_unary_rpc_method_handler(
            call,
            request_deserializer=request_class.FromString,
            response_serializer=response_class.SerializeToString,
        )
    return grpc.method_handlers_generic_handler(service.full_name, handlers)


def _go_plugin_handlers(stopped: threading.Event) -> list[grpc.GenericRpcHandler]:
    def health(request: bytes, context: grpc.ServicerContext) -> bytes:
        return _SERVING

    def shutdown(request: bytes, context: grpc.ServicerContext) -> bytes:
        stopped.set()
        return b""

    def broker(requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
        for _ in requests:
            pass
        return iter(())

    def stdio(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        return iter(())

    raw = {"request_deserializer": _raw, "response_serializer": _raw}
    return [
        grpc.method_handlers_generic_handler(
            "grpc.health.v1.Health", {"Check": grpc.unary_unary_rpc_method_handler(health, **raw)}
        ),
        grpc.method_handlers_generic_handler(
            "plugin.GRPCController",
            {"Shutdown": grpc.unary_unary_rpc_method_handler(shutdown, **raw)},
        ),
        grpc.method_handlers_generic_handler(
            "plugin.GRPCBroker",
            {"StartStream": grpc.stream_stream_rpc_method_handler(broker, **raw)},
        ),
        grpc.method_handlers_generic_handler(
            "plugin.GRPCStdio",
            {"StreamStdio": grpc.unary_stream_rpc_method_handler(stdio, **raw)},
        ),
    ]


def _server(factory: Callable[[], Any], stopped: threading.Event) -> grpc.Server:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=16),
        options=[
            ("grpc.max_receive_message_length", 256 << 20),
            ("grpc.max_send_message_length", 256 << 20),
        ],
    )
    server.add_generic_rpc_handlers([_provider_handler(factory), *_go_plugin_handlers(stopped)])
    return server


def _server_certificate() -> tuple[bytes, bytes, bytes]:
    """(cert PEM, key PEM, cert DER) of a self-signed ``localhost`` certificate, as go-plugin's
    ``generateCert`` makes (ECDSA; usable for server and client auth)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "HashiCorp"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(seconds=30))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=True,
                key_cert_sign=True,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    return (
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        certificate.public_bytes(serialization.Encoding.DER),
    )


def serve_launched(factory: Callable[[], Any]) -> int:
    """Serve as a plugin Terraform started: handshake on stdout, until Terraform stops us."""
    if os.environ.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE_VALUE:
        sys.stderr.write(
            "This is a Terraform provider: Terraform starts it (terraform init/plan/apply), "
            "it is not meant to be run directly.\n"
        )
        return 1
    versions = os.environ.get("PLUGIN_PROTOCOL_VERSIONS", str(PROTOCOL_VERSION)).split(",")
    if str(PROTOCOL_VERSION) not in versions:
        sys.stderr.write(f"Terraform asks for plugin protocol {versions}; this provider speaks 6\n")
    stopped = threading.Event()
    server = _server(factory, stopped)
    client_cert = os.environ.get("PLUGIN_CLIENT_CERT", "")
    server_cert_field = ""
    if client_cert:
        cert_pem, key_pem, cert_der = _server_certificate()
        credentials = grpc.ssl_server_credentials(
            [(key_pem, cert_pem)], root_certificates=client_cert.encode(), require_client_auth=True
        )
        port = server.add_secure_port("127.0.0.1:0", credentials)
        server_cert_field = base64.b64encode(cert_der).decode().rstrip("=")
    else:
        port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Terraform forwards Ctrl-C; it stops us itself
    sys.stdout.write(f"1|{PROTOCOL_VERSION}|tcp|127.0.0.1:{port}|grpc|{server_cert_field}\n")
    sys.stdout.flush()
    stopped.wait()
    server.stop(grace=0.5)
    return 0


def serve_reattach(factories: dict[str, Callable[[], Any]], ready_file: str | None = None) -> int:
    """Serve each provider (source address -> factory) on its own ``127.0.0.1:<port>`` until
    SIGTERM (or a ``Shutdown`` call); write ``{address: port}`` as JSON to ``ready_file``
    once all accept connections. TCP, not a Unix socket: gRPC tells connections apart by
    their peer address, and each provider configuration is one. It also stops when the
    process that started it is gone (a notebook kernel that was killed cannot stop it), as
    go-plugin's servers do when their client exits."""
    stopped = threading.Event()
    servers: list[grpc.Server] = []
    ports: dict[str, int] = {}
    for address, factory in factories.items():
        server = _server(factory, stopped)
        ports[address] = server.add_insecure_port("127.0.0.1:0")
        server.start()
        servers.append(server)
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    threading.Thread(target=_stop_with_parent, args=(stopped,), daemon=True).start()
    if ready_file:
        partial = ready_file + ".partial"
        with open(partial, "w") as handle:
            json.dump(ports, handle)
        os.replace(partial, ready_file)
    stopped.wait()
    for server in servers:
        server.stop(grace=0.5)
    return 0


def _stop_with_parent(stopped: threading.Event, every: float = 1.0) -> None:
    """Set ``stopped`` once this process's parent has exited (it is then re-parented)."""
    parent = os.getppid()
    while not stopped.wait(every):
        if os.getppid() != parent:
            stopped.set()


def reattach_config(ports: dict[str, int], pid: int) -> dict[str, Any]:
    """``TF_REATTACH_PROVIDERS`` for providers served by one process: go-plugin's
    ``ReattachConfig`` per source address, as JSON."""
    return {
        address: {
            "Protocol": "grpc",
            "ProtocolVersion": PROTOCOL_VERSION,
            "Pid": pid,
            "Test": True,
            "Addr": {"Network": "tcp", "String": f"127.0.0.1:{port}"},
        }
        for address, port in ports.items()
    }
