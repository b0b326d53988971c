"""``python -m soa_sdk.sandbox.pgtls``: PostgreSQL's TLS, in front of a server built without it.

The embedded PostgreSQL has no OpenSSL, while the monorepo connects with ``sslmode=require``
(as one does to a managed database). This front speaks the start of PostgreSQL's protocol
(docs: "Protocol Flow", SSL Session Encryption): a client's ``SSLRequest`` is answered ``S``
and the connection becomes TLS with the sandbox's certificate (:mod:`soa_sdk.sandbox.tls`);
a ``GSSENCRequest`` is answered ``N`` (no GSSAPI encryption), as a server without it does;
then every byte goes to the real server and back, unchanged (authentication, SCRAM included,
is the server's own). A client that asks for no TLS is passed through as the server would
accept it.

Left out: direct TLS negotiation (PostgreSQL 17's ``sslnegotiation=direct``), client
certificates, SCRAM channel binding (the server behind sees no TLS, so it offers none).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import ssl
import struct
import sys

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


class Front:
    def __init__(self, upstream: tuple[str, int], context: ssl.SSLContext) -> None:
        self.upstream = upstream
        self.context = context

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            first = await self._negotiate(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, OSError):
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        up_writer.write(first)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    async def _negotiate(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
        """Answer the encryption requests; return the bytes of the client's first message
        that the server must see (its StartupMessage, or a CancelRequest)."""
        while True:
            head = await reader.readexactly(8)
            length, code = struct.unpack("!ii", head)
            if length == 8 and code == SSL_REQUEST:
                writer.write(b"S")
                await writer.drain()
                await writer.start_tls(self.context)
                continue
            if length == 8 and code == GSSENC_REQUEST:
                writer.write(b"N")
                await writer.drain()
                continue
            return head + await reader.readexactly(max(length - 8, 0))


async def _serve(arguments: argparse.Namespace) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(arguments.cert_file, arguments.key_file)
    host, _, port = arguments.upstream.rpartition(":")
    front = Front((host, int(port)), context)
    server = await asyncio.start_server(front.handle, arguments.host, arguments.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(f"postgres TLS front on {arguments.host}:{arguments.port}", flush=True)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m soa_sdk.sandbox.pgtls")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="host:port of the PostgreSQL server")
    parser.add_argument("--cert-file", required=True)
    parser.add_argument("--key-file", required=True)
    asyncio.run(_serve(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
