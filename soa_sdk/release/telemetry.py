"""Live mesh telemetry of one service, read in windows for the canary analysis.

:class:`MeshTelemetryReader` reads Envoy's own statistics
(:class:`soa_sdk.telemetry.MeshMetrics`: the sandbox's Envoy admins, or on real endpoints the
Prometheus URL in ``SOA_LAB_PROMETHEUS_URL``, as real Consul deployments export them): per
upstream subset of the service, the requests and 5xx counters and the ``upstream_rq_time``
histogram (Consul's L7 metrics, ``envoy_cluster_upstream_rq`` by subset). Its sequence
numbers are the service's cumulative request count, and a window is the difference of two
readings, so it holds at least what was asked for (never a request split in two); latencies
are the histogram's (each bucket's requests spread evenly over it: as fine as the buckets),
and a histogram that lags the counters (Prometheus' scrape interval, Envoy's stats flush)
gives its latencies to the next window.

A request counts as an error when its status is 5xx (Flagger's and Argo Rollouts' usual
"request success rate"); 4xx answers are the caller's business.

What it leaves out: per-request records (the versions are the subsets the requests were
routed to, not the instance that answered), and the requests an Envoy served between the
last reading and its restart (its counters start again from zero; the reader adds up from
there).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from soa_sdk.canary_analysis import VersionSample
from soa_sdk.telemetry import ClusterStats, MeshMetrics

_HISTORY = 20_000  # readings kept for records_between (a release polls ~10 a second)


@dataclass
class VersionCounts:
    """Requests, 5xx errors and latencies of one version in one window."""

    requests: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def sample(self) -> VersionSample:
        return VersionSample(self.requests, self.errors, tuple(self.latencies_ms))

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None


@dataclass
class Window:
    """One analysis window: counts per version, and where it sits in time and in the stream."""

    started: float
    ended: float
    first_seq: int
    last_seq: int
    by_version: dict[str, VersionCounts]

    def counts(self, version: str) -> VersionCounts:
        return self.by_version.get(version) or VersionCounts()

    @property
    def total(self) -> int:
        return sum(c.requests for c in self.by_version.values())


def _sum(stats: dict[str, ClusterStats]) -> int:
    return sum(s.requests for s in stats.values())


def _latencies(stats: ClusterStats) -> list[float]:
    """The latencies (ms) of a histogram's difference: a bucket's requests spread evenly
    over it, as PromQL's ``histogram_quantile`` interpolates (those of the ``+Inf`` bucket at
    the largest finite bound)."""
    out: list[float] = []
    lower, below = 0.0, 0.0
    finite = [le for le in sorted(stats.buckets) if not math.isinf(le)]
    top = finite[-1] if finite else 0.0
    for le in sorted(stats.buckets):
        count = stats.buckets[le]
        n = max(0, round(count - below))
        if math.isinf(le):
            out += [top] * n
        else:
            out += [lower + (le - lower) * (i + 0.5) / n for i in range(n)]
            lower = le
        below = max(below, count)
    return out


class MeshTelemetryReader:
    """Windows of ``service`` in ``partition`` from Envoy's statistics (module docstring)."""

    def __init__(
        self,
        metrics: MeshMetrics,
        service: str,
        partition: str,
        version_of_subset: Callable[[str], str] | None = None,
    ) -> None:
        """``version_of_subset`` names a subset's version (the release's
        :func:`~soa_sdk.release.plan.subset_name` reversed); by default the subset's name."""
        self.metrics = metrics
        self.service = service
        self.partition = partition
        self.version_of_subset = version_of_subset or (lambda subset: subset)
        self._history: list[tuple[int, dict[str, ClusterStats]]] = []
        self._latency_base: dict[str, ClusterStats] = {}
        self._latency_pending: dict[str, list[float]] = {}
        self._seen: dict[str, ClusterStats] = {}  # the last reading, as Envoy reported it
        self._acc: dict[str, ClusterStats] = {}  # added up over the readings
        self.position = 0
        self.skip_to_now()

    def _read(self) -> tuple[int, dict[str, ClusterStats]]:
        """(requests so far, subset -> statistics so far), both only ever growing: each
        subset's counters are added up reading by reading, so a cluster that Envoy drops (a
        subset the resolver no longer has) or whose counters restart from zero (re-created,
        or its Envoy restarted) takes nothing back."""
        for subset, now in self.metrics.service(self.service, self.partition).items():
            last = self._seen.get(subset)
            fresh = last is None or now.requests < last.requests
            delta = now if fresh or last is None else now.since(last)
            into = self._acc.setdefault(subset, ClusterStats())
            into.requests += max(0, delta.requests)
            into.errors_5xx += max(0, delta.errors_5xx)
            into.latency_sum_ms += max(0.0, delta.latency_sum_ms)
            for le, n in delta.buckets.items():
                into.buckets[le] = into.buckets.get(le, 0.0) + max(0.0, n)
            self._seen[subset] = now
        copied = {
            k: ClusterStats(v.requests, v.errors_5xx, dict(v.buckets), v.latency_sum_ms)
            for k, v in self._acc.items()
        }
        total = _sum(copied)
        self._history.append((total, copied))
        del self._history[:-_HISTORY]
        return total, copied

    def skip_to_now(self) -> None:
        """Forget what was counted so far (e.g. requests from before a config change)."""
        self.position, now = self._read()
        self._latency_base, self._latency_pending = dict(now), {}

    def _between(self, first: int, last: int) -> dict[str, ClusterStats]:
        before = next((s for seq, s in reversed(self._history) if seq <= first), {})
        after = next((s for seq, s in self._history if seq >= last), self._history[-1][1])
        return {k: v.since(before.get(k, ClusterStats())) for k, v in after.items()}

    def window(
        self,
        requests_wanted: int,
        timeout: float,
        enough: Callable[[dict[str, VersionCounts]], bool] | None = None,
        poll: float = 0.1,
        alive: Callable[[], object] | None = None,
    ) -> Window:
        """Read until the service served ``requests_wanted`` more requests (and ``enough``
        holds), or until ``timeout`` seconds passed; whatever came is the window. ``alive``
        is called about once a second while waiting and raises (ServiceUnavailable) to stop
        the wait."""
        started = time.time()
        checked = float("-inf")
        first = self.position
        deadline = time.monotonic() + timeout
        while True:
            if alive is not None and time.monotonic() - checked >= 1.0:
                alive()
                checked = time.monotonic()
            total, now = self._read()
            by_version = self._counts(self._between(first, total), now, consume=False)
            done = total - first >= requests_wanted and (enough is None or enough(by_version))
            if done or time.monotonic() >= deadline:
                break
            time.sleep(poll)
        by_version = self._counts(self._between(first, total), now, consume=True)
        self.position = total
        return Window(started, time.time(), first, total, by_version)

    def _counts(
        self, delta: dict[str, ClusterStats], now: dict[str, ClusterStats], consume: bool
    ) -> dict[str, VersionCounts]:
        out: dict[str, VersionCounts] = {}
        for subset, stats in sorted(delta.items()):
            if stats.requests <= 0:
                continue
            counts = out.setdefault(self.version_of_subset(subset), VersionCounts())
            counts.requests += stats.requests
            counts.errors += stats.errors_5xx
            if not consume:
                continue
            # Latencies since the last window (the histogram may lag the counters: what
            # came beyond this window's requests waits for the next one).
            base = self._latency_base.get(subset, ClusterStats())
            current = now.get(subset, ClusterStats())
            pending = self._latency_pending.setdefault(subset, [])
            pending += _latencies(current.since(base))
            self._latency_base[subset] = current
            counts.latencies_ms += pending[: stats.requests]
            del pending[: stats.requests]
        return out

    def records_between(self, first_seq: int, last_seq: int) -> list[dict[str, Any]]:
        """One record (``version``) per request between two readings of this reader."""
        out: list[dict[str, Any]] = []
        for subset, stats in sorted(self._between(first_seq, last_seq).items()):
            out += [{"version": self.version_of_subset(subset)}] * max(0, stats.requests)
        return out
