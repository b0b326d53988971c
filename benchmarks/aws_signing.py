"""What the SigV4 check costs the sandbox AWS server: calls/s with and without it.

A script, not a test:

    python benchmarks/aws_signing.py [--calls 300] [--rounds 3]

Two servers run in this process (threaded werkzeug, as `python -m soa_sdk.sandbox.aws`), one
with `soa_sdk.sandbox.aws.signing.SignatureMiddleware` and one without it; a boto3 client
calls each in turn, in alternating rounds so that machine noise hits both alike. Calls:
STS GetCallerIdentity (query), Organizations DescribeOrganization (JSON), S3 PutObject and
GetObject (REST-XML, payload hashed), with the root keys and with STS AssumeRole keys (the
first call of a key looks it up in moto's backends, later ones hit the cache). Also printed:
the time of one `SignatureVerifier.verify` on a prepared WSGI environ, without the network.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import secrets
import statistics
import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from soa_sdk.sandbox.aws import app as app_module
from soa_sdk.sandbox.aws.server import AwsServer
from soa_sdk.sandbox.aws.signing import CredentialStore, RootKeys
from soa_sdk.sandbox.aws.signing.verifier import SignatureVerifier


def _servers(root: RootKeys) -> tuple[AwsServer, AwsServer]:
    checked = AwsServer(root=root)
    original = app_module.SignatureMiddleware
    app_module.SignatureMiddleware = lambda app, store, clock: app  # type: ignore[assignment,misc]
    try:
        unchecked = AwsServer(root=root)
    finally:
        app_module.SignatureMiddleware = original  # type: ignore[misc]
    checked.start()
    unchecked.start()
    return checked, unchecked


def _workloads(url: str, keys: dict[str, str]) -> dict[str, Callable[[], Any]]:
    def client(service: str, **extra: str) -> Any:
        return boto3.client(service, endpoint_url=url, region_name="us-east-1", **keys, **extra)

    orgs = client("organizations")
    # Both servers share this process's moto state: the second finds the organization made.
    with contextlib.suppress(orgs.exceptions.AlreadyInOrganizationException):
        orgs.create_organization(FeatureSet="ALL")
    s3 = client("s3")
    bucket = f"bench-{secrets.token_hex(3)}"
    s3.create_bucket(Bucket=bucket)
    body = secrets.token_bytes(4096)
    creds = client("sts").assume_role(
        RoleArn="arn:aws:iam::123456789012:role/OrganizationAccountAccessRole",
        RoleSessionName="bench",
    )["Credentials"]
    sts_keys = {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }
    sts = client("sts")
    assumed = boto3.client("sts", endpoint_url=url, region_name="us-east-1", **sts_keys)
    return {
        "sts GetCallerIdentity (root)": sts.get_caller_identity,
        "sts GetCallerIdentity (STS keys)": assumed.get_caller_identity,
        "organizations DescribeOrganization": orgs.describe_organization,
        "s3 PutObject 4 KiB": lambda: s3.put_object(Bucket=bucket, Key="k", Body=body),
        "s3 GetObject 4 KiB": lambda: s3.get_object(Bucket=bucket, Key="k")["Body"].read(),
    }


def _rate(call: Callable[[], Any], n: int) -> float:
    call()  # warm: connection, first key lookup
    start = time.perf_counter()
    for _ in range(n):
        call()
    return n / (time.perf_counter() - start)


def _verify_cost(root: RootKeys, n: int = 2000) -> float:
    """Microseconds per `SignatureVerifier.verify` of a signed STS request."""
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:1/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    creds = Credentials(root.access_key_id, root.secret_access_key)
    SigV4Auth(creds, "sts", "us-east-1").add_auth(request)
    base: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "RAW_URI": "/",
        "QUERY_STRING": "",
        "CONTENT_TYPE": request.headers["Content-Type"],
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": "127.0.0.1:1",
    }
    for name, value in request.headers.items():
        if name.lower() not in ("content-type", "content-length", "host"):
            base["HTTP_" + name.upper().replace("-", "_")] = value
    verifier = SignatureVerifier(CredentialStore(root))
    start = time.perf_counter()
    for _ in range(n):
        verifier.verify({**base, "wsgi.input": io.BytesIO(body)})
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    root = RootKeys("AKIA" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30))
    keys = {
        "aws_access_key_id": root.access_key_id,
        "aws_secret_access_key": root.secret_access_key,
    }
    checked, unchecked = _servers(root)
    try:
        loads = {"with check": _workloads(checked.url, keys)}
        loads["without"] = _workloads(unchecked.url, keys)
        rates: dict[str, dict[str, list[float]]] = {k: {} for k in loads}
        for _ in range(args.rounds):
            for label, calls in loads.items():
                for name, call in calls.items():
                    rates[label].setdefault(name, []).append(_rate(call, args.calls))
    finally:
        checked.shutdown()
        unchecked.shutdown()
    print(f"{'call':38} {'without (calls/s)':>18} {'with check':>12} {'cost/call':>10}")
    for name in rates["without"]:
        off = statistics.median(rates["without"][name])
        on = statistics.median(rates["with check"][name])
        cost_ms = (1 / on - 1 / off) * 1000
        print(f"{name:38} {off:18.0f} {on:12.0f} {cost_ms:8.2f}ms")
    print(f"\nSignatureVerifier.verify alone: {_verify_cost(root):.0f} us per request")
    print(f"({args.rounds} rounds of {args.calls} calls each, median round shown)")


if __name__ == "__main__":
    main()
