"""Start and stop the workload host's instances to match the placements, as ECS's service
scheduler does for a service's tasks.

The instances the scheduler runs carry their ``placement`` on the workload host (the ECS
service's key and the task definition revision), so the host's list is the whole state: a
restarted scheduler takes up where it stopped, and instances started by hand (no placement)
are never touched. For each placement:

- fewer instances of the revision than desired: start the missing ones (each logs in to
  Consul with its service's identity, see :class:`~soa_sdk.sandbox.workloads.ConsulLogin`);
- more: stop the newest;
- instances of another revision (a new task definition): the new revision's are started
  first and the old ones stopped after (ECS's rolling update with ``minimumHealthyPercent``
  100 and ``maximumPercent`` 200; the host registers an instance once it serves);
- an instance whose ECS service is gone, inactive or in a deleted cluster: stopped.

Auto Scaling groups are placed the same way (:mod:`.autoscaling`): ``DesiredCapacity``
instances of the launch template version, a new version rolled new-first, a deleted group's
instances stopped.

After each pass the counts are reported to the AWS stand-in (``runningCount``,
``deployments``). Left out: placement strategies and constraints, task health checks
(an instance the lab breaks stays: Consul's health check, not ECS, takes it out of the
mesh), the deployment circuit breaker.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from soa_sdk.sandbox.scheduler.autoscaling import group_placements
from soa_sdk.sandbox.scheduler.placements import Placement, ecs_key, placements

log = logging.getLogger("soa_sdk.sandbox.scheduler")


class Host(Protocol):
    """What the reconciler needs of :class:`~soa_sdk.sandbox.workloads.WorkloadHostClient`."""

    def list(self, name: str | None = None) -> list[dict[str, Any]]: ...

    def start(self, name: str, version: str = "v1", **spec: Any) -> list[dict[str, Any]]: ...

    def stop(self, workload_id: str) -> dict[str, Any]: ...


class Reporter(Protocol):
    def report(self, services: list[dict[str, Any]]) -> None: ...


@dataclass
class Pass:
    """What one reconciliation did."""

    seq: int
    started: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.started or self.stopped)


def _number(workload_id: str) -> int:
    found = re.findall(r"\d+", workload_id)
    return int(found[-1]) if found else 0


class Reconciler:
    """One :meth:`reconcile` per snapshot of the feed."""

    def __init__(self, host: Host, reporter: Reporter) -> None:
        self.host = host
        self.reporter = reporter
        self._reported: list[dict[str, Any]] | None = None
        self.wanted: dict[str, dict[str, Any]] = {}
        """Per placement key: revision, desired and running (for the status route)."""

    def reconcile(self, snapshot: dict[str, Any]) -> Pass:
        began = time.monotonic()
        done = Pass(int(snapshot.get("seq", 0)))
        wanted, done.problems = placements(snapshot)
        groups, problems = group_placements(snapshot)
        wanted += groups
        done.problems += problems
        self.wanted = {}
        owned: dict[str, list[dict[str, Any]]] = {}
        for workload in self.host.list():
            key = (workload.get("placement") or {}).get("key")
            if key:
                owned.setdefault(key, []).append(workload)
        for placement in wanted:
            self._place(placement, owned.pop(placement.key, []), done)
        for key, gone in owned.items():
            self._stop(gone, f"{key}: its ECS service or Auto Scaling group is gone", done)
        self._report(snapshot)
        done.seconds = time.monotonic() - began
        return done

    def _place(self, placement: Placement, mine: list[dict[str, Any]], done: Pass) -> None:
        current = sorted(
            (w for w in mine if w["placement"].get("revision") == placement.revision),
            key=lambda w: _number(w["id"]),
        )
        stale = [w for w in mine if w not in current]
        missing = placement.count - len(current)
        revision = placement.revision.rsplit("/", 1)[-1]
        if missing > 0:
            try:
                spec = dict(placement.spec)
                started = self.host.start(
                    spec.pop("name"),
                    spec.pop("version"),
                    count=missing,
                    placement=placement.placement(),
                    **spec,
                )
            except Exception as error:  # the next pass tries again
                done.problems.append(f"{placement.key}: start failed: {error}")
                log.warning("%s: could not start %d of %s: %s", placement.key, missing,
                            revision, error)  # fmt: skip
                started = []
            ids = [w["id"] for w in started]
            done.started += ids
            current += started
            if ids:
                log.info("%s: started %s (%s; desired %d)", placement.key, ", ".join(ids),
                         revision, placement.count)  # fmt: skip
        if missing < 0:
            self._stop(current[missing:], f"{placement.key}: desired {placement.count}", done)
            current = current[:missing]
        if stale and len(current) >= placement.count:
            self._stop(stale, f"{placement.key}: replaced by {revision}", done)
            stale = []
        self.wanted[placement.key] = {
            "revision": placement.revision,
            "desired": placement.count,
            "running": len(current),
            "older": len(stale),
        }

    def _stop(self, workloads: list[dict[str, Any]], why: str, done: Pass) -> None:
        ids: list[str] = []
        for workload in workloads:
            try:
                self.host.stop(workload["id"])
            except Exception as error:
                done.problems.append(f"stop {workload['id']} failed: {error}")
                continue
            ids.append(workload["id"])
        if ids:
            done.stopped += ids
            log.info("%s: stopped %s", why, ", ".join(ids))

    def _report(self, snapshot: dict[str, Any]) -> None:
        """ECS's counts for every service of the snapshot, when they changed."""
        running: dict[str, dict[str, int]] = {}
        for workload in self.host.list():
            placed = workload.get("placement") or {}
            if placed.get("scheduler") == "ecs":
                revisions = running.setdefault(placed["key"], {})
                revisions[placed["revision"]] = revisions.get(placed["revision"], 0) + 1
        report = [
            {
                **{k: s[k] for k in ("account", "region", "cluster", "serviceName")},
                "running": running.get(ecs_key(s), {}),
            }
            for s in snapshot.get("ecs") or []
        ]
        if report != self._reported:
            self.reporter.report(report)
            self._reported = report
