"""Issue 16: the sandbox's workloads get their Consul tokens by logging in (``jwt`` auth method,
OpenBao identity tokens, ``soa_sdk.sandbox.workloads.login``), not from the management token.
Everything runs against the session's sandbox: real OpenBao signs, the Consul emulator fetches
OpenBao's JWKS over HTTP and verifies."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from soa_sdk.sandbox.workloads import WorkloadHostError
from soa_sdk.sandbox.workloads.login import AUTH_METHOD


def consul(lab: Any, method: str, path: str, **kw: Any) -> requests.Response:
    """Raw HTTP to the sandbox's Consul (the management token unless ``token=`` is given)."""
    token = kw.pop("token", lab.credentials.consul_token)
    headers = {"X-Consul-Token": token} if token else {}
    url = f"{lab.endpoints.consul_url}/v1/{path}"
    return requests.request(method, url, headers=headers, timeout=30, **kw)


def login_tokens(lab: Any) -> list[dict[str, Any]]:
    tokens = consul(lab, "GET", "acl/tokens").json()
    return [t for t in tokens if t.get("AuthMethod") == AUTH_METHOD]


def login(lab: Any, bearer: str, partition: str = "default") -> requests.Response:
    body = {"AuthMethod": AUTH_METHOD, "BearerToken": bearer}
    return consul(lab, "POST", "acl/login", token=None, params={"partition": partition}, json=body)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _parts(jwt: str) -> tuple[dict[str, Any], dict[str, Any]]:
    head, body, _sig = jwt.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return json.loads(base64.urlsafe_b64decode(pad(head))), json.loads(
        base64.urlsafe_b64decode(pad(body))
    )


@pytest.fixture
def creds(lab: Any) -> Iterator[Any]:
    """``creds(service, partition)``: a login as the SDK gives the host; afterwards no
    login token of the test is left in Consul."""
    before = {t["AccessorID"] for t in login_tokens(lab)}
    yield lab.workloads.login.credentials
    left = [t for t in login_tokens(lab) if t["AccessorID"] not in before]
    assert left == []


def test_a_workload_logs_in_for_its_own_service_identity(lab: Any, creds: Any) -> None:
    (workload,) = lab.workloads.start("login-probe", "v1")
    try:
        assert workload["consul_auth_method"] == AUTH_METHOD
        token = consul(lab, "GET", f"acl/token/{workload['consul_token_accessor']}").json()
        assert token["AuthMethod"] == AUTH_METHOD and token["Local"] is True
        assert token["ServiceIdentities"] == [{"ServiceName": "login-probe"}]
        assert token["Policies"] == [] and "Roles" not in token
        assert token["Description"] == f'token created via login: {{"workload":"{workload["id"]}"}}'
        assert "consul_token" not in workload  # the secret is never listed
        ids = [s["ServiceID"] for s in consul(lab, "GET", "catalog/service/login-probe").json()]
        assert ids == [workload["id"]]
    finally:
        lab.workloads.stop(workload["id"])
    # stopping logged it out: the token is gone, and so is the registration
    gone = consul(lab, "GET", f"acl/token/{workload['consul_token_accessor']}")
    assert (gone.status_code, gone.text) == (403, "ACL not found")
    assert consul(lab, "GET", "catalog/service/login-probe").json() == []


def test_the_identity_token_carries_the_service_and_its_audience(lab: Any, creds: Any) -> None:
    bearer = creds("login-a", "default")["bearer_token"]
    _header, claims = _parts(bearer)
    assert claims["service"] == "login-a" and claims["partition"] == "default"
    assert claims["aud"] == "consul"
    # iss is OpenBao's public (TLS) address, as its discovery document names it; Consul
    # fetches the keys from the address it reaches.
    discovery = requests.get(
        f"{lab.endpoints.vault_url}/v1/identity/oidc/.well-known/openid-configuration", timeout=10
    ).json()
    assert claims["iss"] == discovery["issuer"] and claims["iss"].startswith("https://")
    method = consul(lab, "GET", f"acl/auth-method/{AUTH_METHOD}").json()
    assert method["Config"]["BoundIssuer"] == claims["iss"]
    keys = f"{lab.endpoints.vault_url}/v1/identity/oidc/.well-known/keys"
    assert method["Config"]["JWKSURL"] == keys
    assert method["Config"]["BoundAudiences"] == ["consul"]


def test_a_token_for_one_service_gets_no_other(lab: Any, creds: Any) -> None:
    bearer = creds("login-a", "default")["bearer_token"]
    # the same token with its service claim changed no longer verifies
    head, _body, sig = bearer.split(".")
    _header, claims = _parts(bearer)
    tampered = f"{head}.{_b64(json.dumps({**claims, 'service': 'login-b'}).encode())}.{sig}"
    refused = login(lab, tampered)
    assert (refused.status_code, refused.text) == (
        500, "error verifying token: failed to verify id token signature"
    )  # fmt: skip
    # the genuine one gives login-a's identity, which may not register login-b
    r = login(lab, bearer)
    assert r.status_code == 200, r.text
    token = r.json()
    try:
        assert token["ServiceIdentities"] == [{"ServiceName": "login-a"}]
        denied = consul(
            lab, "PUT", "agent/service/register", token=token["SecretID"], json={"Name": "login-b"}
        )
        assert denied.status_code == 403
        assert "lacks permission 'service:write' on \"login-b\"" in denied.text
    finally:
        assert consul(lab, "POST", "acl/logout", token=token["SecretID"]).json() is True
    again = consul(lab, "GET", "acl/token/self", token=token["SecretID"])
    assert (again.status_code, again.text) == (403, "ACL not found")


def test_the_host_refuses_a_login_for_another_service_and_keeps_no_token(
    lab: Any, creds: Any
) -> None:
    """A start request for login-b with login-a's identity token: the login succeeds (for
    login-a), the registration is refused, the host logs out again; nothing runs."""
    before = lab.workloads.list()
    with pytest.raises(WorkloadHostError) as refused:
        lab.workloads.start("login-b", "v1", consul_login=creds("login-a", "default"))
    assert refused.value.status == 403
    assert "lacks permission 'service:write' on \"login-b\"" in str(refused.value)
    assert lab.workloads.list() == before
    assert consul(lab, "GET", "catalog/service/login-b").json() == []


def test_a_forged_token_is_refused_and_nothing_runs(lab: Any, creds: Any) -> None:
    """Claims and key id as OpenBao's, signed with a key of the forger's own."""
    genuine = creds("login-a", "default")["bearer_token"]
    header, claims = _parts(genuine)
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(claims).encode())
    sig = forger.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    forged = {"auth_method": AUTH_METHOD, "bearer_token": f"{head}.{body}.{_b64(sig)}"}
    before = lab.workloads.list()
    with pytest.raises(WorkloadHostError) as refused:
        lab.workloads.start("login-a", "v1", consul_login=forged)
    assert refused.value.status == 502  # Consul answers 500 with go-sso's error
    assert "error verifying token: failed to verify id token signature" in str(refused.value)
    assert lab.workloads.list() == before
    assert consul(lab, "GET", "catalog/service/login-a").json() == []


def test_a_token_for_another_partition_binds_nothing(lab: Any, creds: Any) -> None:
    """The binding rule of each partition selects tokens minted for that partition."""
    partition = "login-other"
    assert consul(lab, "PUT", "partition", json={"Name": partition}).status_code == 200
    try:
        in_other = {"partition": partition}
        lab.workloads.login.ensure_auth_method(partition)
        method = consul(lab, "GET", f"acl/auth-method/{AUTH_METHOD}", params=in_other).json()
        lab.workloads.login.ensure_auth_method(partition)  # again: nothing written, one rule
        again = consul(lab, "GET", f"acl/auth-method/{AUTH_METHOD}", params=in_other).json()
        assert again["ModifyIndex"] == method["ModifyIndex"]
        rules = consul(lab, "GET", "acl/binding-rules", params=in_other).json()
        assert [r["Selector"] for r in rules] == [f'value.partition == "{partition}"']
        refused = login(lab, creds("login-a", "default")["bearer_token"], partition)
        assert (refused.status_code, refused.text) == (403, "Permission denied")
        r = login(lab, creds("login-a", partition)["bearer_token"], partition)
        assert r.status_code == 200 and r.json()["Partition"] == partition, r.text
        consul(lab, "POST", "acl/logout", token=r.json()["SecretID"])
    finally:
        consul(lab, "DELETE", f"partition/{partition}")


def test_stopping_workloads_leaves_no_token_behind(lab: Any, creds: Any) -> None:
    started = lab.workloads.start("login-many", "v1", count=3)
    accessors = {w["consul_token_accessor"] for w in started}
    assert len(accessors) == 3  # one login per instance
    assert accessors <= {t["AccessorID"] for t in login_tokens(lab)}
    for workload in started:
        lab.workloads.stop(workload["id"])
    assert accessors.isdisjoint(t["AccessorID"] for t in login_tokens(lab))
