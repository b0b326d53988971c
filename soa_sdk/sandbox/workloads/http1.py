"""A small, fast HTTP/1.1 server and keep-alive client for the demo workloads and their host.

Why not ``http.server`` / ``http.client``: both parse headers with the ``email`` package and
cost several hundred microseconds a request, which a workload answering thousands of requests
a second through Envoy on two cores notices (it was first written for the sandbox's former
Python data plane; Envoy is the data plane now). This module speaks the subset of HTTP/1.1
the workloads need: requests and responses with ``Content-Length`` or chunked bodies,
persistent connections (keep-alive), one request at a time per connection (no pipelining),
``Connection: close``. Not implemented: pipelining, ``Expect: 100-continue``, trailers,
upgrades (WebSocket), HTTP/2, TLS (Envoy terminates the mesh's mTLS).

The server listens on a TCP port or on a Unix socket (``unix_path``: the file is made
readable and writable by its owner only), runs one thread per connection (blocking sockets
release the GIL while they wait) and answers with a handler ``Callable[[Request],
Response]``. The client is a connection pool keyed by ``(host, port)`` (or by a Unix socket's
path, ``unix_path``) that reuses idle sockets and retries once when a reused socket turns out
to have been closed by the server in the meantime.
"""

from __future__ import annotations

import contextlib
import http
import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from soa_sdk.sandbox.headers import HOP_BY_HOP

log = logging.getLogger(__name__)

MAX_HEAD = 64 * 1024
MAX_BODY = 64 * 1024 * 1024
_REASONS = {s.value: s.phrase for s in http.HTTPStatus}


class ProtocolError(Exception):
    """The peer sent something that is not the HTTP/1.1 we speak, or hung up mid-message."""


class UpstreamConnectError(OSError):
    """The TCP connection to the upstream could not be established."""


class UpstreamTimeout(TimeoutError):
    """The upstream did not answer within the request timeout."""


class UpstreamReset(OSError):
    """The upstream closed or reset the connection before a complete response."""


def reason_phrase(status: int) -> str:
    return _REASONS.get(status, "Unknown")


@dataclass(slots=True)
class Request:
    """One parsed request. ``target`` is the raw request target (path and query)."""

    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    client: tuple[str, int] = ("", 0)
    _index: dict[str, str] | None = None

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        parts = self.target.split("?", 1)
        return parts[1] if len(parts) > 1 else ""

    def header(self, name: str, default: str | None = None) -> str | None:
        """Case-insensitive header lookup (the first value when repeated)."""
        if self._index is None:
            index: dict[str, str] = {}
            for k, v in self.headers:
                index.setdefault(k.lower(), v)
            self._index = index
        return self._index.get(name.lower(), default)

    @property
    def keep_alive(self) -> bool:
        conn = (self.header("connection") or "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in conn
        return "close" not in conn


@dataclass(slots=True)
class Response:
    """A response to send (server side) or one received (client side)."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    keep_alive: bool = True

    def header(self, name: str, default: str | None = None) -> str | None:
        lname = name.lower()
        for k, v in self.headers:
            if k.lower() == lname:
                return v
        return default


class _Reader:
    """Buffered reads from a blocking socket."""

    __slots__ = ("buf", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        if not chunk:
            return False
        self.buf += chunk
        return True

    def read_head(self) -> bytes | None:
        """The bytes before the blank line, or None on a clean end of stream."""
        while True:
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                head = bytes(self.buf[:i])
                del self.buf[: i + 4]
                return head
            if len(self.buf) > MAX_HEAD:
                raise ProtocolError("header section too large")
            if not self._fill():
                if self.buf:
                    raise ProtocolError("connection closed inside the header section")
                return None

    def read_exact(self, n: int) -> bytes:
        if n > MAX_BODY:
            raise ProtocolError("body too large")
        while len(self.buf) < n:
            if not self._fill():
                raise ProtocolError("connection closed inside the body")
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def read_line(self) -> bytes:
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[: i + 2]
                return line
            if len(self.buf) > MAX_HEAD or not self._fill():
                raise ProtocolError("bad chunked encoding")

    def read_chunked(self) -> bytes:
        out = bytearray()
        while True:
            size_line = self.read_line().split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError as exc:
                raise ProtocolError("bad chunk size") from exc
            if size == 0:
                # Trailers are read and dropped.
                while self.read_line():
                    pass
                return bytes(out)
            out += self.read_exact(size)
            self.read_line()
            if len(out) > MAX_BODY:
                raise ProtocolError("body too large")

    def read_to_eof(self) -> bytes:
        while self._fill():
            if len(self.buf) > MAX_BODY:
                raise ProtocolError("body too large")
        data = bytes(self.buf)
        self.buf.clear()
        return data


def _parse_headers(lines: list[str]) -> list[tuple[str, str]]:
    headers = []
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep:
            raise ProtocolError("malformed header line")
        headers.append((name.strip(), value.strip()))
    return headers


def _body_framing(headers: list[tuple[str, str]]) -> tuple[bool, int | None]:
    """(chunked, content_length) from the header list."""
    chunked = False
    length = None
    for k, v in headers:
        lk = k.lower()
        if lk == "transfer-encoding" and "chunked" in v.lower():
            chunked = True
        elif lk == "content-length":
            try:
                length = int(v)
            except ValueError as exc:
                raise ProtocolError("bad Content-Length") from exc
            if length < 0:
                raise ProtocolError("bad Content-Length")
    return chunked, length


def read_request(reader: _Reader, client: tuple[str, int]) -> Request | None:
    head = reader.read_head()
    if head is None:
        return None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise ProtocolError("malformed request line")
    headers = _parse_headers(lines[1:])
    chunked, length = _body_framing(headers)
    if chunked:
        body = reader.read_chunked()
    elif length:
        body = reader.read_exact(length)
    else:
        body = b""
    return Request(parts[0], parts[1], parts[2], headers, body, client)


def serialize_response(resp: Response, keep_alive: bool, head_only: bool = False) -> bytes:
    out = [f"HTTP/1.1 {resp.status} {reason_phrase(resp.status)}\r\n"]
    for k, v in resp.headers:
        lk = k.lower()
        if lk in HOP_BY_HOP or lk == "content-length":
            continue
        out.append(f"{k}: {v}\r\n")
    out.append(f"Content-Length: {len(resp.body)}\r\n")
    if not keep_alive:
        out.append("Connection: close\r\n")
    out.append("\r\n")
    data = "".join(out).encode("latin-1")
    return data if head_only else data + resp.body


Handler = Callable[[Request], Response]


class HTTPServer:
    """A threaded HTTP/1.1 server; the socket is bound and listening when the constructor returns.

    Binding in the constructor matters to the workload host: the port a workload registers
    in Consul accepts connections (into the backlog) before the server's thread even runs.
    """

    def __init__(
        self,
        host: str,
        port: int,
        handler: Handler,
        name: str = "http",
        unix_path: str | None = None,
    ) -> None:
        """Listen on ``host:port``, or with ``unix_path`` on that Unix socket instead (a
        stale file there is replaced; ``host`` is then the path and ``port`` 0)."""
        self.handler = handler
        self.name = name
        self.unix_path = unix_path
        family = socket.AF_UNIX if unix_path else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            if unix_path:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(unix_path)
                umask = os.umask(0o177)  # the socket file: rw for its owner only
                try:
                    sock.bind(unix_path)
                finally:
                    os.umask(umask)
            else:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((host, port))
            sock.listen(1024)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        if unix_path:
            self.host, self.port = unix_path, 0
        else:
            self.host, self.port = sock.getsockname()[:2]
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._thread: threading.Thread | None = None

    def start(self) -> HTTPServer:
        self._thread = threading.Thread(
            target=self._accept_loop, name=f"{self.name}-accept-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                conn, addr = self._sock.accept()
            except OSError:
                break
            if self._closed:
                conn.close()
                break
            if self.unix_path:
                addr = (self.unix_path, 0)
            else:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._conns.add(conn)
            threading.Thread(
                target=self._serve, args=(conn, addr), name=f"{self.name}-conn", daemon=True
            ).start()

    def _serve(self, conn: socket.socket, addr: tuple[str, int]) -> None:
        reader = _Reader(conn)
        try:
            while not self._closed:
                req = read_request(reader, addr)
                if req is None:
                    break
                try:
                    resp = self.handler(req)
                except Exception:  # a handler bug must not kill the connection thread silently
                    log.exception("%s handler failed for %s %s", self.name, req.method, req.path)
                    resp = Response(500, b"internal error\n", [("Content-Type", "text/plain")])
                keep = req.keep_alive and resp.keep_alive and not self._closed
                conn.sendall(serialize_response(resp, keep, req.method == "HEAD"))
                if not keep:
                    break
        except ProtocolError:
            try:
                conn.sendall(serialize_response(Response(400, b"bad request\n"), False))
            except OSError:
                pass
        except OSError:
            pass
        finally:
            with self._lock:
                self._conns.discard(conn)
            conn.close()

    def close(self) -> None:
        """Stop accepting, and hang up every open connection."""
        self._closed = True
        try:
            # shutdown() wakes a thread blocked in accept() on Linux; close() alone does not.
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        if self.unix_path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.unix_path)
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)


class _Conn:
    __slots__ = ("reader", "sock", "timeout")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = _Reader(sock)
        self.timeout: float | None = None

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def _read_response(conn: _Conn, method: str) -> Response:
    head = conn.reader.read_head()
    if head is None:
        raise UpstreamReset("connection closed before the response")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise ProtocolError("malformed status line")
    status = int(parts[1])
    headers = _parse_headers(lines[1:])
    conn_hdr = ""
    for k, v in headers:
        if k.lower() == "connection":
            conn_hdr = v.lower()
    keep = "close" not in conn_hdr and (parts[0] == "HTTP/1.1" or "keep-alive" in conn_hdr)
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return Response(status, b"", headers, keep)
    chunked, length = _body_framing(headers)
    if chunked:
        body = conn.reader.read_chunked()
    elif length is not None:
        body = conn.reader.read_exact(length)
    else:
        body = conn.reader.read_to_eof()
        keep = False
    return Response(status, body, headers, keep)


def _connect_unix(path: str, timeout: float) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(path)
    except BaseException:
        sock.close()
        raise
    return sock


class ConnectionPool:
    """Keep-alive client connections, shared across threads, keyed by ``(host, port)``, or by
    ``(unix_path, 0)`` for a Unix socket."""

    def __init__(self, timeout: float = 15.0, max_idle_per_host: int = 64) -> None:
        self.timeout = timeout
        self.max_idle = max_idle_per_host
        self._idle: dict[tuple[str, int], list[_Conn]] = {}
        self._lock = threading.Lock()

    def _connect(self, host: str, port: int, timeout: float, unix_path: str | None) -> _Conn:
        where = unix_path or f"{host}:{port}"
        try:
            if unix_path:
                sock = _connect_unix(unix_path, timeout)
            else:
                sock = socket.create_connection((host, port), timeout=timeout)
        except TimeoutError as exc:
            raise UpstreamConnectError(f"connect to {where} timed out") from exc
        except OSError as exc:
            raise UpstreamConnectError(f"connect to {where}: {exc.strerror}") from exc
        if not unix_path:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = _Conn(sock)
        conn.timeout = timeout
        return conn

    def request(
        self,
        host: str,
        port: int,
        method: str,
        target: str,
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
        timeout: float | None = None,
        unix_path: str | None = None,
    ) -> Response:
        """Send one request and return the whole response; with ``unix_path`` over that Unix
        socket (``host`` and ``port`` then make the ``Host`` header only).

        Raises UpstreamConnectError, UpstreamTimeout or UpstreamReset; a request on a
        reused connection that the server had closed is retried once on a fresh one.
        """
        timeout = self.timeout if timeout is None else timeout
        out = [f"{method} {target} HTTP/1.1\r\n"]
        has_host = False
        for k, v in headers or ():
            lk = k.lower()
            if lk in HOP_BY_HOP or lk == "content-length":
                continue
            if lk == "host":
                has_host = True
            out.append(f"{k}: {v}\r\n")
        if not has_host:
            out.append(f"Host: {host}:{port}\r\n" if port else f"Host: {host}\r\n")
        if body or method in ("POST", "PUT", "PATCH"):
            out.append(f"Content-Length: {len(body)}\r\n")
        out.append("\r\n")
        data = "".join(out).encode("latin-1") + body
        key = (unix_path, 0) if unix_path else (host, port)
        for attempt in (0, 1):
            conn = None
            if attempt == 0:
                with self._lock:
                    idle = self._idle.get(key)
                    if idle:
                        conn = idle.pop()
            reused = conn is not None
            if conn is None:
                conn = self._connect(host, port, timeout, unix_path)
            if conn.timeout != timeout:
                conn.sock.settimeout(timeout)
                conn.timeout = timeout
            try:
                conn.sock.sendall(data)
                resp = _read_response(conn, method)
            except TimeoutError as exc:
                conn.close()
                raise UpstreamTimeout("upstream request timeout") from exc
            except (OSError, ProtocolError) as exc:
                conn.close()
                if reused and attempt == 0 and not conn.reader.buf:
                    continue
                raise UpstreamReset(str(exc) or "connection reset") from exc
            if resp.keep_alive and not conn.reader.buf:
                with self._lock:
                    idle = self._idle.setdefault(key, [])
                    if len(idle) < self.max_idle:
                        idle.append(conn)
                        conn = None
            if conn is not None:
                conn.close()
            return resp
        raise UpstreamReset("connection reset")  # pragma: no cover - loop always returns

    def close(self) -> None:
        with self._lock:
            conns = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for c in conns:
            c.close()
