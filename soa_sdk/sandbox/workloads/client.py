"""``WorkloadHostClient``: the SDK's thin client of the workload host's control API."""

from __future__ import annotations

from typing import Any

from soa_sdk.reachability import GuardedSession


class WorkloadHostError(RuntimeError):
    """The workload host refused a request; ``status`` is its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"workload host answered {status}: {message}")
        self.status = status


class WorkloadHostClient:
    """Start, change and stop demo workloads on a workload host (sandbox only)."""

    def __init__(self, addr: str, timeout: float = 30.0) -> None:
        self.addr = addr.rstrip("/")
        self.timeout = timeout
        # A dead host raises ServiceUnavailable("... workload host ... soa-lab up ...").
        self._http = GuardedSession("workloads", self.addr)

    def _call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        resp = self._http.request(
            method, self.addr + path, json=body, params=params or None, timeout=self.timeout
        )
        try:
            doc = resp.json()
        except ValueError:
            doc = {"error": resp.text}
        if resp.status_code >= 400:
            raise WorkloadHostError(resp.status_code, doc.get("error", resp.text))
        return doc

    def health(self) -> dict[str, Any]:
        """GET /v1/health."""
        return self._call("GET", "/v1/health")

    def start(self, name: str, version: str = "v1", **spec: Any) -> list[dict[str, Any]]:
        """POST /v1/workloads: start (and register) instances; returns them.

        ``spec`` takes partition, runtime, upstreams, error_rate, error_code, latency_ms,
        message, count, id, health_code, check_interval, tags.
        """
        doc = self._call("POST", "/v1/workloads", {"name": name, "version": version, **spec})
        return doc["workloads"]

    def list(self, name: str | None = None) -> list[dict[str, Any]]:
        """GET /v1/workloads."""
        params = {"name": name} if name else {}
        return self._call("GET", "/v1/workloads", **params)["workloads"]

    def get(self, workload_id: str) -> dict[str, Any]:
        """GET /v1/workloads/:id."""
        return self._call("GET", f"/v1/workloads/{workload_id}")

    def update(self, workload_id: str, **changes: Any) -> dict[str, Any]:
        """PATCH /v1/workloads/:id: error_rate, error_code, latency_ms, health_code, message."""
        return self._call("PATCH", f"/v1/workloads/{workload_id}", changes)

    def update_all(self, name: str, version: str | None = None, **changes: Any) -> list[dict]:
        """PATCH every instance of ``name`` (and ``version``, if given)."""
        return [
            self.update(w["id"], **changes)
            for w in self.list(name)
            if version is None or w["version"] == version
        ]

    def stop(self, workload_id: str) -> dict[str, Any]:
        """DELETE /v1/workloads/:id: deregister from Consul and stop."""
        return self._call("DELETE", f"/v1/workloads/{workload_id}")

    def stop_all(self) -> int:
        """DELETE /v1/workloads: stop every workload; returns how many."""
        return self._call("DELETE", "/v1/workloads")["stopped"]
