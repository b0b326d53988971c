"""What a partition shares and receives: ``GET /v1/exported-services``, ``/v1/imported-services``.

Both read the ``exported-services`` config entries (one per partition, named after it, kept
in the config table as ``(partition, "exported-services", partition)``), as Consul's
``ResolvedExportedServices`` (``agent/consul/state/config_entry_exported_services.go``): a
``*`` service stands for every typical service of the partition (no sidecars, no gateways),
the ``consul`` service is never exported, each service once, sorted by name, its consumers
deduplicated and sorted. Both need ``mesh:read`` (which ``operator:read`` also grants).

- exported: ``[{"Service", "Consumers": {"Peers", "Partitions"}}]`` (empty lists left out,
  as the Go client's ``omitempty``);
- imported (CE's bare list, ``api.ImportedService``): the services other partitions export
  to this one (``SourcePartition``) and those the remote side of each of this partition's
  peerings exports to that peering (``SourcePeer``, the local name of the peering).

Not implemented: sameness groups (the sandbox refuses ``sameness-group`` entries).
"""

from __future__ import annotations

from typing import Any

from .core import Authz, Store


class ExportsState(Store):
    """Exported and imported services of a partition."""

    def exported_services(self, partition: str = "default", authz: Authz = None) -> list[dict]:
        """``GET /v1/exported-services``."""
        partition = self.check_partition(partition)
        self._require(authz, "mesh", "read", "", partition)
        with self._lock:
            resolved = self._resolved_exports(partition)
        out = []
        for name in sorted(resolved):
            consumers: dict[str, list[str]] = {}
            for field, key in (("Peers", "Peer"), ("Partitions", "Partition")):
                values = sorted({c[key] for c in resolved[name] if c.get(key)})
                if values:
                    consumers[field] = values
            doc: dict[str, Any] = {"Service": name, "Consumers": consumers}
            if partition != "default":
                doc.update(Partition=partition, Namespace="default")
            out.append(doc)
        return out

    def imported_services(self, partition: str = "default", authz: Authz = None) -> list[dict]:
        """``GET /v1/imported-services``."""
        partition = self.check_partition(partition)
        self._require(authz, "mesh", "read", "", partition)
        rows: set[tuple[str, str, str]] = set()  # (service, source peer, source partition)
        with self._lock:
            for source in self._partitions:
                if source == partition:
                    continue
                for name, consumers in self._resolved_exports(source).items():
                    if any(c.get("Partition") == partition for c in consumers):
                        rows.add((name, "", source))
            for (local, peer_name), link in self._peerings.items():
                if local != partition or not link.remote_partition:
                    continue
                exports = self._resolved_exports(link.remote_partition)
                for name, consumers in exports.items():
                    if any(c.get("Peer") == link.remote_peer_name for c in consumers):
                        rows.add((name, peer_name, ""))
        out = []
        for name, peer, source in sorted(rows):
            doc: dict[str, Any] = {"Service": name}
            if peer:
                doc["SourcePeer"] = peer
            if source:
                doc["SourcePartition"] = source
            out.append(doc)
        return out
