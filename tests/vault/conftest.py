"""Fixtures for the Vault tests, on the shared sandbox (tests/conftest.py): a real OpenBao dev
server, a real PostgreSQL and the sandbox AWS server (moto plus STS web-identity checks)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import hvac
import pytest

from soa_sdk.sandbox.state import SandboxState


@dataclass(frozen=True)
class Endpoints:
    vault_url: str
    root_token: str = field(repr=False)
    postgres_url: str
    postgres_password: str = field(repr=False)
    aws_url: str
    aws_keys: dict[str, str] = field(repr=False)  # the sandbox's root keys


@pytest.fixture(scope="session")
def endpoints(sandbox: SandboxState) -> Endpoints:
    """Where Vault, PostgreSQL and AWS answer, with the secrets the sandbox started them with."""
    return Endpoints(
        vault_url=sandbox.url("vault"),
        root_token=sandbox.secret("vault_root_token"),
        postgres_url=sandbox.url("postgres"),
        postgres_password=sandbox.secret("postgres_password"),
        aws_url=sandbox.url("aws"),
        aws_keys={
            "aws_access_key_id": sandbox.secret("aws_access_key_id"),
            "aws_secret_access_key": sandbox.secret("aws_secret_access_key"),
        },
    )


@pytest.fixture(scope="session")
def vault(endpoints: Endpoints) -> hvac.Client:
    """An hvac client with the root token."""
    return hvac.Client(url=endpoints.vault_url, token=endpoints.root_token, timeout=30)


@pytest.fixture
def unique() -> str:
    """A short random suffix, so tests on the shared Vault never touch each other's paths."""
    return secrets.token_hex(3)
