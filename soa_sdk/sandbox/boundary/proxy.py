"""The session proxy: what ``boundary connect`` and a Boundary worker do together.

In real Boundary the client (``boundary connect``) opens a local listener and tunnels each
connection over TLS to a worker, which checks the session's authorization token, its expiry
and connection limit with the controller, dials the endpoint and (for SSH) records. The
sandbox has no workers: :meth:`SessionProxy.connect` (in-process) or ``POST /sandbox/connect``
(``{"authorization_token": ...}``) opens a listener on 127.0.0.1 that forwards to the session's
endpoint, enforces the expiry, the connection limit and cancellation (closing live
connections), and records both directions when the target records sessions. The SDK calls
that route where real Boundary would run ``boundary connect``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass, field

from .models import BoundaryBackend, new_id
from .recording import Recorder

_CHUNK = 65536


@dataclass
class _Connection:
    id: str
    index: int
    client: socket.socket
    upstream: socket.socket
    threads: list[threading.Thread] = field(default_factory=list)
    up: int = 0
    down: int = 0
    closed: threading.Event = field(default_factory=threading.Event)
    reason: str = ""


class _Listener:
    """One session's local listener and its live connections."""

    def __init__(self, proxy: SessionProxy, session_id: str, endpoint: tuple[str, int],
                 expiration: float, recorder: Recorder | None) -> None:  # fmt: skip
        self.proxy = proxy
        self.session_id = session_id
        self.endpoint = endpoint
        self.recorder = recorder
        self.sock = socket.create_server((proxy.host, 0))
        self.address = self.sock.getsockname()[:2]
        self.connections: list[_Connection] = []
        self.lock = threading.Lock()
        self.closing = False
        self.acceptor = threading.Thread(target=self._accept, daemon=True,
                                         name=f"boundary-proxy-{session_id}")  # fmt: skip
        self.acceptor.start()
        self.timer = threading.Timer(max(0.0, expiration - time.time()), self._expire)
        self.timer.daemon = True
        self.timer.start()

    def _expire(self) -> None:
        self.proxy.backend.end_session(self.session_id, "timed out")

    def _accept(self) -> None:
        while not self.closing:
            try:
                client, peer = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._open, args=(client, peer), daemon=True).start()

    def _open(self, client: socket.socket, peer: tuple[str, int]) -> None:
        backend = self.proxy.backend
        info = {"client_tcp_address": peer[0], "client_tcp_port": peer[1],
                "endpoint_tcp_address": self.endpoint[0],
                "endpoint_tcp_port": self.endpoint[1]}  # fmt: skip
        try:
            index = backend.connection_opened(self.session_id, info)
        except Exception:
            # Over the limit, canceled or expired: the worker refuses the connection.
            _close(client)
            return
        try:
            upstream = socket.create_connection(self.endpoint, timeout=5)
            upstream.settimeout(None)
        except OSError:
            _close(client)
            backend.connection_closed(self.session_id, index, 0, 0, "network error")
            return
        conn = _Connection(new_id("cr"), index, client, upstream)
        with self.lock:
            if self.closing:
                _close(client, upstream)
                return
            self.connections.append(conn)
        if self.recorder:
            self.recorder.event(conn.id, "open")
        conn.threads = [
            threading.Thread(target=self._pump, args=(conn, client, upstream, "up"), daemon=True),
            threading.Thread(target=self._pump, args=(conn, upstream, client, "down"),
                             daemon=True),
        ]  # fmt: skip
        for t in conn.threads:
            t.start()

    def _pump(self, conn: _Connection, src: socket.socket, dst: socket.socket, direction: str):
        try:
            while True:
                data = src.recv(_CHUNK)
                if not data:
                    break
                if self.recorder:
                    self.recorder.event(conn.id, "data", direction, data)
                if direction == "up":
                    conn.up += len(data)
                else:
                    conn.down += len(data)
                dst.sendall(data)
        except OSError:
            pass
        self._finish(conn, "closed by end-user")

    def _finish(self, conn: _Connection, reason: str) -> None:
        with self.lock:
            if conn.closed.is_set():
                return
            conn.closed.set()
            conn.reason = reason
        _close(conn.client, conn.upstream)
        if self.recorder:
            self.recorder.event(conn.id, "close")
        backend = self.proxy.backend
        used_up = backend.connection_closed(self.session_id, conn.index, conn.up, conn.down,
                                            reason)  # fmt: skip
        if used_up and not self.closing:
            threading.Thread(
                target=backend.end_session, args=(self.session_id, "connection limit"), daemon=True
            ).start()

    def close(self, reason: str) -> None:
        """Stop accepting, close every live connection and wait for the pumps to drain."""
        with self.lock:
            self.closing = True
            conns = list(self.connections)
        self.timer.cancel()
        _close(self.sock)
        for conn in conns:
            self._finish(conn, reason)
        me = threading.current_thread()
        for conn in conns:
            for t in conn.threads:
                if t is not me:
                    t.join(timeout=2)


def _close(*socks: socket.socket) -> None:
    for s in socks:
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            s.close()


class SessionProxy:
    """Local listeners for authorized sessions, one per session, on ``host`` (loopback)."""

    def __init__(self, backend: BoundaryBackend, host: str = "127.0.0.1") -> None:
        self.backend = backend
        self.host = host
        self._listeners: dict[str, _Listener] = {}
        self._lock = threading.Lock()
        backend.session_end_hooks.append(self._on_session_end)

    def connect(self, authorization_token: str) -> tuple[str, int]:
        """Open (or return) the local listener of the session this token authorizes."""
        sess = self.backend.session_for_authorization(authorization_token)
        with self._lock:
            listener = self._listeners.get(sess.id)
            if listener is None:
                recorder = None
                if sess.recording_id:
                    recorder = Recorder({
                        "session_id": sess.id, "session_recording_id": sess.recording_id,
                        "target_id": sess.target_id, "user_id": sess.user_id,
                        "endpoint": sess.endpoint,
                    })  # fmt: skip
                listener = _Listener(self, sess.id, (sess.host, sess.port), sess.expiration,
                                     recorder)  # fmt: skip
                self._listeners[sess.id] = listener
            return listener.address

    def _on_session_end(self, session_id: str, reason: str) -> None:
        with self._lock:
            listener = self._listeners.pop(session_id, None)
        if listener is None:
            return
        listener.close(reason)
        self.backend.terminate_session(session_id, reason, listener.recorder)

    def close_all(self) -> None:
        """Close every listener (server shutdown, sandbox reset)."""
        with self._lock:
            ids = list(self._listeners)
        for sid in ids:
            self.backend.end_session(sid, "system error")
