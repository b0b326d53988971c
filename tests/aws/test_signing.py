"""Every request to the sandbox AWS server must be signed with credentials the sandbox issued.

Refusals carry AWS's code, HTTP status and body shape for the caller's protocol, and change
nothing. The lab's own way in (root keys, then `AssumeRole` into member accounts) works.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import requests
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from soa_sdk.sandbox.aws.signing import RootKeys
from soa_sdk.sandbox.aws.signing.credentials import ROOT_KEY_ENV
from soa_sdk.sandbox.services import aws as aws_service

MADE_UP = {"aws_access_key_id": "MADEUPACCESSKEY00001", "aws_secret_access_key": "x" * 40}
RECORDING = b"SELECT * FROM customers; -- alice"


def _error(err: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response = err.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def _wrong_secret(aws: Any) -> dict[str, str]:
    keys = dict(aws.root_keys)
    return {**keys, "aws_secret_access_key": keys["aws_secret_access_key"] + "x"}


@pytest.fixture(scope="module")
def org(aws: Any, member: Any) -> dict[str, Any]:
    """The organization with its member, and a recordings bucket holding one recording."""
    orgs = aws.client("organizations")
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="session-recordings")
    s3.put_object(Bucket="session-recordings", Key="sessions/s_1.json", Body=RECORDING)
    accounts = orgs.list_accounts()["Accounts"]
    member = next(a["Id"] for a in accounts if a["Name"] == "runtime-ecs")
    return {"accounts": accounts, "member": member}


def test_the_sandbox_gives_the_server_the_keys_it_made() -> None:
    assert aws_service.ROOT_KEY_ENV == ROOT_KEY_ENV
    service = aws_service.AwsService()
    keys = service.new_secrets()
    assert keys["aws_access_key_id"].startswith("AKIA") and len(keys["aws_access_key_id"]) == 20
    assert service.new_secrets() != keys


@pytest.mark.parametrize(
    ("service", "call", "status", "code"),
    [
        ("sts", lambda c: c.get_caller_identity(), 403, "InvalidClientTokenId"),
        ("iam", lambda c: c.list_roles(), 403, "InvalidClientTokenId"),
        ("organizations", lambda c: c.list_accounts(), 400, "UnrecognizedClientException"),
        ("eks", lambda c: c.list_clusters(), 403, "UnrecognizedClientException"),
        ("ec2", lambda c: c.describe_vpcs(), 401, "AuthFailure"),
        ("cloudwatch", lambda c: c.list_metrics(), 400, "UnrecognizedClientException"),
        ("s3", lambda c: c.list_buckets(), 403, "InvalidAccessKeyId"),
    ],
)
def test_a_made_up_key_is_refused_in_each_protocol(
    aws: Any, service: str, call: Any, status: int, code: str
) -> None:
    with pytest.raises(ClientError) as err:
        call(aws.client(service, **MADE_UP))
    assert _error(err) == (status, code)
    text = str(err.value)
    assert "invalid" in text or "does not exist" in text or code == "AuthFailure"


@pytest.mark.parametrize(
    ("service", "call", "status", "code"),
    [
        ("sts", lambda c: c.get_caller_identity(), 403, "SignatureDoesNotMatch"),
        ("organizations", lambda c: c.list_accounts(), 400, "InvalidSignatureException"),
        ("eks", lambda c: c.list_clusters(), 403, "InvalidSignatureException"),
        ("s3", lambda c: c.list_buckets(), 403, "SignatureDoesNotMatch"),
    ],
)
def test_the_right_key_with_the_wrong_secret_is_refused(
    aws: Any, service: str, call: Any, status: int, code: str
) -> None:
    with pytest.raises(ClientError) as err:
        call(aws.client(service, **_wrong_secret(aws)))
    assert _error(err) == (status, code)


def test_unsigned_requests_are_refused(aws: Any, org: dict[str, Any]) -> None:
    query = requests.post(aws.url, data={"Action": "GetCallerIdentity", "Version": "2011-06-15"})
    assert query.status_code == 403
    assert "<Code>MissingAuthenticationToken</Code>" in query.text
    assert "<Type>Sender</Type>" in query.text

    target = {
        "X-Amz-Target": "AWSOrganizationsV20161128.ListAccounts",
        "Content-Type": "application/x-amz-json-1.1",
    }
    listing = requests.post(aws.url, data=b"{}", headers=target)
    assert listing.status_code == 400
    assert listing.json() == {
        "__type": "MissingAuthenticationTokenException",
        "message": "Missing Authentication Token",
    }

    download = requests.get(f"{aws.url}/session-recordings/sessions/s_1.json")
    assert download.status_code == 403
    assert "<Code>AccessDenied</Code>" in download.text
    assert RECORDING.decode() not in download.text


def test_made_up_keys_get_nothing_and_change_nothing(aws: Any, org: dict[str, Any]) -> None:
    """The probes of issue 12: list the organization, enter a member, read a recording."""
    orgs = aws.client("organizations", **MADE_UP)
    with pytest.raises(ClientError) as err:
        orgs.list_accounts()
    assert _error(err) == (400, "UnrecognizedClientException")
    with pytest.raises(ClientError):
        orgs.create_account(Email="evil@example.com", AccountName="evil")

    role = f"arn:aws:iam::{org['member']}:role/OrganizationAccountAccessRole"
    with pytest.raises(ClientError) as err:
        aws.client("sts", **MADE_UP).assume_role(RoleArn=role, RoleSessionName="mallory")
    assert _error(err) == (403, "InvalidClientTokenId")

    s3 = aws.client("s3", **MADE_UP)
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket="session-recordings", Key="sessions/s_1.json")
    assert _error(err) == (403, "InvalidAccessKeyId")
    with pytest.raises(ClientError):
        s3.put_object(Bucket="session-recordings", Key="sessions/s_1.json", Body=b"forged")
    with pytest.raises(ClientError):
        s3.delete_object(Bucket="session-recordings", Key="sessions/s_1.json")

    # Nothing changed, and nobody was let in as the member account's role.
    assert aws.client("organizations").list_accounts()["Accounts"] == org["accounts"]
    body = aws.client("s3").get_object(Bucket="session-recordings", Key="sessions/s_1.json")
    assert body["Body"].read() == RECORDING
    assumed = aws.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "mallory"}]
    )
    assert assumed["Events"] == []


def test_the_labs_own_way_in_works(aws: Any, member: Any) -> None:
    """Root keys, then AssumeRole into a member account; its keys need their session token."""
    ident = aws.client("sts", **member.keys).get_caller_identity()
    assert ident["Account"] == member.account_id
    assert ":assumed-role/OrganizationAccountAccessRole/" in ident["Arn"]
    aws.client("s3", **member.keys).create_bucket(Bucket=f"member-{secrets.token_hex(3)}")

    no_token = {k: v for k, v in member.keys.items() if k != "aws_session_token"}
    with pytest.raises(ClientError) as err:
        aws.client("sts", **no_token).get_caller_identity()
    assert _error(err) == (403, "InvalidClientTokenId")
    other_token = {**member.keys, "aws_session_token": "FQoGZXIvYXdzE" + "A" * 40}
    with pytest.raises(ClientError) as err:
        aws.client("sts", **other_token).get_caller_identity()
    assert _error(err) == (403, "InvalidClientTokenId")
    root_with_token = {**dict(aws.root_keys), "aws_session_token": member.keys["aws_session_token"]}
    with pytest.raises(ClientError) as err:
        aws.client("s3", **root_with_token).list_buckets()
    assert _error(err) == (400, "InvalidToken")


def test_moto_header_cannot_pick_another_account(aws: Any, member: Any) -> None:
    sts = aws.client("sts", **member.keys)

    def to_management(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = aws.management_account

    sts.meta.events.register_first("before-sign.sts.GetCallerIdentity", to_management)
    assert sts.get_caller_identity()["Account"] == member.account_id


def test_motos_own_api_needs_the_root_keys(aws: Any, member: Any) -> None:
    assert requests.get(f"{aws.url}/moto-api/data.json").status_code == 403
    assert requests.post(f"{aws.url}/moto-api/reset").status_code == 403
    assert requests.get(f"{aws.url}/moto-api/health").json()["status"] == "ok"

    def signed(keys: dict[str, str]) -> int:
        creds = Credentials(
            keys["aws_access_key_id"],
            keys["aws_secret_access_key"],
            keys.get("aws_session_token"),
        )
        request = AWSRequest(method="GET", url=f"{aws.url}/moto-api/data.json")
        SigV4Auth(creds, "moto", "us-east-1").add_auth(request)
        return requests.get(request.url, headers=dict(request.headers)).status_code

    assert signed(member.keys) == 403
    assert signed(dict(aws.root_keys)) == 200


def test_presigned_urls(aws: Any, org: dict[str, Any]) -> None:
    s3 = aws.client("s3", config=Config(signature_version="s3v4"))
    params = {"Bucket": "session-recordings", "Key": "sessions/s_1.json"}
    url = s3.generate_presigned_url("get_object", Params=params, ExpiresIn=60)
    assert requests.get(url).content == RECORDING

    tampered = url.replace("s_1.json", "s_2.json")
    refused = requests.get(tampered)
    assert refused.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in refused.text

    made_up = boto3.client(
        "s3",
        endpoint_url=aws.url,
        region_name="us-east-1",
        config=Config(signature_version="s3v4"),
        **MADE_UP,
    ).generate_presigned_url("get_object", Params=params)
    refused = requests.get(made_up)
    assert refused.status_code == 403 and "<Code>InvalidAccessKeyId</Code>" in refused.text


def test_s3_body_must_match_its_signed_hash(aws: Any, org: dict[str, Any]) -> None:
    keys = dict(aws.root_keys)
    creds = Credentials(keys["aws_access_key_id"], keys["aws_secret_access_key"])
    url = f"{aws.url}/session-recordings/sessions/s_1.json"
    # Signed over the recording (its hash in x-amz-content-sha256), sent with another body.
    request = AWSRequest(method="PUT", url=url, data=RECORDING)
    S3SigV4Auth(creds, "s3", "us-east-1").add_auth(request)
    assert request.headers["x-amz-content-sha256"] == hashlib.sha256(RECORDING).hexdigest()
    refused = requests.put(url, data=b"forged", headers=dict(request.headers))
    assert refused.status_code == 400 and "XAmzContentSHA256Mismatch" in refused.text
    body = aws.client("s3").get_object(Bucket="session-recordings", Key="sessions/s_1.json")
    assert body["Body"].read() == RECORDING


def test_compressed_bodies_are_checked_as_sent(aws: Any) -> None:
    cloudwatch = aws.client("cloudwatch", config=Config(request_min_compression_size_bytes=128))
    data = [{"MetricName": f"m{i}", "Value": float(i)} for i in range(40)]
    cloudwatch.put_metric_data(Namespace="signing/test", MetricData=data)
    names = {m["MetricName"] for m in cloudwatch.list_metrics(Namespace="signing/test")["Metrics"]}
    assert len(names) == 40

    # The same gzip body with a signature over something else is refused.
    creds = Credentials(*[v for _, v in aws.root_keys])
    body = gzip.compress(b"Action=ListMetrics&Version=2010-08-01")
    request = AWSRequest(
        method="POST",
        url=aws.url + "/",
        data=b"Action=ListMetrics&Version=2010-08-01",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Content-Encoding": "gzip"},
    )
    SigV4Auth(creds, "monitoring", "us-east-1").add_auth(request)
    refused = requests.post(aws.url + "/", data=body, headers=dict(request.headers))
    assert refused.status_code == 403 and "SignatureDoesNotMatch" in refused.text


def test_web_identity_exchange_stays_unsigned(aws: Any) -> None:
    """AWS does not sign AssumeRoleWithWebIdentity: the token is checked, not a signature."""
    response = requests.post(
        aws.url,
        data={
            "Action": "AssumeRoleWithWebIdentity",
            "Version": "2011-06-15",
            "RoleArn": f"arn:aws:iam::{aws.management_account}:role/nobody",
            "RoleSessionName": "s",
            "WebIdentityToken": "garbage",
        },
    )
    assert response.status_code == 400
    assert "<Code>InvalidIdentityToken</Code>" in response.text


# --- expiry: a server in this process, with a clock the test moves -------------------------


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return datetime.now(UTC).timestamp() + self.offset


@pytest.fixture
def timed_server() -> Iterator[tuple[Any, Clock, dict[str, str]]]:
    from soa_sdk.sandbox.aws.server import AwsServer

    root = RootKeys("AKIA" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30))
    clock = Clock()
    server = AwsServer(root=root, clock=clock)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    keys = {
        "aws_access_key_id": root.access_key_id,
        "aws_secret_access_key": root.secret_access_key,
    }
    try:
        yield server, clock, keys
    finally:
        server.shutdown()


def test_expired_sts_keys_are_refused(timed_server: tuple[Any, Clock, dict[str, str]]) -> None:
    server, clock, root = timed_server

    def client(service: str, **keys: str) -> Any:
        return boto3.client(service, endpoint_url=server.url, region_name="us-east-1", **keys)

    creds = client("sts", **root).assume_role(
        RoleArn="arn:aws:iam::123456789012:role/OrganizationAccountAccessRole",
        RoleSessionName="short",
        DurationSeconds=900,
    )["Credentials"]
    keys = {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }
    assert client("sts", **keys).get_caller_identity()["Arn"].endswith("/short")

    clock.offset = (creds["Expiration"] - datetime.now(UTC) + timedelta(seconds=1)).total_seconds()
    with pytest.raises(ClientError) as err:
        client("sts", **keys).get_caller_identity()
    assert _error(err) == (403, "ExpiredToken")
    with pytest.raises(ClientError) as err:
        client("organizations", **keys).list_roots()
    assert _error(err) == (400, "ExpiredTokenException")
    with pytest.raises(ClientError) as err:
        client("s3", **keys).list_buckets()
    assert _error(err) == (400, "ExpiredToken")


def test_requests_signed_long_ago_are_refused(
    timed_server: tuple[Any, Clock, dict[str, str]],
) -> None:
    server, clock, root = timed_server
    clock.offset = 16 * 60
    sts = boto3.client("sts", endpoint_url=server.url, region_name="us-east-1", **root)
    with pytest.raises(ClientError) as err:
        sts.get_caller_identity()
    assert _error(err) == (403, "SignatureDoesNotMatch")
    assert "Signature expired" in err.value.response["Error"]["Message"]
    s3 = boto3.client("s3", endpoint_url=server.url, region_name="us-east-1", **root)
    with pytest.raises(ClientError) as err:
        s3.list_buckets()
    assert _error(err) == (403, "RequestTimeTooSkewed")
    clock.offset = 0
    assert json.dumps(sts.get_caller_identity()["Account"]) == '"123456789012"'
