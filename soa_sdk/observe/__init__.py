"""Step 2: observe and manage the runtimes, across accounts.

``lab.observe`` is an :class:`Observe`. Its methods are short and documented; each part lives
in its own module:

- who did what: CloudTrail ``LookupEvents`` in every account (:mod:`.trail`);
- how it behaves: the mesh's telemetry as CloudWatch metrics and Logs, read back with
  ``GetMetricData`` and ``FilterLogEvents``, and an error-rate alarm (:mod:`.metrics`,
  :mod:`.logs`, :mod:`.alarm`; what was published is tracked in Consul KV, :mod:`.cursor`);
- what talks to what: Consul health and the graph of observed calls (:mod:`.topology`);
- management: scale, stop or break instances, drive traffic (:mod:`.manage`);
- an incident: periods of traffic read back from the mesh (:mod:`.stretch`) while a fault
  the service really returns is on (:mod:`.fault`).

Every parameter is checked before any call; a bad one raises one clear sentence.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from soa_sdk import validate
from soa_sdk.awsclient import translate_client_error
from soa_sdk.errors import SoaLabError
from soa_sdk.observe import alarm as alarm_module
from soa_sdk.observe import cursor, fault, logs, manage, metrics, topology, trail
from soa_sdk.observe.context import Context, Runtime, time_range
from soa_sdk.observe.fault import Fault
from soa_sdk.observe.manage import CallAttempt, TrafficReport
from soa_sdk.observe.metrics import ServiceMetrics
from soa_sdk.observe.stretch import Period, Stretch
from soa_sdk.observe.topology import Topology
from soa_sdk.tables import Table

if TYPE_CHECKING:
    from soa_sdk.awsclient import EndpointSession
    from soa_sdk.consul_api import ConsulApi
    from soa_sdk.org import Organization
    from soa_sdk.runtime import Runtimes
    from soa_sdk.sandbox.controls import SandboxControls

When = datetime | timedelta | float | None


@dataclass
class PublishReport:
    """What one :meth:`Observe.publish_mesh_metrics` call published, per runtime."""

    records: int = 0
    from_seq: int = 0
    to_seq: int = 0
    metric_items: dict[str, int] = field(default_factory=dict)
    log_events: dict[str, int] = field(default_factory=dict)
    skipped: int = 0  # records of partitions no created runtime serves

    def table(self) -> Table:
        rows = [
            {
                "runtime": name,
                "metric data items": self.metric_items.get(name, 0),
                "log events": self.log_events.get(name, 0),
            }
            for name in sorted(set(self.metric_items) | set(self.log_events))
        ]
        return Table(
            rows,
            title=f"Published telemetry records {self.from_seq}..{self.to_seq} "
            f"({self.records} records, {self.skipped} outside any runtime)",
        )


class Observe:
    """Observe and manage runtimes. Reached as ``lab.observe``.

    It reads CloudTrail, CloudWatch and CloudWatch Logs through ``aws`` (the management
    account) and step 0's member sessions (``org``), the runtimes step 1 created
    (``runtime``), Consul's health and KV (``consul``) and, on the sandbox only, the mesh's
    telemetry and the workload host (``sandbox``; None on real endpoints)."""

    def __init__(
        self,
        aws: EndpointSession,
        org: Organization,
        runtime: Runtimes,
        consul: ConsulApi,
        region: str,
        sandbox: SandboxControls | None = None,
    ) -> None:
        self.consul = consul
        self.sandbox = sandbox
        self.ctx = Context(aws, org, runtime, consul, region, sandbox)

    # -- who did what ------------------------------------------------------------------------
    def who_did_what(
        self,
        accounts: list[str] | None = None,
        start: When = None,
        end: When = None,
        read_only: bool | None = False,
        event_name: str | None = None,
        max_events: int = 200,
        region: str | None = None,
    ) -> Table:
        """CloudTrail ``LookupEvents`` in each account (``management`` and the members; all
        when None), newest first: time, account, who (userIdentity), event, source, resource.
        ``read_only=False`` shows changes, ``True`` reads, ``None`` both; ``start``/``end``
        are datetimes, timedeltas (that long ago) or unix seconds."""
        return trail.who_did_what(
            self.ctx, accounts, start, end, read_only, event_name, max_events, region
        )

    # -- how it behaves ----------------------------------------------------------------------
    def publish_mesh_metrics(self, since: When = None) -> PublishReport:
        """Publish the mesh telemetry not yet published (and started at or after ``since``)
        as CloudWatch metrics (``PutMetricData``) and access logs (``PutLogEvents``), each
        in the account of the runtime serving the request. Publishing again publishes only
        new requests: the last record published is kept in Consul KV. Records older than
        ``since`` are passed over for good (the cursor moves past them)."""
        begin, _ = time_range(since, None)
        self._sandbox_only("The mesh telemetry")
        runtimes = {r.partition: r for r in self.ctx.runtimes()}
        position = cursor.read(self.consul)
        records, _ = self.ctx.telemetry(after=position.seq)
        if position.seq and not self._same_plane(position):
            records, _ = self.ctx.telemetry(after=0)  # the data plane restarted: start over
        if begin is not None:
            records = [r for r in records if r["time"] >= begin.timestamp()]
        report = PublishReport(len(records))
        if not records:
            return report
        report.from_seq, report.to_seq = records[0]["seq"], records[-1]["seq"]
        claimed = cursor.claim(self.consul, position, records[-1]["seq"], records[-1]["time"])
        by_runtime: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for record in records:
            runtime = runtimes.get(record.get("partition", ""))
            if runtime is None or not record.get("destination"):
                report.skipped += 1
            else:
                by_runtime[runtime.name].append(record)
        try:
            for name, batch in by_runtime.items():
                runtime = next(r for r in runtimes.values() if r.name == name)
                items = metrics.aggregate(batch)
                metrics.put(self._client(runtime, "cloudwatch"), items)
                report.metric_items[name] = len(items)
                report.log_events[name] = logs.publish(self._client(runtime, "logs"), name, batch)
        except BaseException as error:
            cursor.claim(self.consul, claimed, position.seq, position.time)  # give back
            if isinstance(error, SoaLabError | KeyboardInterrupt):
                raise
            raise translate_client_error(error, "publish the mesh telemetry") from None
        return report

    def metrics(
        self,
        service: str,
        period: int = 10,
        start: When = None,
        end: When = None,
        runtime: str | None = None,
    ) -> ServiceMetrics:
        """``GetMetricData``: requests, errors and mean latency of ``service`` per version
        and period (seconds: 1, 5, 10, 30 or multiples of 60), in its runtime's account.
        Without ``start``, the last hour."""
        metrics.check_period(period)
        begin, finish = time_range(start, end)
        where = self.ctx.runtime_of_service(service, runtime)
        begin, finish = metrics.window(begin, finish, timedelta(hours=1))
        versions = [*where.spec.service(service).versions, metrics.UNROUTED]
        try:
            series = metrics.read(
                self._client(where, "cloudwatch"), service, versions, period, begin, finish
            )
        except Exception as error:
            raise translate_client_error(error, f"read the metrics of {service}") from None
        return ServiceMetrics(service, where.name, where.account, period, begin, finish, series)

    def mesh_requests(
        self, service: str, start: When, end: When = None, runtime: str | None = None
    ) -> int:
        """How many requests the mesh recorded for ``service`` in the window, counted the way
        the metrics are stamped (by the whole second they started in): the figure the sum of
        ``Requests`` read back must equal."""
        self._sandbox_only("The mesh telemetry")
        begin, finish = time_range(start, end)
        where = self.ctx.runtime_of_service(service, runtime)
        begin, finish = metrics.window(begin, finish, timedelta(hours=1))
        records, _ = self.ctx.telemetry(since=float(int(begin.timestamp())))
        low, high = begin.timestamp(), finish.timestamp()
        return sum(
            1
            for r in records
            if r.get("destination") == service
            and r.get("partition") == where.partition
            and low <= int(r["time"]) < high
        )

    def search_logs(
        self,
        runtime: str,
        pattern: str = "",
        start: When = None,
        end: When = None,
        limit: int = 100,
    ) -> Table:
        """``FilterLogEvents`` over the runtime's workload logs, e.g. ``pattern="code=503"``."""
        begin, finish = time_range(start, end)
        validate.whole(limit, "limit", 1, 10_000)
        pattern = logs.check_pattern(pattern, self.sandbox is not None)
        where = self.ctx.runtime(runtime)
        try:
            return logs.search(self._client(where, "logs"), runtime, pattern, begin, finish, limit)
        except Exception as error:
            raise translate_client_error(error, f"search the logs of {runtime}") from None

    def create_error_alarm(
        self,
        service: str,
        threshold_percent: float = 5.0,
        period: int = 10,
        evaluation_periods: int = 3,
        datapoints_to_alarm: int = 2,
        runtime: str | None = None,
    ) -> str:
        """``PutMetricAlarm`` on ``100 * Errors / Requests`` of ``service`` (metric math);
        returns the alarm's name. Re-running replaces it."""
        where = self.ctx.runtime_of_service(service, runtime)
        params = alarm_module.definition(
            where.name, service, threshold_percent, period, evaluation_periods, datapoints_to_alarm
        )
        try:
            self._client(where, "cloudwatch").put_metric_alarm(**params)
        except Exception as error:
            raise translate_client_error(error, f"create the alarm on {service}") from None
        return str(params["AlarmName"])

    def alarm_state(self, service: str, runtime: str | None = None) -> alarm_module.AlarmStatus:
        """The error-rate alarm's state (``DescribeAlarms``). In the sandbox, where moto does
        not evaluate alarms, it is evaluated from ``GetMetricData`` first (see :mod:`.alarm`)."""
        where = self.ctx.runtime_of_service(service, runtime)
        client = self._client(where, "cloudwatch")
        name = alarm_module.alarm_name(where.name, service)
        found = alarm_module.describe(client, name)
        if found is None:
            raise SoaLabError(f"There is no alarm on {service} yet: create_error_alarm first.")
        if self.sandbox is not None:
            return alarm_module.evaluate(client, found)
        return alarm_module.AlarmStatus(
            name, found["StateValue"], found.get("StateReason", ""), "CloudWatch"
        )

    # -- what talks to what ------------------------------------------------------------------
    def health(self, runtime: str | None = None) -> Table:
        """Consul health of every instance of every service (of ``runtime``, or of all the
        runtimes that exist): partition, service, instance, version, status, checks."""
        chosen = [self.ctx.runtime(runtime)] if runtime else self.ctx.runtimes()
        rows = [row for r in chosen for row in topology.health_rows(self.consul, r)]
        return Table(rows, title="Consul health (GET /v1/health/service/:name?partition=)")

    def topology(self, since: When = timedelta(minutes=15)) -> Topology:
        """Services and the calls the mesh carried since ``since``, with counts and error
        rates (draw it with :func:`soa_sdk.plots_observe.topology_figure`)."""
        self._sandbox_only("The mesh telemetry")
        begin, _ = time_range(since, None)
        records, _ = self.ctx.telemetry(since=begin.timestamp() if begin else None)
        gateways = {r.ingress: r.partition for r in self.ctx.runtimes()}
        return topology.build(records, gateways)

    # -- management --------------------------------------------------------------------------
    def scale(self, runtime: str, service: str, version: str, replicas: int) -> dict[str, Any]:
        """Run ``replicas`` instances of ``service`` ``version`` (ECS ``UpdateService``
        ``desiredCount``; in the sandbox, the workload host starts or stops instances too)."""
        where = self.ctx.runtime(runtime)
        try:
            return manage.scale(self.ctx, where, service, version, replicas)
        except SoaLabError:
            raise
        except Exception as error:
            raise translate_client_error(error, f"scale {service} {version}") from None

    def instances(self, runtime: str, service: str) -> Table:
        """The instances of ``service`` (sandbox), numbered as the methods below expect."""
        where = self.ctx.runtime(runtime)
        where.spec.service(service)
        rows = [
            {"index": i, "instance": w["id"], "version": w["version"], "health": w["health_code"]}
            for i, w in enumerate(manage.instances(self.ctx, where, service))
        ]
        return Table(rows, title=f"Instances of {service} in {runtime}")

    def stop_instance(self, runtime: str, service: str, index: int = 0) -> str:
        """Stop instance ``index`` of ``service`` (ECS ``StopTask`` on AWS); returns its id."""
        where = self.ctx.runtime(runtime)
        try:
            return manage.stop_instance(self.ctx, where, service, index)
        except SoaLabError:
            raise
        except Exception as error:
            raise translate_client_error(error, f"stop an instance of {service}") from None

    def break_instance(
        self, runtime: str, service: str, index: int = 0, wait: float = 30.0
    ) -> dict[str, Any]:
        """Make instance ``index`` fail its health check (sandbox) and wait until Consul
        reports it critical (up to ``wait`` seconds, a deadline: it returns as soon as Consul
        agrees); returns its id, version, status and how long that took."""
        return manage.set_health(self.ctx, self.ctx.runtime(runtime), service, index, 500, wait)

    def repair_instance(
        self, runtime: str, service: str, index: int = 0, wait: float = 30.0
    ) -> dict[str, Any]:
        """Undo :meth:`break_instance`: the health check passes again."""
        return manage.set_health(self.ctx, self.ctx.runtime(runtime), service, index, 200, wait)

    def attempt_call(self, runtime: str, source: str, destination: str) -> CallAttempt:
        """One request from ``source`` (a service of ``runtime``) to ``destination`` through
        ``source``'s sidecar, allowed or not: the intentions decide (403 ``RBAC: access
        denied`` when they deny). Sandbox only (on AWS: ECS Exec into a task of ``source``)."""
        validate.text(source, "source (a service name)")
        validate.text(destination, "destination (a service name)")
        self.ctx.controls(
            "A call from a chosen service",
            f"on AWS, open a shell in a task of {source} (ECS Exec) and call {destination} there.",
        )
        where = self.ctx.runtime(runtime)
        names = [s.name for s in where.spec.services]
        validate.one_of_names(source, "service", names, of=runtime)
        return manage.attempt_call(self.ctx, where, source, destination)

    def drive_traffic(
        self, runtime: str, requests: int = 500, concurrency: int = 8, path: str = "/"
    ) -> TrafficReport:
        """Send ``requests`` requests through the runtime's ingress; counts by status, and
        (sandbox) by version and instance as the mesh recorded them."""
        return manage.drive(self.ctx, self.ctx.runtime(runtime), requests, concurrency, path)

    def stretch(
        self,
        runtime: str,
        rate: float = 200,
        period: int = 1,
        concurrency: int = 16,
        path: str = "/",
    ) -> Stretch:
        """Traffic through the runtime's ingress in periods of ``period`` seconds (a
        CloudWatch period), ``rate`` requests per second: call ``drive(label, periods)`` on
        it, then read each period's requests, 5xx and p50 / p99 per service version from the
        mesh's records (``table()``; the figure: :func:`soa_sdk.plots_observe.stretch_figure`).
        Reading is sandbox only (on AWS: ``metrics()``)."""
        return Stretch(self.ctx, self.ctx.runtime(runtime), rate, period, concurrency, path)

    def fault(
        self,
        service: str,
        version: str | None = None,
        error_rate: float = 0.5,
        error_code: int = 500,
        latency_ms: dict[str, float] | None = None,
        runtime: str | None = None,
    ) -> Fault:
        """Make every instance of ``service`` ``version`` (its first declared one by default)
        answer ``error_rate`` of its requests with ``error_code``, and as slowly as
        ``latency_ms`` says (fake-service's p50/p90/p99), until :meth:`Fault.clear`; used as
        ``with lab.observe.fault(...):`` it is cleared on leaving the block. Sandbox only (on
        AWS a faulty build is deployed as a canary, step 3)."""
        where = self.ctx.runtime_of_service(service, runtime)
        return fault.inject(self.ctx, where, service, version, error_rate, error_code, latency_ms)

    def clear_fault(
        self, service: str, version: str | None = None, runtime: str | None = None
    ) -> list[str]:
        """Remove a fault :meth:`fault` injected (e.g. one a dead kernel left on): the ids of
        the instances given back what they answered with before."""
        where = self.ctx.runtime_of_service(service, runtime)
        chosen = fault.declared_version(where, service, version)
        return fault.clear(self.ctx, where, service, chosen)

    # -- helpers -----------------------------------------------------------------------------
    def _client(self, runtime: Runtime, service: str) -> Any:
        return self.ctx.client(runtime.account, service, runtime.region)

    def _same_plane(self, position: cursor.Cursor) -> bool:
        """Whether the record the cursor names is still the one published (the data plane
        numbers from 1 again when it restarts). An evicted record means the same plane."""
        records, last = self.ctx.telemetry(after=position.seq - 1, limit=1)
        if last < position.seq:
            return False
        if records and records[0]["seq"] == position.seq:
            return abs(records[0]["time"] - position.time) < 1e-6
        return True

    def _sandbox_only(self, what: str) -> None:
        self.ctx.controls(
            what,
            "it reads the sandbox's Envoy access log; on AWS read Envoy's statistics from "
            "CloudWatch (the CloudWatch agent publishes them) with metrics().",
        )


__all__ = [
    "CallAttempt",
    "Fault",
    "Observe",
    "Period",
    "PublishReport",
    "ServiceMetrics",
    "Stretch",
    "Topology",
    "TrafficReport",
]
