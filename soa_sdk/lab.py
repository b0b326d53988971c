"""``Lab``: one object that connects to the sandbox or to real endpoints and hands out the
clients and the steps of the lab.

>>> lab = Lab.connect()            # the local sandbox (started if none runs)
>>> lab = Lab.connect("aws")       # real AWS / Vault / Consul / Boundary from the environment
>>> lab.org.ensure()               # step 0
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from soa_sdk.awsclient import EndpointSession
from soa_sdk.config import DEFAULT_REGION, Credentials, Endpoints, check_target
from soa_sdk.errors import SandboxNotRunning, ServiceUnavailable, ValidationError

if TYPE_CHECKING:
    import hvac

    from soa_sdk.access import Access
    from soa_sdk.consul_api import ConsulApi
    from soa_sdk.extend import Extend
    from soa_sdk.observe import Observe
    from soa_sdk.org import Organization
    from soa_sdk.release import Release
    from soa_sdk.runtime import Runtimes
    from soa_sdk.sandbox.state import SandboxState
    from soa_sdk.sandbox.workloads import WorkloadHostClient


class Lab:
    """The lab's entry point. Build it with :meth:`connect`."""

    def __init__(
        self,
        endpoints: Endpoints,
        credentials: Credentials,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.endpoints = endpoints
        self._credentials = credentials
        self.progress = progress or (lambda message: None)

    @classmethod
    def connect(
        cls,
        target: str = "sandbox",
        region: str = DEFAULT_REGION,
        start: bool = True,
        home: str | os.PathLike[str] | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> Lab:
        """Connect to ``target``: ``"sandbox"`` (found through its state file, started when
        none runs and ``start`` is true) or ``"aws"`` (the standard environment variables).
        ``home``: the sandbox's folder (a ``str`` or a ``Path``; ``$SOA_LAB_HOME`` or
        ``~/.soa-lab`` by default)."""
        check_target(target)
        home = _as_folder(home, "home")
        if target == "aws":
            return cls(*Endpoints.from_environment(region=region), progress=progress)
        from soa_sdk.sandbox import lifecycle
        from soa_sdk.sandbox.state import SandboxState

        if start:
            state = cls._start_sandbox(home, progress)
        else:
            state = SandboxState.load(home)
            dead = [s.name for s in lifecycle.status(state) if not s.healthy]
            if dead:
                raise SandboxNotRunning(
                    f"The sandbox's {', '.join(dead)} service(s) are not answering. "
                    "Run `soa-lab up` to restart it (or `soa-lab doctor` to see why)."
                )
        return cls(*Endpoints.from_sandbox(state, region), progress=progress)

    @staticmethod
    def _start_sandbox(home: Path | None, say: Callable[[str], None] | None) -> SandboxState:
        """``soa-lab up``, showing each service as it becomes healthy (a no-op if it runs)."""
        from soa_sdk import progress
        from soa_sdk.sandbox import lifecycle
        from soa_sdk.sandbox.services import SERVICES

        found = lifecycle.running(home)
        if found:
            return found
        with progress.task("Starting the sandbox", total=len(SERVICES)) as bar:

            def healthy(message: str) -> None:
                bar.update(bar.done + 1, status=message)
                if say:
                    say(message)

            state, _ = lifecycle.up(home, progress=healthy)
        return state

    @property
    def credentials(self) -> Credentials:
        """The secrets the lab was given (shown as ``Credentials(<hidden>)``)."""
        return self._credentials

    @property
    def target(self) -> str:
        return self.endpoints.target

    def __repr__(self) -> str:
        e = self.endpoints
        parts = [f"target={e.target!r}", f"region={e.region!r}"]
        for name in ("aws_url", "vault_url", "consul_url", "boundary_url"):
            value = getattr(e, name)
            if value:
                parts.append(f"{name.removesuffix('_url')}={value!r}")
        return f"Lab({', '.join(parts)})"

    # -- clients -----------------------------------------------------------------------------
    @cached_property
    def aws(self) -> EndpointSession:
        """A boto3 session in the management account."""
        c = self._credentials
        return EndpointSession(
            aws_access_key_id=c.aws_access_key_id,
            aws_secret_access_key=c.aws_secret_access_key,
            region_name=self.endpoints.region,
            endpoint_url=self.endpoints.aws_url,
        )

    @cached_property
    def vault(self) -> hvac.Client:
        """An hvac client, authenticated with the sandbox's root token or ``VAULT_TOKEN``."""
        import hvac

        if not self.endpoints.vault_url:
            raise ServiceUnavailable("No Vault address: set VAULT_ADDR (and VAULT_TOKEN).")
        from soa_sdk.reachability import GuardedSession

        return hvac.Client(
            url=self.endpoints.vault_url,
            token=self._credentials.vault_token,
            session=GuardedSession("vault", self.endpoints.vault_url),
        )

    @cached_property
    def consul(self) -> ConsulApi:
        """The Consul API (python-consul2 as ``lab.consul.client``, raw HTTP for the rest)."""
        from soa_sdk.consul_api import ConsulApi

        if not self.endpoints.consul_url:
            raise ServiceUnavailable(
                "No Consul address: set CONSUL_HTTP_ADDR (and CONSUL_HTTP_TOKEN)."
            )
        return ConsulApi(self.endpoints.consul_url, self._credentials.consul_token)

    @cached_property
    def workloads(self) -> WorkloadHostClient:
        """The sandbox's workload host, which runs the demo services (sandbox only: on AWS
        the services run as ECS tasks, EKS pods or EC2 instances). It is called with the
        host's API token, and gives each workload a Consul token of its own service's
        identity, created with the lab's Consul token."""
        from soa_sdk.sandbox.workloads import WorkloadHostClient

        url = self.endpoints.extra.get("workloads_url")
        if self.target != "sandbox" or not url:
            raise ServiceUnavailable("The workload host exists in the sandbox only.")
        c = self._credentials
        return WorkloadHostClient(url, c.workloads_token, self.endpoints.consul_url, c.consul_token)

    @property
    def mesh_admin_url(self) -> str:
        """The sandbox mesh's admin endpoint (telemetry), published by the data plane."""
        url = self.endpoints.extra.get("mesh_admin_url")
        if not url:
            raise ServiceUnavailable("The mesh's admin endpoint exists in the sandbox only.")
        return str(url)

    @property
    def mesh_admin_headers(self) -> dict[str, str]:
        """What a request to :attr:`mesh_admin_url` carries: the lab's Consul token (the
        endpoint wants read on every service and node, like Consul's UI metrics proxy)."""
        token = self._credentials.consul_token
        return {"X-Consul-Token": token} if token else {}

    # -- steps -------------------------------------------------------------------------------
    @cached_property
    def org(self) -> Organization:
        """Step 0: the organization, its accounts and a session per account."""
        from soa_sdk.org import Organization

        return Organization(self.aws, progress=self.progress)

    @cached_property
    def runtime(self) -> Runtimes:
        """Step 1: create, describe and destroy runtimes (ECS, EKS, EC2) in member accounts."""
        from soa_sdk.runtime import Runtimes

        return Runtimes(self)

    @cached_property
    def observe(self) -> Observe:
        """Step 2: who did what (CloudTrail), how it behaves (CloudWatch), what talks to what."""
        from soa_sdk.observe import Observe

        return Observe(self)

    @cached_property
    def release(self) -> Release:
        """Step 3: canary releases through the mesh, with automated analysis."""
        from soa_sdk.release import Release

        return Release(self)

    @cached_property
    def access(self) -> Access:
        """Step 4: just-in-time access to the prod database through Boundary and Vault."""
        from soa_sdk.access import Access

        return Access(self)

    @cached_property
    def extend(self) -> Extend:
        """Step 5: add a runtime from the template, joined to the mesh across accounts."""
        from soa_sdk.extend import Extend

        return Extend(self)


def _as_folder(value: str | os.PathLike[str] | None, what: str) -> Path | None:
    """A path the caller gave as ``str`` or ``Path`` (any ``os.PathLike``), as a ``Path``."""
    if value is None:
        return None
    if isinstance(value, str | os.PathLike):
        return Path(value).expanduser()
    raise ValidationError(f"{what} must be a folder (a str or a Path), not {value!r}.")
