"""What a release did, step by step: the record the notebook shows and the tests check."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from soa_sdk.tables import Table


@dataclass
class ReleaseEvent:
    """One thing that happened: a config change or a decision, with its evidence.

    kind: "deploy", "weight", "decision", "rollback", "promote", "retire".
    step: the step's label ("testers", "5%", ...); weight: the canary's share then (percent).
    writes: the config entries written, as "kind:name@ModifyIndex" (deletes as "@deleted").
    window: per version, requests and errors of the analysis window (decisions only).
    """

    time: float
    kind: str
    step: str
    weight: float
    verdict: str = ""
    reason: str = ""
    writes: list[str] = field(default_factory=list)
    window: dict[str, dict[str, Any]] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)
    first_seq: int = 0
    last_seq: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


WEIGHT_EVENTS = ("weight", "rollback", "promote")
"""Events published as "Canary weight changed" (a rollback or promotion changes the weights)."""
DECISION_EVENTS = ("decision", "rollback", "promote")
"""Events published as "Canary decision" (a rollback or promotion is a decision too)."""


@dataclass
class ReleaseResult:
    """The outcome of one canary release of ``canary`` over ``baseline``."""

    runtime: str
    service: str
    baseline: str
    canary: str
    outcome: str = "running"  # "promoted" or "rolled back"
    reason: str = ""
    events: list[ReleaseEvent] = field(default_factory=list)
    tester_requests: int = 0
    audit_stream: str = ""  # the CloudWatch Logs stream holding this release's events

    @property
    def promoted(self) -> bool:
        return self.outcome == "promoted"

    @property
    def rolled_back(self) -> bool:
        return self.outcome == "rolled back"

    def published(self) -> int:
        """How many events this release publishes to its audit trail and event bus."""
        return sum((e.kind in WEIGHT_EVENTS) + (e.kind in DECISION_EVENTS) for e in self.events)

    def decisions(self) -> list[ReleaseEvent]:
        return [e for e in self.events if e.kind == "decision"]

    def steps(self) -> list[dict[str, Any]]:
        """Each step the canary reached: its weight and the telemetry span of its windows."""
        out: dict[str, dict[str, Any]] = {}
        for e in self.events:
            if e.kind != "decision":
                continue
            step = out.setdefault(
                e.step, {"step": e.step, "weight": e.weight, "first_seq": e.first_seq, "windows": 0}
            )
            step["last_seq"] = e.last_seq
            step["windows"] += 1
            step["verdict"] = e.verdict
        return list(out.values())

    def table(self) -> Table:
        rows = []
        for e in self.events:
            base = e.window.get(self.baseline, {})
            can = e.window.get(self.canary, {})
            rows.append(
                {
                    "t (s)": round(e.time - self.events[0].time, 2),
                    "event": e.kind,
                    "step": e.step,
                    "canary weight": f"{e.weight:g}%",
                    f"{self.baseline} errors": _ratio(base),
                    f"{self.canary} errors": _ratio(can),
                    "verdict": e.verdict,
                    "config written (ModifyIndex)": ", ".join(e.writes),
                    "why": e.reason,
                }
            )
        return Table(
            rows,
            title=f"{self.service} {self.canary} over {self.baseline}: {self.outcome}",
        )

    def summary(self) -> dict[str, Any]:
        """Plain values for outcomes.record()."""
        last = self.decisions()[-1] if self.decisions() else None
        return {
            "service": self.service,
            "baseline": self.baseline,
            "canary": self.canary,
            "outcome": self.outcome,
            "reason": self.reason,
            "steps_reached": [s["step"] for s in self.steps()],
            "windows": len(self.decisions()),
            "canary_requests": int((last.evidence.get("canary_requests") or 0) if last else 0),
            "canary_errors": int((last.evidence.get("canary_errors") or 0) if last else 0),
        }


def _ratio(counts: dict[str, Any]) -> str:
    if not counts or not counts.get("requests"):
        return ""
    return f"{counts['errors']}/{counts['requests']}"
