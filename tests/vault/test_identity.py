"""Vault identity tokens, and their exchange for AWS credentials through the sandbox's STS."""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import hvac
import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from soa_sdk.vault.errors import (
    AwsExchangeError,
    InvalidSettingError,
    InvalidTTLError,
    VaultInvalidRequest,
    VaultPermissionDenied,
)
from soa_sdk.vault.identity import (
    DEFAULT_AUDIENCE,
    IdentityToken,
    Workload,
    WorkloadIdentity,
    assume_role_with_web_identity,
    issuer_host_path,
    jwt_parts,
    register_in_aws,
    trust_policy,
    verify_token,
)

TOKEN_TTL = 900


@dataclass
class Setup:
    wi: WorkloadIdentity
    issuer: str
    key: str
    role: str
    workload: Workload
    client: hvac.Client


@pytest.fixture(scope="module")
def setup(vault: hvac.Client, endpoints) -> Iterator[Setup]:
    suffix = secrets.token_hex(3)
    wi = WorkloadIdentity(vault, approle_mount=f"approle-{suffix}")
    before = vault.read("identity/oidc/config")["data"]["issuer"]
    issuer = wi.configure_issuer(endpoints.vault_url)
    key, role = f"aws-{suffix}", f"runtime-ecs-{suffix}"
    wi.create_key(key, allowed_client_ids=[DEFAULT_AUDIENCE, "not-sts"])
    wi.create_role(role, key=key, ttl=TOKEN_TTL, template={"account": "runtime-ecs"})
    workload = wi.create_workload(f"deployer-{suffix}", role)
    yield Setup(wi, issuer, key, role, workload, wi.login(workload))
    # The session's sandbox keeps OpenBao's own issuer for the tests after this one.
    vault.write("identity/oidc/config", issuer=before)


def test_issuer_and_keys_are_where_oidc_clients_look(setup: Setup, endpoints) -> None:
    assert setup.issuer == f"{endpoints.vault_url}/v1/identity/oidc"
    # Discovery and keys are public: AWS fetches them without a Vault token.
    discovery = requests.get(f"{setup.issuer}/.well-known/openid-configuration", timeout=5).json()
    assert discovery["issuer"] == setup.issuer == setup.wi.discovery()["issuer"]
    assert discovery["jwks_uri"] == f"{setup.issuer}/.well-known/keys"
    keys = requests.get(discovery["jwks_uri"], timeout=5).json()["keys"]
    assert {k["alg"] for k in keys} >= {"RS256"} and all(k["kty"] == "RSA" for k in keys)


def test_token_is_a_jwt_for_the_workload_entity_that_verifies(setup: Setup) -> None:
    token = setup.wi.mint_token(setup.role, setup.client)
    assert token.token not in repr(token)
    header, claims = jwt_parts(token.token)
    assert header["alg"] == "RS256"
    assert token.issuer == setup.issuer
    assert token.audience == DEFAULT_AUDIENCE
    assert token.subject == setup.workload.entity_id
    assert claims["account"] == "runtime-ecs"
    assert claims["exp"] - claims["iat"] == TOKEN_TTL
    jwks = setup.wi.jwks()
    checked = verify_token(token.token, jwks, issuer=setup.issuer, audience=DEFAULT_AUDIENCE)
    assert checked == claims

    head, _body, sig = token.token.split(".")
    forged_body = _b64(json.dumps({**claims, "sub": "someone-else"}).encode())
    with pytest.raises(InvalidSettingError, match="signature"):
        verify_token(f"{head}.{forged_body}.{sig}", jwks, issuer=setup.issuer, audience="x")
    with pytest.raises(InvalidSettingError, match="audience"):
        verify_token(token.token, jwks, issuer=setup.issuer, audience="another")
    with pytest.raises(InvalidSettingError, match="issuer"):
        verify_token(token.token, jwks, issuer="https://vault.example", audience=DEFAULT_AUDIENCE)
    with pytest.raises(InvalidSettingError, match="expired"):
        verify_token(
            token.token, jwks, issuer=setup.issuer, audience=DEFAULT_AUDIENCE, now=claims["exp"] + 1
        )


def test_workload_setup_is_idempotent_and_every_login_is_the_same_subject(setup: Setup) -> None:
    again = setup.wi.create_workload(setup.workload.name, setup.role)
    assert again == setup.workload
    assert again.oidc_roles == (setup.role,)
    subjects = {setup.wi.mint_token(setup.role, setup.wi.login(again)).subject for _ in range(2)}
    assert subjects == {setup.workload.entity_id}


def test_tokens_need_an_entity_and_the_role_in_policy(setup: Setup, unique: str) -> None:
    with pytest.raises(VaultInvalidRequest, match="no entity"):
        setup.wi.mint_token(setup.role)  # the root token has no entity behind it
    other = f"runtime-eks-{unique}"
    setup.wi.create_role(other, key=setup.key)
    with pytest.raises(VaultPermissionDenied):
        setup.wi.mint_token(other, setup.client)


def test_settings_are_checked_before_any_call() -> None:
    offline = WorkloadIdentity(hvac.Client(url="http://127.0.0.1:9", timeout=2))
    with pytest.raises(InvalidSettingError):
        offline.configure_issuer("vault.example:8200")
    with pytest.raises(InvalidTTLError):
        offline.create_role("r", key="k", ttl="0s")
    with pytest.raises(InvalidSettingError):
        offline.create_key("k", allowed_client_ids=[])
    with pytest.raises(InvalidSettingError):
        offline.create_key("k", allowed_client_ids=["a"], algorithm="HS256")
    with pytest.raises(InvalidSettingError):
        register_in_aws(None, "https://vault.example/v1/identity/oidc", thumbprints=["abc"])
    sts = boto3.client(
        "sts", endpoint_url="http://127.0.0.1:9", region_name="us-east-1", **_TEST_KEYS
    )
    arn = "arn:aws:iam::123456789012:role/deployer"
    for duration in (899, 43201):
        with pytest.raises(InvalidTTLError):
            assume_role_with_web_identity(sts, arn, "t", "session", duration)
    with pytest.raises(InvalidSettingError):
        assume_role_with_web_identity(sts, "arn:aws:iam::1:role/x", "t", "session")
    with pytest.raises(InvalidSettingError):
        assume_role_with_web_identity(sts, arn, "t", "no spaces allowed")


def test_trust_policy_names_the_provider_audience_and_subject() -> None:
    issuer = "http://127.0.0.1:8200/v1/identity/oidc"
    host_path = issuer_host_path(issuer)
    arn = f"arn:aws:iam::111122223333:oidc-provider/{host_path}"
    policy = trust_policy(arn, host_path, DEFAULT_AUDIENCE, "entity-1")
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"Federated": arn}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {
            "127.0.0.1:8200/v1/identity/oidc:aud": DEFAULT_AUDIENCE,
            "127.0.0.1:8200/v1/identity/oidc:sub": "entity-1",
        }
    }


# --- AWS: the member account trusts Vault ------------------------------------------------------

# Only for a client that never reaches a server (the sandbox's AWS refuses made-up keys).
_TEST_KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def _aws(endpoints, service: str, creds: dict[str, str] | None = None) -> Any:
    keys = (
        {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        }
        if creds
        else endpoints.aws_keys
    )
    return boto3.client(service, endpoint_url=endpoints.aws_url, region_name="us-east-1", **keys)


@dataclass
class Member:
    account_id: str
    iam: Any
    provider_arn: str
    role_arn: str


@pytest.fixture(scope="module")
def member(lab, endpoints, setup: Setup) -> Member:
    # The session's organization is step 0's, made by Terraform (an organization created here
    # first would make terraform/org's apply fail with AlreadyInOrganizationException); the
    # test's own account joins it outside Terraform's state.
    lab.org.require()
    org = _aws(endpoints, "organizations")
    suffix = secrets.token_hex(3)
    status = org.create_account(Email=f"vault-{suffix}@example.com", AccountName=f"vault-{suffix}")
    account = status["CreateAccountStatus"]["AccountId"]
    admin = _aws(endpoints, "sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
        RoleSessionName="vault-tests",
    )["Credentials"]
    iam = _aws(endpoints, "iam", admin)
    provider = register_in_aws(iam, setup.issuer, DEFAULT_AUDIENCE)
    policy = trust_policy(
        provider, issuer_host_path(setup.issuer), DEFAULT_AUDIENCE, setup.workload.entity_id
    )
    role = iam.create_role(RoleName="deployer", AssumeRolePolicyDocument=json.dumps(policy))
    return Member(account, iam, provider, role["Role"]["Arn"])


def test_register_in_aws_is_idempotent(member: Member, setup: Setup) -> None:
    assert member.provider_arn == (
        f"arn:aws:iam::{member.account_id}:oidc-provider/{issuer_host_path(setup.issuer)}"
    )
    assert register_in_aws(member.iam, setup.issuer, DEFAULT_AUDIENCE) == member.provider_arn
    providers = member.iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    assert [p["Arn"] for p in providers].count(member.provider_arn) == 1
    got = member.iam.get_open_id_connect_provider(OpenIDConnectProviderArn=member.provider_arn)
    assert got["ClientIDList"] == [DEFAULT_AUDIENCE]
    # Adding a second audience to an existing provider (AddClientIDToOpenIDConnectProvider) is
    # not tested: moto 5.2 does not implement that action.


def test_identity_token_buys_member_account_credentials(
    member: Member, setup: Setup, endpoints
) -> None:
    token = setup.wi.mint_token(setup.role, setup.client)
    session = assume_role_with_web_identity(
        _aws(endpoints, "sts"), member.role_arn, token, "deployer-session", duration=900
    )
    creds = session.get_credentials()
    assert creds.token and creds.access_key != "testing"
    who = session.client("sts", endpoint_url=endpoints.aws_url).get_caller_identity()
    assert who["Account"] == member.account_id
    assert who["Arn"].endswith(":assumed-role/deployer/deployer-session")


# --- AWS refuses bad tokens (the sandbox STS verifies them: soa_sdk.sandbox.aws.web_identity) --


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _exchange(endpoints, member: Member, token: str | IdentityToken) -> None:
    assume_role_with_web_identity(_aws(endpoints, "sts"), member.role_arn, token, "refused")


def test_forged_token_is_refused(member: Member, setup: Setup, endpoints) -> None:
    real = setup.wi.mint_token(setup.role, setup.client)
    header, claims = jwt_parts(real.token)
    # Same header (kid) and claims, signed with a key Vault never published.
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(AwsExchangeError) as info:
        _exchange(endpoints, member, f"{signing_input}.{_b64(signature)}")
    assert info.value.code == "InvalidIdentityToken"


def test_expired_token_is_refused(member: Member, setup: Setup, endpoints, unique) -> None:
    brief = f"brief-{unique}"
    setup.wi.create_role(brief, key=setup.key, ttl=1)
    setup.wi.create_workload(setup.workload.name, [setup.role, brief])
    token = setup.wi.mint_token(brief, setup.wi.login(setup.workload))
    time.sleep(2.1)
    with pytest.raises(AwsExchangeError) as info:
        _exchange(endpoints, member, token)
    assert info.value.code == "ExpiredTokenException"


def test_token_for_another_audience_is_refused(
    member: Member, setup: Setup, endpoints, unique
) -> None:
    other = f"other-aud-{unique}"
    setup.wi.create_role(other, key=setup.key, audience="not-sts")
    setup.wi.create_workload(setup.workload.name, [setup.role, other])
    token = setup.wi.mint_token(other, setup.wi.login(setup.workload))
    assert token.audience == "not-sts" and token.subject == setup.workload.entity_id
    with pytest.raises(AwsExchangeError) as info:
        _exchange(endpoints, member, token)
    assert info.value.code == "InvalidIdentityToken"


def test_token_of_another_workload_is_refused(member: Member, setup: Setup, endpoints, unique):
    intruder = setup.wi.create_workload(f"intruder-{unique}", setup.role)
    token = setup.wi.mint_token(setup.role, setup.wi.login(intruder))
    assert token.audience == DEFAULT_AUDIENCE and token.subject != setup.workload.entity_id
    with pytest.raises(AwsExchangeError) as info:
        _exchange(endpoints, member, token)
    assert info.value.code == "AccessDenied"
