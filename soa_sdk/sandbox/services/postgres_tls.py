"""PostgreSQL over TLS: the prod database's address as its clients reach it (``sslmode=require``).

The embedded PostgreSQL is built without OpenSSL, so :mod:`soa_sdk.sandbox.pgtls` answers the
protocol's ``SSLRequest`` with the sandbox's certificate in front of it. The lab's own admin
connections keep using the server directly; the monorepo's (Vault's database connection,
Boundary's target) are given this address (:mod:`soa_sdk.sandbox.terraform.inputs`).
"""

from __future__ import annotations

import socket
import struct
from typing import ClassVar
from urllib.parse import urlsplit

from soa_sdk.sandbox import tls
from soa_sdk.sandbox.pgtls import SSL_REQUEST
from soa_sdk.sandbox.ports import LOOPBACK
from soa_sdk.sandbox.services.base import Launch, LaunchContext, Service, python_module
from soa_sdk.sandbox.state import ServiceRecord


class PostgresTlsService(Service):
    name: ClassVar[str] = "postgres-tls"
    summary: ClassVar[str] = "PostgreSQL's TLS front (sslmode=require)"
    depends_on: ClassVar[tuple[str, ...]] = ("postgres",)
    lost_when_stopped: ClassVar[str] = "the open connections through it (the data is the server's)"
    restart_alone: ClassVar[bool] = True
    restart_note: ClassVar[str] = "it holds nothing: it comes back on the same port"

    def launch(self, context: LaunchContext) -> Launch:
        upstream = urlsplit(context.urls["postgres"])
        files = tls.files(context.home)
        port = context.port_for(self.name)
        return Launch(
            command=python_module(
                "soa_sdk.sandbox.pgtls",
                *("--host", LOOPBACK, "--port", str(port)),
                *("--upstream", f"{upstream.hostname}:{upstream.port}"),
                *("--cert-file", str(files.cert), "--key-file", str(files.key)),
            ),
            url=f"postgresql://{LOOPBACK}:{port}/postgres?sslmode=require",
        )

    def is_healthy(self, record: ServiceRecord, secrets: dict[str, str]) -> bool:
        """It answers an ``SSLRequest`` with ``S``."""
        parts = urlsplit(record.url)
        try:
            with socket.create_connection((parts.hostname, parts.port), timeout=1) as sock:
                sock.sendall(struct.pack("!ii", 8, SSL_REQUEST))
                return sock.recv(1) == b"S"
        except OSError:
            return False
