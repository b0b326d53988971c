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
