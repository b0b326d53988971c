"""Step 3: ship a feature and fix a bug with a canary through the mesh.

``lab.release`` is a :class:`Release`: ``deploy`` a new version beside the current one,
``canary`` it (testers' header route, then progressive splitter weights judged by
:mod:`soa_sdk.canary_analysis` on live mesh telemetry; rollback or promotion by itself),
``traffic`` for synthetic users, ``shares``/``serving`` to check the result from telemetry,
``reset`` to return a service to its declared versions. Modules: :mod:`.plan` (validation),
:mod:`.entries` (Consul config entries), :mod:`.telemetry`, :mod:`.traffic`, :mod:`.deploy`
(workloads and ECS), :mod:`.publish` (CloudWatch and EventBridge), :mod:`.record`.
"""

from soa_sdk.release.core import Release
from soa_sdk.release.plan import DEFAULT_WEIGHTS, ReleasePlan, subset_name
from soa_sdk.release.record import ReleaseEvent, ReleaseResult
from soa_sdk.release.traffic import TrafficDriver

__all__ = [
    "DEFAULT_WEIGHTS",
    "Release",
    "ReleaseEvent",
    "ReleasePlan",
    "ReleaseResult",
    "TrafficDriver",
    "subset_name",
]
