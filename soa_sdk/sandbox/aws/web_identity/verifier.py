"""Check a web identity token as STS does before `AssumeRoleWithWebIdentity` issues keys.

In order, each failure refused with STS's error:
1. the token is a JWT (`InvalidIdentityToken`, "not a valid JWT");
2. its issuer (`iss`) is registered as an IAM OIDC provider in the role's account
   (`InvalidIdentityToken` "No OpenIDConnect provider found in your account for ...");
3. its signature verifies with a key from the issuer's JWKS (`InvalidIdentityToken`
   "Couldn't retrieve verification key ...", or `IDPCommunicationError` if unreachable);
4. it has not expired (`ExpiredTokenException`) and is already valid (`nbf`);
5. its audience is one of the provider's client ids (`InvalidIdentityToken`
   "Incorrect token audience");
6. the role exists and its trust policy allows the provider's principal, the action and
   the `aud`/`sub` conditions (`AccessDenied`, HTTP 403).
The provider's thumbprints are not checked (AWS itself no longer uses them for most
issuers); the sandbox issuer is plain HTTP on loopback, which real AWS would refuse.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from soa_sdk.sandbox.aws import tokens
from soa_sdk.sandbox.aws.web_identity import trust
from soa_sdk.sandbox.aws.web_identity.errors import (
    NOT_A_JWT,
    VERIFICATION_KEY,
    access_denied,
    expired,
    invalid_token,
    no_provider,
)
from soa_sdk.sandbox.aws.web_identity.jwks import JwksCache

PARTITION = "aws"
CLOCK_SKEW = 0  # STS allows no leeway we know of on exp


@dataclass(frozen=True)
class Verified:
    provider_arn: str
    provider_url: str  # HOST/PATH, as condition keys use it
    claims: dict[str, Any]


class WebIdentityVerifier:
    """Verifies tokens against moto's IAM state (providers, roles) and the issuer's JWKS."""

    def __init__(self, jwks: JwksCache | None = None) -> None:
        self.jwks = jwks or JwksCache()

    def verify(self, token: str, role_arn: str, account_id: str) -> Verified:
        try:
            jwt = tokens.parse(token)
        except tokens.TokenError as err:
            raise invalid_token(NOT_A_JWT) from err
        iss = jwt.claims.get("iss")
        if not isinstance(iss, str) or not iss:
            raise invalid_token(NOT_A_JWT)
        iam = _iam(account_id)
        provider = _provider(iam, iss)
        if provider is None:
            raise no_provider(iss)
        alg = str(jwt.header.get("alg", ""))
        if alg not in tokens.SUPPORTED_ALGS:
            raise invalid_token(VERIFICATION_KEY)
        key = self.jwks.key_for(iss, jwt.header.get("kid"), alg)
        try:
            tokens.verify(jwt, key)
        except tokens.TokenError as err:
            raise invalid_token("The signature of the web identity token is not valid") from err
        now = int(time.time())
        exp = jwt.claims.get("exp")
        if not isinstance(exp, int | float) or now >= exp + CLOCK_SKEW:
            raise expired(now, int(exp) if isinstance(exp, int | float) else 0)
        nbf = jwt.claims.get("nbf")
        if isinstance(nbf, int | float) and now < nbf:
            raise invalid_token("The web identity token is not valid yet")
        audiences = _audiences(jwt.claims)
        matched = [a for a in audiences if a in provider.client_id_list]
        if not matched:
            raise invalid_token("Incorrect token audience")
        url = provider.url
        context = {
            f"{url}:aud": matched[:1],
            f"{url}:sub": [str(jwt.claims.get("sub", ""))],
            "aws:FederatedProvider": [provider.arn],
        }
        for claim in ("amr", "azp"):
            if claim in jwt.claims:
                context[f"{url}:{claim}"] = [str(v) for v in _as_list(jwt.claims[claim])]
        try:
            role = iam.get_role_by_arn(arn=role_arn)
        except Exception as err:
            raise access_denied() from err
        if not trust.allows(role.assume_role_policy_document, provider.arn, context):
            raise access_denied()
        return Verified(provider.arn, url, jwt.claims)


def _iam(account_id: str) -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[account_id][PARTITION]


def _provider(iam: Any, issuer: str) -> Any:
    # moto stores the provider URL without its scheme (as the ARN and condition keys use it).
    bare = issuer.split("://", 1)[-1].rstrip("/")
    for provider in list(iam.open_id_providers.values()):
        if provider.url.rstrip("/") == bare:
            return provider
    return None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if aud is None:
        # Some issuers put the client id only in azp.
        aud = claims.get("azp")
    return [str(a) for a in _as_list(aud) if a is not None]
