"""Health checks that really run: HTTP, TCP and TTL, on one scheduler thread and a small pool.

What Consul's agent does (``agent/checks/check.go``) and we copy:

* HTTP: ``GET`` (or ``Method``) the URL every ``Interval`` with ``Timeout`` (default 10 s);
  2xx is ``passing``, 429 ``warning``, anything else ``critical``; Output is
  ``HTTP GET <url>: 200 OK Output: <body>`` (body cut at 4 KiB); a transport error gives Go's
  text, ``Get "<url>": dial tcp <addr>: connect: connection refused``;
* TCP: connect within ``Timeout``; Output ``TCP connect <addr>: Success``;
* TTL: ``critical`` with Output ``TTL expired`` unless updated within ``TTL``;
* intervals below one second are raised to one second (Consul's ``MinInterval``);
* ``DeregisterCriticalServiceAfter`` (at least one minute) is enforced by a reaper that runs
  every 30 seconds, as Consul's.

Not implemented: script checks (refused, as a dev agent refuses them); gRPC, H2PING, UDP,
Docker, OSService and alias checks are registered but never run (they keep their status).
"""

from __future__ import annotations

import heapq
import itertools
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

MIN_INTERVAL = 1.0
DEFAULT_TIMEOUT = 10.0
OUTPUT_MAX = 4096
REAP_EVERY = 30.0
MIN_DEREGISTER_AFTER = 60.0

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: Any) -> float:
    """Seconds in a Go duration (``"10s"``, ``"1m30s"``, ``"500ms"``; a number is nanoseconds)."""
    if value in (None, "", 0):
        return 0.0
    if isinstance(value, (int, float)):
        return float(value) / 1e9
    text = str(value).strip()
    if text == "0":
        return 0.0
    pos = 0
    total = 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or pos == 0:
        raise ValueError(f'time: invalid duration "{text}"')
    return total


def go_duration(seconds: float) -> str:
    """A duration as Go's ``time.Duration.String`` prints it (``10s``, ``1m0s``, ``24h0m0s``),
    for the TTLs of sessions and tokens. Below a second it prints ``0.5s`` where Go prints
    ``500ms`` (no TTL Consul accepts is that short)."""
    if seconds < 60:
        return f"{seconds:g}s"
    h, rest = divmod(int(seconds), 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m}m{s}s" if h else f"{m}m{s}s"


@dataclass(frozen=True)
class Probe:
    """One check as the runner sees it: its kind, Consul's ``Definition`` block and timings."""

    kind: str
    definition: dict[str, Any]
    interval: float = MIN_INTERVAL
    timeout: float | None = None
    ttl_deadline: float = 0.0


def _opener() -> urllib.request.OpenerDirector:
    # An empty ProxyHandler: checks must hit the address given, never an environment proxy.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


_OPENER = _opener()


def run_http(probe: Probe) -> tuple[str, str]:
    """Run one HTTP check; return (status, output) as Consul's agent would."""
    definition = probe.definition
    url = definition["HTTP"]
    method = (definition.get("Method") or "GET").upper()
    timeout = probe.timeout or DEFAULT_TIMEOUT
    body = definition.get("Body") or None
    req = urllib.request.Request(url, method=method, data=body.encode() if body else None)
    req.add_header("User-Agent", "Consul Health Check")
    req.add_header("Accept", "text/plain, text/*, */*")
    for name, values in (definition.get("Header") or {}).items():
        for value in values if isinstance(values, list) else [values]:
            req.add_header(name, value)
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            code, reason, payload = resp.status, resp.reason, resp.read(OUTPUT_MAX)
    except urllib.error.HTTPError as exc:
        code, reason = exc.code, exc.reason
        try:
            payload = exc.read(OUTPUT_MAX)
        except OSError:
            payload = b""
    except (OSError, ValueError) as exc:
        return "critical", f'{method.title()} "{url}": {_go_dial_error(url, exc)}'
    text = payload.decode("utf-8", "replace")
    output = f"HTTP {method} {url}: {code} {reason} Output: {text}"
    if 200 <= code < 300:
        return "passing", output
    if code == 429:
        return "warning", output
    return "critical", output


def _go_dial_error(url: str, exc: BaseException) -> str:
    reason = getattr(exc, "reason", exc)
    hostport = urllib.request.urlparse(url).netloc
    if isinstance(reason, ConnectionRefusedError):
        return f"dial tcp {hostport}: connect: connection refused"
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
    return str(reason)


def run_tcp(probe: Probe) -> tuple[str, str]:
    """Run one TCP check; return (status, output)."""
    addr = probe.definition["TCP"]
    host, _, port = addr.rpartition(":")
    timeout = probe.timeout or DEFAULT_TIMEOUT
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except ConnectionRefusedError:
        return "critical", f"dial tcp {addr}: connect: connection refused"
    except TimeoutError:
        return "critical", f"dial tcp {addr}: i/o timeout"
    except (OSError, ValueError) as exc:
        return "critical", f"dial tcp {addr}: {exc}"
    return "passing", f"TCP connect {addr}: Success"


class CheckRunner:
    """Runs the checks of a backend: one scheduler thread, a pool of four workers.

    The backend gives three callables: ``get(key)`` the check's :class:`Probe` (or None once
    deregistered), ``report(key, status, output)`` to record a result, and ``reap()`` to
    deregister services critical for longer than their ``DeregisterCriticalServiceAfter``.
    """

    def __init__(
        self,
        get: Callable[[Any], Probe | None],
        report: Callable[[Any, str, str], None],
        reap: Callable[[], None],
        workers: int = 4,
    ) -> None:
        self._get = get
        self._report = report
        self._reap = reap
        self._workers = workers
        self._heap: list[tuple[float, int, Any, int]] = []
        self._gen: dict[Any, int] = {}
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._stopped = False

    def _ensure_started(self) -> None:
        if self._thread is None and not self._stopped:
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="consul-check")
            self._thread = threading.Thread(target=self._loop, name="consul-checks", daemon=True)
            self._thread.start()
            self._push(time.monotonic() + REAP_EVERY, ("__reap__",), 0)

    def _push(self, due: float, key: Any, gen: int) -> None:
        heapq.heappush(self._heap, (due, next(self._seq), key, gen))

    def schedule(self, key: Any, delay: float) -> None:
        """(Re)schedule ``key`` to run after ``delay`` seconds, dropping earlier schedules."""
        with self._cond:
            self._ensure_started()
            gen = self._gen.get(key, 0) + 1
            self._gen[key] = gen
            self._push(time.monotonic() + delay, key, gen)
            self._cond.notify()

    def cancel(self, key: Any) -> None:
        with self._cond:
            self._gen[key] = self._gen.get(key, 0) + 1

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                if self._stopped:
                    return
                _due, _seq, key, gen = heapq.heappop(self._heap)
                if key == ("__reap__",):
                    self._push(time.monotonic() + REAP_EVERY, key, 0)
                    job: Callable[[], None] = self._reap
                elif self._gen.get(key) != gen:
                    continue
                else:
                    job = (lambda k, g: lambda: self._run(k, g))(key, gen)
            assert self._pool is not None
            try:
                self._pool.submit(job)
            except RuntimeError:
                return

    def _run(self, key: Any, gen: int) -> None:
        probe = self._get(key)
        if probe is None:
            return
        kind = probe.kind
        interval = probe.interval or MIN_INTERVAL
        if kind == "ttl":
            if time.monotonic() >= probe.ttl_deadline:
                self._report(key, "critical", "TTL expired")
            return
        if kind == "http":
            status, output = run_http(probe)
        elif kind == "tcp":
            status, output = run_tcp(probe)
        else:
            return
        with self._cond:
            current = self._gen.get(key) == gen
        if current and self._get(key) is not None:
            self._report(key, status, output)
            self.schedule(key, interval)
