"""``SandboxControls``: the one interface through which the lab's steps use what only the
sandbox has.

The steps talk to AWS, Vault, Consul and Boundary through their real APIs, the same on the
sandbox and on real endpoints. A few things have no counterpart on real endpoints, and sit
here: the workload host that runs the demo services (on AWS they run as ECS tasks, EKS pods
or EC2 instances, scaled and stopped through those APIs; in the sandbox an ECS service's
instances are started by the sandbox's scheduler from the ECS service itself, so the steps
only read those), breaking an instance's health check,
the Envoys' admin URLs and access log (on AWS: Prometheus and CloudWatch Logs), ports for
gateways on the loopback, ``boundary dev``'s admin login, the local listener real Boundary's
``boundary connect`` opens on the user's machine, and parsing the sandbox's own JSON-lines
session recordings.

The composition root (:class:`soa_sdk.lab.Lab`) builds one only when the target is the
sandbox and hands it to the steps that need it as ``sandbox: SandboxControls | None``; with
``None`` (real endpoints) such a step raises :func:`soa_sdk.errors.only_on_sandbox`'s
clear error. Steps
name this class in type hints only (under ``if TYPE_CHECKING:``), so the client SDK loads
nothing of the sandbox (``tests/foundation/test_import_graph.py``).
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

from soa_sdk.config import Credentials, Endpoints
from soa_sdk.errors import ServiceUnavailable

if TYPE_CHECKING:
    from soa_sdk.sandbox.boundary.recording import Statement
    from soa_sdk.sandbox.state import SandboxState
    from soa_sdk.sandbox.workloads import WorkloadHostClient


class _Requester(Protocol):
    """What :meth:`SandboxControls.boundary_connect` needs of a Boundary API client."""

    def request(self, method: str, path: str, doing: str, *, body: dict[str, Any]) -> Any: ...


def endpoints_of(state: SandboxState, region: str) -> tuple[Endpoints, Credentials]:
    """The endpoints and secrets of a running sandbox, from its state file."""

    def url(name: str) -> str | None:
        record = state.services.get(name)
        return record.url if record else None

    endpoints = Endpoints(
        target="sandbox",
        region=region,
        aws_url=url("aws"),
        vault_url=url("vault"),
        consul_url=url("consul"),
        boundary_url=url("boundary"),
        postgres_url=url("postgres"),
        extra={
            key: value
            for key, value in {
                "workloads_url": url("workloads"),
                "scheduler_url": url("scheduler"),
                "frontend_url": url("frontend"),
                # The Envoy data plane's admins (services/envoy.py), comma-separated.
                "envoy_admin_urls": ",".join(
                    record.url
                    for name, record in sorted(state.services.items())
                    if (name == "envoy" or name.startswith("envoy-")) and record.url
                ),
                **(state.services["consul"].extra if "consul" in state.services else {}),
            }.items()
            if value
        },
    )
    secrets = state.secrets
    credentials = Credentials(
        # No stand-in: the sandbox's AWS accepts only the keys it made.
        aws_access_key_id=secrets.get("aws_access_key_id"),
        aws_secret_access_key=secrets.get("aws_secret_access_key"),
        vault_token=secrets.get("vault_root_token"),
        consul_token=secrets.get("consul_management_token"),
        postgres_password=secrets.get("postgres_password"),
        boundary_admin_password=secrets.get("boundary_admin_password"),
        workloads_token=secrets.get("workloads_api_token"),
        frontend_token=secrets.get("frontend_api_token"),
        envoy_admin_token=secrets.get("envoy_admin_token"),
    )
    return endpoints, credentials


class SandboxControls:
    """What only the sandbox can do; built by the composition root from the sandbox's
    endpoints and secrets."""

    def __init__(self, endpoints: Endpoints, credentials: Credentials) -> None:
        self._endpoints = endpoints
        self._credentials = credentials

    def __repr__(self) -> str:
        return f"SandboxControls(workloads={self._endpoints.extra.get('workloads_url')!r})"

    # -- the workload host -------------------------------------------------------------------
    @cached_property
    def workloads(self) -> WorkloadHostClient:
        """The sandbox's workload host, which runs the demo services. It is called with the
        host's API token; each workload logs in to Consul with an OpenBao identity token of
        its service (:mod:`soa_sdk.sandbox.workloads.login`, set up with the lab's Consul
        and Vault tokens), for a Consul token of its own service's identity."""
        from soa_sdk.sandbox.workloads import ConsulLogin, WorkloadHostClient

        url = self._endpoints.extra.get("workloads_url")
        if not url:
            raise ServiceUnavailable("The sandbox has no workload host: run `soa-lab up`.")
        e, c = self._endpoints, self._credentials
        if not (e.consul_url and e.vault_url):
            raise ServiceUnavailable("The sandbox has no Consul or Vault: run `soa-lab up`.")
        login = ConsulLogin(e.consul_url, c.consul_token, e.vault_url, c.vault_token)
        return WorkloadHostClient(url, c.workloads_token, login)

    # -- the mesh data plane (Envoy) --------------------------------------------------------
    @property
    def envoy_admin_urls(self) -> list[str]:
        """The admin URLs of the sandbox's Envoys, the mesh's data plane; their
        ``/stats/prometheus`` is the mesh's telemetry (:class:`soa_sdk.telemetry.MeshMetrics`).
        Loopback only, and each needs :attr:`envoy_admin_headers`."""
        urls = self._endpoints.extra.get("envoy_admin_urls") or ""
        return [u for u in urls.split(",") if u]

    @property
    def envoy_admin_headers(self) -> dict[str, str]:
        """The headers that open the Envoys' admin URLs: the sandbox's ``envoy_admin_token``
        as a bearer token (:mod:`soa_sdk.sandbox.envoy.admin_guard`)."""
        token = self._credentials.envoy_admin_token
        return {"Authorization": f"Bearer {token}"} if token else {}

    @property
    def envoy_access_log(self) -> str | None:
        """The Envoys' access log (JSON lines, one per request and hop), None when the
        sandbox records no Envoy; the call chains of step 2 are read from it
        (:class:`soa_sdk.telemetry.AccessLog`). On AWS the sidecars' access logs go to
        CloudWatch Logs."""
        if not self.envoy_admin_urls:
            return None
        return self._endpoints.extra.get("envoy_access_log") or None

    @staticmethod
    def free_port() -> int:
        """A free loopback port (for a runtime's ingress gateway)."""
        from soa_sdk.sandbox.ports import free_port

        return free_port()

    # -- the CloudFront edge -----------------------------------------------------------------
    def frontend_url(self) -> str:
        """The local URL the sandbox's CloudFront edge serves the distribution on."""
        url = self._endpoints.extra.get("frontend_url")
        if not url:
            raise ServiceUnavailable("The sandbox has no CloudFront edge: run `soa-lab up`.")
        return f"{url}/"

    def deploy_distribution(self, account_id: str, distribution_id: str) -> str:
        """Have the sandbox's CloudFront edge serve a distribution (on AWS CloudFront serves
        it once deployed): ``PUT /sandbox/distribution`` (:mod:`soa_sdk.sandbox.frontend`).
        Returns the local URL the distribution is served on."""
        import requests

        url = self.frontend_url()
        reply = requests.put(
            f"{url}sandbox/distribution",
            json={
                "account_id": account_id,
                "distribution_id": distribution_id,
            },
            headers={"Authorization": f"Bearer {self._credentials.frontend_token or ''}"},
            timeout=30,
        )
        if reply.status_code != 200:
            raise ServiceUnavailable(
                f"The sandbox's CloudFront edge refused the distribution: {reply.text}"
            )
        return url

    def forget_distribution(self) -> None:
        """Have the sandbox's CloudFront edge stop serving (``DELETE /sandbox/distribution``)."""
        import requests

        reply = requests.delete(
            f"{self.frontend_url()}sandbox/distribution",
            headers={"Authorization": f"Bearer {self._credentials.frontend_token or ''}"},
            timeout=30,
        )
        if reply.status_code != 204:
            raise ServiceUnavailable(f"The sandbox's CloudFront edge did not stop: {reply.text}")

    # -- Boundary and PostgreSQL -------------------------------------------------------------
    def boundary_admin_login(self) -> tuple[str, str, str]:
        """``boundary dev``'s admin login: (global password auth method id, login name,
        password), for ``POST /v1/auth-methods/<id>:authenticate``."""
        from soa_sdk.sandbox.services.boundary import ADMIN_AUTH_METHOD, ADMIN_LOGIN

        password = self._credentials.boundary_admin_password
        if not password:
            raise ServiceUnavailable("The sandbox has no Boundary: run `soa-lab up`.")
        return ADMIN_AUTH_METHOD, ADMIN_LOGIN, password

    def boundary_user_password(self, user: str) -> str:
        """The password the sandbox gives ``user`` of access.json: the initial one that
        ``shared_services/boundary`` sets from its ``user_passwords`` input (derived from the
        sandbox's root token, :mod:`soa_sdk.sandbox.terraform.inputs`). On real endpoints the
        user types their own."""
        from soa_sdk.sandbox.terraform.inputs import derive, user_label

        root = self._credentials.vault_token
        if not root:
            raise ServiceUnavailable("The sandbox has no Vault: run `soa-lab up`.")
        return derive(root, user_label(user))

    @staticmethod
    def boundary_connect(api: _Requester, authorization_token: str, session_id: str) -> Any:
        """Open a session's local listener, as ``boundary connect`` does on the user's
        machine: ``POST /sandbox/connect {"authorization_token"}`` (an emulator extension);
        the answer holds ``address``, ``port`` and ``session_id``."""
        return api.request(
            "POST",
            "/sandbox/connect",
            f"open the proxy of session {session_id}",
            body={"authorization_token": authorization_token},
        )

    @staticmethod
    def postgres_statements(document: bytes | str) -> list[Statement]:
        """The statements of a session recording in the sandbox's JSON-lines format (real
        Boundary records SSH and RDP sessions, as BSR files, and does not parse SQL)."""
        from soa_sdk.sandbox.boundary.recording import postgres_statements

        return postgres_statements(document)


__all__ = ["SandboxControls", "WorkloadHostClient", "endpoints_of"]
