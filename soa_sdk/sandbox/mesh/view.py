"""What the data plane reads from Consul: a Protocol, a cache over it, and an in-memory view.

The data plane runs inside the Consul emulator's process and reads its backend directly
(``soa_sdk.sandbox.consul.ConsulBackend`` satisfies :class:`CatalogView`). Reads are cached
and the cache is dropped on every write the backend reports through ``subscribe``; health
answers also expire after a short time, so a check that flips without a write notification
still takes effect promptly.

:class:`MemoryCatalog` is a small stand-in with the same reads, for unit tests of routing.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol


class CatalogView(Protocol):
    """The subset of ``ConsulBackend`` the data plane uses (shapes as Consul's HTTP API)."""

    def get_config_entry(
        self, kind: str, name: str, partition: str = "default", namespace: str = "default"
    ) -> dict[str, Any] | None: ...

    def list_config_entries(
        self, kind: str, partition: str = "default"
    ) -> list[dict[str, Any]]: ...

    def health_service(
        self, name: str, partition: str = "default", passing: bool = False, peer: str | None = None
    ) -> list[dict[str, Any]]: ...

    def agent_services(self, partition: str = "default") -> dict[str, dict[str, Any]]: ...

    def subscribe(self, callback: Callable[[int], None]) -> None: ...

    def intention_default_allow(self) -> bool:
        """Consul's default intention behaviour (the ACL default policy)."""
        ...


def partitions_of(backend: Any) -> list[str]:
    """Admin partitions the backend knows, best effort; always includes ``default``."""
    names: list[str] = ["default"]
    for attr in ("partition_list", "list_partitions"):
        found = getattr(backend, attr, None)
        if found is None:
            continue
        try:
            items = found() if callable(found) else found
        except Exception:
            continue
        if isinstance(items, dict):
            items = (
                list(items.values())
                if items and isinstance(next(iter(items.values())), dict)
                else list(items)
            )
        for item in items or ():
            name = item.get("Name") if isinstance(item, dict) else getattr(item, "name", item)
            if isinstance(name, str) and name not in names:
                names.append(name)
        break
    return names


class CachedView:
    """Memoises reads of a CatalogView; ``invalidate()`` on each backend write.

    Config entries are cached until the next write (with a safety expiry); health answers
    for at most ``health_ttl`` seconds.
    """

    def __init__(self, backend: Any, health_ttl: float = 0.05, config_ttl: float = 2.0) -> None:
        self.backend = backend
        self.health_ttl = health_ttl
        self.config_ttl = config_ttl
        self._config: dict[tuple[str, str, str], tuple[float, dict[str, Any] | None]] = {}
        self._health: dict[tuple[Any, ...], tuple[float, list[dict[str, Any]]]] = {}
        self.generation = 0

    def invalidate(self) -> None:
        # Replacing the dicts (instead of clear()) lets readers holding the old ones finish.
        self._config = {}
        self._health = {}
        self.generation += 1

    def config(self, kind: str, name: str, partition: str = "default") -> dict[str, Any] | None:
        key = (kind, name, partition)
        cache = self._config
        hit = cache.get(key)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        value = self.backend.get_config_entry(kind, name, partition=partition)
        cache[key] = (now + self.config_ttl, value)
        return value

    def health(
        self,
        name: str,
        partition: str = "default",
        peer: str | None = None,
        consumer_partition: str | None = None,
    ) -> list[dict[str, Any]]:
        """Health entries of ``name``; from another partition (``consumer_partition``) only
        what ``partition`` exports to it, as Consul's cross-partition discovery does."""
        key = (name, partition, peer, consumer_partition)
        cache = self._health
        hit = cache.get(key)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        kwargs: dict[str, Any] = {"partition": partition}
        if peer:
            kwargs["peer"] = peer
        if consumer_partition and consumer_partition != partition:
            kwargs["consumer_partition"] = consumer_partition
        value = self.backend.health_service(name, **kwargs)
        cache[key] = (now + self.health_ttl, value)
        return value

    def peer_link(self, partition: str, peer: str) -> tuple[str, str] | None:
        """Where the peering ``peer`` of ``partition`` ends: (the remote partition, the name
        the remote side gives this peering), from ``GET /v1/peering/:name`` on both sides;
        None when it is not established or the backend has no peerings."""
        key = ("_peer", peer, partition)
        cache = self._config
        hit = cache.get(key)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]  # type: ignore[return-value]
        link: tuple[str, str] | None = None
        get = getattr(self.backend, "peering_get", None)
        doc = get(peer, partition) if callable(get) else None
        remote = ((doc or {}).get("Remote") or {}).get("Partition")
        if doc and doc.get("PeeringState") == "ACTIVE" and remote:
            for other in self.backend.peering_list(remote):
                if other.get("ID") == doc.get("PeerID"):
                    link = (remote, other["Name"])
                    break
        cache[key] = (now + self.config_ttl, link)  # type: ignore[assignment]
        return link


class MemoryCatalog:
    """An in-memory CatalogView for unit tests: services, check states and config entries."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._services: dict[tuple[str, str], dict[str, Any]] = {}  # (partition, id)
        self._status: dict[tuple[str, str], str] = {}
        self._entries: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._subscribers: list[Callable[[int], None]] = []
        self.kv: dict[str, bytes] = {}
        self.index = 1

    def _bump(self) -> None:
        self.index += 1
        for cb in list(self._subscribers):
            cb(self.index)

    def subscribe(self, callback: Callable[[int], None]) -> None:
        self._subscribers.append(callback)

    def register(self, service: dict[str, Any], partition: str = "default") -> None:
        svc = copy.deepcopy(service)
        svc.setdefault("ID", svc["Service"])
        svc.setdefault("Kind", "")
        svc.setdefault("Meta", {})
        svc.setdefault("Tags", [])
        svc["Partition"] = partition
        with self._lock:
            self._services[(partition, svc["ID"])] = svc
            self._status.setdefault((partition, svc["ID"]), "passing")
        self._bump()

    def deregister(self, service_id: str, partition: str = "default") -> None:
        with self._lock:
            self._services.pop((partition, service_id), None)
            self._status.pop((partition, service_id), None)
        self._bump()

    def set_status(self, service_id: str, status: str, partition: str = "default") -> None:
        with self._lock:
            self._status[(partition, service_id)] = status
        self._bump()

    def put_config_entry(self, entry: dict[str, Any]) -> None:
        part = entry.get("Partition") or "default"
        with self._lock:
            self._entries[(entry["Kind"], entry["Name"], part)] = copy.deepcopy(entry)
        self._bump()

    def delete_config_entry(self, kind: str, name: str, partition: str = "default") -> None:
        with self._lock:
            self._entries.pop((kind, name, partition), None)
        self._bump()

    # -- CatalogView --------------------------------------------------------------------
    def get_config_entry(
        self, kind: str, name: str, partition: str = "default", namespace: str = "default"
    ) -> dict[str, Any] | None:
        with self._lock:
            entry = self._entries.get((kind, name, partition))
            return copy.deepcopy(entry) if entry else None

    def list_config_entries(self, kind: str, partition: str = "default") -> list[dict[str, Any]]:
        with self._lock:
            items = self._entries.items()
            return [copy.deepcopy(e) for (k, _, p), e in items if (k, p) == (kind, partition)]

    def health_service(
        self,
        name: str,
        partition: str = "default",
        passing: bool = False,
        peer: str | None = None,
        consumer_partition: str | None = None,
    ) -> list[dict[str, Any]]:
        """Exports between partitions are not modelled: every partition sees every other."""
        out = []
        with self._lock:
            for (part, sid), svc in sorted(self._services.items()):
                if part != partition or svc["Service"] != name or peer:
                    continue
                status = self._status[(part, sid)]
                if passing and status != "passing":
                    continue
                out.append(
                    {
                        "Node": {"Node": "sandbox", "Address": "127.0.0.1", "Partition": part},
                        "Service": copy.deepcopy(svc),
                        "Checks": [
                            {"CheckID": f"service:{sid}", "ServiceID": sid, "Status": status}
                        ],
                    }
                )
        return out

    def agent_services(self, partition: str = "default") -> dict[str, dict[str, Any]]:
        with self._lock:
            return {
                sid: copy.deepcopy(svc)
                for (part, sid), svc in self._services.items()
                if part == partition
            }

    def kv_put(self, key: str, value: bytes) -> bool:
        with self._lock:
            self.kv[key] = value
        self._bump()
        return True

    def intention_default_allow(self) -> bool:
        """No ACLs in this stand-in: Consul then allows by default."""
        return True

    def partition_list(self) -> list[dict[str, Any]]:
        with self._lock:
            parts = {p for p, _ in self._services} | {"default"}
        return [{"Name": p} for p in sorted(parts)]
