"""The ``jwt`` auth method's validator, as Consul's ``internal/go-sso/oidcauth/jwt.go`` does it.

A bearer token is checked, in go-sso's order and with its error texts (Consul's login passes
them through as a 500, ``agent/consul/acl_endpoint.go``):

- the signature: against ``JWTValidationPubKeys`` (PEM; ``error parsing token: ...``, ``no
  known key successfully validated the token signature``) or against the key set at
  ``JWKSURL``, fetched over HTTP(S) (``JWKSCACert`` trusted) and matched by ``kid`` as go-oidc's
  ``RemoteKeySet`` does (``error verifying token: failed to verify id token signature``): the
  key set is kept per URL and fetched again only when no kept key verifies the token (a key
  rotated in, or a forged token: one fetch, then the refusal);
- the times: a token needs ``iat``, ``nbf`` or ``exp``; a missing ``exp`` is ``max(iat, nbf)``
  plus ``ExpirationLeeway`` (default 150 s), a missing ``nbf`` is ``iat`` or ``exp`` minus
  ``NotBeforeLeeway``; then go-jose's checks with ``ClockSkewLeeway`` (default 60 s; ``-1``
  disables any leeway): ``nbf``, ``exp``, ``iat`` not in the future;
- ``iss`` equals ``BoundIssuer`` (when set); ``aud`` strictly: with ``BoundAudiences`` one of
  them must be in ``aud``, without, a token carrying an ``aud`` is refused.

Not implemented: ``OIDCDiscoveryURL`` (refused when the method is written), signing algorithms
other than RS256/384/512 and ES256/384 (PS*, ES512 and EdDSA tokens verify against no key),
``JWTSupportedAlgs`` (kept; Consul does not enforce it for ``jwt`` either).
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
import urllib.request
from typing import Any

from .exceptions import RPCError

_KEY_SETS: dict[tuple[str, str], list[tuple[str, Any]]] = {}
"""The key sets fetched so far, by (``JWKSURL``, ``JWKSCACert``), as go-oidc's RemoteKeySet."""
_KEY_SETS_LOCK = threading.Lock()

#: go-sso's ``claimDefaultLeeway`` (ExpirationLeeway, NotBeforeLeeway) and go-jose's
#: ``jwt.DefaultLeeway`` (ClockSkewLeeway), in seconds
DEFAULT_LEEWAY = 150
DEFAULT_CLOCK_SKEW = 60
_JOSE = "go-jose/go-jose"


class JWTError(RPCError):
    """An invalid bearer token: the validator's error, which Consul passes through (500)."""


def b64url(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def _split(token: str) -> tuple[str, str, dict[str, Any], dict[str, Any], bytes]:
    try:
        head_b64, body_b64, sig_b64 = token.split(".")
        header = json.loads(b64url(head_b64))
        claims = json.loads(b64url(body_b64))
        signature = b64url(sig_b64)
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise ValueError("not a JSON object")
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{_JOSE}: compact JWS format must have three parts") from exc
    return head_b64, body_b64, header, claims, signature


def _jwks_keys(config: dict[str, Any]) -> list[tuple[str, Any]]:
    """(kid, public key) of each RSA or EC P-256/P-384 key at ``JWKSURL``."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    url = config["JWKSURL"]
    ctx = (
        ssl.create_default_context(cadata=config["JWKSCACert"])
        if config.get("JWKSCACert")
        else None
    )
    try:
        with urllib.request.urlopen(url, timeout=10, context=ctx) as reply:
            jwks = json.load(reply)
    except (OSError, ValueError) as exc:
        raise JWTError(f"error verifying token: fetching keys oidc: get keys failed {exc}") from exc
    keys: list[tuple[str, Any]] = []
    for k in jwks.get("keys", []) if isinstance(jwks, dict) else []:
        try:
            if k.get("kty") == "RSA":
                e, n = (int.from_bytes(b64url(k[p]), "big") for p in ("e", "n"))
                keys.append((k.get("kid", ""), rsa.RSAPublicNumbers(e, n).public_key()))
            elif k.get("kty") == "EC" and k.get("crv") in ("P-256", "P-384"):
                curve = ec.SECP256R1() if k["crv"] == "P-256" else ec.SECP384R1()
                x, y = (int.from_bytes(b64url(k[p]), "big") for p in ("x", "y"))
                keys.append(
                    (k.get("kid", ""), ec.EllipticCurvePublicNumbers(x, y, curve).public_key())
                )
        except (KeyError, TypeError, ValueError):
            continue  # go-jose skips what it cannot use, and so the key verifies nothing
    return keys


def _verifies(key: Any, alg: str, signing_input: bytes, signature: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    digest = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}.get(alg[2:])
    if digest is None:
        return False
    try:
        if alg.startswith("RS") and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signing_input, padding.PKCS1v15(), digest())
        elif alg.startswith("ES") and isinstance(key, ec.EllipticCurvePublicKey):
            half = len(signature) // 2
            r, s = (int.from_bytes(part, "big") for part in (signature[:half], signature[half:]))
            key.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(digest()))
        else:
            return False
    except InvalidSignature:
        return False
    return True


def verify_signature(token: str, config: dict[str, Any]) -> dict[str, Any]:
    """The token's claims once its signature verifies against the method's keys."""
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    jwks = bool(config.get("JWKSURL"))
    try:
        head_b64, body_b64, header, claims, signature = _split(token)
    except ValueError as exc:
        where = "error verifying token: oidc: malformed jwt" if jwks else "error parsing token"
        raise JWTError(f"{where}: {exc}") from exc
    signing_input = f"{head_b64}.{body_b64}".encode()
    alg, kid = str(header.get("alg", "")), str(header.get("kid") or "")
    if jwks:
        where = (str(config["JWKSURL"]), str(config.get("JWKSCACert") or ""))
        with _KEY_SETS_LOCK:
            kept = _KEY_SETS.get(where)
        # The kept keys first; a fetch when none is kept or none of them verifies.
        for fetch in (False, True) if kept is not None else (True,):
            if fetch:
                kept = _jwks_keys(config)
                with _KEY_SETS_LOCK:
                    _KEY_SETS[where] = kept
            keys = [key for key_id, key in kept or [] if not kid or key_id == kid]
            if any(_verifies(key, alg, signing_input, signature) for key in keys):
                return claims
        raise JWTError("error verifying token: failed to verify id token signature")
    keys = [load_pem_public_key(pem.encode()) for pem in config.get("JWTValidationPubKeys") or []]
    if any(_verifies(key, alg, signing_input, signature) for key in keys):
        return claims
    raise JWTError("no known key successfully validated the token signature")


def _leeway(config: dict[str, Any], name: str, default: int) -> int:
    """A leeway in seconds as go-sso reads it: 0 (or unset) is the default, below 0 none."""
    value = int(config.get(name) or 0)
    return default if value == 0 else max(value, 0)


def _date(claims: dict[str, Any], name: str) -> float:
    value = claims.get(name)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def check_claims(claims: dict[str, Any], config: dict[str, Any], now: float) -> None:
    """go-sso's checks of the times, the issuer and the audience (:class:`JWTError`)."""
    iat, exp, nbf = (_date(claims, n) for n in ("iat", "exp", "nbf"))
    if not (iat or exp or nbf):
        raise JWTError("no issue time, notbefore, or expiration time encoded in token")
    if not exp:
        exp = max(iat, nbf) + _leeway(config, "ExpirationLeeway", DEFAULT_LEEWAY)
    if not nbf:
        nbf = iat or exp - _leeway(config, "NotBeforeLeeway", DEFAULT_LEEWAY)
    skew = _leeway(config, "ClockSkewLeeway", DEFAULT_CLOCK_SKEW)
    invalid = f"error validating claims: {_JOSE}/jwt: validation failed,"
    if config.get("BoundIssuer") and claims.get("iss") != config["BoundIssuer"]:
        raise JWTError(f"{invalid} invalid issuer claim (iss)")
    if now + skew < nbf:
        raise JWTError(f"{invalid} token not valid yet (nbf)")
    if now - skew > exp:
        raise JWTError(f"{invalid} token is expired (exp)")
    if iat and now + skew < iat:
        raise JWTError(f"{invalid} token issued in the future (iat)")
    aud = claims.get("aud")
    auds = [str(a) for a in aud] if isinstance(aud, list) else ([str(aud)] if aud else [])
    bound = config.get("BoundAudiences") or []
    if not bound and auds:
        raise JWTError(
            "error validating claims: audience claim found in JWT but no audiences are bound"
        )
    if bound and not set(auds) & set(bound):
        raise JWTError("error validating claims: aud claim does not match any bound audience")


def validate_jwt(token: str, config: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """The claims of a bearer token the ``jwt`` method ``config`` accepts; :class:`JWTError`
    with go-sso's text otherwise."""
    claims = verify_signature(token, config)
    check_claims(claims, config, time.time() if now is None else now)
    return claims


__all__ = ["DEFAULT_LEEWAY", "JWTError", "b64url", "validate_jwt"]
