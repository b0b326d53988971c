"""How it behaves: the mesh's requests as CloudWatch metrics, and reading them back.

Real API: CloudWatch ``PutMetricData`` and ``GetMetricData``. Every telemetry record is one
request served by (or refused for) a destination service. Per second (high-resolution
metrics, ``StorageResolution=1``), per service and version, we publish into the account of
the runtime that serves the service, namespace ``SoaLab/Mesh``:

- ``Requests`` (Count): requests to the service;
- ``Errors`` (Count): those answered with a 5xx (0 is published too, so rates line up);
- ``Latency`` (Milliseconds): a statistic set (SampleCount, Sum, Minimum, Maximum).

Each is published with the dimensions ``{Service, Version}`` and ``{Service}``; CloudWatch
does not add dimensions up by itself, so the service-wide series is published explicitly.
Requests the mesh could not route to any instance have the version ``unrouted``. In
production Envoy's statistics reach CloudWatch through the CloudWatch agent or ADOT; the
shape of the metrics is the same.

High-resolution periods are 1, 5, 10 or 30 seconds; otherwise a multiple of 60.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from soa_sdk import validate
from soa_sdk.errors import ValidationError
from soa_sdk.tables import Table

NAMESPACE = "SoaLab/Mesh"
UNROUTED = "unrouted"
BATCH = 500  # PutMetricData takes up to 1000 metric data items per call
HIGH_RESOLUTION_PERIODS = (1, 5, 10, 30)


def version_of(record: dict[str, Any]) -> str:
    return str(record.get("version") or UNROUTED)


def aggregate(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """PutMetricData items for ``records`` (all of one account), one second per bucket."""
    buckets: dict[tuple[str, str, int], list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        second = int(record["time"])
        service = record["destination"]
        buckets[(service, version_of(record), second)].append(record)
        buckets[(service, "", second)].append(record)
    items = []
    for (service, version, second), group in sorted(buckets.items()):
        dimensions = [{"Name": "Service", "Value": service}]
        if version:
            dimensions.append({"Name": "Version", "Value": version})
        when = datetime.fromtimestamp(second, UTC)
        latencies = [float(r["latency_ms"]) for r in group]
        common = {"Dimensions": dimensions, "Timestamp": when, "StorageResolution": 1}
        items += [
            {**common, "MetricName": "Requests", "Value": len(group), "Unit": "Count"},
            {
                **common,
                "MetricName": "Errors",
                "Value": sum(1 for r in group if int(r["code"]) >= 500),
                "Unit": "Count",
            },
            {
                **common,
                "MetricName": "Latency",
                "Unit": "Milliseconds",
                "StatisticValues": {
                    "SampleCount": len(latencies),
                    "Sum": sum(latencies),
                    "Minimum": min(latencies),
                    "Maximum": max(latencies),
                },
            },
        ]
    return items


def put(cloudwatch: Any, items: list[dict[str, Any]]) -> int:
    """PutMetricData in batches; returns the number of calls."""
    calls = 0
    for first in range(0, len(items), BATCH):
        cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=items[first : first + BATCH])
        calls += 1
    return calls


def check_period(period: int) -> int:
    validate.whole(period, "period", 1, unit=" seconds")
    if period in HIGH_RESOLUTION_PERIODS or (period >= 60 and period % 60 == 0):
        return int(period)
    raise ValidationError(
        f"A CloudWatch period is 1, 5, 10 or 30 seconds (high resolution) or a multiple of 60; "
        f"{period} is neither."
    )


@dataclass
class Series:
    """One version's time series: request and error counts, average latency, per period."""

    version: str
    timestamps: list[datetime] = field(default_factory=list)
    requests: list[float] = field(default_factory=list)
    errors: list[float] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)

    @property
    def error_rate(self) -> list[float]:
        return [e / r if r else 0.0 for e, r in zip(self.errors, self.requests, strict=True)]


@dataclass
class ServiceMetrics:
    """What ``GetMetricData`` returned for one service: one :class:`Series` per version."""

    service: str
    runtime: str
    account: str
    period: int
    start: datetime
    end: datetime
    versions: dict[str, Series]

    @property
    def total_requests(self) -> int:
        return int(sum(sum(s.requests) for s in self.versions.values()))

    @property
    def total_errors(self) -> int:
        return int(sum(sum(s.errors) for s in self.versions.values()))

    def table(self) -> Table:
        rows = []
        for version, series in self.versions.items():
            count = sum(series.requests)
            weighted = sum(
                lat * n for lat, n in zip(series.latency_ms, series.requests, strict=True)
            )
            rows.append(
                {
                    "version": version,
                    "requests": int(count),
                    "errors": int(sum(series.errors)),
                    "error rate": f"{sum(series.errors) / count:.1%}" if count else "-",
                    "avg latency ms": round(weighted / count, 2) if count else "-",
                    "periods": len(series.timestamps),
                }
            )
        return Table(
            rows,
            title=f"{self.service} in {self.runtime} ({self.account}), GetMetricData "
            f"{self.period} s periods",
        )


def read(
    cloudwatch: Any,
    service: str,
    versions: list[str],
    period: int,
    start: datetime,
    end: datetime,
) -> dict[str, Series]:
    """``GetMetricData``: Requests and Errors (Sum) and Latency (Average) per version."""
    queries = []
    for i, version in enumerate(versions):
        dimensions = [{"Name": "Service", "Value": service}, {"Name": "Version", "Value": version}]
        for metric, stat in (("Requests", "Sum"), ("Errors", "Sum"), ("Latency", "Average")):
            queries.append(
                {
                    "Id": f"{metric.lower()}_{i}",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": NAMESPACE,
                            "MetricName": metric,
                            "Dimensions": dimensions,
                        },
                        "Period": period,
                        "Stat": stat,
                    },
                    "ReturnData": True,
                }
            )
    results: dict[str, dict[datetime, float]] = defaultdict(dict)
    for page in cloudwatch.get_paginator("get_metric_data").paginate(
        MetricDataQueries=queries, StartTime=start, EndTime=end, ScanBy="TimestampAscending"
    ):
        for result in page["MetricDataResults"]:
            for when, value in zip(result["Timestamps"], result["Values"], strict=True):
                results[result["Id"]][when] = value
    out = {}
    for i, version in enumerate(versions):
        requests = results[f"requests_{i}"]
        if not requests:
            continue
        series = Series(version)
        for when in sorted(requests):
            series.timestamps.append(when)
            series.requests.append(requests[when])
            series.errors.append(results[f"errors_{i}"].get(when, 0.0))
            series.latency_ms.append(results[f"latency_{i}"].get(when, math.nan))
        out[version] = series
    return out


def window(
    start: datetime | None, end: datetime | None, default: timedelta
) -> tuple[datetime, datetime]:
    """Whole seconds: the metrics are stamped with the second their requests started in."""
    finish = end or datetime.now(UTC) + timedelta(seconds=1)
    finish = finish.replace(microsecond=0) + (
        timedelta(seconds=1) if finish.microsecond else timedelta()
    )
    begin = (start or finish - default).replace(microsecond=0)
    return begin, finish
