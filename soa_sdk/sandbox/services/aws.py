"""AWS: moto in server mode, plus what moto lacks (see :mod:`soa_sdk.sandbox.aws`)."""

from __future__ import annotations

import secrets
import string
from typing import ClassVar

from soa_sdk.sandbox import tls
from soa_sdk.sandbox.services.base import (
    Launch,
    LaunchContext,
    Service,
    http_ok,
    loopback_server,
    random_secret,
)
from soa_sdk.sandbox.state import ServiceRecord

#: The server's root keys (`soa_sdk.sandbox.aws.signing.credentials.ROOT_KEY_ENV`; not
#: imported from there, which would load moto in every process that starts the sandbox).
ROOT_KEY_ENV = ("SOA_LAB_AWS_ROOT_ACCESS_KEY_ID", "SOA_LAB_AWS_ROOT_SECRET_ACCESS_KEY")
#: Boundary's writer's keys (`soa_sdk.sandbox.aws.authorization.BOUNDARY_KEY_ENV`).
BOUNDARY_KEY_ENV = ("SOA_LAB_AWS_BOUNDARY_ACCESS_KEY_ID", "SOA_LAB_AWS_BOUNDARY_SECRET_ACCESS_KEY")
BOUNDARY_SECRETS = ("aws_boundary_access_key_id", "aws_boundary_secret_access_key")


def _key_id() -> str:
    alphabet = string.ascii_uppercase + string.digits
    return "AKIA" + "".join(secrets.choice(alphabet) for _ in range(16))


class AwsService(Service):
    """moto server: Organizations, STS, IAM, EC2, ECS, EKS, CloudWatch, S3, ... on one port."""

    name: ClassVar[str] = "aws"
    summary: ClassVar[str] = "AWS APIs (moto server, with CloudTrail recording)"
    lost_when_stopped: ClassVar[str] = (
        "moto's in-memory AWS state: the organization and its accounts, IAM roles, "
        "ECS/EKS/EC2 resources, S3 objects (Boundary's recordings), CloudTrail events"
    )
    restart_note: ClassVar[str] = (
        "Consul's partitions, the runtime registry and Vault's roles name those accounts"
    )

    def new_secrets(self) -> dict[str, str]:
        # The sandbox's administrator keys, made anew for each sandbox, like the short-lived
        # keys an SSO login gives. The server accepts them (and keys IAM and STS issue) only:
        # they are the keys of its IAM user soa-lab-admin (AdministratorAccess) in the
        # management account. Boundary's writer (an IAM user the recordings bucket policy
        # names) gets keys of its own.
        return {
            "aws_access_key_id": _key_id(),
            "aws_secret_access_key": random_secret(),
            BOUNDARY_SECRETS[0]: _key_id(),
            BOUNDARY_SECRETS[1]: random_secret(),
        }

    def launch(self, context: LaunchContext) -> Launch:
        return loopback_server(
            "soa_sdk.sandbox.aws",
            # AWS managed policies (AmazonEKSClusterPolicy, ...) exist in every real account.
            env={
                "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
                # The keys requests must be signed with (soa_sdk.sandbox.aws.signing).
                ROOT_KEY_ENV[0]: context.secrets["aws_access_key_id"],
                ROOT_KEY_ENV[1]: context.secrets["aws_secret_access_key"],
                **{
                    env: context.secrets[name]
                    for env, name in zip(BOUNDARY_KEY_ENV, BOUNDARY_SECRETS, strict=True)
                    if name in context.secrets
                },
                # moto's IAM enforcement from the first request (the server sets it too:
                # soa_sdk.sandbox.aws.authorization).
                "INITIAL_NO_AUTH_ACTION_COUNT": "0",
                # STS fetches an OIDC issuer's keys over https (web_identity.jwks): the
                # sandbox's CA is the trust store of this stand-in for AWS.
                "SSL_CERT_FILE": str(tls.files(context.home).ca),
            },
        )

    def is_healthy(self, record: ServiceRecord, secrets: dict[str, str]) -> bool:
        # A sandbox route that answers once moto dispatches requests, without touching state.
        return http_ok(f"{record.url}/moto-api/health")

    def problems(self) -> list[str]:
        try:
            import moto.server  # noqa: F401
        except ImportError:
            return ["moto[server] is not installed: run `pip install -e '.[lab]'`."]
        return []
