"""``Lab``: the composition root. It connects to the sandbox or to real endpoints, builds the
clients (:mod:`soa_sdk.clients`: boto3, hvac, Consul; the Boundary address) and, on the
sandbox only, the sandbox's controls (:mod:`soa_sdk.sandbox.controls`), then builds each step
handing it, as constructor arguments, the clients it uses and the other steps it needs. No
step imports this module or reaches through ``Lab``.

>>> lab = Lab.connect()            # the local sandbox (started if none runs)
>>> lab = Lab.connect("aws")       # real AWS / Vault / Consul / Boundary from the environment
>>> lab.org.ensure()               # step 0: terraform apply of terraform/org, read back
>>> lab.tf.apply("org")            # real Terraform on a folder of terraform/
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from soa_sdk.awsclient import EndpointSession
from soa_sdk.clients import Clients
from soa_sdk.config import DEFAULT_REGION, Credentials, Endpoints, check_target
from soa_sdk.errors import SandboxNotRunning, ValidationError, require_sandbox

if TYPE_CHECKING:
    import hvac

    from soa_sdk.access import Access
    from soa_sdk.consul_api import ConsulApi
    from soa_sdk.extend import Extend
    from soa_sdk.frontend import Frontend
    from soa_sdk.observe import Observe
    from soa_sdk.org import Organization
    from soa_sdk.release import Release
    from soa_sdk.runtime import Runtimes
    from soa_sdk.sandbox.controls import SandboxControls
    from soa_sdk.sandbox.state import SandboxState
    from soa_sdk.sandbox.workloads import WorkloadHostClient
    from soa_sdk.tf.lab_spec import AccessSpec
    from soa_sdk.tf.runner import FolderRunner, Progress
    from soa_sdk.tf.workspace import LabTerraform


class Lab:
    """The lab's entry point. Build it with :meth:`connect`."""

    def __init__(
        self,
        endpoints: Endpoints,
        credentials: Credentials,
        progress: Callable[[str], None] | None = None,
        sandbox_home: Path | None = None,
    ) -> None:
        self.endpoints = endpoints
        self._credentials = credentials
        self.progress = progress or (lambda message: None)
        self.clients = Clients(endpoints, credentials)
        self._sandbox_home = sandbox_home

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
        from soa_sdk.sandbox.controls import endpoints_of
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
        return cls(*endpoints_of(state, region), progress=progress, sandbox_home=state.home)

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
    @property
    def aws(self) -> EndpointSession:
        """A boto3 session in the management account."""
        return self.clients.aws

    @property
    def vault(self) -> hvac.Client:
        """An hvac client, authenticated with the sandbox's root token or ``VAULT_TOKEN``."""
        return self.clients.vault

    @property
    def consul(self) -> ConsulApi:
        """The Consul API (python-consul2 as ``lab.consul.client``, raw HTTP for the rest)."""
        return self.clients.consul

    @cached_property
    def sandbox(self) -> SandboxControls | None:
        """What only the sandbox can do (the workload host, the Envoys' admins and log...);
        None on real endpoints."""
        if self.target != "sandbox":
            return None
        from soa_sdk.sandbox.controls import SandboxControls

        return SandboxControls(self.endpoints, self._credentials)

    def _sandbox(self, what: str, instead: str) -> SandboxControls:
        return require_sandbox(self.sandbox, what, instead)

    @property
    def workloads(self) -> WorkloadHostClient:
        """The sandbox's workload host, which runs the demo services (sandbox only: on AWS
        the services run as ECS tasks, EKS pods or EC2 instances)."""
        return self._sandbox(
            "The workload host", "on AWS the services run as ECS tasks, EKS pods or EC2 instances."
        ).workloads

    # -- Terraform ---------------------------------------------------------------------------
    @cached_property
    def tf(self) -> LabTerraform:
        """Real Terraform on the folders of ``terraform/`` (``lab.tf.apply("org")``): on the
        sandbox with its local providers, dynamic credentials and state in its S3; on real
        endpoints with the registry's providers, your AWS credentials and state in the bucket
        ``$SOA_LAB_TF_STATE_BUCKET``."""
        from soa_sdk.tf.workspace import LabTerraform

        return LabTerraform(self._terraform_runner, self.target, self.progress)

    def _terraform_runner(
        self, folder: str, progress: Progress, root: Path | None = None
    ) -> FolderRunner:
        if self.target == "sandbox":
            from soa_sdk.sandbox.state import SandboxState
            from soa_sdk.sandbox.terraform.run import Terraform

            return Terraform(folder, SandboxState.load(self._sandbox_home), progress, root=root)
        from soa_sdk.sandbox.state import sandbox_home
        from soa_sdk.tf.runner import RegistryRunner

        account = self.aws.client("sts").get_caller_identity()["Account"]
        variables = {"management_account_id": account, "region": self.endpoints.region}
        work = sandbox_home() / "terraform-aws" / "work"
        return RegistryRunner(folder, work, self.endpoints.region, variables, progress, root)

    # -- steps -------------------------------------------------------------------------------
    @cached_property
    def org(self) -> Organization:
        """Step 0: the organization (applied by Terraform from ``terraform/org``), its
        accounts and a session per account."""
        from soa_sdk.org import Organization

        return Organization(self.aws, self.tf, progress=self.progress)

    @cached_property
    def runtime(self) -> Runtimes:
        """Step 1: create, describe and destroy runtimes (ECS, EKS, EC2) in member accounts."""
        from soa_sdk.runtime import Runtimes

        return Runtimes(self.consul, self.org, self.sandbox, self.progress, self.tf)

    @cached_property
    def frontend(self) -> Frontend:
        """Step 1's frontend runtime: the store's site in S3 behind CloudFront."""
        from soa_sdk.frontend import Frontend

        return Frontend(self.org, self.runtime, self.tf, self.sandbox, self.progress)

    @cached_property
    def observe(self) -> Observe:
        """Step 2: who did what (CloudTrail), how it behaves (CloudWatch), what talks to what."""
        from soa_sdk.observe import Observe

        return Observe(
            self.aws, self.org, self.runtime, self.consul, self.endpoints.region, self.sandbox
        )

    @cached_property
    def release(self) -> Release:
        """Step 3: canary releases through the mesh, with automated analysis."""
        from soa_sdk.release import Release

        return Release(self.consul, self.org, self.runtime, self.sandbox, self.progress)

    @cached_property
    def access(self) -> Access:
        """Step 4: just-in-time access to the prod database through Boundary and Vault."""
        return self.new_access()

    def new_access(self, spec: AccessSpec | None = None, store_mount: str | None = None) -> Access:
        """A new :class:`~soa_sdk.access.Access` (as another process would build it), with
        the declared access specification unless ``spec`` is given."""
        from soa_sdk.access import Access
        from soa_sdk.access.store import DEFAULT_MOUNT

        e = self.endpoints
        return Access(
            self.vault,
            self.aws,
            e.boundary_url,
            vault_url=e.vault_url,
            region=e.region,
            postgres_url=e.postgres_url,
            postgres_password=self._credentials.postgres_password,
            sandbox=self.sandbox,
            progress=self.progress,
            spec=spec,
            store_mount=store_mount or DEFAULT_MOUNT,
            terraform=self.tf,
        )

    @cached_property
    def extend(self) -> Extend:
        """Step 5: add a runtime from the template, joined to the mesh across accounts."""
        from soa_sdk.extend import Extend

        return Extend(self.aws, self.consul, self.org, self.runtime, self.sandbox, self.progress)


def _as_folder(value: str | os.PathLike[str] | None, what: str) -> Path | None:
    """A path the caller gave as ``str`` or ``Path`` (any ``os.PathLike``), as a ``Path``."""
    if value is None:
        return None
    if isinstance(value, str | os.PathLike):
        return Path(value).expanduser()
    raise ValidationError(f"{what} must be a folder (a str or a Path), not {value!r}.")
