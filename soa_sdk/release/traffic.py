"""Synthetic user traffic through a runtime's ingress gateway, for the canary to be judged on.

In production the canary is judged on real users' requests; in the lab :class:`TrafficDriver`
plays the users: a few threads, each with its own keep-alive connection, sending ``GET``
requests through the ingress as fast as the mesh answers (or at ``rate`` requests per
second in total) until stopped. :meth:`TrafficDriver.send` sends a fixed number of requests
and waits for them (the internal testers' smoke test).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from soa_sdk import validate


class TrafficDriver:
    """Background GET traffic to ``url + path``; use as a context manager or start/stop."""

    def __init__(
        self,
        url: str,
        path: str = "/",
        headers: dict[str, str] | None = None,
        concurrency: int = 4,
        rate: float | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.check(path, concurrency, rate, timeout)
        self.url = url.rstrip("/") + path
        self.headers = dict(headers or {})
        self.concurrency = concurrency
        self.rate = rate
        self.timeout = timeout
        self.codes: Counter[int] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.started_at: float | None = None
        self.stopped_at: float | None = None

    @staticmethod
    def check(path: str, concurrency: int, rate: float | None, timeout: float = 10.0) -> None:
        """The driver's settings, checked before anything is sent."""
        validate.url_path(path)
        validate.whole(concurrency, "concurrency", 1, 32)
        if rate is not None:
            validate.number(rate, "rate (requests per second)", above=0)
        validate.number(timeout, "timeout", unit=" seconds", above=0)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"TrafficDriver({self.url!r}, {state}, sent={self.sent})"

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    @property
    def sent(self) -> int:
        with self._lock:
            return sum(self.codes.values())

    def start(self) -> TrafficDriver:
        """Start the background senders (no-op when already running)."""
        if self.running:
            return self
        self._stop.clear()
        self.started_at, self.stopped_at = time.time(), None
        self._threads = [
            threading.Thread(target=self._loop, name=f"traffic-{i}", daemon=True)
            for i in range(self.concurrency)
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> int:
        """Stop and wait for the senders; returns the number of requests sent so far."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 1)
        self.stopped_at = time.time()
        return self.sent

    def __enter__(self) -> TrafficDriver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _one(self, session: requests.Session, headers: dict[str, str]) -> int:
        try:
            return session.get(self.url, headers=headers, timeout=self.timeout).status_code
        except requests.RequestException:
            return 0  # no answer at all: counted apart from HTTP codes

    def _loop(self) -> None:
        session = requests.Session()
        interval = self.concurrency / self.rate if self.rate else 0.0
        next_at = time.monotonic()
        while not self._stop.is_set():
            code = self._one(session, self.headers)
            with self._lock:
                self.codes[code] += 1
            if interval:
                next_at += interval
                self._stop.wait(max(0.0, next_at - time.monotonic()))
        session.close()

    def send(self, count: int, headers: dict[str, str] | None = None) -> Counter[int]:
        """Send ``count`` requests now (with extra ``headers``) and wait; their status codes."""
        validate.whole(count, "count", 1)
        merged = {**self.headers, **(headers or {})}
        local = threading.local()

        def one(_: int) -> int:
            if not hasattr(local, "session"):
                local.session = requests.Session()
            return self._one(local.session, merged)

        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            codes = Counter(pool.map(one, range(count)))
        return codes
