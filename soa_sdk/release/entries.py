"""The Consul config entries a release writes, and the index each write leaves behind.

A canary of service ``S`` (baseline version B, canary version C) is three entries in the
runtime's admin partition, written through ``PUT /v1/config?partition=`` (real Consul API):

- ``service-resolver`` ``S``: one subset per version (``Filter: Service.Meta.version == "B"``,
  ``OnlyPassing``), ``DefaultSubset`` the version that serves by default;
- ``service-router`` ``S``: one route matching the testers' header to the canary's subset
  (Consul's ``Match.HTTP.Header`` with ``Exact``); other requests fall through;
- ``service-splitter`` ``S``: ``Splits`` by ``ServiceSubset`` with the step's weights.

Consul checks the chain on every write (a split to a subset the resolver lacks is refused),
so writes go in an order where every reference exists: resolver subsets before the splitter
and router that name them, and the reverse when taking them away. Each write is read back
(``GET /v1/config/:kind/:name``) for its ``ModifyIndex``, the evidence of what changed when.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from soa_sdk.consul_api import ConsulApi
from soa_sdk.release.plan import check_splits, subset_name

KINDS = ("service-router", "service-splitter", "service-resolver")
# Fields Consul adds to an entry it returns; not part of what is written.
_SERVER_FIELDS = {"CreateIndex", "ModifyIndex", "Partition", "Namespace", "Hash", "Meta"}


@dataclass(frozen=True)
class Write:
    """One config change: what, and the ModifyIndex Consul gave it (0 for a delete)."""

    kind: str
    name: str
    action: str  # "put" or "delete"
    modify_index: int


def resolver(service: str, versions: list[str], default: str) -> dict[str, Any]:
    return {
        "Kind": "service-resolver",
        "Name": service,
        "DefaultSubset": subset_name(default),
        "Subsets": {
            subset_name(v): {"Filter": f'Service.Meta.version == "{v}"', "OnlyPassing": True}
            for v in versions
        },
    }


def splitter(service: str, weights: dict[str, float]) -> dict[str, Any]:
    check_splits(weights)
    return {
        "Kind": "service-splitter",
        "Name": service,
        "Splits": [
            {"Weight": float(w), "ServiceSubset": subset_name(v)} for v, w in weights.items()
        ],
    }


def router(service: str, header: tuple[str, str], version: str) -> dict[str, Any]:
    name, value = header
    return {
        "Kind": "service-router",
        "Name": service,
        "Routes": [
            {
                "Match": {"HTTP": {"Header": [{"Name": name, "Exact": value}]}},
                "Destination": {"Service": service, "ServiceSubset": subset_name(version)},
            }
        ],
    }


class Entries:
    """Reads and writes the release's entries of one service in one partition."""

    def __init__(self, consul: ConsulApi, service: str, partition: str) -> None:
        self.consul = consul
        self.service = service
        self.partition = partition

    def get(self, kind: str) -> dict[str, Any] | None:
        return self.consul.get_config(kind, self.service, self.partition)

    def indexes(self) -> dict[str, int]:
        """ModifyIndex of each of the service's entries (0 when absent)."""
        return {
            k: int((self.get(k) or {}).get("ModifyIndex", 0)) for k in (*KINDS, "service-defaults")
        }

    def put(self, entry: dict[str, Any]) -> Write:
        if entry["Kind"] == "service-resolver":
            entry = self._keep_resolver_settings(entry)
        self.consul.put_config(entry, self.partition)
        written = self.get(entry["Kind"]) or {}
        return Write(entry["Kind"], self.service, "put", int(written.get("ModifyIndex", 0)))

    def _keep_resolver_settings(self, entry: dict[str, Any]) -> dict[str, Any]:
        """The release owns DefaultSubset and Subsets; the rest of an existing resolver
        (Failover to other runtimes, timeouts, load balancing) is the runtime's and stays."""
        existing = self.get("service-resolver") or {}
        kept = {k: v for k, v in existing.items() if k not in _SERVER_FIELDS}
        return {**kept, **entry}

    def delete(self, kind: str) -> Write | None:
        """Delete ``kind`` when it exists; None when there was nothing to delete."""
        if self.get(kind) is None:
            return None
        self.consul.delete_config(kind, self.service, self.partition)
        return Write(kind, self.service, "delete", 0)

    def subset_versions(self) -> dict[str, str]:
        """Subset name -> version, read from the resolver's filters."""
        found = {}
        for name, subset in ((self.get("service-resolver") or {}).get("Subsets") or {}).items():
            text = str((subset or {}).get("Filter", ""))
            if "Service.Meta.version ==" in text:
                found[name] = text.split("==", 1)[1].strip().strip('"')
        return found

    def default_version(self) -> str | None:
        """The version the resolver serves by default, if it says."""
        entry = self.get("service-resolver") or {}
        default = entry.get("DefaultSubset")
        return self.subset_versions().get(default) if default else None
