"""ACL bootstrap, roles, templated policies, token expiration, jwt auth methods, binding rules,
login and logout (state/acl_auth.py), through python-consul2 where it has a method."""

from __future__ import annotations

import base64
import http.server
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import consul
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from soa_sdk.sandbox.consul import ConsulBackend, create_server

ROOT = "root-token-for-tests"  # tests/consul/conftest.py's management token
Running = Any  # conftest's Running: backend, url, port, http()

ISSUER = "https://openbao.example/v1/identity/oidc"
AUDIENCE = "consul"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def sign(key: rsa.RSAPrivateKey, claims: dict[str, Any], kid: str = "k1") -> str:
    head = _b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": kid}).encode())
    body = _b64(json.dumps(claims).encode())
    sig = key.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{head}.{body}.{_b64(sig)}"


def claims(service: str, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": f"entity-{service}",
        "iat": now,
        "exp": now + 300,
        "service": service,
        **extra,
    }


def pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def jwt_method(config: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "Name": "openbao",
        "Type": "jwt",
        "Config": {
            "BoundIssuer": ISSUER,
            "BoundAudiences": [AUDIENCE],
            "ClaimMappings": {"service": "service", "sub": "entity"},
            **config,
        },
        **extra,
    }


# -- bootstrap -----------------------------------------------------------------------------
def test_bootstrap_once() -> None:
    import requests

    backend = ConsulBackend(acl_bootstrap=True)
    server = create_server(backend, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        client = consul.Consul("127.0.0.1", server.server_port)
        token = client.acl.bootstrap()
        assert token["Description"] == "Bootstrap Token (Global Management)"
        assert token["Policies"] == [
            {"ID": "00000000-0000-0000-0000-000000000001", "Name": "global-management"}
        ]
        again = requests.put(f"{url}/v1/acl/bootstrap", timeout=10)
        assert again.status_code == 403
        assert again.text.startswith("Permission denied: ACL bootstrap no longer allowed (reset")
        # the bootstrap token is a management token
        headers = {"X-Consul-Token": token["SecretID"]}
        assert requests.get(f"{url}/v1/acl/tokens", headers=headers, timeout=10).ok
    finally:
        server.shutdown()
        backend.close()
        thread.join(timeout=5)


def test_bootstrap_refused_with_an_initial_management_token(cs: Running) -> None:
    r = cs.http("PUT", "/v1/acl/bootstrap", token=None)
    assert (r.status_code, r.text) == (
        403,
        "Permission denied: ACL bootstrap no longer allowed (reset index: 1)",
    )


# -- roles ---------------------------------------------------------------------------------
def test_roles_crud_and_token_links(cs: Running, root: consul.Consul) -> None:
    policy = cs.http(
        "PUT",
        "/v1/acl/policy",
        json={"Name": "kv-app", "Rules": 'key_prefix "app/" { policy = "write" }'},
    ).json()
    r = cs.http(
        "PUT",
        "/v1/acl/role",
        json={
            "Name": "inventory-role",
            "Description": "inventory",
            "Policies": [{"Name": "kv-app"}],
            "ServiceIdentities": [{"ServiceName": "inventory"}],
        },
    )
    assert r.status_code == 200, r.text
    role = r.json()
    assert role["Policies"] == [{"ID": policy["ID"], "Name": "kv-app"}]
    assert role["ServiceIdentities"] == [{"ServiceName": "inventory"}]
    assert root.acl.roles.get_by_name("inventory-role")["ID"] == role["ID"]
    assert cs.http("GET", f"/v1/acl/role/{role['ID']}").json()["Name"] == "inventory-role"
    assert [x["Name"] for x in cs.http("GET", "/v1/acl/roles").json()] == ["inventory-role"]
    assert cs.http("GET", "/v1/acl/roles", params={"policy": policy["ID"]}).json()
    dup = cs.http("PUT", "/v1/acl/role", json={"Name": "inventory-role"})
    assert dup.status_code == 400 and "already exists" in dup.text
    missing = cs.http("PUT", "/v1/acl/role", json={"Name": "x", "Policies": [{"Name": "nope"}]})
    assert missing.status_code == 400
    assert cs.http("GET", "/v1/acl/role/name/ghost").status_code == 403  # ACL not found

    token = cs.http("PUT", "/v1/acl/token", json={"Roles": [{"Name": "inventory-role"}]}).json()
    assert token["Roles"] == [{"ID": role["ID"], "Name": "inventory-role"}]
    secret = token["SecretID"]
    reg = {"Name": "inventory", "Port": 80}
    assert cs.http("PUT", "/v1/agent/service/register", token=secret, json=reg).status_code == 200
    other = {"Name": "payments", "Port": 80}
    assert cs.http("PUT", "/v1/agent/service/register", token=secret, json=other).status_code == 403
    assert cs.http("PUT", "/v1/kv/app/x", token=secret, data=b"1").status_code == 200

    # rename is reflected in the token's link; delete unlinks
    r = cs.http("PUT", f"/v1/acl/role/{role['ID']}", json={**role, "Name": "inv"})
    assert r.status_code == 200
    assert (
        cs.http("GET", f"/v1/acl/token/{token['AccessorID']}").json()["Roles"][0]["Name"] == "inv"
    )
    assert cs.http("DELETE", f"/v1/acl/role/{role['ID']}").json() is True
    assert "Roles" not in cs.http("GET", f"/v1/acl/token/{token['AccessorID']}").json()
    assert cs.http("PUT", "/v1/kv/app/x", token=secret, data=b"1").status_code == 403
    assert cs.http("GET", "/v1/acl/roles", token=None).status_code == 403


# -- templated policies ----------------------------------------------------------------------
def test_templated_policies(cs: Running) -> None:
    listing = cs.http("GET", "/v1/acl/templated-policies").json()
    assert {"builtin/service", "builtin/node", "builtin/dns"} <= set(listing)
    service = cs.http("GET", "/v1/acl/templated-policy/name/builtin/service").json()
    assert service["TemplateName"] == "builtin/service" and '"name"' in service["Schema"]
    preview = cs.http(
        "POST", "/v1/acl/templated-policy/preview/builtin/service", json={"Name": "api"}
    ).json()
    assert 'service "api-sidecar-proxy"' in preview["Rules"]
    assert (
        preview["Description"]
        == "synthetic policy generated from templated policy: builtin/service"
    )
    assert cs.http("GET", "/v1/acl/templated-policy/name/builtin/nope").status_code == 404

    token = cs.http(
        "PUT",
        "/v1/acl/token",
        json={
            "TemplatedPolicies": [
                {"TemplateName": "builtin/service", "TemplateVariables": {"Name": "api"}}
            ]
        },
    ).json()
    assert token["TemplatedPolicies"] == [
        {"TemplateName": "builtin/service", "TemplateVariables": {"name": "api"}}
    ]
    secret = token["SecretID"]
    assert (
        cs.http("PUT", "/v1/agent/service/register", token=secret, json={"Name": "api"}).status_code
        == 200
    )
    assert (
        cs.http("PUT", "/v1/agent/service/register", token=secret, json={"Name": "web"}).status_code
        == 403
    )
    bad = cs.http(
        "PUT", "/v1/acl/token", json={"TemplatedPolicies": [{"TemplateName": "builtin/service"}]}
    )
    assert bad.status_code == 400 and "name is required" in bad.text
    unknown = cs.http("PUT", "/v1/acl/token", json={"TemplatedPolicies": [{"TemplateName": "x"}]})
    assert unknown.status_code == 400 and "does not exist" in unknown.text


# -- expiration ----------------------------------------------------------------------------
@pytest.fixture
def short_ttls(cs: Running) -> Iterator[Running]:
    """``acl.token_min_expiration_ttl`` lowered to 1s (Consul's default is 1m)."""
    cs.backend.acl_token_min_ttl = 1.0
    try:
        yield cs
    finally:
        cs.backend.acl_token_min_ttl = 60.0


def test_token_expiration(short_ttls: Running) -> None:
    cs = short_ttls
    short = cs.http("PUT", "/v1/acl/token", json={"ExpirationTTL": "500ms"})
    assert (short.status_code, short.text) == (
        500,
        "ExpirationTime cannot be less than 1s in the future (was 0.5s)",
    )
    long = cs.http("PUT", "/v1/acl/token", json={"ExpirationTTL": "48h"})
    assert long.status_code == 500 and "cannot be more than 24h0m0s" in long.text
    both = cs.http(
        "PUT",
        "/v1/acl/token",
        json={"ExpirationTTL": "1h", "ExpirationTime": "2099-01-01T00:00:00Z"},
    )
    assert both.text == "Token Expiration TTL and Expiration Time cannot both be set"
    token = cs.http("PUT", "/v1/acl/token", json={"ExpirationTTL": "2s"}).json()
    assert token["ExpirationTime"].endswith("Z") and "ExpirationTTL" not in token
    secret = token["SecretID"]
    assert cs.http("GET", "/v1/acl/token/self", token=secret).status_code == 200
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r = cs.http("GET", "/v1/acl/token/self", token=secret)
        if r.status_code == 403:
            break
        time.sleep(0.25)
    assert (r.status_code, r.text) == (403, "ACL not found")
    assert cs.http("GET", f"/v1/acl/token/{token['AccessorID']}").status_code == 403
    listed = [t["AccessorID"] for t in cs.http("GET", "/v1/acl/tokens").json()]
    assert token["AccessorID"] not in listed


# -- auth methods, binding rules, login, logout ---------------------------------------------------
def test_auth_method_and_binding_rule_crud(cs: Running, root: consul.Consul, key: Any) -> None:
    method = root.acl.auth_method.create(jwt_method({"JWTValidationPubKeys": [pem(key)]}))
    assert method["Type"] == "jwt" and method["Config"]["BoundAudiences"] == [AUDIENCE]
    assert root.acl.auth_method.get("openbao")["Name"] == "openbao"
    assert [m["Name"] for m in cs.http("GET", "/v1/acl/auth-methods").json()] == ["openbao"]
    assert "Config" not in cs.http("GET", "/v1/acl/auth-methods").json()[0]
    neither = cs.http("PUT", "/v1/acl/auth-method", json=jwt_method({}) | {"Name": "b"})
    assert neither.status_code == 400 and "exactly one of 'JWTValidationPubKeys'" in neither.text
    k8s = cs.http("PUT", "/v1/acl/auth-method", json={"Name": "k", "Type": "kubernetes"})
    assert k8s.status_code == 400
    rule = root.acl.binding_rule.create(
        {
            "AuthMethod": "openbao",
            "BindType": "service",
            "BindName": "${value.service}",
            "Selector": 'value.entity matches "^entity-"',
        }
    )
    assert rule["BindName"] == "${value.service}" and rule["ID"]
    assert root.acl.binding_rule.get(rule["ID"])["AuthMethod"] == "openbao"
    listed = cs.http("GET", "/v1/acl/binding-rules", params={"authmethod": "openbao"}).json()
    assert [x["ID"] for x in listed] == [rule["ID"]]
    unknown_var = cs.http(
        "PUT",
        "/v1/acl/binding-rule",
        json={"AuthMethod": "openbao", "BindType": "service", "BindName": "${value.nope}"},
    )
    assert unknown_var.status_code == 400
    no_method = cs.http(
        "PUT",
        "/v1/acl/binding-rule",
        json={"AuthMethod": "ghost", "BindType": "service", "BindName": "x"},
    )
    assert no_method.status_code == 400
    assert cs.http("DELETE", f"/v1/acl/binding-rule/{rule['ID']}").json() is True
    assert cs.http("GET", f"/v1/acl/binding-rule/{rule['ID']}").status_code == 403
    assert cs.http("DELETE", "/v1/acl/auth-method/openbao").json() is True
    assert cs.http("GET", "/v1/acl/auth-method/openbao").status_code == 403
    assert cs.http("GET", "/v1/acl/auth-methods", token=None).status_code == 403


def _setup_login(cs: Running, config: dict[str, Any], **extra: Any) -> None:
    r = cs.http("PUT", "/v1/acl/auth-method", json=jwt_method(config, **extra))
    assert r.status_code == 200, r.text
    r = cs.http(
        "PUT",
        "/v1/acl/binding-rule",
        json={"AuthMethod": "openbao", "BindType": "service", "BindName": "${value.service}"},
    )
    assert r.status_code == 200, r.text


def test_login_gives_only_the_service_identity(cs: Running, key: Any) -> None:
    _setup_login(cs, {"JWTValidationPubKeys": [pem(key)]}, MaxTokenTTL="1h")
    client = consul.Consul("127.0.0.1", cs.port)
    token = client.acl.login("openbao", sign(key, claims("inventory")), meta={"pod": "p1"})
    assert token["AuthMethod"] == "openbao" and token["Local"] is True
    assert token["ServiceIdentities"] == [{"ServiceName": "inventory"}]
    assert token["Policies"] == [] and "ExpirationTime" in token
    assert token["Description"] == 'token created via login: {"pod":"p1"}'
    secret = token["SecretID"]
    ok = cs.http("PUT", "/v1/agent/service/register", token=secret, json={"Name": "inventory"})
    assert ok.status_code == 200
    sidecar = {"Name": "inventory-sidecar-proxy", "Kind": "connect-proxy", "Port": 21000,
               "Proxy": {"DestinationServiceName": "inventory"}}  # fmt: skip
    assert (
        cs.http("PUT", "/v1/agent/service/register", token=secret, json=sidecar).status_code == 200
    )
    denied = cs.http("PUT", "/v1/agent/service/register", token=secret, json={"Name": "payments"})
    assert denied.status_code == 403 and "'service:write' on \"payments\"" in denied.text
    assert cs.http("PUT", "/v1/kv/x", token=secret, data=b"1").status_code == 403
    assert cs.http("GET", "/v1/acl/tokens", token=secret).status_code == 403

    # logout deletes it; a second logout, or one with a token not made by login, is refused
    assert client.acl.logout(token=secret) is True
    assert cs.http("GET", "/v1/acl/token/self", token=secret).status_code == 403
    again = cs.http("POST", "/v1/acl/logout", token=secret)
    assert (again.status_code, again.text) == (403, "ACL not found")
    mgmt = cs.http("POST", "/v1/acl/logout")
    assert (mgmt.status_code, mgmt.text) == (403, "Permission denied")


def test_login_errors(cs: Running, key: Any) -> None:
    _setup_login(cs, {"JWTValidationPubKeys": [pem(key)]})
    login = lambda bearer, **kw: cs.http(  # noqa: E731
        "POST", "/v1/acl/login", token=kw.get("token"),
        json={"AuthMethod": kw.get("method", "openbao"), "BearerToken": bearer},
    )  # fmt: skip
    invalid = "error validating claims: go-jose/go-jose/jwt: validation failed,"
    r = login(sign(key, claims("inventory", aud="sts.amazonaws.com")))
    assert (r.status_code, r.text) == (
        500, "error validating claims: aud claim does not match any bound audience"
    )  # fmt: skip
    r = login(sign(key, claims("inventory", iss="https://elsewhere")))
    assert (r.status_code, r.text) == (500, f"{invalid} invalid issuer claim (iss)")
    r = login(sign(key, claims("inventory", exp=int(time.time()) - 3600)))
    assert (r.status_code, r.text) == (500, f"{invalid} token is expired (exp)")
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = login(sign(other, claims("inventory")))
    assert (forged.status_code, forged.text) == (
        500, "no known key successfully validated the token signature"
    )  # fmt: skip
    r = login("not-a-jwt")
    assert (r.status_code, r.text) == (
        500, "error parsing token: go-jose/go-jose: compact JWS format must have three parts"
    )  # fmt: skip
    assert login(sign(key, claims("inventory")), method="ghost").status_code == 403
    assert login(sign(key, claims("inventory")), token=ROOT).status_code == 500
    r = cs.http("POST", "/v1/acl/login", token=None, json={})
    assert (r.status_code, r.text) == (500, "Invalid Login request: Missing auth parameters")
    # no binding rule matches (an invalid service name binds nothing): Permission denied
    assert login(sign(key, claims("Not A Name"))).text == "Permission denied"
    # a Selector that does not match binds nothing either
    rules = cs.http("GET", "/v1/acl/binding-rules").json()
    cs.http(
        "PUT",
        f"/v1/acl/binding-rule/{rules[0]['ID']}",
        json={**rules[0], "Selector": 'value.service == "web"'},
    )
    denied = login(sign(key, claims("inventory")))
    assert (denied.status_code, denied.text) == (403, "Permission denied")
    assert login(sign(key, claims("web"))).status_code == 200


def _jwk(key: Any, kid: str) -> dict[str, Any]:
    numbers = key.public_key().public_numbers()
    return {
        "kty": "RSA",
        "kid": kid,
        "alg": "RS256",
        "use": "sig",
        "n": _b64(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
        "e": _b64(numbers.e.to_bytes(3, "big")),
    }


@dataclass
class KeySet:
    """A JWKS endpoint over HTTP (as OpenBao's ``.well-known/keys``), counting its fetches."""

    url: str
    keys: list[dict[str, Any]]
    fetches: int = 0


@pytest.fixture
def jwks(key: Any) -> Iterator[KeySet]:
    served = KeySet("", [_jwk(key, "k1")])

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.fetches += 1
            body = json.dumps({"keys": served.keys}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    served.url = f"http://127.0.0.1:{server.server_port}/v1/identity/oidc/.well-known/keys"
    try:
        yield served
    finally:
        server.shutdown()
        thread.join(timeout=5)


def test_login_with_jwks_url(cs: Running, key: Any, jwks: KeySet) -> None:
    _setup_login(cs, {"JWKSURL": jwks.url})
    r = cs.http(
        "POST",
        "/v1/acl/login",
        token=None,
        json={"AuthMethod": "openbao", "BearerToken": sign(key, claims("inventory"))},
    )
    assert r.status_code == 200, r.text
    assert r.json()["ServiceIdentities"] == [{"ServiceName": "inventory"}]
    # a token signed by another key, or naming a key id the set does not have, verifies not
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for bearer in (sign(other, claims("inventory")), sign(key, claims("inventory"), kid="k2")):
        refused = cs.http(
            "POST", "/v1/acl/login", token=None,
            json={"AuthMethod": "openbao", "BearerToken": bearer},
        )  # fmt: skip
        assert (refused.status_code, refused.text) == (
            500, "error verifying token: failed to verify id token signature"
        )  # fmt: skip
    # deleting the auth method deletes the tokens it issued
    cs.http("DELETE", "/v1/acl/auth-method/openbao")
    assert cs.http("GET", "/v1/acl/token/self", token=r.json()["SecretID"]).status_code == 403


def test_auth_methods_live_in_a_partition(cs: Running, key: Any) -> None:
    """As in Consul Enterprise: an auth method and its binding rules belong to a partition
    (``?partition=``), a login there (``POST /v1/acl/login?partition=``) makes a token of
    that partition, the default partition does not see them, and deleting the partition
    deletes them and the tokens of its logins."""
    assert cs.http("PUT", "/v1/partition", json={"Name": "runtime-ecs"}).status_code == 200
    in_ecs = {"partition": "runtime-ecs"}
    method = jwt_method({"JWTValidationPubKeys": [pem(key)]})
    r = cs.http("PUT", "/v1/acl/auth-method", params=in_ecs, json=method)
    assert r.status_code == 200 and r.json()["Partition"] == "runtime-ecs", r.text
    rule = {"AuthMethod": "openbao", "BindType": "service", "BindName": "${value.service}"}
    r = cs.http("PUT", "/v1/acl/binding-rule", params=in_ecs, json=rule)
    assert r.status_code == 200 and r.json()["Partition"] == "runtime-ecs", r.text
    rule_id = r.json()["ID"]
    assert cs.http("GET", "/v1/acl/auth-method/openbao").status_code == 403
    assert cs.http("GET", "/v1/acl/auth-methods").json() == []
    assert cs.http("GET", "/v1/acl/binding-rules").json() == []
    assert cs.http("GET", f"/v1/acl/binding-rule/{rule_id}").status_code == 403
    listed = cs.http("GET", "/v1/acl/auth-methods", params=in_ecs).json()
    assert [m["Name"] for m in listed] == ["openbao"]
    # a binding rule for a method of another partition is refused
    refused = cs.http("PUT", "/v1/acl/binding-rule", json=rule)
    assert refused.status_code == 400 and "unknown auth method" in refused.text
    ghost = cs.http("PUT", "/v1/acl/auth-method", params={"partition": "ghost"}, json=method)
    assert (ghost.status_code, ghost.text) == (400, 'Bad request: Partition "ghost" does not exist')

    bearer = sign(key, claims("inventory"))
    body = {"AuthMethod": "openbao", "BearerToken": bearer}
    assert cs.http("POST", "/v1/acl/login", token=None, json=body).status_code == 403
    r = cs.http("POST", "/v1/acl/login", token=None, params=in_ecs, json=body)
    assert r.status_code == 200, r.text
    token = r.json()
    assert (token["Partition"], token["AuthMethod"]) == ("runtime-ecs", "openbao")
    assert token["ServiceIdentities"] == [{"ServiceName": "inventory"}]
    register = {"Name": "inventory", "Partition": "runtime-ecs"}
    ok = cs.http(
        "PUT", "/v1/agent/service/register", token=token["SecretID"], params=in_ecs, json=register
    )
    assert ok.status_code == 200, ok.text

    assert cs.http("DELETE", "/v1/partition/runtime-ecs").status_code == 200
    assert cs.http("GET", "/v1/acl/token/self", token=token["SecretID"]).status_code == 403
    assert cs.http("GET", "/v1/acl/auth-methods", params=in_ecs).json() == []


def test_expiration_leeways(cs: Running, key: Any) -> None:
    """go-sso's times: an ``exp`` is checked with ``ClockSkewLeeway`` only (default 60 s;
    ``-1`` none); a token without ``exp`` expires ``ExpirationLeeway`` (default 150 s) after
    its ``iat``; a token with no time at all is refused. Refusals are the validator's errors,
    which Consul answers with 500."""
    now = int(time.time())
    login = lambda bearer: cs.http(  # noqa: E731
        "POST", "/v1/acl/login", token=None,
        json={"AuthMethod": "openbao", "BearerToken": bearer},
    )  # fmt: skip
    expired = (
        "error validating claims: go-jose/go-jose/jwt: validation failed, token is expired (exp)"
    )
    just_expired = sign(key, claims("inventory", exp=now - 20))
    _setup_login(cs, {"JWTValidationPubKeys": [pem(key)]})
    assert login(just_expired).status_code == 200
    long_expired = login(sign(key, claims("inventory", exp=now - 120)))
    assert (long_expired.status_code, long_expired.text) == (500, expired)
    no_exp = {k: v for k, v in claims("inventory", iat=now - 300).items() if k != "exp"}
    assert login(sign(key, no_exp)).text == expired  # iat + 150 s is long gone
    no_time = {k: v for k, v in no_exp.items() if k != "iat"}
    r = login(sign(key, no_time))
    assert (r.status_code, r.text) == (
        500, "no issue time, notbefore, or expiration time encoded in token"
    )  # fmt: skip
    future = login(sign(key, claims("inventory", nbf=now + 600)))
    assert future.text.endswith("token not valid yet (nbf)")

    strict = {"JWTValidationPubKeys": [pem(key)], "ClockSkewLeeway": -1, "ExpirationLeeway": 600}
    r = cs.http("PUT", "/v1/acl/auth-method/openbao", json=jwt_method(strict))
    assert r.status_code == 200, r.text
    assert login(just_expired).text == expired
    assert login(sign(key, no_exp)).status_code == 200  # iat + 600 s is still ahead


def test_audience_is_checked_strictly(cs: Running, key: Any) -> None:
    """go-sso's ``validateAudience(..., strict=true)`` for ``jwt``: without BoundAudiences a
    token that carries an ``aud`` is refused; with them, one must match."""
    _setup_login(cs, {"JWTValidationPubKeys": [pem(key)], "BoundAudiences": []})
    body = lambda c: {"AuthMethod": "openbao", "BearerToken": sign(key, c)}  # noqa: E731
    r = cs.http("POST", "/v1/acl/login", token=None, json=body(claims("inventory")))
    assert (r.status_code, r.text) == (
        500, "error validating claims: audience claim found in JWT but no audiences are bound"
    )  # fmt: skip
    no_aud = {k: v for k, v in claims("inventory").items() if k != "aud"}
    assert cs.http("POST", "/v1/acl/login", token=None, json=body(no_aud)).status_code == 200


def test_the_key_set_is_kept_and_fetched_again_for_a_rotated_key(
    cs: Running, key: Any, jwks: KeySet
) -> None:
    _setup_login(cs, {"JWKSURL": jwks.url})

    def login(bearer: str) -> Any:
        return cs.http(
            "POST", "/v1/acl/login", token=None,
            json={"AuthMethod": "openbao", "BearerToken": bearer},
        )  # fmt: skip

    for _ in range(3):
        assert login(sign(key, claims("inventory"))).status_code == 200
    assert jwks.fetches == 1, "go-oidc's RemoteKeySet keeps the keys it fetched"
    # The issuer rotates: a new key is published, tokens carry its kid. The kept set does not
    # verify it, so the set is fetched again, once, and the login succeeds.
    rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks.keys = [_jwk(rotated, "k2"), *jwks.keys]
    assert login(sign(rotated, claims("inventory"), kid="k2")).status_code == 200
    assert jwks.fetches == 2
    # A forged token costs one fetch more, then the refusal.
    forged = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    refused = login(sign(forged, claims("inventory"), kid="k2"))
    assert (refused.status_code, refused.text) == (
        500, "error verifying token: failed to verify id token signature"
    )  # fmt: skip
    assert jwks.fetches == 3
