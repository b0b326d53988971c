"""``WorkloadHostClient``: the SDK's thin client of the workload host's control API.

It sends the host's API token with every request (``Authorization: Bearer``) and, given a
Consul address and a token allowed to create ACL tokens (``acl:write``; the sandbox's
management token), gives every start request a Consul token of its own: ``PUT /v1/acl/token``
with ``ServiceIdentities: [{"ServiceName": <service>}]`` in the workload's partition, as
consul-ecs and consul-k8s give each task or pod a token with its service's identity (there
through an auth method login, ``/v1/acl/login``, which the sandbox does not serve). The
workloads register and deregister with that token; once the last workload started with it
stops, the client deletes it (``DELETE /v1/acl/token/:AccessorID``), as consul-ecs's
controller reaps the tokens of stopped tasks. Left out: token expiry (``ExpirationTTL``).
"""

from __future__ import annotations

from typing import Any

import requests

from soa_sdk.errors import AccessDenied, ServiceUnavailable, SoaLabError
from soa_sdk.reachability import GuardedSession


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
        consul_addr: str | None = None,
        consul_token: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.addr = addr.rstrip("/")
        self.timeout = timeout
        # A dead host raises ServiceUnavailable("... workload host ... soa-lab up ...").
        self._http = GuardedSession("workloads", self.addr)
        if token:
            self._http.headers["Authorization"] = f"Bearer {token}"
        self._consul_addr = consul_addr.rstrip("/") if consul_addr else None
        self._consul = requests.Session()
        if consul_token:
            self._consul.headers["X-Consul-Token"] = consul_token

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

    # -- the workloads' Consul tokens --------------------------------------------------------
    def _consul_call(self, method: str, path: str, doing: str, body: Any = None) -> Any:
        try:
            resp = self._consul.request(
                method, f"{self._consul_addr}{path}", json=body, timeout=self.timeout
            )
        except requests.RequestException as error:
            raise ServiceUnavailable(
                f"Consul did not answer when asked to {doing} ({error})."
            ) from None
        if resp.status_code == 403:
            raise AccessDenied(
                f"Consul refused to {doing}: {resp.text.strip()}. The lab's Consul token "
                "needs acl:write to give each workload a token of its own."
            )
        if resp.status_code >= 300:
            raise ServiceUnavailable(
                f"Consul could not {doing} ({resp.status_code}: {resp.text.strip()[:200]})."
            )
        return resp.json() if resp.content else None

    def _service_token(self, name: str, version: str, partition: str) -> dict[str, Any] | None:
        """A new token with the service identity of ``name`` in ``partition`` (or None when
        the client was given no Consul address)."""
        if not self._consul_addr:
            return None
        return self._consul_call(
            "PUT",
            "/v1/acl/token",
            f"create a token for the workload {name} {version}",
            {
                "Description": f"workload {name} {version} (sandbox workload host)",
                "ServiceIdentities": [{"ServiceName": name}],
                "Partition": partition,
            },
        )

    def _delete_tokens(self, accessors: set[str]) -> None:
        if not self._consul_addr:
            return
        still_used = {w.get("consul_token_accessor") for w in self.list()}
        for accessor in sorted(accessors - still_used):
            try:
                self._consul_call(
                    "DELETE", f"/v1/acl/token/{accessor}", "delete a stopped workload's token"
                )
            except SoaLabError:
                pass  # already gone (e.g. the sandbox was reset): nothing left to clean

    # -- the control API ---------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """GET /v1/health."""
        return self._call("GET", "/v1/health")

    def start(self, name: str, version: str = "v1", **spec: Any) -> list[dict[str, Any]]:
        """POST /v1/workloads: start (and register) instances; returns them.

        ``spec`` takes partition, runtime, upstreams, error_rate, error_code, latency_ms,
        message, count, id, health_code, check_interval, tags; ``consul_token`` to register
        with a token of the caller's (else the client creates one, see the module docstring).
        """
        body = {"name": name, "version": version, **spec}
        token = None
        if "consul_token" not in spec:
            token = self._service_token(name, version, str(spec.get("partition") or "default"))
        if token:
            body["consul_token"] = token["SecretID"]
            body["consul_token_accessor"] = token["AccessorID"]
        try:
            doc = self._call("POST", "/v1/workloads", body)
        except Exception:
            if token:
                self._delete_tokens({token["AccessorID"]})
            raise
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
        """DELETE /v1/workloads/:id: deregister from Consul and stop (and delete its token
        once no other workload uses it)."""
        stopped = self._call("DELETE", f"/v1/workloads/{workload_id}")
        if stopped.get("consul_token_accessor"):
            self._delete_tokens({stopped["consul_token_accessor"]})
        return stopped

    def stop_all(self) -> int:
        """DELETE /v1/workloads: stop every workload; returns how many."""
        accessors = {
            w["consul_token_accessor"] for w in self.list() if w.get("consul_token_accessor")
        }
        count = self._call("DELETE", "/v1/workloads")["stopped"]
        self._delete_tokens(accessors)
        return count
