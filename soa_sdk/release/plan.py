"""What a canary release is asked to do, validated before anything is written.

:class:`ReleasePlan` holds the weights, the testers' header, the window size and the progress
deadline. Every check raises :class:`~soa_sdk.errors.ValidationError` with one sentence, so a
bad plan never reaches Consul, the workload host or AWS.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from soa_sdk import validate
from soa_sdk.canary_analysis import AnalysisConfig
from soa_sdk.errors import ValidationError

# Versions are labels of builds ("v2", "v2.1", "2024-05-rc1"): Meta values in Consul, task
# definition family suffixes in ECS (validate.RELEASE_VERSION). Consul's subset names are
# stricter (see subset_name).
_HEADER = validate.Name(
    "header name", r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", "use an HTTP token (RFC 9110)"
)
LATENCY_KEYS = ("p50", "p90", "p99")
_SUBSET_INVALID = re.compile(r"[^a-z0-9-]+")

DEFAULT_WEIGHTS = (5, 25, 50, 100)
DEFAULT_DEADLINE_WINDOWS = 30


def check_version(version: object) -> str:
    """The version, or a ValidationError saying what a version may look like."""
    return validate.RELEASE_VERSION.check(version)


def check_build(
    error_rate: object, error_code: object, latency_ms: object, message: object
) -> dict[str, Any]:
    """How a deployed build behaves (fake-service's settings), checked before anything runs:
    an error rate from 0 to 1, an HTTP error status, latencies per percentile in ms."""
    rate = validate.number(error_rate, "error_rate", 0, 1)
    validate.whole(error_code, "error_code (an HTTP status)", 400, 599)
    if latency_ms is not None:
        if not isinstance(latency_ms, dict):
            raise ValidationError(
                f"latency_ms must map percentiles to milliseconds, e.g. {{'p50': 20}}, not "
                f"{latency_ms!r}."
            )
        for key, value in latency_ms.items():
            validate.choice(key, "A latency_ms key", LATENCY_KEYS)
            if value is not None:
                validate.number(value, f"latency_ms[{key!r}]", 0, 60_000, " ms")
    if message is not None:
        validate.text(message, "message")
    return {"error_rate": rate, "error_code": error_code, "latency_ms": latency_ms}


def subset_name(version: str) -> str:
    """The service-resolver subset of ``version``: Consul wants a DNS label, so ``v2.1``
    becomes ``v2-1`` (the subset's filter still matches ``Service.Meta.version == "v2.1"``)."""
    name = _SUBSET_INVALID.sub("-", check_version(version).lower()).strip("-")
    if not name:
        raise ValidationError(f"Version {version!r} gives no usable Consul subset name.")
    return name[:63]


def check_weights(weights: Sequence[int]) -> tuple[int, ...]:
    """Increasing integer percentages in 1..100 that end at 100 (the last step moves all
    traffic to the canary before promotion)."""
    if isinstance(weights, str | bytes) or not isinstance(weights, list | tuple) or not weights:
        raise ValidationError(
            "Weights must be a non-empty list of percentages, e.g. [5, 25, 50, 100]."
        )
    out = []
    for w in weights:
        if isinstance(w, bool) or not isinstance(w, int | float) or w != int(w):
            raise ValidationError(f"Weight {w!r} is not a whole percentage.")
        if not 1 <= w <= 100:
            raise ValidationError(f"Weight {w!r} is out of range: each weight must be 1 to 100.")
        out.append(int(w))
    if any(b <= a for a, b in itertools.pairwise(out)):
        raise ValidationError(f"Weights {out} must increase strictly from one step to the next.")
    if out[-1] != 100:
        raise ValidationError(
            f"Weights {out} must end at 100: the canary serves everything before promotion."
        )
    return tuple(out)


def check_splits(splits: dict[str, float]) -> dict[str, float]:
    """Per-version weights of one splitter write: each 0..100, adding up to 100."""
    total = sum(splits.values())
    if any(not 0 <= w <= 100 for w in splits.values()) or not math.isclose(total, 100.0):
        raise ValidationError(
            f"Split weights {splits} must each be 0 to 100 and add up to 100 (they add up "
            f"to {total:g})."
        )
    return splits


@dataclass(frozen=True)
class ReleasePlan:
    """How a canary walks its steps.

    weights: splitter percentages for the canary, increasing, ending at 100.
    tester_header: (name, value) of the header that sends internal testers to the canary
        before any user does (a ``service-router`` route); None skips that step.
    tester_requests: requests the release sends itself with that header (a smoke test).
    window_requests: requests to the service (baseline + canary) per analysis window.
    deadline_windows: windows a step may stay on "hold"; then the release rolls back
        (Flagger's progress deadline, Argo Rollouts' inconclusive limit).
    window_timeout: seconds to wait for one window's requests before judging on what came.
    analysis: the statistics' parameters (:class:`soa_sdk.canary_analysis.AnalysisConfig`).
    """

    weights: tuple[int, ...] = DEFAULT_WEIGHTS
    tester_header: tuple[str, str] | None = ("x-canary", "true")
    tester_requests: int = 20
    window_requests: int = 200
    deadline_windows: int = DEFAULT_DEADLINE_WINDOWS
    window_timeout: float = 10.0
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", check_weights(self.weights))
        if self.tester_header is not None:
            if (
                not isinstance(self.tester_header, tuple | list)
                or len(self.tester_header) != 2
                or not all(isinstance(x, str) and x for x in self.tester_header)
                or not _HEADER.matches(self.tester_header[0])
            ):
                raise ValidationError(
                    f"tester_header {self.tester_header!r} must be (name, value), e.g. "
                    "('x-canary', 'true')."
                )
            object.__setattr__(self, "tester_header", tuple(self.tester_header))
        for name, low, high in (
            ("tester_requests", 1, 10_000),
            ("window_requests", 10, 100_000),
            ("deadline_windows", 1, 1_000),
        ):
            validate.whole(getattr(self, name), name, low, high)
        validate.number(self.window_timeout, "window_timeout", high=600, unit=" s", above=0)
        validate.instance(self.analysis, AnalysisConfig, "a soa_sdk.canary_analysis.AnalysisConfig")
