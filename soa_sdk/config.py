"""Endpoints and credentials: from the sandbox's state file (read by
:func:`soa_sdk.sandbox.controls.endpoints_of`), or from the usual environment.

Against real infrastructure the SDK reads the variables every tool reads:
``AWS_PROFILE`` / ``AWS_ACCESS_KEY_ID`` ... (boto3's own chain), ``AWS_REGION``,
``VAULT_ADDR`` / ``VAULT_TOKEN``, ``CONSUL_HTTP_ADDR`` / ``CONSUL_HTTP_TOKEN``,
``BOUNDARY_ADDR``. Secrets live in :class:`Credentials`, whose repr never shows them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from soa_sdk.errors import ValidationError

TARGETS = ("sandbox", "aws")
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class Credentials:
    """Secrets to reach the endpoints. Shown as ``Credentials(<hidden>)``."""

    aws_access_key_id: str | None = field(default=None, repr=False)
    aws_secret_access_key: str | None = field(default=None, repr=False)
    vault_token: str | None = field(default=None, repr=False)
    consul_token: str | None = field(default=None, repr=False)
    postgres_password: str | None = field(default=None, repr=False)
    boundary_admin_password: str | None = field(default=None, repr=False)
    workloads_token: str | None = field(default=None, repr=False)
    """The sandbox workload host's API token (sandbox only)."""
    frontend_token: str | None = field(default=None, repr=False)
    """The sandbox CloudFront edge's API token (sandbox only)."""
    envoy_admin_token: str | None = field(default=None, repr=False)
    """The token of the sandbox Envoy's admin URL (sandbox only; a real sidecar's admin is
    reached from its own task or pod and needs none)."""

    def __repr__(self) -> str:
        return "Credentials(<hidden>)"


@dataclass(frozen=True)
class Endpoints:
    """Where each service answers. ``aws_url`` is None for real AWS (boto3 picks endpoints)."""

    target: str
    region: str
    aws_url: str | None = None
    vault_url: str | None = None
    consul_url: str | None = None
    boundary_url: str | None = None
    postgres_url: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    """Sandbox-only endpoints: ``workloads_url``, ``frontend_url``, ``envoy_admin_urls``,
    ``envoy_access_log``."""

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str] | None = None, region: str | None = None
    ) -> tuple[Endpoints, Credentials]:
        env = os.environ if environ is None else environ
        endpoints = cls(
            target="aws",
            region=region
            or env.get("AWS_REGION")
            or env.get("AWS_DEFAULT_REGION")
            or DEFAULT_REGION,
            aws_url=env.get("AWS_ENDPOINT_URL"),
            vault_url=env.get("VAULT_ADDR"),
            consul_url=_consul_url(env.get("CONSUL_HTTP_ADDR")),
            boundary_url=env.get("BOUNDARY_ADDR"),
            postgres_url=env.get("SOA_LAB_POSTGRES_URL"),
        )
        # AWS keys stay with boto3's credential chain (profiles, SSO, instance roles).
        credentials = Credentials(
            vault_token=env.get("VAULT_TOKEN"),
            consul_token=env.get("CONSUL_HTTP_TOKEN"),
        )
        return endpoints, credentials


def check_target(target: str) -> str:
    if target not in TARGETS:
        raise ValidationError(
            f"Unknown target '{target}': use 'sandbox' (the local sandbox) or 'aws' "
            "(real endpoints from your environment)."
        )
    return target


def _consul_url(address: str | None) -> str | None:
    """``CONSUL_HTTP_ADDR`` may be ``host:port`` without a scheme, as the Consul CLI allows."""
    if not address:
        return None
    return address if "://" in address else f"http://{address}"
