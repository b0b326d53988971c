"""The release's windows from Envoy's statistics (``MeshTelemetryReader``): counters read as
differences, a window holding at least what was asked for, 5xx as errors, latencies from the
histogram (a lagging histogram gives them to the next window), a restart starting over, and
``records_between`` for the shares check. The metrics are a stand-in (no Envoy)."""

from __future__ import annotations

from soa_sdk.release.telemetry import MeshTelemetryReader
from soa_sdk.telemetry import ClusterStats, MeshMetrics


class _Metrics(MeshMetrics):
    """A MeshMetrics stand-in: the test moves the counters."""

    def __init__(self) -> None:  # reads nothing over HTTP
        self.now: dict[str, ClusterStats] = {}

    def service(self, name: str, partition: str | None = None) -> dict[str, ClusterStats]:
        return {
            k: ClusterStats(v.requests, v.errors_5xx, dict(v.buckets)) for k, v in self.now.items()
        }

    def serve(self, subset: str, n: int, errors: int = 0, at_ms: float | None = 5.0) -> None:
        stats = self.now.setdefault(subset, ClusterStats())
        stats.requests += n
        stats.errors_5xx += errors
        if at_ms is not None:
            self.histogram(subset, n, at_ms)

    def histogram(self, subset: str, n: int, at_ms: float) -> None:
        stats = self.now[subset]
        for le in (1.0, 5.0, 25.0, float("inf")):
            stats.buckets.setdefault(le, 0.0)
            if at_ms <= le:
                stats.buckets[le] += n


def test_windows_are_differences_of_readings() -> None:
    metrics = _Metrics()
    metrics.serve("v1", 1000)  # before the reader: not counted
    reader = MeshTelemetryReader(metrics, "inventory", "ecs", lambda s: {"v2-1": "v2.1"}.get(s, s))
    metrics.serve("v1", 60, errors=3)
    metrics.serve("v2-1", 40, at_ms=20.0)
    window = reader.window(100, timeout=5.0, poll=0.01)
    assert window.total == 100
    v1, v2 = window.counts("v1"), window.counts("v2.1")
    assert (v1.requests, v1.errors, v2.requests, v2.errors) == (60, 3, 40, 0)
    # Spread over their buckets, (1, 5] and (5, 25] ms.
    assert len(v1.latencies_ms) == 60 and all(1 < x <= 5 for x in v1.latencies_ms)
    assert len(v2.latencies_ms) == 40 and all(5 < x <= 25 for x in v2.latencies_ms)
    assert v1.sample().requests == 60
    assert window.last_seq - window.first_seq == 100
    records = reader.records_between(window.first_seq, window.last_seq)
    assert sum(r["version"] == "v2.1" for r in records) == 40 and len(records) == 100


def test_a_short_window_ends_at_its_timeout_with_what_came() -> None:
    metrics = _Metrics()
    reader = MeshTelemetryReader(metrics, "inventory", "ecs")
    metrics.serve("v1", 7)
    window = reader.window(100, timeout=0.2, poll=0.01)
    assert window.total == 7
    assert reader.window(1, timeout=0.05, poll=0.01).total == 0  # nothing counted twice


def test_a_lagging_histogram_gives_its_latencies_to_the_next_window() -> None:
    metrics = _Metrics()
    reader = MeshTelemetryReader(metrics, "inventory", "ecs")
    metrics.serve("v1", 10, at_ms=None)  # counted, not yet in the histogram
    first = reader.window(10, timeout=1.0, poll=0.01)
    assert first.counts("v1").requests == 10 and first.counts("v1").latencies_ms == []
    metrics.histogram("v1", 10, 1.0)
    metrics.serve("v1", 5, at_ms=None)
    second = reader.window(5, timeout=1.0, poll=0.01)
    lagged = second.counts("v1").latencies_ms
    assert len(lagged) == 5 and all(0 < x <= 1 for x in lagged)  # at most one per request
    metrics.histogram("v1", 5, 1.0)
    metrics.serve("v1", 10)
    third = reader.window(10, timeout=1.0, poll=0.01)
    assert len(third.counts("v1").latencies_ms) == 10


def test_skip_to_now_and_an_envoy_restart() -> None:
    metrics = _Metrics()
    reader = MeshTelemetryReader(metrics, "inventory", "ecs")
    metrics.serve("v1", 50)
    reader.skip_to_now()
    metrics.now = {}  # the Envoy restarted: its counters start from zero
    metrics.serve("v1", 3)
    assert reader.window(3, timeout=1.0, poll=0.01).counts("v1").requests == 3


def test_a_dropped_subset_takes_nothing_back() -> None:
    """A subset the resolver no longer has leaves Envoy's statistics: the count goes on."""
    metrics = _Metrics()
    reader = MeshTelemetryReader(metrics, "inventory", "ecs")
    metrics.serve("v1", 30)
    metrics.serve("v2", 20)
    first = reader.window(50, timeout=1.0, poll=0.01)
    del metrics.now["v2"]  # the canary retired: its cluster is gone
    metrics.serve("v1", 10)
    second = reader.window(10, timeout=1.0, poll=0.01)
    assert second.counts("v1").requests == 10 and second.first_seq == first.last_seq
    assert len(reader.records_between(first.first_seq, first.last_seq)) == 50
    assert len(reader.records_between(second.first_seq, second.last_seq)) == 10
