"""Hide secrets in recorded parameters, as CloudTrail does.

CloudTrail replaces sensitive request parameters (passwords, secret strings, private keys,
tokens, credentials) with `HIDDEN_DUE_TO_SECURITY_REASONS`. In `responseElements` it keeps
the shape of `credentials` (the access key id and expiry stay visible, which is how one
follows an `AssumeRole` to the calls made with its keys) but hides the secret parts.
"""

from __future__ import annotations

from typing import Any

HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"

# Parameter names that look secret but are not (paging and idempotency tokens).
_NOT_SECRET = {
    "nexttoken",
    "clientrequesttoken",
    "continuationtoken",
    "paginationtoken",
    "idempotencytoken",
    "starttoken",
    "marker",
    "secretid",
    "secretarn",
    "secretname",
    "tokencount",
}
_SECRET_PARTS = (
    "password",
    "passwd",
    "passphrase",
    "secretstring",
    "secretbinary",
    "secretaccesskey",
    "secretkey",
    "privatekey",
    "private_key",
    "sessiontoken",
    "samlassertion",
)
_SECRET_SUFFIXES = ("secret", "token", "credentials", "credential")
_MAX_STRING = 2048  # bound the memory an event can take (e.g. inline zip files)


def is_secret(key: str) -> bool:
    """Whether a parameter name carries a secret."""
    k = key.lower()
    if k in _NOT_SECRET:
        return False
    return any(p in k for p in _SECRET_PARTS) or k.endswith(_SECRET_SUFFIXES)


def redact(value: Any, keep_credentials_shape: bool = False) -> Any:
    """A copy of `value` with secret-named entries hidden and long strings cut."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            key = str(k)
            if keep_credentials_shape and key.lower() == "credentials" and isinstance(v, dict):
                out[key] = redact(v, keep_credentials_shape)
            elif is_secret(key) and key.lower() != "accesskeyid":
                out[key] = HIDDEN
            else:
                out[key] = redact(v, keep_credentials_shape)
        return out
    if isinstance(value, list):
        return [redact(v, keep_credentials_shape) for v in value]
    if isinstance(value, str) and len(value) > _MAX_STRING:
        return value[:_MAX_STRING] + "...(truncated)"
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value
