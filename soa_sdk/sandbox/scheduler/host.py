"""The workload host as the scheduler finds it: through the host's run record.

The scheduler starts beside the workload host (in the same wave of ``soa-lab up``, so the
sandbox takes no longer to start), before the host's address is known to the lifecycle; it
reads it from ``run/workloads.json``, which the lifecycle writes the moment the host's
process starts, and again whenever that address changes (a restarted host)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from soa_sdk.errors import ServiceUnavailable
from soa_sdk.sandbox.workloads.client import WorkloadHostClient
from soa_sdk.sandbox.workloads.login import ConsulLogin


class RecordedHost:
    """A :class:`WorkloadHostClient` at the address in ``record`` (``list``/``start``/``stop``)."""

    def __init__(self, record: Path, token: str, login: ConsulLogin) -> None:
        self.record = record
        self._token = token
        self._login = login
        self._client: WorkloadHostClient | None = None

    def client(self) -> WorkloadHostClient:
        try:
            url = str(json.loads(self.record.read_text())["url"])
        except (OSError, ValueError, KeyError):
            raise ServiceUnavailable(
                f"The workload host has no record at {self.record} yet."
            ) from None
        if self._client is None or self._client.addr != url.rstrip("/"):
            self._client = WorkloadHostClient(url, self._token, self._login)
        return self._client

    def list(self, name: str | None = None) -> list[dict[str, Any]]:
        return self.client().list(name)

    def start(self, name: str, version: str = "v1", **spec: Any) -> list[dict[str, Any]]:
        return self.client().start(name, version, **spec)

    def stop(self, workload_id: str) -> dict[str, Any]:
        return self.client().stop(workload_id)
