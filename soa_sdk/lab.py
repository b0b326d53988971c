"""``Lab``: one object that connects to the sandbox or to real endpoints and hands out the
clients and the steps of the lab.

>>> lab = Lab.connect()            # the local sandbox (started if none runs)
>>> lab = Lab.connect("aws")       # real AWS / Vault / Consul / Boundary from the environment
>>> lab.org.ensure()               # step 0
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from soa_sdk.awsclient import EndpointSession
from soa_sdk.config import DEFAULT_REGION, Credentials, Endpoints, check_target
from soa_sdk.errors import SandboxNotRunning, ServiceUnavailable

if TYPE_CHECKING:
    import hvac

    from soa_sdk.org import Organization


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
        home: Path | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> Lab:
        """Connect to ``target``: ``"sandbox"`` (found through its state file, started when
        none runs and ``start`` is true) or ``"aws"`` (the standard environment variables)."""
        check_target(target)
        if target == "aws":
            return cls(*Endpoints.from_environment(region=region), progress=progress)
        from soa_sdk.sandbox import lifecycle
        from soa_sdk.sandbox.state import SandboxState

        if start:
            state, _ = lifecycle.up(home, progress=progress or (lambda message: None))
        else:
            state = SandboxState.load(home)
            dead = [s.name for s in lifecycle.status(state) if not s.healthy]
            if dead:
                raise SandboxNotRunning(
                    f"The sandbox's {', '.join(dead)} service(s) are not answering. "
                    "Run `soa-lab up` to restart it (or `soa-lab doctor` to see why)."
                )
        return cls(*Endpoints.from_sandbox(state, region), progress=progress)

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
        return hvac.Client(url=self.endpoints.vault_url, token=self._credentials.vault_token)

    # -- steps -------------------------------------------------------------------------------
    @cached_property
    def org(self) -> Organization:
        """Step 0: the organization, its accounts and a session per account."""
        from soa_sdk.org import Organization

        return Organization(self.aws, progress=self.progress)
