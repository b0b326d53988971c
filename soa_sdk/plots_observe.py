"""The figures of step 2 (matplotlib): traffic over time per version (from CloudWatch, and
period by period from the mesh's records), and the topology."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from matplotlib import dates as mdates
from matplotlib import pyplot as plt

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from soa_sdk.observe.metrics import ServiceMetrics
    from soa_sdk.observe.stretch import Stretch
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
    # Readable times: HH:MM:SS ticks on whole seconds (never two alike), about six of them,
    # over the data's own range (padded by a period): a locator over an unbounded view would
    # enumerate every second of it.
    stamps = [t for item in metrics for s in item.versions.values() for t in s.timestamps]
    if stamps:
        pad = timedelta(seconds=max(1, metrics[0].period))
        _time_axis(lat, min(stamps) - pad, max(stamps) + pad)
    period = metrics[0].period if metrics else 0
    figure.suptitle(title or f"Mesh traffic from CloudWatch ({period} s periods)")
    figure.autofmt_xdate()
    figure.tight_layout()
    return figure


def _time_axis(axes: Axes, first: datetime, last: datetime) -> None:
    """Bound the (shared) time axis to ``first``..``last`` with about six HH:MM:SS ticks on
    whole seconds, never two alike."""
    axes.set_xlim(first, last)  # type: ignore[arg-type]
    span = (last - first).total_seconds()
    axes.xaxis.set_major_locator(mdates.SecondLocator(interval=max(1, math.ceil(span / 6))))
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))


def stretch_figure(stretch: Stretch, highlight: str | None = None, title: str = "") -> Figure:
    """A stretch of traffic period by period, from the mesh's records: one bar per service
    and version in each period for its requests and its 5xx, and its p50 to p99 latency as
    a line from a dot (p50) to a triangle (p99), one colour per service and version; the
    periods labelled ``highlight`` (e.g. ``"incident"``) shaded."""
    from matplotlib.lines import Line2D

    periods = stretch.read()
    keys = stretch.services()
    figure, (req, err, lat) = plt.subplots(
        3, 1, figsize=(9, 7.5), sharex=True, height_ratios=(1, 1.5, 2)
    )
    day = 86400.0  # matplotlib's dates are in days
    # A period that ran late (a loaded machine) is wider: its bars share its whole width.
    widths = [(p.end - p.start) * 0.8 / max(1, len(keys)) / day for p in periods]
    starts = [mdates.date2num(datetime.fromtimestamp(p.start, UTC)) for p in periods]
    for index, key in enumerate(keys):
        colour = f"C{index % 10}"
        xs = [x + w * (len(keys) / 8 + index + 0.5) for x, w in zip(starts, widths, strict=True)]
        stats = [p.stats.get(key) for p in periods]
        req.bar(xs, [s.requests if s else 0 for s in stats], widths, color=colour)
        err.bar(xs, [s.errors if s else 0 for s in stats], widths, color=colour)
        p50 = [s.p50 if s and s.p50 is not None else math.nan for s in stats]
        p99 = [s.p99 if s and s.p99 is not None else math.nan for s in stats]
        lat.vlines(xs, p50, p99, color=colour, linewidth=1.5)
        lat.plot(xs, p50, "o", color=colour, markersize=4, label=f"{key[0]} {key[1]}")
        lat.plot(xs, p99, "^", color=colour, markersize=5)
    req.set_ylabel("requests")
    err.set_ylabel("5xx")
    lat.set_ylabel("latency ms")
    lat.set_xlabel("time (UTC)")
    services = lat.legend(loc="upper left", fontsize=8, ncol=4)
    lat.add_artist(services)
    marks = [
        Line2D([], [], marker=m, color="#555555", linestyle="", label=t)
        for m, t in (("o", "p50"), ("^", "p99"))
    ]
    lat.legend(handles=marks, loc="upper right", fontsize=8, ncol=2)
    for axes in (req, err, lat):
        axes.grid(alpha=0.3)
        axes.set_ylim(bottom=0)
    for period, x in zip(periods, starts, strict=True):
        if highlight is not None and period.label == highlight:
            for axes in (req, err, lat):
                axes.axvspan(x, x + (period.end - period.start) / day, color="#d62728", alpha=0.1)
            req.annotate(
                highlight,
                (x, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(3, 2),
                textcoords="offset points",
                color="#d62728",
                fontsize=9,
            )
    lat.set_ylim(top=max(lat.get_ylim()[1] * 1.25, 1.0))  # room for the legends
    if periods:
        lat.xaxis_date()
        first = datetime.fromtimestamp(periods[0].start, UTC)
        _time_axis(lat, first, datetime.fromtimestamp(periods[-1].end, UTC))
    figure.suptitle(
        title
        or f"{stretch.runtime.name}: {len(periods)} periods of {stretch.period} s through the "
        "ingress, as the mesh recorded them"
    )
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


def topology_figure(
    topology: Topology,
    title: str = "What talks to what",
    accounts: dict[str, str] | None = None,
) -> Figure:
    """Services as boxes grouped by Consul admin partition (one band each, labelled with its
    runtime and account from ``accounts``: partition -> label), observed calls as arrows from
    box edge to box edge, labelled with their request count and error rate: solid when the
    mesh allowed them (red when some failed), dashed grey when its intentions denied them
    (403 ``RBAC: access denied``)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyBboxPatch

    accounts = accounts or {}
    depth = _layers(topology)
    entry = min(topology.nodes, key=lambda n: (depth.get(n, 0), n), default="")
    first = topology.nodes.get(entry, "")
    partitions = sorted({p for p in topology.nodes.values()}, key=lambda p: (p != first, p))
    colour = {p: PARTITION_COLOURS[i % len(PARTITION_COLOURS)] for i, p in enumerate(partitions)}
    position: dict[str, tuple[float, float]] = {}
    bands: list[tuple[str, float, float]] = []
    y = 0.0
    for partition in partitions:
        members = [n for n in topology.nodes if topology.nodes[n] == partition]
        stacks: dict[int, list[str]] = defaultdict(list)
        for node in sorted(members, key=lambda n: (depth[n], n)):
            stacks[depth[node]].append(node)
        tallest = max(len(v) for v in stacks.values())
        for level, nodes in stacks.items():
            for i, node in enumerate(nodes):
                position[node] = (float(level) * 2.2, y - i * 1.0)
        bands.append((partition, y + 0.55, y - (tallest - 1) * 1.0 - 0.55))
        y -= tallest * 1.0 + 0.6
    width = max((x for x, _ in position.values()), default=0.0)
    figure, axes = plt.subplots(figsize=(2.3 * (width / 2.2 + 1) + 2.2, 0.95 * -y + 1.2))
    axes.set_axis_off()
    for partition, top, bottom in bands:
        axes.add_patch(
            FancyBboxPatch(
                (-0.9, bottom),
                width + 1.8,
                top - bottom,
                boxstyle="round,pad=0.05,rounding_size=0.15",
                facecolor=colour[partition],
                edgecolor="#8a8f99",
                alpha=0.45,
                zorder=0,
            )
        )
        label = f"partition {partition or '?'}"
        if partition in accounts:
            label += f"  ·  {accounts[partition]}"
        axes.text(-0.85, top - 0.08, label, fontsize=8, va="top", color="#3d4350", zorder=1)
    boxes = {}
    for node, (x, yy) in position.items():
        boxes[node] = axes.text(
            x,
            yy,
            node,
            ha="center",
            va="center",
            fontsize=9,
            zorder=3,
            bbox={"boxstyle": "round,pad=0.45", "facecolor": "white", "edgecolor": "#555555"},
        )
    pairs = topology.pairs()
    for edge in topology.edges:
        source, destination = edge["source"], edge["destination"]
        # A call both ways (one of them denied, usually): bend both arrows apart.
        bend = 0.35 if (destination, source) in pairs else 0.0
        denied = edge.get("denied", 0)
        allowed = edge["requests"] - denied
        red = edge["errors"] > 0
        style = "--" if allowed == 0 else "-"
        tone = "#8a8f99" if allowed == 0 else "#c0392b" if red else "#2c3e50"
        axes.annotate(
            "",
            xy=(0.5, 0.5),
            xycoords=boxes[destination],
            xytext=(0.5, 0.5),
            textcoords=boxes[source],
            zorder=2,
            arrowprops={
                "arrowstyle": "-|>",
                "color": tone,
                "linestyle": style,
                "linewidth": 1 + min(edge["requests"], 2000) / 700,
                "patchA": boxes[source].get_bbox_patch(),
                "patchB": boxes[destination].get_bbox_patch(),
                "shrinkA": 1,
                "shrinkB": 1,
                "connectionstyle": f"arc3,rad={bend}",
            },
        )
        (x0, y0), (x1, y1) = position[source], position[destination]
        words = f"{edge['requests']} req, {edge['error_rate']:.0%} err"
        if denied:
            words = f"{denied} denied" + (f", {allowed} allowed" if allowed else "")
        axes.text(
            x0 + (x1 - x0) * 0.55,
            y0 + (y1 - y0) * 0.55 + (0.16 if bend == 0 else -0.55 if x1 > x0 else 0.5),
            words,
            ha="center",
            fontsize=7.5,
            color=tone,
            zorder=4,
            bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none"},
        )
    axes.legend(
        handles=[
            Line2D([], [], color="#2c3e50", label="allowed by intentions"),
            Line2D([], [], color="#c0392b", label="allowed, some 5xx"),
            Line2D([], [], color="#8a8f99", linestyle="--", label="denied by intentions (403)"),
        ],
        loc="lower right",
        fontsize=7.5,
        frameon=False,
    )
    axes.set_xlim(-1.0, width + 1.0)
    axes.set_ylim(y + 0.3, 0.75)
    axes.set_title(f"{title} ({topology.requests} requests observed)")
    figure.tight_layout()
    return figure
