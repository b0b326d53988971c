"""JSON Web Tokens: split, decode and verify (RS256/384/512, PS256/384/512, ES256/384/512).

Verification uses the `cryptography` package (a moto dependency) with keys from a JWKS
document (RFC 7517). No other algorithms are accepted (`none`, HMAC and EdDSA are refused).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}
_CURVES: dict[str, ec.EllipticCurve] = {
    "P-256": ec.SECP256R1(),
    "P-384": ec.SECP384R1(),
    "P-521": ec.SECP521R1(),
}
SUPPORTED_ALGS = {f"{f}{n}" for f in ("RS", "PS", "ES") for n in _HASHES}


class TokenError(Exception):
    """The token is not a well-formed JWT, or its signature does not verify."""


@dataclass(frozen=True)
class Jwt:
    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


def b64url(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def parse(token: str) -> Jwt:
    """Split and decode a compact JWS; raises TokenError if it is not one."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise TokenError("not a JWT")
    try:
        header = json.loads(b64url(parts[0]))
        claims = json.loads(b64url(parts[1]))
        signature = b64url(parts[2])
    except (ValueError, UnicodeDecodeError) as err:
        raise TokenError("not a JWT") from err
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise TokenError("not a JWT")
    return Jwt(header, claims, f"{parts[0]}.{parts[1]}".encode(), signature)


def unverified_claims(token: str) -> dict[str, Any]:
    """The claims of a token, without checking anything (for logging who tried)."""
    try:
        return parse(token).claims
    except TokenError:
        return {}


def verify(jwt: Jwt, jwk: dict[str, Any]) -> None:
    """Verify the signature of `jwt` with one JWK; raises TokenError if it does not verify."""
    alg = str(jwt.header.get("alg", ""))
    if alg not in SUPPORTED_ALGS:
        raise TokenError(f"unsupported algorithm {alg!r}")
    digest = _HASHES[alg[2:]]()
    try:
        if alg[:2] in ("RS", "PS") and jwk.get("kty") == "RSA":
            key = rsa.RSAPublicNumbers(
                int.from_bytes(b64url(jwk["e"]), "big"), int.from_bytes(b64url(jwk["n"]), "big")
            ).public_key()
            pad = (
                padding.PKCS1v15()
                if alg[:2] == "RS"
                else padding.PSS(padding.MGF1(digest), padding.PSS.DIGEST_LENGTH)
            )
            key.verify(jwt.signature, jwt.signing_input, pad, digest)
        elif alg[:2] == "ES" and jwk.get("kty") == "EC":
            curve = _CURVES[jwk["crv"]]
            key = ec.EllipticCurvePublicNumbers(
                int.from_bytes(b64url(jwk["x"]), "big"),
                int.from_bytes(b64url(jwk["y"]), "big"),
                curve,
            ).public_key()
            half = len(jwt.signature) // 2
            der = encode_dss_signature(
                int.from_bytes(jwt.signature[:half], "big"),
                int.from_bytes(jwt.signature[half:], "big"),
            )
            key.verify(der, jwt.signing_input, ec.ECDSA(digest))
        else:
            raise TokenError("key type does not match the algorithm")
    except InvalidSignature as err:
        raise TokenError("signature does not verify") from err
    except (KeyError, ValueError, TypeError) as err:
        raise TokenError("unusable key") from err
