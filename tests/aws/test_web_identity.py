"""STS AssumeRoleWithWebIdentity with OpenBao identity tokens: only valid tokens get keys."""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import hvac
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

AUDIENCE = "sts.amazonaws.com"
HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"


@dataclass(frozen=True)
class Issuer:
    url: str  # the token's iss
    host_path: str  # how IAM and conditions name it
    suffix: str
    vault: hvac.Client  # logged in as the workload (an entity)

    def token(self, role: str) -> str:
        return str(self.vault.read(f"identity/oidc/token/{role}")["data"]["token"])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, Any]:
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def _attr(key: str, value: str) -> dict[str, str]:
    return {"AttributeKey": key, "AttributeValue": value}


def _sign(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A token signed with a key of our own (never published by any issuer)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    sig = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(sig)}"


@pytest.fixture(scope="module")
def issuer(sandbox: Any) -> Iterator[Issuer]:
    """OpenBao as an OIDC issuer: a key, roles with client ids, a workload entity."""
    url = sandbox.url("vault")
    root = hvac.Client(url=url, token=sandbox.secret("vault_root_token"))
    s = secrets.token_hex(3)
    before = root.read("identity/oidc/config")["data"]["issuer"]
    root.write("identity/oidc/config", issuer=url)
    root.write(f"identity/oidc/key/aws-{s}", algorithm="RS256", allowed_client_ids="*")
    root.write(f"identity/oidc/role/sts-{s}", key=f"aws-{s}", client_id=AUDIENCE, ttl="10m")
    root.write(f"identity/oidc/role/short-{s}", key=f"aws-{s}", client_id=AUDIENCE, ttl="1s")
    root.write(f"identity/oidc/role/other-{s}", key=f"aws-{s}", client_id="not-sts", ttl="10m")
    root.sys.enable_auth_method("userpass", path=f"userpass-{s}")
    paths = "\n".join(
        f'path "identity/oidc/token/{r}-{s}" {{ capabilities = ["read"] }}'
        for r in ("sts", "short", "other")
    )
    root.sys.create_or_update_policy(f"oidc-{s}", paths)
    password = secrets.token_urlsafe(12)
    root.write(f"auth/userpass-{s}/users/deployer", password=password, policies=f"oidc-{s}")
    workload = hvac.Client(url=url)
    workload.auth.userpass.login("deployer", password, mount_point=f"userpass-{s}")
    iss = f"{url}/v1/identity/oidc"
    yield Issuer(iss, iss.split("://", 1)[1], s, workload)
    # The session's sandbox keeps OpenBao's own issuer for the tests after this one.
    root.write("identity/oidc/config", issuer=before)


@dataclass(frozen=True)
class Target:
    role_arn: str
    account_id: str
    subject: str


@pytest.fixture(scope="module")
def target(aws: Any, member: Any, issuer: Issuer) -> Target:
    """In the member account: the OIDC provider and a role trusting it for one subject."""
    iam = aws.client("iam", **member.keys)
    provider = iam.create_open_id_connect_provider(
        Url=issuer.url, ClientIDList=[AUDIENCE], ThumbprintList=["0" * 40]
    )["OpenIDConnectProviderArn"]
    subject = _claims(issuer.token(f"sts-{issuer.suffix}"))["sub"]
    hp = issuer.host_path
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {f"{hp}:aud": AUDIENCE},
                    "StringLike": {f"{hp}:sub": subject[:8] + "*"},
                },
            }
        ],
    }
    role = iam.create_role(RoleName="deployer", AssumeRolePolicyDocument=json.dumps(policy))
    # IAM is enforced: the workloads' role gets what the test's deploy does (terraform's
    # workload_identity module attaches var.policy_arns the same way).
    iam.attach_role_policy(
        RoleName="deployer", PolicyArn="arn:aws:iam::aws:policy/AmazonS3FullAccess"
    )
    strict = dict(policy, Statement=[dict(policy["Statement"][0])])
    strict["Statement"][0]["Condition"] = {"StringEquals": {f"{hp}:sub": "someone-else"}}
    iam.create_role(RoleName="someone-else-only", AssumeRolePolicyDocument=json.dumps(strict))
    return Target(role["Role"]["Arn"], member.account_id, subject)


def _refused(aws: Any, role_arn: str, token: str) -> dict[str, Any]:
    with pytest.raises(ClientError) as err:
        aws.client("sts").assume_role_with_web_identity(
            RoleArn=role_arn, RoleSessionName="deploy", WebIdentityToken=token
        )
    return {
        **err.value.response["Error"],
        "status": err.value.response["ResponseMetadata"]["HTTPStatusCode"],
    }


def test_valid_token_gets_keys_that_work_in_the_member_account(
    aws: Any, issuer: Issuer, target: Target, member: Any
) -> None:
    token = issuer.token(f"sts-{issuer.suffix}")
    out = aws.client("sts").assume_role_with_web_identity(
        RoleArn=target.role_arn, RoleSessionName="deploy", WebIdentityToken=token
    )
    creds = out["Credentials"]
    keys = {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }
    me = aws.client("sts", **keys).get_caller_identity()
    assert me["Account"] == target.account_id
    assert me["Arn"].endswith(":assumed-role/deployer/deploy")
    aws.client("s3", **keys).create_bucket(Bucket=f"deploy-{issuer.suffix}")

    # The deployer's policy does not allow cloudtrail:LookupEvents: the account's
    # administrator reads the trail.
    with pytest.raises(ClientError) as denied:
        aws.client("cloudtrail", **keys).lookup_events()
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    ct = aws.client("cloudtrail", **member.keys)
    exchange = ct.lookup_events(LookupAttributes=[_attr("EventName", "AssumeRoleWithWebIdentity")])[
        "Events"
    ]
    ok = [json.loads(e["CloudTrailEvent"]) for e in exchange]
    ok = [r for r in ok if "errorCode" not in r]
    assert ok[0]["userIdentity"]["type"] == "WebIdentityUser"
    assert ok[0]["userIdentity"]["userName"] == target.subject
    assert ok[0]["requestParameters"]["webIdentityToken"] == HIDDEN
    bucket = ct.lookup_events(LookupAttributes=[_attr("ResourceName", f"deploy-{issuer.suffix}")])[
        "Events"
    ]
    assert [e["Username"] for e in bucket] == ["deploy"]


def test_forged_token_is_refused(aws: Any, issuer: Issuer, target: Target) -> None:
    real = issuer.token(f"sts-{issuer.suffix}")
    header = json.loads(base64.urlsafe_b64decode(real.split(".")[0] + "=="))
    # Same key id as the issuer's, signed with another key.
    err = _refused(aws, target.role_arn, _sign(header, _claims(real)))
    assert (err["Code"], err["status"]) == ("InvalidIdentityToken", 400)
    # A key id the issuer never published.
    err = _refused(aws, target.role_arn, _sign({**header, "kid": "forged"}, _claims(real)))
    assert err["Code"] == "InvalidIdentityToken"
    assert err["Message"].startswith("Couldn't retrieve verification key")


def test_expired_token_is_refused(aws: Any, issuer: Issuer, target: Target) -> None:
    token = issuer.token(f"short-{issuer.suffix}")
    time.sleep(max(0.0, _claims(token)["exp"] - time.time()) + 1.05)
    err = _refused(aws, target.role_arn, token)
    assert (err["Code"], err["status"]) == ("ExpiredTokenException", 400)
    assert err["Message"].startswith("Token expired")


def test_wrong_audience_is_refused(aws: Any, issuer: Issuer, target: Target) -> None:
    err = _refused(aws, target.role_arn, issuer.token(f"other-{issuer.suffix}"))
    assert (err["Code"], err["Message"]) == ("InvalidIdentityToken", "Incorrect token audience")


def test_issuer_not_registered_in_the_roles_account_is_refused(
    aws: Any, issuer: Issuer, target: Target
) -> None:
    # The management account has a role but no OIDC provider for this issuer.
    iam = aws.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": "*"},
                "Action": "sts:AssumeRoleWithWebIdentity",
            }
        ],
    }
    arn = iam.create_role(RoleName="open-door", AssumeRolePolicyDocument=json.dumps(trust))
    err = _refused(aws, arn["Role"]["Arn"], issuer.token(f"sts-{issuer.suffix}"))
    assert err["Code"] == "InvalidIdentityToken"
    assert err["Message"] == f"No OpenIDConnect provider found in your account for {issuer.url}"


def test_trust_policy_conditions_are_enforced(aws: Any, issuer: Issuer, target: Target) -> None:
    other_role = target.role_arn.replace("role/deployer", "role/someone-else-only")
    token = issuer.token(f"sts-{issuer.suffix}")
    err = _refused(aws, other_role, token)
    assert (err["Code"], err["status"]) == ("AccessDenied", 403)
    assert err["Message"] == "Not authorized to perform sts:AssumeRoleWithWebIdentity"
    missing = target.role_arn.replace("role/deployer", "role/no-such-role")
    assert _refused(aws, missing, token)["Code"] == "AccessDenied"


def test_garbage_is_refused_and_recorded(aws: Any, member: Any, target: Target) -> None:
    err = _refused(aws, target.role_arn, "garbage")
    assert (err["Code"], err["status"]) == ("InvalidIdentityToken", 400)
    ct = aws.client("cloudtrail", **member.keys)
    failed = [
        json.loads(e["CloudTrailEvent"])
        for e in ct.lookup_events(
            LookupAttributes=[
                {"AttributeKey": "EventName", "AttributeValue": "AssumeRoleWithWebIdentity"}
            ]
        )["Events"]
    ]
    assert "InvalidIdentityToken" in {r.get("errorCode") for r in failed}
