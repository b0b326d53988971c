"""A stretch of traffic, period by period: a steady load through a runtime's ingress and, for
each period, what the mesh recorded: requests, 5xx and latency percentiles per service and
version (of the instance that answered).

Each period lasts ``period`` seconds and starts on a whole multiple of it in unix time, as
CloudWatch's periods do, so that a period of the stretch is one period of ``GetMetricData``
with the same length. Its ``rate * period`` requests are sent evenly over its first nine
tenths; the last tenth is left quiet, so that every hop of a request (ingress -> store ->
its upstreams) starts in the period its first hop started in. A request belongs to the
period its start time falls in. On a machine too loaded to keep up, a period lasts until
its last request is answered and the next one starts after it (no request is counted in
the wrong period, but such periods no longer line up with CloudWatch's). Before the first
period one request per connection is sent and counted in no period, so that the mesh's
connections are open before it (with Envoy, the first period's latency was otherwise the
TLS handshakes').

The numbers are read from the mesh's own records (:meth:`Context.telemetry`: the Envoy
sidecars' access log), one per hop, keyed by the destination service and the
version of the instance that answered; a 5xx is a code of 500 or more; the latency is the
destination sidecar's duration of the request, and p50 / p99 are nearest-rank percentiles of
the period's requests. What the client itself got at the ingress is kept beside them
(:attr:`Period.answers`), for comparison.

Not implemented: reading the periods on real endpoints (there, read CloudWatch with
``metrics()``), open-loop load (a request waits for a free connection, so a slow service
gets fewer requests than ``rate`` asks: this shows as fewer requests in that period).
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from soa_sdk import validate
from soa_sdk.errors import ValidationError
from soa_sdk.observe import manage, metrics
from soa_sdk.observe.context import Context, Runtime
from soa_sdk.tables import Table

QUIET = 0.1  # the share of each period at its end when no request starts
MAX_PERIODS = 120


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank percentile: the smallest value that at least ``q`` of them do not
    exceed; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass
class Stat:
    """One service version over one period (or several, pooled)."""

    requests: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list, repr=False)

    def add(self, record: dict[str, Any]) -> None:
        self.requests += 1
        if int(record["code"]) >= 500:
            self.errors += 1
        self.latencies_ms.append(float(record["latency_ms"]))

    @property
    def p50(self) -> float | None:
        return percentile(self.latencies_ms, 0.50)

    @property
    def p99(self) -> float | None:
        return percentile(self.latencies_ms, 0.99)


@dataclass
class Period:
    """One period: its label, bounds (unix seconds), the answers the client got at the
    ingress (status -> count, 0: no answer) and, once read, the mesh's numbers per
    (service, version)."""

    label: str
    start: float
    end: float
    answers: dict[int, int]
    stats: dict[tuple[str, str], Stat] = field(default_factory=dict)

    @property
    def client_errors(self) -> int:
        """Requests that got a 5xx (or no answer at all) at the ingress."""
        return sum(n for code, n in self.answers.items() if code >= 500 or code == 0)


class Stretch:
    """Drive periods of traffic (:meth:`drive`), then read them (:meth:`table`, :meth:`stat`
    and :func:`soa_sdk.plots_observe.stretch_figure`). Reached as ``lab.observe.stretch``."""

    def __init__(
        self,
        ctx: Context,
        runtime: Runtime,
        rate: float,
        period: int,
        concurrency: int,
        path: str = "/",
    ) -> None:
        self.ctx, self.runtime = ctx, runtime
        self.period = metrics.check_period(period)
        self.rate = validate.number(rate, "rate (requests per second)", above=0)
        self.per_period = round(self.rate * self.period)
        validate.whole(self.per_period, "rate * period (requests per period)", 1, 20_000)
        self.concurrency = validate.whole(concurrency, "concurrency", 1, manage.MAX_CONCURRENCY)
        self.path = validate.url_path(path)
        self.periods: list[Period] = []
        self._read = 0  # how many periods have their mesh numbers

    def drive(self, label: str, periods: int = 1) -> None:
        """Send ``periods`` periods of traffic labelled ``label`` (e.g. ``"steady"``). The
        first one starts on the next period boundary, or where the previous period ends when
        that is less than half a period ago (a short pause between two calls, e.g. to inject
        a fault, then stays between two periods)."""
        validate.text(label, "label")
        validate.whole(periods, "periods", 1, MAX_PERIODS)
        if not self.periods:
            # One request per connection first, before any period: the mesh opens the
            # connections (and TLS sessions) the load needs, not the first period.
            manage.send(self.runtime, self.concurrency, self.concurrency, self.path, None)
        for _ in range(periods):
            start = self._next_start()
            number = len(self.periods) + 1
            answers, _ = manage.send(
                self.runtime,
                self.per_period,
                self.concurrency,
                self.path,
                f"Period {number} ({label}): {self.per_period:,} requests through the "
                f"{self.runtime.name} ingress",
                start=start,
                spread=self.period * (1 - QUIET),
            )
            # A period whose last requests ran late (a loaded machine) holds them all: it
            # ends when its last answer came, and the next one starts after that.
            end = max(start + self.period, time.time())
            self.periods.append(Period(label, start, end, answers))

    def _next_start(self) -> float:
        now = time.time()
        if self.periods:
            last = self.periods[-1]
            boundary = last.start + self.period
            if now < boundary + self.period / 2:
                return max(boundary, last.end)
        return math.ceil(now / self.period) * self.period

    @property
    def start(self) -> datetime:
        """When the first period started (UTC); e.g. where to read CloudWatch from."""
        return datetime.fromtimestamp(self._bounds()[0].start, UTC)

    @property
    def end(self) -> datetime:
        """When the last period ended (UTC)."""
        return datetime.fromtimestamp(self._bounds()[-1].end, UTC)

    def _bounds(self) -> list[Period]:
        if not self.periods:
            raise ValidationError("The stretch has no period yet: drive() it first.")
        return self.periods

    def read(self) -> list[Period]:
        """Every period with the mesh's numbers (read once per period, when first asked)."""
        if self._read < len(self.periods):
            unread = self.periods[self._read :]
            records, _ = self.ctx.telemetry(since=unread[0].start)
            for period in unread:
                period.stats = defaultdict(Stat)
            for record in records:
                when = float(record["time"])
                period = next((p for p in unread if p.start <= when < p.end), None)
                if period is not None and record.get("destination"):
                    period.stats[(str(record["destination"]), metrics.version_of(record))].add(
                        record
                    )
            for period in unread:
                period.stats = dict(period.stats)
            self._read = len(self.periods)
        return self.periods

    def labelled(self, label: str) -> list[Period]:
        """The periods driven with ``label``."""
        return [p for p in self.read() if p.label == label]

    def stat(self, service: str, label: str | None = None, version: str | None = None) -> Stat:
        """``service`` (all its versions, or ``version``) over every period labelled
        ``label`` (every period when None), pooled."""
        pooled = Stat()
        for period in self.labelled(label) if label is not None else self.read():
            for (name, ver), stat in period.stats.items():
                if name == service and version in (None, ver):
                    pooled.requests += stat.requests
                    pooled.errors += stat.errors
                    pooled.latencies_ms += stat.latencies_ms
        return pooled

    def services(self) -> list[tuple[str, str]]:
        """Every (service, version) seen, the runtime's own services first, as declared."""
        seen = {key for p in self.read() for key in p.stats}
        order = {s.name: i for i, s in enumerate(self.runtime.spec.services)}
        return sorted(seen, key=lambda k: (order.get(k[0], len(order)), k[0], k[1]))

    def summary(self) -> list[dict[str, Any]]:
        """Each period as plain JSON (what a notebook records as its outcome): label, start,
        requests sent, 5xx the client got, and per ``"<service> <version>"`` the mesh's
        requests, 5xx, p50 and p99 (ms)."""
        return [
            {
                "label": period.label,
                "start": period.start,
                "sent": sum(period.answers.values()),
                "client_5xx": period.client_errors,
                "services": {
                    f"{name} {version}": {
                        "requests": stat.requests,
                        "5xx": stat.errors,
                        "p50_ms": stat.p50,
                        "p99_ms": stat.p99,
                    }
                    for (name, version), stat in period.stats.items()
                },
            }
            for period in self.read()
        ]

    def table(self) -> Table:
        """One row per period and service version."""
        rows = []
        for number, period in enumerate(self.read(), 1):
            for key in self.services():
                stat = period.stats.get(key, Stat())
                rows.append(
                    {
                        "period": number,
                        "label": period.label,
                        "start (UTC)": f"{datetime.fromtimestamp(period.start, UTC):%H:%M:%S}",
                        "service": key[0],
                        "version": key[1],
                        "requests": stat.requests,
                        "5xx": stat.errors,
                        "p50 ms": _ms(stat.p50),
                        "p99 ms": _ms(stat.p99),
                    }
                )
        return Table(
            rows,
            title=f"{self.runtime.name}: {len(self.periods)} periods of {self.period} s, "
            f"{self.per_period} requests each through the ingress (as the mesh recorded them)",
        )


def _ms(value: float | None) -> float | str:
    return "-" if value is None else round(value, 2)
