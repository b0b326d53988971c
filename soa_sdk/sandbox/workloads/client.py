"""``WorkloadHostClient``: the SDK's thin client of the workload host's control API.

It sends the host's API token with every request (``Authorization: Bearer``). Given a
:class:`~.login.ConsulLogin`, every start request carries a login for the workload's service
and partition (``consul_login``: the partition's ``jwt`` auth method and a fresh OpenBao
identity token of the service), with which the host logs each instance in to Consul
(``POST /v1/acl/login``) and, when it stops, out (``POST /v1/acl/logout``, which deletes its
token), as consul-ecs tasks and consul-k8s pods log in with their auth methods. The client
itself creates and deletes no Consul token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from soa_sdk.errors import SoaLabError
from soa_sdk.reachability import GuardedSession

if TYPE_CHECKING:
    from soa_sdk.sandbox.workloads.login import ConsulLogin


class WorkloadHostError(SoaLabError, RuntimeError):
    """The workload host refused a request; ``status`` is its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"workload host answered {status}: {message}")
        self.status = status


class WorkloadHostClient:
    """Start, change and stop demo workloads on a workload host (sandbox only)."""

    def __init__(
        self,
        addr: str,
        token: str | None = None,
        login: ConsulLogin | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.addr = addr.rstrip("/")
        self.timeout = timeout
        # A dead host raises ServiceUnavailable("... workload host ... soa-lab up ...").
        self._http = GuardedSession("workloads", self.addr)
        if token:
            self._http.headers["Authorization"] = f"Bearer {token}"
        self.login = login

    def __repr__(self) -> str:
        return f"WorkloadHostClient({self.addr!r})"

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

    # -- the control API ---------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """GET /v1/health."""
        return self._call("GET", "/v1/health")

    def start(self, name: str, version: str = "v1", **spec: Any) -> list[dict[str, Any]]:
        """POST /v1/workloads: start (and register) instances; returns them.

        ``spec`` takes partition, runtime, upstreams, error_rate, error_code, latency_ms,
        message, count, id, health_code, check_interval, tags, placement; ``consul_token`` to
        register
        with a token of the caller's instead of logging in, or ``consul_login`` to log in
        with a login of the caller's (else the client's :class:`ConsulLogin` gives one).
        """
        body = {"name": name, "version": version, **spec}
        if self.login is not None and not {"consul_token", "consul_login"} & set(spec):
            partition = str(spec.get("partition") or "default")
            body["consul_login"] = self.login.credentials(name, partition)
        return self._call("POST", "/v1/workloads", body)["workloads"]

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
        """DELETE /v1/workloads/:id: deregister from Consul, log out (which deletes the
        instance's token) and stop."""
        return self._call("DELETE", f"/v1/workloads/{workload_id}")

    def stop_all(self) -> int:
        """DELETE /v1/workloads: stop every workload (each logs out); returns how many."""
        return self._call("DELETE", "/v1/workloads")["stopped"]
