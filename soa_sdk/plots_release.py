"""Figures of step 3: how traffic moved between versions and what the analysis saw."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt

from soa_sdk.release.record import ReleaseResult

_MARKERS = {"rollback": ("X", "tab:red"), "promote": ("*", "tab:green")}


def _weights(result: ReleaseResult, t0: float) -> dict[str, list[tuple[float, float]]]:
    """Per version, (time, percent of traffic) at each change of one release, up to its end."""
    series: dict[str, list[tuple[float, float]]] = {}
    for event in result.events:
        if event.kind not in ("weight", "rollback", "promote"):
            continue
        t = event.time - t0
        series.setdefault(result.baseline, []).append((t, 100.0 - event.weight))
        series.setdefault(result.canary, []).append((t, event.weight))
    end = result.events[-1].time - t0
    return {v: [*points, (end, points[-1][1])] for v, points in series.items()}


def release_timeline(results: Sequence[ReleaseResult], title: str = "") -> Any:
    """Weight per version over time (top), error rate per version per analysis window
    (bottom), with the decisions marked: rollback (red X), promotion (green star), and
    the windows that let the canary go on (small triangles)."""
    if not results or not any(r.events for r in results):
        raise ValueError("release_timeline needs at least one release with events")
    t0 = min(r.events[0].time for r in results if r.events)
    figure, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(10, 6))
    colors: dict[str, Any] = {}
    for result in results:
        for version, points in _weights(result, t0).items():
            first = version not in colors
            colors.setdefault(version, f"C{len(colors)}")
            top.step(
                [t for t, _ in points],
                [w for _, w in points],
                where="post",
                color=colors[version],
                label=version if first else None,
            )
    rates: dict[str, list[tuple[float, float]]] = {}
    for result in results:
        for event in result.decisions():
            for version, counts in event.window.items():
                if counts.get("requests"):
                    rates.setdefault(version, []).append(
                        (event.time - t0, 100.0 * counts["errors"] / counts["requests"])
                    )
            if event.verdict == "continue":
                bottom.plot(event.time - t0, 0, marker="^", color="tab:gray", markersize=5)
        for event in result.events:
            if event.kind in _MARKERS:
                marker, color = _MARKERS[event.kind]
                for axis in (top, bottom):
                    axis.axvline(event.time - t0, color=color, linestyle=":", linewidth=1)
                top.plot(event.time - t0, event.weight, marker=marker, color=color, markersize=12)
                top.annotate(
                    f"{event.kind} {result.canary}",
                    (event.time - t0, 50),
                    rotation=90,
                    color=color,
                    fontsize=8,
                    xytext=(3, 0),
                    textcoords="offset points",
                )
    for version, points in rates.items():
        color = colors.get(version)
        xs, ys = [t for t, _ in points], [r for _, r in points]
        bottom.plot(xs, ys, marker=".", color=color, label=version)
    top.set_ylabel("share of traffic (%)")
    top.set_ylim(-5, 105)
    top.legend(loc="center left", fontsize=8)
    bottom.set_ylabel("errors per window (%)")
    bottom.set_xlabel("seconds since the first release started")
    bottom.legend(loc="upper right", fontsize=8)
    top.set_title(title or "Canary releases: traffic per version and what the analysis saw")
    figure.tight_layout()
    return figure
