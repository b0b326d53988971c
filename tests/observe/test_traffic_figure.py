"""Step 2's traffic figure over a short stretch: time ticks stay few and whole seconds.

All of a run's requests can land in one CloudWatch period: matplotlib then widens the
single-date view to days, and a one-second tick locator over it would enumerate every second
(the notebook hung). The figure bounds its own view to the data, padded by a period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

from soa_sdk import plots_observe


def _metrics(stamps: list[datetime]) -> SimpleNamespace:
    series = SimpleNamespace(
        timestamps=stamps,
        requests=[500] * len(stamps),
        error_rate=[0.0] * len(stamps),
        latency_ms=[1.0] * len(stamps),
    )
    return SimpleNamespace(service="inventory", period=1, versions={"v1": series})


def test_one_period_of_data_gives_a_few_whole_second_ticks() -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    figure = plots_observe.traffic([_metrics([now]), _metrics([now])])
    axes = figure.axes[-1]
    ticks = axes.get_xticks()
    labels = [label.get_text() for label in axes.get_xticklabels()]
    assert 2 <= len(ticks) <= 10, labels
    assert len(set(labels)) == len(labels), labels


def test_a_longer_stretch_keeps_about_six_ticks() -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    stamps = [now + timedelta(seconds=s) for s in range(0, 120, 1)]
    figure = plots_observe.traffic([_metrics(stamps)])
    labels = [label.get_text() for label in figure.axes[-1].get_xticklabels()]
    assert 3 <= len(labels) <= 10, labels
    assert len(set(labels)) == len(labels), labels


def _stretch(labels: list[str]) -> SimpleNamespace:
    """A stretch of 1 s periods (what :class:`soa_sdk.observe.stretch.Stretch` reads)."""
    from soa_sdk.observe.stretch import Period, Stat

    start = float(int(datetime.now(UTC).timestamp()))
    periods = []
    for i, label in enumerate(labels):
        errors = 30 if label == "incident" else 0
        stats = {
            ("store", "v1"): Stat(100, errors, [1.0 + j % 5 for j in range(100)]),
            ("payments", "v1"): Stat(100, errors, [0.5 + j % 3 for j in range(100)]),
        }
        periods.append(Period(label, start + i, start + i + 1, {200: 100 - errors}, stats))
    keys = [("store", "v1"), ("payments", "v1")]
    return SimpleNamespace(
        period=1,
        runtime=SimpleNamespace(name="runtime-ecs"),
        read=lambda: periods,
        services=lambda: keys,
    )


def test_the_stretch_figure_shows_each_period_and_shades_the_incident() -> None:
    labels = ["steady", "steady", "incident", "recovered", "recovered"]
    figure = plots_observe.stretch_figure(_stretch(labels), highlight="incident")
    requests, errors, latency = figure.axes[:3]
    bars = [bar for container in requests.containers for bar in container]
    assert len(bars) == 2 * len(labels), "a bar per service version and period"
    heights = [bar.get_height() for container in errors.containers for bar in container]
    assert heights == [0, 0, 30, 0, 0] * 2, "5xx in the incident only, for both services"
    shaded = [p for p in latency.patches if p.get_alpha() == 0.1]
    assert len(shaded) == 1, "one period shaded"
    ticks = [label.get_text() for label in latency.get_xticklabels()]
    assert 2 <= len(ticks) <= 10 and len(set(ticks)) == len(ticks), ticks
    assert all(len(t) == 8 and t.count(":") == 2 for t in ticks), ticks  # HH:MM:SS
