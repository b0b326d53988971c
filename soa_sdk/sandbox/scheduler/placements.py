"""What should run, from what moto holds: a pure function of the feed's snapshot.

An ECS service that is ``ACTIVE`` in an ``ACTIVE`` cluster asks for ``desiredCount``
instances of its task definition. The workload is the task definition's fake-service
container: the first container with the ``consul.hashicorp.com/service-name`` docker label,
else the first essential one. From it:

- the Consul service: the labels ``consul.hashicorp.com/service-name`` (else the ``NAME``
  environment variable, else the container's name), ``.../service-meta-version`` (its
  ``Meta.version``, else ``v1``), ``.../partition`` (else ``default``), and
  ``.../upstreams``: ``name:port`` items, comma-separated, an item's name in consul-k8s's
  labelled form for another partition or peer (``name.svc[.NAMESPACE.ns][.PARTITION.ap]``,
  ``name.svc[.NAMESPACE.ns].PEER.peer``); an upstream with no partition is in the workload's
  own partition, as Consul takes an upstream with no ``DestinationPartition``;
- fake-service's settings: ``MESSAGE``, ``ERROR_RATE``, ``ERROR_CODE`` and
  ``TIMING_50_PERCENTILE`` / ``_90_`` / ``_99_`` (durations such as ``20ms``);
- the runtime: the cluster's name (step 1 and ``terraform/runtime_ecs`` name the cluster
  after the runtime).

Left out: the upstreams' local ports (each instance gets free ones on the shared host, as it
cannot bind the task's ``localhost:20000``), the image, CPU and memory, every other
container. Auto Scaling groups place through :mod:`.autoscaling`; EKS node groups are in
the snapshot but place nothing yet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

LABEL = "consul.hashicorp.com/"
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ns|us|µs|ms|s|m)?\s*$")
_UNIT_MS = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0, None: 1.0}


@dataclass(frozen=True)
class Placement:
    """``count`` instances of one workload spec, for one ECS service (``key``), of one task
    definition revision (``revision``)."""

    key: str
    revision: str
    count: int
    spec: dict[str, Any]
    ecs: dict[str, str] = field(default_factory=dict)
    """account, region, cluster, serviceName: where its counts are reported (for an Auto
    Scaling group: account, region, autoScalingGroupName)."""
    scheduler: str = "ecs"

    def placement(self) -> dict[str, str]:
        """What the workload host keeps with each instance (``placement``)."""
        return {"scheduler": self.scheduler, "key": self.key, "revision": self.revision,
                **self.ecs}  # fmt: skip


def ecs_key(service: dict[str, Any]) -> str:
    return "/".join(
        ("ecs", service["account"], service["region"], service["cluster"], service["serviceName"])
    )


def placements(snapshot: dict[str, Any]) -> tuple[list[Placement], list[str]]:
    """The placements the snapshot's ECS services ask for (``desiredCount`` 0 included), and
    what could not be read (a service whose task definition says nothing runnable)."""
    found, problems = [], []
    for service in snapshot.get("ecs") or []:
        if service.get("status") != "ACTIVE" or service.get("clusterStatus") != "ACTIVE":
            continue
        definition = service.get("taskDefinition")
        if not definition:
            continue
        try:
            spec = workload_spec(definition, service["cluster"])
        except ValueError as error:
            problems.append(f"{ecs_key(service)}: {definition['arn']}: {error}")
            continue
        if spec is None:
            problems.append(f"{ecs_key(service)}: {definition['arn']} has no container")
            continue
        found.append(
            Placement(
                ecs_key(service),
                definition["arn"],
                int(service.get("desiredCount") or 0),
                spec,
                {k: service[k] for k in ("account", "region", "cluster", "serviceName")},
            )
        )
    return found, problems


def workload_container(definition: dict[str, Any]) -> dict[str, Any] | None:
    containers = definition.get("containerDefinitions") or []
    labelled = [c for c in containers if (c.get("dockerLabels") or {}).get(LABEL + "service-name")]
    essential = [c for c in containers if c.get("essential", True)]
    chosen = labelled or essential or containers
    return chosen[0] if chosen else None


def workload_spec(definition: dict[str, Any], cluster: str) -> dict[str, Any] | None:
    """The workload host's start request for the task definition (without count or login)."""
    container = workload_container(definition)
    if container is None:
        return None
    labels = container.get("dockerLabels") or {}
    env = {e.get("name"): str(e.get("value", "")) for e in container.get("environment") or []}
    name = labels.get(LABEL + "service-name") or env.get("NAME") or container.get("name")
    version = labels.get(LABEL + "service-meta-version") or "v1"
    spec: dict[str, Any] = {
        "name": name,
        "version": version,
        "partition": labels.get(LABEL + "partition") or "default",
        "runtime": cluster,
        "upstreams": upstreams(labels.get(LABEL + "upstreams", "")),
        "message": env.get("MESSAGE") or f"{name} {version}",
    }
    return {**spec, **behaviour(env)}


def behaviour(env: dict[str, str]) -> dict[str, Any]:
    """What the build does, from fake-service's environment: its error rate and code
    (``ERROR_RATE``, ``ERROR_CODE``) and latency (``TIMING_50/90/99_PERCENTILE``)."""
    found: dict[str, Any] = {}
    if env.get("ERROR_RATE"):
        found["error_rate"] = float(env["ERROR_RATE"])
        found["error_code"] = int(env.get("ERROR_CODE") or 500)
    timing = {
        key: duration_ms(env[variable])
        for key, variable in (
            ("p50", "TIMING_50_PERCENTILE"),
            ("p90", "TIMING_90_PERCENTILE"),
            ("p99", "TIMING_99_PERCENTILE"),
        )
        if env.get(variable)
    }
    if timing:
        found["latency_ms"] = timing
    return found


def upstreams(label: str) -> list[dict[str, str]]:
    """``inventory:20000,customers.svc.default.ns.eks.ap:20001`` -> the host's upstreams."""
    found = []
    for item in (i.strip() for i in label.split(",")):
        if not item:
            continue
        target = item.split(":", 1)[0]
        parts = target.split(".")
        upstream = {"name": parts[0]}
        labelled: dict[str, str] = {}
        if len(parts) > 2 and parts[1] == "svc":  # name.svc[.VALUE.KIND]..., KIND ns/ap/peer
            pairs = parts[2:]
            labelled = {pairs[i + 1]: pairs[i] for i in range(0, len(pairs) - 1, 2)}
        if labelled.get("ap"):
            upstream["partition"] = labelled["ap"]
        if labelled.get("peer"):
            upstream["peer"] = labelled["peer"]
        found.append(upstream)
    return found


def duration_ms(text: str) -> float:
    """A Go duration such as fake-service takes (``20ms``, ``1.5s``) in milliseconds."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r}")
    return float(match.group(1)) * _UNIT_MS[match.group(2)]
