"""Free loopback ports for the sandbox's servers."""

from __future__ import annotations

import random
import socket
import threading
from collections import deque
from pathlib import Path

LOOPBACK = "127.0.0.1"
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
"""Linux's range of ports for the local end of outgoing connections (``32768 60999`` by
default)."""
SERVER_PORTS = 22000
"""How many ports below that range the sandbox's servers are given ports from."""
ATTEMPTS = 64
_given: deque[int] = deque(maxlen=4096)
_given_lock = threading.Lock()
"""The ports this process handed out lately: not handed out again while their server may
not have bound them yet (two services of one start wave, a workload's sidecar and the next)."""


def server_ports() -> range | None:
    """Ports for servers that no outgoing connection takes: just below the kernel's ephemeral
    range. A port the kernel picks for ``bind(0)`` is an ephemeral one, which any client
    socket of the machine may take as its local port between our pick and our server's bind
    (seen as a server's start failing with "Address already in use"). None where the range
    cannot be read (not Linux)."""
    try:
        low, _ = (int(part) for part in EPHEMERAL_RANGE.read_text().split())
    except (OSError, ValueError):
        return None
    start = max(10000, low - SERVER_PORTS)
    return range(start, low) if low - start >= 1000 else None


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port that is free on ``host`` right now: one of :func:`server_ports`,
    else the kernel's pick (bind to port 0).

    There is a short window before our server binds it in which another process could take
    it; the sandbox checks health after start, so such a clash shows up as a clear start
    failure rather than a silent misroute.
    """
    candidates = server_ports()
    if candidates is not None:
        for _ in range(ATTEMPTS):
            port = random.choice(candidates)
            with _given_lock:
                if port in _given or not port_is_free(port, host):
                    continue
                _given.append(port)
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """True when nothing listens on ``host:port`` and we could bind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True
