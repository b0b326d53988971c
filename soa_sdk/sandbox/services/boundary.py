"""Boundary: our emulator of Boundary's controller API (:mod:`soa_sdk.sandbox.boundary`), run
like ``boundary dev``: a global password auth method ``ampw_1234567890`` with the login ``admin``,
whose password is generated per sandbox and passed in the environment (never on the command
line, which ``ps`` shows). Session recordings go to S3 in the sandbox's moto server; the
session proxy (what ``boundary connect`` and a worker do) runs in the same process.
"""

from __future__ import annotations

from typing import ClassVar

from soa_sdk.sandbox import tls
from soa_sdk.sandbox.ports import LOOPBACK
from soa_sdk.sandbox.services.base import Launch, LaunchContext, Service, http_ok, loopback_server
from soa_sdk.sandbox.state import ServiceRecord

ADMIN_PASSWORD = "boundary_admin_password"
ADMIN_LOGIN = "admin"
#: ``boundary dev``'s global password auth method, which the emulator creates too.
ADMIN_AUTH_METHOD = "ampw_1234567890"


class BoundaryService(Service):
    """The emulated Boundary controller with its session proxy."""

    name: ClassVar[str] = "boundary"
    summary: ClassVar[str] = "Boundary controller API and session proxy (emulator)"
    depends_on: ClassVar[tuple[str, ...]] = ("aws", "vault")
    lost_when_stopped: ClassVar[str] = (
        "Boundary's in-memory state: scopes, users, targets, credential stores, sessions "
        "(recordings already in S3 stay)"
    )
    restart_note: ClassVar[str] = (
        "Vault still holds its users' passwords, the access grants and Boundary's Vault token"
    )

    secret_names: ClassVar[tuple[str, ...]] = (ADMIN_PASSWORD,)

    def launch(self, context: LaunchContext) -> Launch:
        files = tls.files(context.home)
        tls_port = context.extra_port_for(self.name, "tls_url")
        launch = loopback_server(
            "soa_sdk.sandbox.boundary",
            *("--admin-login-name", ADMIN_LOGIN),
            *("--recording-s3-endpoint", context.urls["aws"]),
            *("--tls-port", str(tls_port)),
            *("--tls-cert-file", str(files.cert), "--tls-key-file", str(files.key)),
            env={
                # Credential stores reach Vault at its TLS address: the sandbox's CA is this
                # "machine's" trust store, as a controller trusts its system's CAs.
                "REQUESTS_CA_BUNDLE": str(files.ca),
                "BOUNDARY_ADMIN_PASSWORD": context.secrets[ADMIN_PASSWORD],
                # Recordings are written to the sandbox's S3 as Boundary's writer, the IAM user
                # the recordings bucket policy names (soa_sdk.access.recordings).
                "AWS_ACCESS_KEY_ID": context.secrets.get(
                    "aws_boundary_access_key_id", context.secrets["aws_access_key_id"]
                ),
                "AWS_SECRET_ACCESS_KEY": context.secrets.get(
                    "aws_boundary_secret_access_key", context.secrets["aws_secret_access_key"]
                ),
            },
        )
        launch.extra["tls_url"] = f"https://{LOOPBACK}:{tls_port}"
        return launch

    def is_healthy(self, record: ServiceRecord, secrets: dict[str, str]) -> bool:
        # The anonymous user may list the global scope's auth methods (the login page does
        # exactly this), so a 200 means the controller serves and its default roles exist.
        return http_ok(f"{record.url}/v1/auth-methods?scope_id=global")

    def details(self, record: ServiceRecord, secrets: dict[str, str]) -> dict[str, str]:
        return {"admin_auth_method_id": ADMIN_AUTH_METHOD, "admin_login_name": ADMIN_LOGIN}
