"""What talks to what: Consul's health of every instance, and the graph of observed calls.

Health, real API: ``GET /v1/health/service/:name?partition=`` (Consul Enterprise admin
partitions). An instance's status is its worst check (node and service checks), as
Consul's ``AggregatedStatus`` has it: critical over warning over passing.

Topology: the services and the calls the mesh actually carried, from the data plane's
per-request telemetry (in production: Envoy's statistics, or the Consul UI's topology
view, which reads the same from Prometheus). An edge is (source, destination) with its
request count, 5xx count, 403 count (denied by intentions) and mean latency. Sources are
services or ingress gateways.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from soa_sdk.consul_api import ConsulApi
from soa_sdk.observe.context import Runtime
from soa_sdk.tables import Table

STATUS_ORDER = ("passing", "warning", "critical")


def aggregated_status(checks: list[dict[str, Any]]) -> str:
    statuses = [c.get("Status", "critical") for c in checks] or ["passing"]
    return max(statuses, key=lambda s: STATUS_ORDER.index(s) if s in STATUS_ORDER else 2)


def health_rows(consul: ConsulApi, runtime: Runtime) -> list[dict[str, Any]]:
    """One row per instance of every declared service of ``runtime``."""
    rows = []
    for service in runtime.spec.services:
        entries = consul.request(
            "GET",
            f"health/service/{service.name}",
            params={"partition": runtime.partition},
            doing=f"read the health of {service.name}",
        )
        for entry in sorted(entries or [], key=lambda e: e["Service"]["ID"]):
            checks = entry.get("Checks") or []
            own = [c for c in checks if c.get("ServiceID")]
            rows.append(
                {
                    "runtime": runtime.name,
                    "partition": runtime.partition,
                    "service": service.name,
                    "instance": entry["Service"]["ID"],
                    "version": (entry["Service"].get("Meta") or {}).get("version", ""),
                    "status": aggregated_status(checks),
                    "checks": "; ".join(
                        f"{c.get('Name')}: {c.get('Status')} ({str(c.get('Output', ''))[:60]})"
                        for c in own
                    ),
                }
            )
        if not entries:
            rows.append(
                {
                    "runtime": runtime.name,
                    "partition": runtime.partition,
                    "service": service.name,
                    "instance": "",
                    "version": "",
                    "status": "no instance",
                    "checks": "",
                }
            )
    return rows


@dataclass
class Topology:
    """Nodes (services and gateways, with their partition) and observed edges."""

    nodes: dict[str, str] = field(default_factory=dict)  # name -> partition
    edges: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0

    def edge(self, source: str, destination: str) -> dict[str, Any] | None:
        return next(
            (e for e in self.edges if (e["source"], e["destination"]) == (source, destination)),
            None,
        )

    def pairs(self) -> set[tuple[str, str]]:
        return {(e["source"], e["destination"]) for e in self.edges}

    def table(self) -> Table:
        return Table(self.edges, title=f"Observed calls ({self.requests} requests)")


def build(records: list[dict[str, Any]], ingress: dict[str, str] | None = None) -> Topology:
    """The topology of ``records``; ``ingress`` maps gateway names to their partition."""
    ingress = ingress or {}
    stats: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0, 0.0, 0])
    topology = Topology()
    for record in records:
        source, destination = record.get("source") or "", record.get("destination") or ""
        if not source or not destination:
            continue
        topology.nodes.setdefault(destination, record.get("partition", ""))
        topology.nodes.setdefault(source, ingress.get(source, ""))
        counts = stats[(source, destination)]
        counts[0] += 1
        counts[1] += int(record["code"]) >= 500
        counts[2] += float(record["latency_ms"])
        counts[3] += int(record["code"]) == 403  # the mesh's RBAC: access denied
        topology.requests += 1
    for (source, destination), (count, errors, latency, denied) in sorted(stats.items()):
        topology.edges.append(
            {
                "source": source,
                "destination": destination,
                "requests": int(count),
                "errors": int(errors),
                "error_rate": round(errors / count, 4),
                "denied": int(denied),
                "avg_latency_ms": round(latency / count, 2),
            }
        )
    # A source service's partition is where its own instances answer; fill it in.
    for name, partition in list(topology.nodes.items()):
        if not partition:
            topology.nodes[name] = next(
                (r["partition"] for r in records if r.get("destination") == name), ""
            )
    return topology
