"""The sandbox AWS server (`python -m soa_sdk.sandbox.aws`) on a free port, for these tests.

Each test module gets its own server process, so the CloudTrail history it reads holds only
its own calls. OpenBao comes from the shared `sandbox` fixture (tests/conftest.py).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import requests

MANAGEMENT_ACCOUNT = "123456789012"
# The server's root keys, made for this test run as the sandbox makes its own.
ROOT_KEYS = {
    "aws_access_key_id": "AKIA" + secrets.token_hex(8).upper(),
    "aws_secret_access_key": secrets.token_urlsafe(30),
}
# Boundary's writer's keys (an IAM user the server creates, see
# soa_sdk.sandbox.aws.authorization).
BOUNDARY_KEYS = {
    "aws_access_key_id": "AKIA" + secrets.token_hex(8).upper(),
    "aws_secret_access_key": secrets.token_urlsafe(30),
}
ROOT_KEY_ENV = {
    "SOA_LAB_AWS_ROOT_ACCESS_KEY_ID": ROOT_KEYS["aws_access_key_id"],
    "SOA_LAB_AWS_ROOT_SECRET_ACCESS_KEY": ROOT_KEYS["aws_secret_access_key"],
    "SOA_LAB_AWS_BOUNDARY_ACCESS_KEY_ID": BOUNDARY_KEYS["aws_access_key_id"],
    "SOA_LAB_AWS_BOUNDARY_SECRET_ACCESS_KEY": BOUNDARY_KEYS["aws_secret_access_key"],
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class AwsServer:
    url: str
    management_account: str = MANAGEMENT_ACCOUNT
    root_keys: tuple[tuple[str, str], ...] = tuple(ROOT_KEYS.items())
    boundary_keys: tuple[tuple[str, str], ...] = tuple(BOUNDARY_KEYS.items())

    def client(self, service: str, region: str = "us-east-1", **keys: Any) -> Any:
        """A boto3 client of this server (the server's root keys unless given)."""
        if "aws_access_key_id" not in keys:
            keys = {**keys, **ROOT_KEYS}
        return boto3.client(service, endpoint_url=self.url, region_name=region, **keys)


@pytest.fixture(scope="module")
def aws() -> Iterator[AwsServer]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
    env.update(ROOT_KEY_ENV)
    proc = subprocess.Popen(
        [sys.executable, "-m", "soa_sdk.sandbox.aws", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{url}/moto-api/health", timeout=1).ok:
                break
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("the sandbox AWS server did not start")
        time.sleep(0.05)
    yield AwsServer(url)
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@dataclass(frozen=True)
class Member:
    account_id: str
    session_name: str
    keys: dict[str, str]


@pytest.fixture(scope="module")
def member(aws: AwsServer) -> Member:
    """A member account created with Organizations, entered through its access role."""
    org = aws.client("organizations")
    org.create_organization(FeatureSet="ALL")
    status = org.create_account(Email="runtime-ecs@example.com", AccountName="runtime-ecs")
    account_id = status["CreateAccountStatus"]["AccountId"]
    creds = aws.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole",
        RoleSessionName="alice",
    )["Credentials"]
    keys = {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }
    return Member(account_id, "alice", keys)
