"""The figures of step 2 (matplotlib): traffic over time per version, and the topology."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from matplotlib import pyplot as plt

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from soa_sdk.observe.metrics import ServiceMetrics
    from soa_sdk.observe.topology import Topology

PARTITION_COLOURS = ("#cfe2ff", "#d1f0d8", "#ffe8c2", "#f3d1f0", "#e2e2e2")


def traffic(metrics: list[ServiceMetrics], title: str = "") -> Figure:
    """Requests per second, error rate and mean latency over time, one line per service
    and version (from ``GetMetricData``)."""
    figure, (req, err, lat) = plt.subplots(3, 1, figsize=(9, 7), sharex=True)
    for item in metrics:
        for version, series in item.versions.items():
            label = f"{item.service} {version}"
            times, rows = _with_gaps(
                series.timestamps,
                [
                    [n / item.period for n in series.requests],
                    [r * 100 for r in series.error_rate],
                    series.latency_ms,
                ],
                item.period,
            )
            req.plot(times, rows[0], marker=".", label=label)
            err.plot(times, rows[1], marker=".")
            lat.plot(times, rows[2], marker=".")
    req.set_ylabel("requests / s")
    err.set_ylabel("errors (5xx) %")
    err.set_ylim(-5, 105)
    lat.set_ylabel("mean latency ms")
    lat.set_xlabel("time (UTC)")
    req.legend(loc="upper left", fontsize=8, ncol=2)
    for axes in (req, err, lat):
        axes.grid(alpha=0.3)
    period = metrics[0].period if metrics else 0
    figure.suptitle(title or f"Mesh traffic from CloudWatch ({period} s periods)")
    figure.autofmt_xdate()
    figure.tight_layout()
    return figure


def _with_gaps(
    times: list[datetime], rows: list[list[float]], period: int
) -> tuple[list[datetime], list[list[float]]]:
    """Break the lines where CloudWatch returned no data point (no request in a period)."""
    out_times: list[datetime] = []
    out_rows: list[list[float]] = [[] for _ in rows]
    for i, when in enumerate(times):
        if out_times and (when - out_times[-1]).total_seconds() > period:
            out_times.append(out_times[-1] + timedelta(seconds=period))
            for row in out_rows:
                row.append(math.nan)
        out_times.append(when)
        for row, values in zip(out_rows, rows, strict=True):
            row.append(values[i])
    return out_times, out_rows


def _layers(topology: Topology) -> dict[str, int]:
    """Depth of each node: sources nobody calls first, then what they call, and so on."""
    called = {d for _, d in topology.pairs()}
    depth = {n: 0 for n in topology.nodes if n not in called}
    frontier = list(depth) or list(topology.nodes)[:1]
    depth.update({n: 0 for n in frontier})
    while frontier:
        following = []
        for node in frontier:
            for source, destination in sorted(topology.pairs()):
                if source == node and destination not in depth:
                    depth[destination] = depth[node] + 1
                    following.append(destination)
        frontier = following
    for node in topology.nodes:
        depth.setdefault(node, 0)
    return depth


def topology_figure(topology: Topology, title: str = "What talks to what") -> Figure:
    """Services as boxes (coloured by Consul partition), observed calls as arrows labelled
    with their request count and error rate (red when errors)."""
    depth = _layers(topology)
    columns: dict[int, list[str]] = defaultdict(list)
    for node in sorted(depth, key=lambda n: (depth[n], n)):
        columns[depth[node]].append(node)
    position = {
        node: (float(level), -float(i) + (len(nodes) - 1) / 2)
        for level, nodes in columns.items()
        for i, node in enumerate(nodes)
    }
    partitions = sorted({p for p in topology.nodes.values() if p})
    colour = {p: PARTITION_COLOURS[i % len(PARTITION_COLOURS)] for i, p in enumerate(partitions)}
    height = max((len(n) for n in columns.values()), default=1)
    figure, axes = plt.subplots(figsize=(3.4 * max(len(columns), 1) + 1, 1.3 * height + 1.5))
    axes.set_axis_off()
    for edge in topology.edges:
        (x0, y0), (x1, y1) = position[edge["source"]], position[edge["destination"]]
        red = edge["errors"] > 0
        axes.annotate(
            "",
            xy=(x1 - 0.28, y1),
            xytext=(x0 + 0.28, y0),
            arrowprops={
                "arrowstyle": "-|>",
                "color": "#c0392b" if red else "#2c3e50",
                "linewidth": 1 + min(edge["requests"], 2000) / 700,
            },
        )
        axes.text(
            (x0 + x1) / 2,
            (y0 + y1) / 2 + 0.12,
            f"{edge['requests']} req, {edge['error_rate']:.0%} err",
            ha="center",
            fontsize=8,
            color="#c0392b" if red else "#2c3e50",
        )
    for node, (x, y) in position.items():
        partition = topology.nodes.get(node, "")
        axes.text(
            x,
            y,
            f"{node}\n[{partition or '?'}]",
            ha="center",
            va="center",
            fontsize=9,
            bbox={
                "boxstyle": "round,pad=0.4",
                "facecolor": colour.get(partition, "#ffffff"),
                "edgecolor": "#555555",
            },
        )
    xs = [x for x, _ in position.values()] or [0.0]
    ys = [y for _, y in position.values()] or [0.0]
    axes.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    axes.set_ylim(min(ys) - 0.7, max(ys) + 0.7)
    axes.set_title(f"{title} ({topology.requests} requests observed)")
    figure.tight_layout()
    return figure
