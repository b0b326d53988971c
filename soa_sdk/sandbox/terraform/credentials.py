"""Dynamic credentials for the sandbox's Terraform runs, the way Terraform Cloud gives them.

Terraform Cloud's dynamic provider credentials sign a workload-identity token for each run and
hand the provider ``AWS_ROLE_ARN`` and ``AWS_WEB_IDENTITY_TOKEN_FILE``; the provider (and the
S3 backend) exchange the token through STS ``AssumeRoleWithWebIdentity`` for a short-lived
session of the run role. Here OpenBao signs the token (:mod:`soa_sdk.vault.identity`):

- once per sandbox, with the sandbox's bootstrap credentials (the part an administrator does
  by hand when connecting a workspace): an identity-token key and role in OpenBao, an AppRole
  workload ``terraform`` whose entity is the token's ``sub``; in the management account an IAM
  OIDC provider for OpenBao's issuer and the run role ``soa-lab-terraform`` that trusts only
  that subject and audience;
- per run: the workload logs in (a single-use secret id), mints a token, and the token is
  written owner-only in Terraform's data directory.

The member accounts are reached from that session through the folders' own ``assume_role``
blocks (``OrganizationAccountAccessRole``). No static key is in any provider block, variable
or the environment Terraform runs with.

Left out: one run role per workspace with narrower policies (the run role is the management
account's administrator, as ``terraform/org`` needs), token refresh during a run longer
than the token's hour.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import boto3
import hvac

from soa_sdk.sandbox.state import SandboxState
from soa_sdk.vault.identity import (
    DEFAULT_AUDIENCE,
    Workload,
    WorkloadIdentity,
    issuer_host_path,
    register_in_aws,
    trust_policy,
)

RUN_ROLE = "soa-lab-terraform"
WORKLOAD = "terraform"
TOKEN_KEY = "terraform"
TOKEN_ROLE = "terraform-run"
APPROLE_MOUNT = "approle-terraform"
_BOOTSTRAP = threading.Lock()
TOKEN_TTL = "1h"
TOKEN_FILE = "web-identity-token"

RUN_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "TerraformRuns", "Effect": "Allow", "Action": "*", "Resource": "*"}],
}


@dataclass(frozen=True)
class RunIdentity:
    """What a run's environment names: the role and the token file (never the token)."""

    role_arn: str
    token_file: Path
    session_name: str

    def environment(self) -> dict[str, str]:
        return {
            "AWS_ROLE_ARN": self.role_arn,
            "AWS_WEB_IDENTITY_TOKEN_FILE": str(self.token_file),
            "AWS_ROLE_SESSION_NAME": self.session_name,
        }


class DynamicCredentials:
    """Per-run web-identity credentials for Terraform in the management account."""

    def __init__(self, state: SandboxState, account_id: str, region: str) -> None:
        self.state = state
        self.account_id = account_id
        self.region = region
        self._workload: Workload | None = None
        self._vault: hvac.Client | None = None

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:role/{RUN_ROLE}"

    def _identity(self) -> WorkloadIdentity:
        if self._vault is None:
            self._vault = hvac.Client(
                url=self.state.url("vault"), token=self.state.secret("vault_root_token")
            )
        return WorkloadIdentity(self._vault, approle_mount=APPROLE_MOUNT)

    def bootstrap(self) -> Workload:
        """The trust between OpenBao and the management account (idempotent). One at a time
        in a process: step 1 applies several folders side by side, and OpenBao's dev storage
        refuses two concurrent writes of the same AppRole role (500, "transaction commit
        failed")."""
        if self._workload is not None:
            return self._workload
        with _BOOTSTRAP:
            return self._bootstrap()

    def _bootstrap(self) -> Workload:
        identity = self._identity()
        # The tokens' iss as OpenBao names it: its public (TLS) address, or the issuer that
        # shared_services/vault configures (the same address, given as oidc_issuer).
        issuer = identity.discovery()["issuer"]
        identity.create_key(TOKEN_KEY, allowed_client_ids=[DEFAULT_AUDIENCE])
        identity.create_role(TOKEN_ROLE, key=TOKEN_KEY, ttl=TOKEN_TTL)
        workload = identity.create_workload(WORKLOAD, TOKEN_ROLE, token_ttl="10m")
        iam = boto3.client(
            "iam",
            endpoint_url=self.state.url("aws"),
            region_name=self.region,
            aws_access_key_id=self.state.secret("aws_access_key_id"),
            aws_secret_access_key=self.state.secret("aws_secret_access_key"),
        )
        provider_arn = register_in_aws(iam, issuer)
        trust = json.dumps(
            trust_policy(
                provider_arn, issuer_host_path(issuer), DEFAULT_AUDIENCE, workload.entity_id
            )
        )
        try:
            iam.create_role(
                RoleName=RUN_ROLE,
                AssumeRolePolicyDocument=trust,
                Description="Terraform runs of the lab, entered with an OpenBao identity token.",
                MaxSessionDuration=3600,
            )
        except iam.exceptions.EntityAlreadyExistsException:
            iam.update_assume_role_policy(RoleName=RUN_ROLE, PolicyDocument=trust)
        iam.put_role_policy(
            RoleName=RUN_ROLE, PolicyName="terraform-runs", PolicyDocument=json.dumps(RUN_POLICY)
        )
        self._workload = workload
        return workload

    def for_run(self, directory: Path, session_name: str) -> RunIdentity:
        """A fresh token for one run, written owner-only under ``directory``."""
        workload = self.bootstrap()
        identity = self._identity()
        token = identity.mint_token(TOKEN_ROLE, identity.login(workload))
        path = directory / TOKEN_FILE
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(token.token)
        return RunIdentity(self.role_arn, path, session_name[:64])
