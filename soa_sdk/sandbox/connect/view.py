"""What the control plane reads from Consul: the :class:`CatalogView` protocol.

The xDS controller runs inside the Consul emulator's process and reads its backend directly
(``soa_sdk.sandbox.consul.ConsulBackend`` satisfies :class:`CatalogView`); it rebuilds the
Envoys' snapshots on every write the backend reports through ``subscribe``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class CatalogView(Protocol):
    """The subset of ``ConsulBackend`` the control plane reads (shapes as Consul's HTTP API)."""

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
