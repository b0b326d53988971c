"""No static AWS keys: Vault identity tokens exchanged through STS ``AssumeRoleWithWebIdentity``.

OpenBao has no AWS secrets engine; the talk's pattern works without one. Vault signs an OIDC
identity token for a workload's entity; each AWS account trusts Vault as an OIDC provider;
STS swaps the token for short-lived credentials of one role. Nothing long-lived is stored.

Vault side (https://openbao.org/api-docs/secret/identity/tokens/, same as Vault's):

- ``POST /identity/oidc/config`` sets ``issuer``; tokens then carry
  ``iss = <issuer>/v1/identity/oidc``, discovery is at ``<iss>/.well-known/openid-configuration``
  and the public keys at ``<iss>/.well-known/keys`` (checked against a running ``bao``);
- ``POST /identity/oidc/key/:name`` a signing key (RS256, rotation, verification TTL, which
  audiences may use it);
- ``POST /identity/oidc/role/:name`` a role: key, ``client_id`` (the token's ``aud``), ``ttl``;
- ``GET /identity/oidc/token/:name`` mints a token for the *calling* token's entity, whose id is
  the ``sub`` claim (a root token has no entity and is refused). Workloads log in with AppRole;
  we pre-create their entity and its alias so that ``sub`` is known before the first login.

AWS side: ``iam:CreateOpenIDConnectProvider`` in each member account, a role whose trust policy
names that provider with ``StringEquals`` on ``<issuer>:aud`` and ``<issuer>:sub``, then
``sts:AssumeRoleWithWebIdentity`` (an unsigned call: no AWS credentials are needed for it).

Not implemented: claim templates beyond what is passed through, key rotation schedules other
than Vault's, OIDC provider (``identity/oidc/provider``) flows, Vault Enterprise namespaces.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import boto3
import hvac
import hvac.exceptions

from soa_sdk import validate
from soa_sdk.awsclient import new_session
from soa_sdk.vault import ttl as _ttl
from soa_sdk.vault.errors import AwsExchangeError, InvalidSettingError, vault_errors

DEFAULT_MOUNT_POINT = "identity"
DEFAULT_APPROLE_MOUNT = "approle"
#: The audience AWS documents for web-identity federation into STS.
DEFAULT_AUDIENCE = "sts.amazonaws.com"
#: ``DurationSeconds`` bounds of ``AssumeRoleWithWebIdentity`` (botocore's STS model).
STS_MIN_DURATION = 900
STS_MAX_DURATION = 43200
ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "EdDSA")

_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}")
_ROLE_ARN = re.compile(r"arn:aws[\w-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
_THUMBPRINT = re.compile(r"[0-9A-Fa-f]{40}")


def _check_name(value: str, what: str) -> str:
    if not validate.VAULT_NAME.matches(value):
        raise InvalidSettingError(f"{what} {value!r}: {validate.VAULT_NAME.rule}")
    return value


def _check_audience(audience: str) -> str:
    if not isinstance(audience, str) or not 1 <= len(audience) <= 255:
        raise InvalidSettingError(f"audience {audience!r} must be 1-255 characters")
    return audience


def _check_url(url: str, what: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise InvalidSettingError(f"{what} {url!r} must be an http(s) URL without query")
    return url.rstrip("/")


def token_issuer(vault_issuer: str) -> str:
    """The ``iss`` of tokens Vault signs when ``identity/oidc/config`` has ``issuer``."""
    return f"{_check_url(vault_issuer, 'issuer')}/v1/identity/oidc"


def issuer_host_path(issuer_url: str) -> str:
    """``iss`` without its scheme: how IAM names the provider and its condition keys."""
    parts = urlsplit(_check_url(issuer_url, "issuer"))
    return f"{parts.netloc}{parts.path}"


def _b64url(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a compact JWT, *not* verified (see :func:`verify_token`)."""
    try:
        header, payload, _sig = token.split(".")
        return json.loads(_b64url(header)), json.loads(_b64url(payload))
    except (ValueError, json.JSONDecodeError) as exc:
        raise InvalidSettingError("not a compact JWT (header.payload.signature)") from exc


@dataclass(frozen=True)
class IdentityToken:
    """A signed identity token and its claims. ``repr`` shows the claims, never the token."""

    token: str = field(repr=False)
    role: str = ""
    claims: dict[str, Any] = field(default_factory=dict)

    @property
    def issuer(self) -> str:
        return str(self.claims.get("iss", ""))

    @property
    def audience(self) -> str:
        aud = self.claims.get("aud", "")
        return aud[0] if isinstance(aud, list) and len(aud) == 1 else str(aud)

    @property
    def subject(self) -> str:
        return str(self.claims.get("sub", ""))

    @property
    def expires_at(self) -> int:
        return int(self.claims.get("exp", 0))


@dataclass(frozen=True)
class Workload:
    """A workload's Vault identity: its entity (the token's ``sub``) and its AppRole.

    ``role_id`` identifies the AppRole like a user name; the secret half (``secret_id``) is
    generated per login and never kept here.
    """

    name: str
    entity_id: str
    role_id: str
    oidc_roles: tuple[str, ...]
    policy: str
    approle_mount: str = DEFAULT_APPROLE_MOUNT


class WorkloadIdentity:
    """Vault's identity token backend (``identity/oidc/*``) plus AppRole logins for workloads."""

    def __init__(
        self,
        client: hvac.Client,
        mount_point: str = DEFAULT_MOUNT_POINT,
        approle_mount: str = DEFAULT_APPROLE_MOUNT,
    ) -> None:
        self.client = client
        self.mount_point = mount_point.strip("/")
        self.approle_mount = approle_mount.strip("/")

    def configure_issuer(self, issuer: str) -> str:
        """Set the issuer (the Vault address AWS can reach). Returns the tokens' ``iss``.

        Supported methods: POST /identity/oidc/config (200/204).
        """
        issuer = _check_url(issuer, "issuer")
        with vault_errors("configure the identity token issuer"):
            self.client.secrets.identity.configure_tokens_backend(issuer, self.mount_point)
        return token_issuer(issuer)

    def discovery(self) -> dict[str, Any]:
        """Supported methods: GET /identity/oidc/.well-known/openid-configuration (200)."""
        with vault_errors("read the OIDC discovery document"):
            return self.client.secrets.identity.read_well_known_configurations(self.mount_point)

    def jwks(self) -> dict[str, Any]:
        """Supported methods: GET /identity/oidc/.well-known/keys (200). Public keys only."""
        with vault_errors("read the identity token signing keys"):
            return self.client.secrets.identity.read_active_public_keys(self.mount_point)

    def create_key(
        self,
        name: str,
        *,
        allowed_client_ids: list[str],
        rotation_period: _ttl.Duration = "24h",
        verification_ttl: _ttl.Duration = "24h",
        algorithm: str = "RS256",
    ) -> None:
        """Create or update a named signing key.

        Supported methods: POST /identity/oidc/key/:name (204). ``verification_ttl`` keeps a
        rotated key's public half published, so tokens signed just before a rotation verify.
        """
        _check_name(name, "key name")
        if algorithm not in ALGORITHMS:
            raise InvalidSettingError(f"algorithm {algorithm!r} is not one of {ALGORITHMS}")
        if not allowed_client_ids:
            raise InvalidSettingError("a key needs at least one allowed client id (audience)")
        rotation = _ttl.check_range(
            rotation_period, "rotation_period", 60, _ttl.VAULT_SYSTEM_MAX_TTL
        )
        verify = _ttl.check_range(
            verification_ttl, "verification_ttl", 60, _ttl.VAULT_SYSTEM_MAX_TTL
        )
        ids = [a if a == "*" else _check_audience(a) for a in allowed_client_ids]
        with vault_errors(f"create the identity token key {name!r}"):
            self.client.secrets.identity.create_named_key(
                name,
                rotation_period=f"{rotation}s",
                verification_ttl=f"{verify}s",
                allowed_client_ids=ids,
                algorithm=algorithm,
                mount_point=self.mount_point,
            )

    def create_role(
        self,
        name: str,
        *,
        key: str,
        audience: str = DEFAULT_AUDIENCE,
        ttl: _ttl.Duration = "15m",
        template: dict[str, Any] | str | None = None,
    ) -> str:
        """Create or update a token role; ``audience`` becomes the ``aud`` claim. Returns it.

        Supported methods: POST /identity/oidc/role/:name (204). ``template`` adds claims (e.g.
        ``{"account": "runtime-ecs"}``), or Vault's template text when it has placeholders
        (``{"service": {{identity.entity.metadata.service}}}``, not JSON until Vault renders
        it); Vault refuses templates that override reserved claims
        such as ``sub`` or ``aud``, and a ``ttl`` longer than the key's ``verification_ttl``
        (both 400, checked against OpenBao 2.7).
        """
        _check_name(name, "role name")
        _check_name(key, "key name")
        _check_audience(audience)
        seconds = _ttl.check_range(ttl, "token ttl", 1, _ttl.VAULT_SYSTEM_MAX_TTL)
        body = template if isinstance(template, str) else json.dumps(template) if template else None
        with vault_errors(f"create the identity token role {name!r}"):
            self.client.secrets.identity.create_or_update_role(
                name,
                key=key,
                template=body,
                client_id=audience,
                ttl=f"{seconds}s",
                mount_point=self.mount_point,
            )
        return audience

    def create_workload(
        self,
        name: str,
        oidc_roles: str | Sequence[str],
        token_ttl: _ttl.Duration = "15m",
        metadata: dict[str, str] | None = None,
    ) -> Workload:
        """Give workload ``name`` an entity and an AppRole allowed to mint ``oidc_roles`` tokens.

        The entity's metadata is ``{"workload": name}`` and ``metadata``; a role's template
        reads it into the token (``{{identity.entity.metadata.<key>}}``).

        Idempotent; run again with other roles, it replaces the workload's policy. Calls:
        GET/POST /sys/auth/:approle_mount, PUT /sys/policies/acl/:name, POST
        /auth/:approle_mount/role/:name, GET .../role-id, POST /identity/entity/name/:name,
        POST /identity/lookup/entity and POST /identity/entity-alias. AppRole names its alias
        after the role id, so the alias we create binds every login to the same entity.
        """
        _check_name(name, "workload name")
        roles = (oidc_roles,) if isinstance(oidc_roles, str) else tuple(oidc_roles)
        if not roles:
            raise InvalidSettingError(f"workload {name!r} needs at least one token role")
        for role in roles:
            _check_name(role, "role name")
        ttl_s = _ttl.check_range(token_ttl, "workload token ttl", 60, _ttl.VAULT_SYSTEM_MAX_TTL)
        policy = f"workload-{name}"
        hcl = "".join(
            f'path "{self.mount_point}/oidc/token/{role}" {{\n  capabilities = ["read"]\n}}\n'
            for role in roles
        )
        with vault_errors(f"set up the Vault identity of workload {name!r}"):
            accessor = self._approle_accessor()
            self.client.sys.create_or_update_acl_policy(policy, hcl)
            self.client.auth.approle.create_or_update_approle(
                name,
                token_policies=[policy],
                token_ttl=f"{ttl_s}s",
                token_max_ttl=f"{ttl_s}s",
                secret_id_num_uses=1,
                secret_id_ttl="10m",
                mount_point=self.approle_mount,
            )
            read = self.client.auth.approle.read_role_id(name, self.approle_mount)
            role_id = read["data"]["role_id"]
            entity_id = self._entity_id(f"workload-{name}", {**(metadata or {}), "workload": name})
            self._ensure_alias(role_id, accessor, entity_id)
        return Workload(name, entity_id, role_id, roles, policy, self.approle_mount)

    def _approle_accessor(self) -> str:
        auths = self.client.sys.list_auth_methods()
        auths = auths.get("data", auths)
        mount = auths.get(f"{self.approle_mount}/")
        if mount is None:
            self.client.sys.enable_auth_method("approle", path=self.approle_mount)
            auths = self.client.sys.list_auth_methods()
            mount = auths.get("data", auths)[f"{self.approle_mount}/"]
        elif mount.get("type") != "approle":
            raise InvalidSettingError(f"auth/{self.approle_mount}/ is a {mount.get('type')} mount")
        return mount["accessor"]

    def _entity_id(self, name: str, metadata: dict[str, str]) -> str:
        response = self.client.secrets.identity.create_or_update_entity_by_name(
            name, metadata=metadata, mount_point=self.mount_point
        )
        # Vault answers 200 with the new entity's id, or 204 when it updated an existing one.
        if isinstance(response, dict) and response.get("data"):
            return response["data"]["id"]
        return self.client.secrets.identity.read_entity_by_name(name, self.mount_point)["data"][
            "id"
        ]

    def _ensure_alias(self, alias_name: str, accessor: str, entity_id: str) -> None:
        found = self.client.secrets.identity.lookup_entity(
            alias_name=alias_name, alias_mount_accessor=accessor, mount_point=self.mount_point
        )
        if isinstance(found, dict) and found.get("data"):
            if found["data"]["id"] == entity_id:
                return
            raise InvalidSettingError(f"AppRole {alias_name!r} already belongs to another entity")
        self.client.secrets.identity.create_or_update_entity_alias(
            alias_name, entity_id, accessor, mount_point=self.mount_point
        )

    def login(self, workload: Workload) -> hvac.Client:
        """Log ``workload`` in with a fresh single-use ``secret_id``; returns its own client.

        Supported methods: POST /auth/:mount/role/:name/secret-id (200), POST
        /auth/:mount/login (200). In production the secret id reaches the workload through a
        trusted orchestrator (response wrapping); here the lab plays that part.
        """
        with vault_errors(f"log workload {workload.name!r} in with AppRole"):
            secret = self.client.auth.approle.generate_secret_id(
                workload.name, mount_point=workload.approle_mount
            )["data"]["secret_id"]
            client = hvac.Client(url=self.client.url, verify=self.client.session.verify, timeout=30)
            client.auth.approle.login(
                workload.role_id, secret, use_token=True, mount_point=workload.approle_mount
            )
        return client

    def mint_token(self, role: str, client: hvac.Client | None = None) -> IdentityToken:
        """Mint an identity token of ``role`` for the entity behind ``client``'s token.

        Supported methods: GET /identity/oidc/token/:name (200).
        """
        _check_name(role, "role name")
        with vault_errors(f"mint an identity token for role {role!r}"):
            response = (client or self.client).secrets.identity.generate_signed_id_token(
                role, self.mount_point
            )
        token = response["data"]["token"]
        return IdentityToken(token=token, role=role, claims=jwt_parts(token)[1])


# --- verification, as AWS STS does it ------------------------------------------------------


def verify_token(
    token: str,
    jwks: dict[str, Any],
    *,
    issuer: str,
    audience: str,
    now: float | None = None,
    leeway: int = 0,
) -> dict[str, Any]:
    """Check a token's RS256 signature against ``jwks``, then ``iss``, ``aud`` and ``exp``.

    Returns the claims. Raises :class:`InvalidSettingError` naming the first check that failed.
    Only RSA keys (Vault's default RS256) are supported here.
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    header, claims = jwt_parts(token)
    hashes_by_alg = {"RS256": hashes.SHA256, "RS384": hashes.SHA384, "RS512": hashes.SHA512}
    if header.get("alg") not in hashes_by_alg:
        raise InvalidSettingError(f"unsupported token algorithm {header.get('alg')!r}")
    key = next((k for k in jwks.get("keys", []) if k.get("kid") == header.get("kid")), None)
    if key is None or key.get("kty") != "RSA":
        raise InvalidSettingError("no published RSA key matches the token's key id")
    public = rsa.RSAPublicNumbers(
        int.from_bytes(_b64url(key["e"]), "big"), int.from_bytes(_b64url(key["n"]), "big")
    ).public_key()
    signing_input, _, signature = token.rpartition(".")
    try:
        public.verify(
            _b64url(signature),
            signing_input.encode(),
            padding.PKCS1v15(),
            hashes_by_alg[header["alg"]](),
        )
    except InvalidSignature as exc:
        raise InvalidSettingError("the token's signature does not verify") from exc
    if claims.get("iss") != issuer:
        raise InvalidSettingError(f"issuer {claims.get('iss')!r} is not {issuer!r}")
    aud = claims.get("aud")
    if audience not in (aud if isinstance(aud, list) else [aud]):
        raise InvalidSettingError(f"audience {aud!r} is not {audience!r}")
    if int(claims.get("exp", 0)) + leeway < (time.time() if now is None else now):
        raise InvalidSettingError("the token has expired")
    return claims


# --- AWS side ------------------------------------------------------------------------------


def register_in_aws(
    iam_client: Any,
    issuer_url: str,
    audience: str = DEFAULT_AUDIENCE,
    thumbprints: list[str] | None = None,
) -> str:
    """Make an account trust Vault as an OIDC provider. Idempotent; returns the provider ARN.

    ``issuer_url`` is the tokens' ``iss`` (see :func:`token_issuer`). IAM's
    ``CreateOpenIDConnectProvider`` takes ``ThumbprintList`` as optional: without it AWS
    fetches the issuer's TLS chain itself, so we send thumbprints only when given (SHA-1 hex
    of the top intermediate CA, at most 5). When the provider exists we add ``audience`` to its
    client ids if it is missing, and change nothing else.
    """
    host_path = issuer_host_path(issuer_url)
    _check_audience(audience)
    if thumbprints is not None and (
        len(thumbprints) > 5 or not all(_THUMBPRINT.fullmatch(str(t)) for t in thumbprints)
    ):
        raise InvalidSettingError("thumbprints must be at most 5 SHA-1 hex digests (40 chars)")
    with vault_errors(f"register the Vault OIDC issuer {host_path} in IAM"):
        for provider in iam_client.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
            arn = provider["Arn"]
            if arn.split(":oidc-provider/", 1)[-1] == host_path:
                current = iam_client.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
                if audience not in current.get("ClientIDList", []):
                    iam_client.add_client_id_to_open_id_connect_provider(
                        OpenIDConnectProviderArn=arn, ClientID=audience
                    )
                return arn
        kwargs: dict[str, Any] = {"Url": issuer_url.rstrip("/"), "ClientIDList": [audience]}
        if thumbprints is not None:
            kwargs["ThumbprintList"] = thumbprints
        return iam_client.create_open_id_connect_provider(**kwargs)["OpenIDConnectProviderArn"]


def trust_policy(
    provider_arn: str, issuer_host_path: str, audience: str, subject: str
) -> dict[str, Any]:
    """A role trust policy letting only ``subject`` tokens for ``audience`` assume the role."""
    _check_audience(audience)
    if not subject:
        raise InvalidSettingError("the trust policy needs the subject (the workload entity id)")
    if ":oidc-provider/" not in provider_arn:
        raise InvalidSettingError(f"{provider_arn!r} is not an IAM OIDC provider ARN")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{issuer_host_path}:aud": audience,
                        f"{issuer_host_path}:sub": subject,
                    }
                },
            }
        ],
    }


def assume_role_with_web_identity(
    sts_client: Any,
    role_arn: str,
    token: str | IdentityToken,
    session_name: str,
    duration: int = STS_MIN_DURATION,
    region_name: str | None = None,
) -> boto3.Session:
    """Swap an identity token for a ``boto3.Session`` with the role's short-lived credentials.

    ``sts:AssumeRoleWithWebIdentity`` is unsigned; AWS checks the token against the provider
    registered in the role's account and the trust policy. Nothing is written to disk.
    """
    if not isinstance(role_arn, str) or not _ROLE_ARN.fullmatch(role_arn):
        raise InvalidSettingError(f"{role_arn!r} is not an IAM role ARN")
    if not isinstance(session_name, str) or not _SESSION_NAME.fullmatch(session_name):
        raise InvalidSettingError(f"session name {session_name!r} must be 2-64 of [\\w+=,.@-]")
    seconds = _ttl.check_range(duration, "session duration", STS_MIN_DURATION, STS_MAX_DURATION)
    raw = token.token if isinstance(token, IdentityToken) else token
    with vault_errors(f"assume {role_arn} with a Vault identity token"):
        response = sts_client.assume_role_with_web_identity(
            RoleArn=role_arn,
            RoleSessionName=session_name,
            WebIdentityToken=raw,
            DurationSeconds=seconds,
        )
    creds = response.get("Credentials")
    if not creds:
        raise AwsExchangeError("STS returned no credentials", action=f"assume {role_arn}")
    return new_session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=region_name or sts_client.meta.region_name,
    )
