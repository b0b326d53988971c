"""Per-request telemetry of the data plane: a bounded ring buffer and aggregate counters.

Every request through a sidecar upstream listener or an ingress gateway leaves one record:
``seq`` (increasing), ``time`` (unix seconds, request start), ``source``, ``destination``
(the service that was finally chosen), ``upstream`` (the service asked for), ``partition``,
``subset``, ``version`` (the instance's ``Meta.version``), ``instance`` (service ID),
``code``, ``latency_ms``, ``mode`` (``sidecar`` or ``ingress``), ``method`` and ``path``.
This stands in for the access logs and statistics Envoy would emit.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any


class Telemetry:
    """A ring buffer of request records (oldest dropped first) and per-(service, version,
    code) counters."""

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._buf: deque[dict[str, Any]] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._seq = 0
        self._stats: dict[tuple[str, str, int], list[float]] = {}

    def record(self, rec: dict[str, Any]) -> None:
        """Add a record (fields as in the module docstring; ``seq`` is set here)."""
        key = (rec["destination"], rec.get("version") or "", rec["code"])
        with self._lock:
            self._seq += 1
            rec["seq"] = self._seq
            # Completion time, taken under the lock so it never decreases along the buffer.
            rec["_done"] = time.time()
            self._buf.append(rec)
            counter = self._stats.get(key)
            if counter is None:
                self._stats[key] = [1, rec["latency_ms"]]
            else:
                counter[0] += 1
                counter[1] += rec["latency_ms"]

    @property
    def last_seq(self) -> int:
        return self._seq

    def query(
        self,
        since: float | None = None,
        service: str | None = None,
        limit: int | None = None,
        after: int | None = None,
        source: str | None = None,
    ) -> list[dict[str, Any]]:
        """Records with ``time >= since`` and ``seq > after``, oldest first, at most ``limit``.

        ``service`` matches the destination or the upstream asked for.
        """
        with self._lock:
            snapshot = list(self._buf)
        if after is not None and snapshot:
            first = snapshot[0]["seq"]
            snapshot = snapshot[max(0, after - first + 1) :]
        if since is not None:
            # Completion times only grow along the buffer, and a record that started at or
            # after `since` also completed after it: find the first one that completed after.
            lo, hi = 0, len(snapshot)
            while lo < hi:
                mid = (lo + hi) // 2
                if snapshot[mid]["_done"] < since:
                    lo = mid + 1
                else:
                    hi = mid
            snapshot = [r for r in snapshot[lo:] if r["time"] >= since]
        out = []
        for rec in snapshot:
            if service and service not in (rec["destination"], rec.get("upstream")):
                continue
            if source and rec.get("source") != source:
                continue
            out.append({k: v for k, v in rec.items() if k != "_done"})
            if limit is not None and len(out) >= limit:
                break
        return out

    def stats(self) -> list[dict[str, Any]]:
        with self._lock:
            items = [(k, list(v)) for k, v in self._stats.items()]
        return [
            {
                "service": svc,
                "version": version,
                "code": code,
                "count": int(count),
                "latency_ms_sum": round(total, 3),
                "latency_ms_avg": round(total / count, 3) if count else 0.0,
            }
            for (svc, version, code), (count, total) in sorted(items)
        ]
