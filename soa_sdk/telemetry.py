"""Mesh telemetry from Envoy's own statistics: one reader, two sources.

Both sources answer Prometheus's text exposition format, as Envoy's admin ``/stats/prometheus``
does:

- the sandbox: the admin endpoints of its Envoys (``soa-lab status`` lists them);
- real endpoints: a Prometheus URL in ``SOA_LAB_PROMETHEUS_URL`` answering the same text (a
  Prometheus server's ``/federate?match[]=...``, or an Envoy's ``envoy_prometheus_bind_addr``
  listener that Consul's ``consul connect envoy`` sets up), since real Consul deployments
  export the same Envoy metrics.

:class:`MeshMetrics` sums, per upstream cluster (service, subset, partition: parsed from
Consul's SNI cluster names, or read from Consul's ``consul_destination_*`` labels):
``envoy_cluster_upstream_rq_total``, the 5xx of ``envoy_cluster_upstream_rq_xx`` and the
``envoy_cluster_upstream_rq_time`` histogram (milliseconds), from which it estimates
quantiles the way PromQL's ``histogram_quantile`` does. Counters are cumulative: subtract two
readings (:meth:`ClusterStats.since`) for a window.

Not implemented: PromQL queries (``/api/v1/query``), CloudWatch's Envoy metrics, the
OpenMetrics format, per-source-service breakdowns (Envoy's upstream statistics are the
caller's; the destination's inbound ones are not read yet).
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import requests

from soa_sdk.errors import ServiceUnavailable
from soa_sdk.reachability import unavailable

PROMETHEUS_URL_ENV = "SOA_LAB_PROMETHEUS_URL"

_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
_SNI = re.compile(
    r"^(?:(?P<subset>[^.]+)\.)?(?P<service>[^.]+)\.default\."
    r"(?:(?P<partition>[^.]+)\.)?(?P<dc>[^.]+)\.internal(?:-v1)?\..+\.consul$"
)


@dataclass(frozen=True)
class Cluster:
    """An upstream cluster: Consul's target of a service (and subset) in a partition."""

    service: str
    subset: str = ""
    partition: str = "default"


@dataclass
class ClusterStats:
    """Cumulative statistics of one upstream cluster, summed over every Envoy read."""

    requests: int = 0
    errors_5xx: int = 0
    buckets: dict[float, float] = field(default_factory=dict)
    """``le`` (milliseconds, ``inf`` included) -> cumulative count."""
    latency_sum_ms: float = 0.0

    def since(self, earlier: ClusterStats) -> ClusterStats:
        """What happened between ``earlier`` and this reading."""
        return ClusterStats(
            self.requests - earlier.requests,
            self.errors_5xx - earlier.errors_5xx,
            {le: n - earlier.buckets.get(le, 0.0) for le, n in self.buckets.items()},
            self.latency_sum_ms - earlier.latency_sum_ms,
        )

    @property
    def error_rate(self) -> float:
        return self.errors_5xx / self.requests if self.requests else 0.0

    def quantile(self, q: float) -> float | None:
        """Latency quantile (ms) by linear interpolation in the buckets, as PromQL's
        ``histogram_quantile``; None without observations."""
        edges = sorted(self.buckets)
        if not edges or self.buckets[edges[-1]] <= 0:
            return None
        total = self.buckets[edges[-1]]
        rank = q * total
        lower, below = 0.0, 0.0
        for le in edges:
            count = self.buckets[le]
            if count >= rank:
                if math.isinf(le):
                    return lower
                width = count - below
                return lower + (le - lower) * ((rank - below) / width if width else 1.0)
            lower, below = le, count
        return lower


def parse_cluster(name: str) -> Cluster | None:
    """A Consul SNI cluster name (``v2.inventory.default.ecs.dc1.internal-v1.<td>.consul``)."""
    match = _SNI.match(name.split("~", 1)[0])  # the sandbox's Envoys add ``~caller``
    if match is None:
        return None
    return Cluster(match["service"], match["subset"] or "", match["partition"] or "default")


def parse_text(text: str) -> Iterable[tuple[str, dict[str, str], float]]:
    """(metric, labels, value) of each sample of Prometheus's text format."""
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            continue
        labels = {k: v.replace('\\"', '"') for k, v in _LABEL.findall(match[2] or "")}
        try:
            yield match[1], labels, float(match[3])
        except ValueError:
            continue


def _cluster_of(labels: dict[str, str]) -> Cluster | None:
    if labels.get("consul_destination_service"):
        return Cluster(
            labels["consul_destination_service"],
            labels.get("consul_destination_service_subset", ""),
            labels.get("consul_destination_partition") or "default",
        )
    for key in ("consul_destination_target", "envoy_cluster_name"):
        if labels.get(key):
            found = parse_cluster(labels[key])
            if found is not None:
                return found
    return None


def aggregate(texts: Iterable[str]) -> dict[Cluster, ClusterStats]:
    """Sum the upstream statistics of every text (one per Envoy or per scrape)."""
    out: dict[Cluster, ClusterStats] = {}
    for text in texts:
        for metric, labels, value in parse_text(text):
            if not metric.startswith("envoy_cluster_upstream_rq"):
                continue
            cluster = _cluster_of(labels)
            if cluster is None:
                continue
            stats = out.setdefault(cluster, ClusterStats())
            if metric == "envoy_cluster_upstream_rq_total":
                stats.requests += int(value)
            elif metric == "envoy_cluster_upstream_rq_xx":
                if labels.get("envoy_response_code_class") == "5":
                    stats.errors_5xx += int(value)
            elif metric == "envoy_cluster_upstream_rq_time_bucket":
                le = float(labels.get("le", "inf").replace("+Inf", "inf"))
                stats.buckets[le] = stats.buckets.get(le, 0.0) + value
            elif metric == "envoy_cluster_upstream_rq_time_sum":
                stats.latency_sum_ms += value
    return out


class MeshMetrics:
    """Reads Envoy's statistics from ``urls`` (each answering Prometheus text)."""

    def __init__(
        self,
        urls: Sequence[str],
        session: requests.Session | None = None,
        source: str = "prometheus",
    ) -> None:
        """``source``: what answers at ``urls``, as :mod:`soa_sdk.reachability` names it
        (``"envoy"`` for the sandbox's Envoy admins), for the error when one does not."""
        if not urls:
            raise ServiceUnavailable(
                "No source of mesh metrics: on real endpoints set "
                f"{PROMETHEUS_URL_ENV} to a Prometheus text endpoint with the Envoy metrics."
            )
        self.urls = list(urls)
        self.source = source
        self._http = session or requests.Session()

    @classmethod
    def from_envoy_admins(
        cls, admin_urls: Sequence[str], headers: Mapping[str, str] | None = None
    ) -> MeshMetrics:
        """The sandbox: its Envoys' admin endpoints, opened with ``headers`` (the sandbox's
        admin token)."""
        # Only the upstream request statistics, and only those used: an Envoy holding many
        # sidecars has thousands of others.
        query = "?usedonly&filter=upstream_rq_(total|time|[1-5]xx)$"
        session = requests.Session()
        session.headers.update(headers or {})
        urls = [u.rstrip("/") + "/stats/prometheus" + query for u in admin_urls]
        return cls(urls, session, "envoy")

    @classmethod
    def from_environment(cls) -> MeshMetrics:
        """Real endpoints: the Prometheus URL in ``SOA_LAB_PROMETHEUS_URL``."""
        url = os.environ.get(PROMETHEUS_URL_ENV, "").strip()
        return cls([url] if url else [])

    def read(self) -> dict[Cluster, ClusterStats]:
        """Every upstream cluster's cumulative statistics now."""
        texts = []
        for url in self.urls:
            try:
                reply = self._http.get(url, timeout=10)
            except (requests.ConnectionError, requests.Timeout) as error:
                raise unavailable(self.source, url, error, "Reading the mesh metrics") from None
            if not reply.ok:
                found = ServiceUnavailable(
                    f"The mesh metrics at {url} answered HTTP {reply.status_code} "
                    f"({reply.text[:200].strip()!r})."
                )
                found.service, found.url = self.source, url
                raise found
            texts.append(reply.text)
        return aggregate(texts)

    def service(self, name: str, partition: str | None = None) -> dict[str, ClusterStats]:
        """Subset -> statistics of ``name`` (every partition unless one is given)."""
        out: dict[str, ClusterStats] = {}
        for cluster, stats in self.read().items():
            if cluster.service != name or (partition and cluster.partition != partition):
                continue
            into = out.setdefault(cluster.subset, ClusterStats())
            into.requests += stats.requests
            into.errors_5xx += stats.errors_5xx
            into.latency_sum_ms += stats.latency_sum_ms
            for le, n in stats.buckets.items():
                into.buckets[le] = into.buckets.get(le, 0.0) + n
        return out


# --- access logs: one record per request -----------------------------------------------------
_SPIFFE_SVC = re.compile(
    r"^spiffe://[^/]+(?:/ap/(?P<partition>[^/]+))?/ns/[^/]+/dc/[^/]+/svc/(?P<svc>[^/]+)$"
)


def _unix(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def access_record(line: dict[str, object]) -> dict[str, object] | None:
    """The observation's record of one access-log line of a sidecar's public listener (the
    destination's side: who called, by its certificate's SPIFFE ID, which instance answered,
    the code and the duration), in the sandbox's JSON format
    (:func:`soa_sdk.sandbox.connect.listeners` ``_access_log``); None for other lines."""
    if line.get("listener") != "public":
        return None
    peer = _SPIFFE_SVC.match(str(line.get("peer") or ""))
    try:
        when = _unix(str(line["start_time"]))
        code = int(str(line["status"]))
    except (KeyError, ValueError):
        return None
    destination = str(line.get("identity") or "")
    return {
        "time": when,
        "source": peer["svc"] if peer else "",
        "source_partition": (peer["partition"] or "default") if peer else "",
        "destination": destination,
        "upstream": destination,
        "partition": str(line.get("partition") or "default"),
        "instance": str(line.get("instance") or ""),
        "code": code,
        "latency_ms": _latency_ms(line),
        "method": str(line.get("method") or ""),
        "path": str(line.get("path") or ""),
        "request_id": str(line.get("request_id") or ""),
    }


def _latency_ms(line: dict[str, object]) -> float:
    """The request's duration in ms: ``duration_us`` (Envoy's ``COMMON_DURATION`` in
    microseconds, the sandbox's format), or ``duration_ms`` (``%DURATION%``, whole ms)."""
    try:
        if line.get("duration_us") not in (None, "", "-"):
            return float(str(line["duration_us"])) / 1000.0
        return float(str(line.get("duration_ms") or 0))
    except ValueError:
        return 0.0


def wait_flushed(
    admin_urls: Sequence[str], timeout: float = 2.0, headers: Mapping[str, str] | None = None
) -> bool:
    """Wait (at most ``timeout`` seconds) until no Envoy holds access-log lines in its file
    buffer (the ``filesystem.write_total_buffered`` gauge at 0 on each admin, asked with
    ``headers``)."""
    deadline = time.monotonic() + timeout
    pending = list(admin_urls)
    while pending:
        still = []
        for url in pending:
            try:
                text = requests.get(
                    f"{url.rstrip('/')}/stats",
                    params={"filter": "^filesystem\\.write_total_buffered$"},
                    headers=dict(headers or {}),
                    timeout=2,
                ).text
            except requests.RequestException:
                continue  # an Envoy that does not answer holds nothing we could wait for
            if not re.search(r"write_total_buffered: 0\b", text):
                still.append(url)
        pending = still
        if pending and time.monotonic() >= deadline:
            return False
        if pending:
            time.sleep(0.02)
    return True


class AccessLog:
    """The requests of an Envoy access log (JSON lines, the sandbox's format), numbered from
    1 in file order (``seq``), read incrementally. ``version_of(partition, service,
    instance)`` names the version of the instance that answered (Consul's
    ``Service.Meta.version``).

    Not implemented: requests refused before the destination's sidecar (no healthy
    upstream: only the caller's side logs them), a log rotated under the reader (it starts
    over), Envoy's gRPC access-log service."""

    def __init__(
        self,
        path: str,
        version_of: Callable[[str, str, str], str],
        admin_urls: Sequence[str] = (),
        admin_headers: Mapping[str, str] | None = None,
    ) -> None:
        """``admin_urls``: the Envoys writing the log, whose buffers are waited for
        (:func:`wait_flushed`, asked with ``admin_headers``) before each read."""
        self.path = path
        self.version_of = version_of
        self.admin_urls = list(admin_urls)
        self.admin_headers = dict(admin_headers or {})
        self._records: list[dict[str, object]] = []
        self._offset = 0

    def _refresh(self) -> None:
        import json

        if self.admin_urls:
            wait_flushed(self.admin_urls, headers=self.admin_headers)
        try:
            size = os.path.getsize(self.path)
        except OSError:
            return
        if size < self._offset:  # rotated or truncated: start over
            self._records, self._offset = [], 0
        with open(self.path, "rb") as file:
            file.seek(self._offset)
            data = file.read()
        end = data.rfind(b"\n") + 1  # a line Envoy is still writing waits
        self._offset += end
        for raw in data[:end].splitlines():
            try:
                record = access_record(json.loads(raw))
            except ValueError:
                continue
            if record is None:
                continue
            record["seq"] = len(self._records) + 1
            record["version"] = self.version_of(
                str(record["partition"]), str(record["destination"]), str(record["instance"])
            )
            self._records.append(record)

    def query(
        self, after: int = 0, since: float | None = None, limit: int | None = None
    ) -> tuple[list[dict[str, object]], int]:
        """Records with ``seq > after`` (and ``time >= since``), oldest first, at most
        ``limit``; and the last sequence number."""
        self._refresh()
        found = [
            r
            for r in self._records[max(0, after) :]
            if since is None or float(r["time"]) >= since  # type: ignore[arg-type]
        ]
        return (found if limit is None else found[:limit]), len(self._records)
