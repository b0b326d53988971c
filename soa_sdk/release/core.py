"""``Release``: deploy a new version beside the current one and walk it through a canary.

The steps of :meth:`Release.canary` (each config write is recorded with its ModifyIndex and
published as a CloudWatch metric and an EventBridge event in the runtime's account):

1. checks, before anything is written: the plan, the service, the canary version running
   and passing in Consul, a baseline to compare with, no other canary on the service (the
   lock is a Consul KV key taken with ``cas=0``, ``soa-lab/releases/<runtime>/<service>``);
2. ``service-resolver`` with a subset per version (default: the baseline), a
   ``service-splitter`` baseline 100 / canary 0, and a ``service-router`` route that sends
   requests carrying the testers' header to the canary; the release sends the testers'
   requests itself and checks they reached the canary (a smoke test, analysed too);
3. for each weight: the splitter moves the share, then windows of live telemetry feed the
   :class:`~soa_sdk.canary_analysis.CanaryAnalyzer` until it says continue (next weight),
   rollback, or the step has held for ``deadline_windows`` windows (rollback: a canary that
   cannot show it is healthy does not go further, as with Flagger's progress deadline);
4. rollback: the splitter puts 100 % on the baseline in one write, the route goes, the
   canary is retired (workloads, ECS service) and the entries are tidied to the baseline;
   promote: the resolver's default becomes the canary, the splitter and route go, the old
   version is retired.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from soa_sdk import progress, validate
from soa_sdk.awsclient import translate_client_error
from soa_sdk.canary_analysis import CanaryAnalyzer, binomial_upper
from soa_sdk.errors import (
    Conflict,
    NotFound,
    ServiceUnavailable,
    SoaLabError,
    ValidationError,
    only_on_sandbox,
)
from soa_sdk.release import deploy
from soa_sdk.release.entries import Entries, Write, resolver, router, splitter
from soa_sdk.release.lock import LOCK_PREFIX, CanaryLock
from soa_sdk.release.plan import ReleasePlan, check_build, check_version, subset_name
from soa_sdk.release.publish import LOG_GROUP, Publisher
from soa_sdk.release.record import DECISION_EVENTS, WEIGHT_EVENTS, ReleaseEvent, ReleaseResult
from soa_sdk.release.telemetry import MeshTelemetryReader, Window
from soa_sdk.release.traffic import TrafficDriver
from soa_sdk.runtime import mesh as runtime_mesh
from soa_sdk.runtime import workloads as runtime_workloads
from soa_sdk.tables import Table
from soa_sdk.telemetry import PROMETHEUS_URL_ENV, MeshMetrics
from soa_sdk.tf.lab_spec import RuntimeSpec, ServiceSpec

if TYPE_CHECKING:
    from soa_sdk.consul_api import ConsulApi
    from soa_sdk.org import Organization
    from soa_sdk.runtime import Runtimes
    from soa_sdk.sandbox.controls import SandboxControls


def _w(write: Write | None) -> list[str]:
    if write is None:
        return []
    at = "deleted" if write.action == "delete" else str(write.modify_index)
    return [f"{write.kind}:{write.name}@{at}"]


class Release:
    """Step 3: canary releases through the mesh. Reached as ``lab.release``.

    It writes config entries and its lock through Consul (``consul``), reads the runtimes of
    step 1 (``runtime``), works in their accounts through step 0's sessions (``org``) and,
    on the sandbox only, runs versions on the workload host and reads the mesh's telemetry
    (``sandbox``; None on real endpoints)."""

    def __init__(
        self,
        consul: ConsulApi,
        org: Organization,
        runtime: Runtimes,
        sandbox: SandboxControls | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.consul = consul
        self.org = org
        self.runtime = runtime
        self.sandbox = sandbox
        self.progress = progress or (lambda message: None)
        self._readers: dict[tuple[str, str], MeshTelemetryReader] = {}

    def _telemetry(self, service: str, partition: str) -> MeshTelemetryReader:
        """A reader of the mesh's telemetry for ``service``: Envoy's statistics (the
        sandbox's Envoys, or on real endpoints ``SOA_LAB_PROMETHEUS_URL``). The reader is
        kept, as :meth:`shares` re-reads the counters a release saw."""
        kept = self._readers.get((service, partition))
        if kept is not None:
            return kept
        if self.sandbox is not None:
            metrics = MeshMetrics.from_envoy_admins(
                self.sandbox.envoy_admin_urls, self.sandbox.envoy_admin_headers
            )
        elif os.environ.get(PROMETHEUS_URL_ENV, "").strip():
            metrics = MeshMetrics.from_environment()
        else:
            raise only_on_sandbox(
                "The mesh telemetry a canary is judged on",
                f"on real endpoints set {PROMETHEUS_URL_ENV} to a Prometheus text endpoint "
                "with the Envoy metrics (a Prometheus /federate URL).",
            )
        versions: dict[str, str] = {}

        def version_of(subset: str) -> str:
            if subset not in versions:
                found = Entries(self.consul, service, partition).subset_versions()
                versions.update(found)
                versions.setdefault(subset, subset)
            return versions[subset]

        reader = MeshTelemetryReader(metrics, service, partition, version_of)
        self._readers[(service, partition)] = reader
        return reader

    # -- lookups -----------------------------------------------------------------------------
    def _where(self, service: str, runtime: str) -> tuple[RuntimeSpec, ServiceSpec]:
        """The runtime (created) and the service it declares; NotFound otherwise."""
        validate.text(service, "A service name")
        spec = self.runtime.spec(runtime)
        self.runtime.ingress_url(runtime)  # NotFound when the runtime was never created
        try:
            return spec, spec.service(service)
        except NotFound:
            names = ", ".join(s.name for s in spec.services)
            raise NotFound(
                f"Runtime '{runtime}' has no service named '{service}' (it runs: {names})."
            ) from None

    def versions(self, service: str, runtime: str = "runtime-ecs") -> dict[str, int]:
        """Version -> passing instances of ``service`` in the runtime's partition."""
        spec, _ = self._where(service, runtime)
        return runtime_workloads.passing_versions(self.consul, service, spec.consul_partition)

    def current(self, service: str, runtime: str = "runtime-ecs") -> str:
        """The version serving by default: the resolver's default subset, else the only one."""
        spec, _ = self._where(service, runtime)
        default = Entries(self.consul, service, spec.consul_partition).default_version()
        if default:
            return default
        running = sorted(self.versions(service, runtime))
        if len(running) != 1:
            raise Conflict(
                f"{service} has no service-resolver and runs {running or 'no version'}: cannot "
                "tell which version is current; run lab.release.reset() first."
            )
        return running[0]

    def active(self, service: str, runtime: str = "runtime-ecs") -> dict[str, Any] | None:
        """The canary in progress on ``service`` (from Consul KV), or None."""
        validate.SERVICE.check(service)
        validate.RUNTIME.check(runtime)
        _, item = self.consul.client.kv.get(f"{LOCK_PREFIX}{runtime}/{service}")
        return json.loads(item["Value"]) if item and item.get("Value") else None

    def entries(self, service: str, runtime: str = "runtime-ecs") -> dict[str, int]:
        """ModifyIndex of the service's router, splitter, resolver and defaults (0: absent)."""
        spec, _ = self._where(service, runtime)
        return Entries(self.consul, service, spec.consul_partition).indexes()

    # -- deploy ------------------------------------------------------------------------------
    def deploy(
        self,
        service: str,
        version: str,
        runtime: str = "runtime-ecs",
        error_rate: float = 0.0,
        error_code: int = 500,
        latency_ms: dict[str, float] | None = None,
        message: str | None = None,
    ) -> dict[str, Any]:
        """Run ``version`` of ``service`` beside the current one (no traffic goes to it yet).

        ``error_rate``/``error_code``/``latency_ms`` describe the build's behaviour (sandbox:
        the fake-service settings). Deploying a version again adopts it with that behaviour.
        """
        check_version(version)
        behaviour = check_build(error_rate, error_code, latency_ms, message)
        spec, svc = self._where(service, runtime)
        current = self.current(service, runtime)
        clashes = {subset_name(v) for v in self.versions(service, runtime) if v != version}
        if subset_name(version) in clashes:
            raise ValidationError(
                f"Version '{version}' would share the Consul subset '{subset_name(version)}' "
                "with another running version; choose another name."
            )
        behaviour["message"] = message or f"{service} {version}"
        result: dict[str, Any] = {"service": service, "version": version, "runtime": runtime}
        calls = runtime_workloads.upstreams(svc, spec, self.runtime.mesh_spec_with(spec))
        workloads: list[dict[str, Any]] = []
        if spec.kind == "ecs":
            ecs = self._session(spec).client("ecs", region_name=spec.region)
            result.update(
                deploy.ensure_ecs_version(ecs, spec, svc, version, current, behaviour, calls)
            )
            if self.sandbox is not None:  # the sandbox's scheduler runs the service's tasks
                try:
                    runtime_workloads.wait_ecs_stable(ecs, spec.name, [result["ecs_service"]])
                except SoaLabError:
                    raise
                except Exception as error:
                    raise translate_client_error(error, f"wait for {service} {version}") from None
                workloads = [
                    w
                    for w in self.sandbox.workloads.list(service)
                    if w.get("runtime") == spec.name and w["version"] == version
                ]
        elif self.sandbox is not None:
            workloads = runtime_workloads.ensure(
                self.sandbox.workloads,
                spec,
                svc,
                version,
                calls,
                {k: v for k, v in behaviour.items() if v is not None},
            )
        if self.sandbox is not None:
            runtime_workloads.wait_passing(
                self.consul, service, spec.consul_partition, version, len(workloads)
            )
            result["workloads"] = [w["id"] for w in workloads]
        self.progress(f"deployed {service} {version} in {runtime}")
        return result

    def _session(self, spec: RuntimeSpec) -> Any:
        """The runtime account's session (STS AssumeRole; step 0 reuses it while it lasts)."""
        return self.org.session(spec.account).session

    # -- traffic -----------------------------------------------------------------------------
    def traffic(
        self,
        runtime: str = "runtime-ecs",
        concurrency: int = 4,
        rate: float | None = None,
        path: str = "/",
    ) -> TrafficDriver:
        """Synthetic users through the runtime's ingress (``with lab.release.traffic(): ...``)."""
        TrafficDriver.check(path, concurrency, rate)
        return TrafficDriver(self.runtime.ingress_url(runtime), path, None, concurrency, rate)

    # -- the canary --------------------------------------------------------------------------
    def canary(
        self,
        service: str,
        version: str,
        runtime: str = "runtime-ecs",
        plan: ReleasePlan | None = None,
        traffic: TrafficDriver | None = None,
        on_event: Callable[[ReleaseEvent], None] | None = None,
        **plan_fields: Any,
    ) -> ReleaseResult:
        """Release ``version`` of ``service`` progressively; promoted or rolled back by itself.

        ``plan_fields`` override :class:`ReleasePlan` fields (weights=, window_requests=...).
        The analysis needs traffic: pass a running (or startable) ``traffic`` driver, or have
        real users. Returns the :class:`ReleaseResult` with every event.
        """
        if plan is not None:
            validate.instance(plan, ReleasePlan, "a ReleasePlan (or its fields as keywords)")
        if traffic is not None:
            validate.instance(traffic, TrafficDriver, "a TrafficDriver (lab.release.traffic())")
        if on_event is not None and not callable(on_event):
            raise ValidationError("on_event must be a function that takes a ReleaseEvent.")
        try:
            plan = replace(plan or ReleasePlan(), **plan_fields)
        except TypeError as error:  # an unknown field name
            raise ValidationError(f"Not a ReleasePlan field: {error}.") from None
        check_version(version)
        spec, _ = self._where(service, runtime)
        running = self.versions(service, runtime)
        if version not in running:
            raise NotFound(
                f"{service} {version} is not deployed in {runtime} (running: "
                f"{', '.join(sorted(running)) or 'nothing'}); call lab.release.deploy() first."
            )
        baseline = self.current(service, runtime)
        if baseline == version:
            raise ValidationError(
                f"{service} {version} already serves all traffic: nothing to release."
            )
        if baseline not in running:
            raise ServiceUnavailable(f"The baseline {service} {baseline} has no passing instance.")
        if subset_name(baseline) == subset_name(version):
            raise ValidationError(f"Versions '{baseline}' and '{version}' map to the same subset.")
        # Conflict while another release holds the lock; a stale one is taken over, saying so.
        lock = CanaryLock(self.consul, runtime, service)
        took_over = lock.take(baseline, version, _longest(plan))
        if took_over:
            warnings.warn(took_over, stacklevel=2)
            self.progress(took_over)
        try:
            publisher = Publisher(self._session(spec), spec.region, runtime, service)
            publisher.ensure()
        except BaseException:
            lock.release()
            raise
        bar = progress.task(
            f"Canary of {service} {version} over {baseline}", total=len(plan.weights) + 1
        )

        def show(event: ReleaseEvent) -> None:
            # One step per weight (and the testers' step); the status is the last decision.
            steps = ["testers", *(f"{w:g}%" for w in plan.weights)]
            if event.step in steps:
                bar.update(
                    steps.index(event.step) + (event.kind == "decision"),
                    status=(
                        f"{event.step}: {event.verdict or event.kind}"
                        + (f" ({event.reason})" if event.reason else "")
                    ),
                )
            if on_event:
                on_event(event)

        run = _CanaryRun(self, spec, service, baseline, version, plan, publisher, show)
        run.result.audit_stream = publisher.stream
        own_traffic = traffic is not None and not traffic.running
        if own_traffic:
            assert traffic is not None
            traffic.start()
        failure: BaseException | None = None
        try:
            with bar:
                result = run.execute(traffic or self.traffic(runtime))
                bar.status = f"{result.outcome}"
        except BaseException as error:
            failure = error
            if run.result.outcome == "running":
                reason = f"The release stopped on an error: {type(error).__name__}: {error}"
                _also(error, "roll the canary back", lambda: run.rollback(reason))
            raise
        finally:
            if own_traffic:
                assert traffic is not None
                traffic.stop()
            # After a failure (a dead service, say) the cleanups are best effort: the first
            # error is the one to see, with a note of what could not be cleaned up.
            for doing, cleanup in (
                ("send the last audit events", publisher.flush),
                (
                    f"release the canary's lock {lock.key} (the next canary takes it over)",
                    lock.release,
                ),
            ):
                if failure is None:
                    cleanup()
                else:
                    _also(failure, doing, cleanup)
        return result

    def _unlock(self, service: str, runtime: str) -> None:
        self.consul.request("DELETE", f"kv/{LOCK_PREFIX}{runtime}/{service}")

    def rollback(
        self, service: str, runtime: str = "runtime-ecs", reason: str = "manual"
    ) -> list[str]:
        """Abort the active canary of ``service``: all traffic to the baseline, canary retired."""
        validate.text(reason, "reason")
        spec, _ = self._where(service, runtime)
        active = self.active(service, runtime)
        if not active:
            raise NotFound(f"{service} has no canary in progress in {runtime}.")
        publisher = Publisher(self._session(spec), spec.region, runtime, service)
        publisher.ensure()
        run = _CanaryRun(
            self,
            spec,
            service,
            active["baseline"],
            active["canary"],
            ReleasePlan(),
            publisher,
            None,
        )
        run.rollback(reason)
        run.publisher.flush()
        return [w for e in run.result.events for w in e.writes]

    # -- back to the declared state ----------------------------------------------------------
    def reset(self, service: str, runtime: str = "runtime-ecs") -> list[str]:
        """Return ``service`` to what its runtime declares (versions, weights): removes the
        release's router and splitter, stops undeclared versions and clears any canary lock.
        Used to start the lab's story again; idempotent."""
        spec, svc = self._where(service, runtime)
        entries = Entries(self.consul, service, spec.consul_partition)
        changed = _w(entries.delete("service-router")) + _w(entries.delete("service-splitter"))
        # The declared resolver (with a Failover when the service runs in several runtimes),
        # always with a subset per declared version so that the current version is explicit.
        declared = runtime_mesh.resolver_entry(svc, spec, self.runtime.mesh_spec_with(spec))
        wanted = resolver(service, list(svc.versions), svc.versions[0])
        changed += _w(entries.put({**(declared or {}), **wanted}))
        if len(svc.versions) > 1:
            changed += _w(entries.put(runtime_mesh.version_entries(svc)[1]))
        if self.sandbox is not None:
            for w in self.sandbox.workloads.list(service):
                if (
                    w.get("runtime") == runtime
                    and w["version"] not in svc.versions
                    and not runtime_workloads.placed(w)
                ):
                    self.sandbox.workloads.stop(w["id"])
                    changed.append(f"workload:{w['id']}")
        if spec.kind == "ecs":
            ecs = self._session(spec).client("ecs", region_name=spec.region)
            for version in deploy.ecs_versions(ecs, spec, svc):
                if version not in svc.versions:
                    changed += deploy.retire_ecs_version(ecs, spec, svc, version)
                    if self.sandbox is not None:
                        runtime_workloads.wait_gone(
                            self.consul, service, spec.consul_partition, version
                        )
        self._unlock(service, runtime)
        running = self.versions(service, runtime)
        if any(running.get(v, 0) < svc.replicas for v in svc.versions):
            self.runtime.create(runtime)  # restarts declared workloads that were retired
            changed.append(f"runtime:{runtime} re-created")
        return changed

    # -- checks from telemetry ---------------------------------------------------------------
    def shares(self, result: ReleaseResult, tolerance: float = 0.05, alpha: float = 1e-6) -> Table:
        """Per step, the canary's share of the service's requests, re-read from telemetry,
        with the bound it must respect. The splitter picks each request's version at random
        (as Envoy's ``weighted_clusters`` does), so the canary's count in a step of ``n``
        requests at weight ``w`` is binomial(n, w); the bound is ``w + tolerance`` or the
        exact binomial count that a correct split exceeds with probability below ``alpha``,
        whichever is higher (a normal approximation with a few standard deviations is too
        tight for the small windows and small weights of the first steps). The testers' step
        counts requests instead: at most the testers' own."""
        validate.instance(result, ReleaseResult, "the ReleaseResult that canary() returned")
        validate.number(tolerance, "tolerance", 0, 1)
        validate.number(alpha, "alpha", 1e-12, 0.5)
        spec, _ = self._where(result.service, result.runtime)
        reader = self._telemetry(result.service, spec.consul_partition)
        rows = []
        for step in result.steps():
            records = reader.records_between(step["first_seq"], step["last_seq"])
            canary = sum(1 for r in records if r.get("version") == result.canary)
            total = len(records)
            share = canary / total if total else 0.0
            w = step["weight"] / 100
            if step["step"] == "testers":
                bound, ok = None, canary <= result.tester_requests
            else:
                exact = binomial_upper(total, w, alpha) / total if total else 1.0
                bound = min(1.0, max(w + tolerance, exact))
                ok = share <= bound
            rows.append(
                {
                    "step": step["step"],
                    "weight": step["weight"],
                    "requests": total,
                    f"{result.canary} requests": canary,
                    "share": round(share, 4),
                    "bound": round(bound, 4)
                    if bound is not None
                    else f"<= {result.tester_requests} tester requests",
                    "within": ok,
                }
            )
        return Table(rows, title=f"Share of {result.service} traffic served by {result.canary}")

    def serving(
        self, service: str, runtime: str = "runtime-ecs", requests: int = 200
    ) -> dict[str, int]:
        """Send ``requests`` through the ingress now; which versions of ``service`` answered."""
        validate.whole(requests, "requests", 1, 10_000)
        spec, _ = self._where(service, runtime)
        reader = self._telemetry(service, spec.consul_partition)
        reader.skip_to_now()
        self.traffic(runtime).send(requests)
        window = reader.window(requests, timeout=10.0)
        return {v: c.requests for v, c in sorted(window.by_version.items())}

    def audit_trail(self, *results: ReleaseResult) -> list[dict[str, Any]]:
        """The events of these releases as delivered to CloudWatch Logs in the runtime's
        account (``/soa-lab/releases``, one stream per release), oldest first."""
        for result in results:
            validate.instance(result, ReleaseResult, "the ReleaseResults that canary() returned")
        found: list[dict[str, Any]] = []
        for result in results:
            if not result.audit_stream:
                continue
            spec = self.runtime.spec(result.runtime)
            logs = self._session(spec).client("logs", region_name=spec.region)
            try:
                pages = logs.get_paginator("filter_log_events").paginate(
                    logGroupName=LOG_GROUP, logStreamNames=[result.audit_stream]
                )
                found += [json.loads(e["message"]) for page in pages for e in page["events"]]
            except Exception as error:
                raise translate_client_error(error, "read the release audit log") from None
        return found


def _longest(plan: ReleasePlan) -> float:
    """Seconds a release of ``plan`` may take at most (the lock's expiry), with room."""
    windows = (len(plan.weights) + 1) * plan.deadline_windows
    return windows * (plan.window_timeout + 5.0) + 600.0


def _also(error: BaseException, doing: str, cleanup: Callable[[], object]) -> None:
    """Run ``cleanup`` after ``error``; if it fails too, note that on ``error`` instead."""
    try:
        cleanup()
    except SoaLabError as problem:
        error.add_note(f"Could not {doing}: {problem}")


class _CanaryRun:
    """One release in progress: the state and the steps of :meth:`Release.canary`."""

    def __init__(
        self,
        release: Release,
        spec: RuntimeSpec,
        service: str,
        baseline: str,
        canary: str,
        plan: ReleasePlan,
        publisher: Publisher,
        on_event: Callable[[ReleaseEvent], None] | None,
    ) -> None:
        self.release = release
        self.consul = release.consul
        self.sandbox = release.sandbox
        self.spec = spec
        self.service = service
        self.baseline = baseline
        self.canary = canary
        self.plan = plan
        self.publisher = publisher
        self.on_event = on_event or (lambda event: None)
        self.entries = Entries(self.consul, service, spec.consul_partition)
        self.analyzer = CanaryAnalyzer(plan.analysis)
        self.result = ReleaseResult(spec.name, service, baseline, canary)
        self.weight = 0.0
        # Polled while windows fill: a dead workload host stops the release at once (its
        # client raises ServiceUnavailable) instead of holding until the progress deadline.
        # Consul's death shows in the config entry writes, Envoy's in the statistics reads.
        self.alive = self.sandbox.workloads.health if self.sandbox is not None else None

    # -- recording ---------------------------------------------------------------------------
    def _event(self, event: ReleaseEvent) -> None:
        self.result.events.append(event)
        detail = event.to_dict()
        if event.kind in DECISION_EVENTS:
            verdict = event.verdict or event.kind
            rate = (event.window.get(self.canary) or {}).get("error_rate")
            self.publisher.decision(event.time, self.canary, verdict, rate, detail)
        if event.kind in WEIGHT_EVENTS:
            weights = {self.baseline: 100.0 - event.weight, self.canary: event.weight}
            self.publisher.weight(event.time, weights, detail)
        self.on_event(event)

    def _set_weight(self, step: str, weight: float, extra: list[str] | None = None) -> None:
        write = self.entries.put(
            splitter(self.service, {self.baseline: 100.0 - weight, self.canary: float(weight)})
        )
        self.weight = weight
        self._event(
            ReleaseEvent(time.time(), "weight", step, weight, writes=(extra or []) + _w(write))
        )

    def _decide(self, step: str, window: Window) -> str:
        base, can = window.counts(self.baseline), window.counts(self.canary)
        decision = self.analyzer.observe(base.sample(), can.sample())
        summary = {
            v: {"requests": c.requests, "errors": c.errors, "error_rate": c.error_rate}
            for v, c in window.by_version.items()
        }
        self._event(
            ReleaseEvent(
                window.ended,
                "decision",
                step,
                self.weight,
                decision.verdict,
                decision.reason,
                window=summary,
                evidence=dict(decision.evidence),
                first_seq=window.first_seq,
                last_seq=window.last_seq,
            )
        )
        return decision.verdict

    # -- the walk ----------------------------------------------------------------------------
    def execute(self, traffic: TrafficDriver) -> ReleaseResult:
        reader = self.release._telemetry(self.service, self.spec.consul_partition)
        versions = list(
            dict.fromkeys([*self.entries.subset_versions().values(), self.baseline, self.canary])
        )
        writes = _w(self.entries.put(resolver(self.service, versions, self.baseline)))
        self._set_weight("testers" if self.plan.tester_header else "start", 0.0, writes)
        if self.plan.tester_header and not self._testers(reader, traffic):
            return self.result
        for weight in self.plan.weights:
            step = f"{weight}%"
            self._set_weight(step, float(weight))
            reader.skip_to_now()
            self.analyzer.reset_step()
            verdict = "hold"
            for _ in range(self.plan.deadline_windows):
                window = reader.window(
                    self.plan.window_requests, self.plan.window_timeout, alive=self.alive
                )
                verdict = self._decide(step, window)
                if verdict != "hold":
                    break
            if verdict == "rollback":
                self.rollback(self.result.decisions()[-1].reason)
                return self.result
            if verdict == "hold":
                self.rollback(
                    f"Progress deadline: still on hold after {self.plan.deadline_windows} "
                    f"windows at {step}; the canary could not show it is healthy."
                )
                return self.result
        self.promote()
        return self.result

    def _testers(self, reader: MeshTelemetryReader, traffic: TrafficDriver) -> bool:
        header = self.plan.tester_header
        assert header is not None
        write = self.entries.put(router(self.service, header, self.canary))
        self.result.events[-1].writes += _w(write)
        reader.skip_to_now()
        wanted = self.plan.tester_requests
        traffic.send(wanted, {header[0]: header[1]})
        self.result.tester_requests = wanted
        window = reader.window(
            self.plan.window_requests,
            self.plan.window_timeout,
            enough=lambda c: c.get(self.canary) is not None and c[self.canary].requests >= wanted,
            alive=self.alive,
        )
        verdict = self._decide("testers", window)
        if verdict == "rollback":
            self.rollback(self.result.decisions()[-1].reason)
            return False
        reached = window.counts(self.canary).requests
        if reached < wanted:
            self.rollback(
                f"Only {reached} of the testers' {wanted} requests reached {self.canary}: "
                "the header route does not work."
            )
            return False
        return True

    def rollback(self, reason: str) -> None:
        """All traffic on the baseline in one write, the route removed, the canary retired."""
        writes = []
        if self.entries.get("service-splitter") or self.entries.get("service-router"):
            writes += _w(
                self.entries.put(splitter(self.service, {self.baseline: 100.0, self.canary: 0.0}))
            )
        writes += _w(self.entries.delete("service-router"))
        self.weight = 0.0
        self.result.outcome, self.result.reason = "rolled back", reason
        self._event(
            ReleaseEvent(time.time(), "rollback", "rollback", 0.0, "rollback", reason, writes)
        )
        self._retire(self.canary, self.baseline)

    def promote(self) -> None:
        """The canary becomes the only version: resolver default, no splitter, old retired."""
        writes = _w(
            self.entries.put(resolver(self.service, [self.baseline, self.canary], self.canary))
        )
        writes += _w(self.entries.delete("service-splitter"))
        writes += _w(self.entries.delete("service-router"))
        self.result.outcome = "promoted"
        self.result.reason = f"{self.canary} passed every step and serves all traffic."
        self._event(
            ReleaseEvent(
                time.time(), "promote", "promote", 100.0, "promote", self.result.reason, writes
            )
        )
        self._retire(self.baseline, self.canary)

    def _retire(self, old: str, keep: str) -> None:
        writes = _w(self.entries.delete("service-splitter"))
        writes += _w(self.entries.put(resolver(self.service, [keep], keep)))
        removed: list[str] = []
        if self.sandbox is not None:
            removed += runtime_workloads.stop(self.sandbox.workloads, self.spec, self.service, old)
        if self.spec.kind == "ecs":
            svc = self.spec.service(self.service)
            ecs = self.release._session(self.spec).client("ecs", region_name=self.spec.region)
            tasks = [
                w["id"]
                for w in (self.sandbox.workloads.list(self.service) if self.sandbox else [])
                if w.get("runtime") == self.spec.name and w["version"] == old
            ]
            removed += deploy.retire_ecs_version(ecs, self.spec, svc, old)
            if self.sandbox is not None:  # the scheduler stops the deleted service's tasks
                runtime_workloads.wait_gone(
                    self.release.consul, self.service, self.spec.consul_partition, old
                )
                removed = tasks + removed
        self.release._unlock(self.service, self.spec.name)
        self.result.events.append(
            ReleaseEvent(
                time.time(),
                "retire",
                "retire",
                self.weight,
                "",
                f"{old} retired: " + ", ".join(removed),
                writes,
            )
        )
        self.on_event(self.result.events[-1])
