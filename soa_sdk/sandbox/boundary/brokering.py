"""Credential brokering: what Boundary's controller asks Vault (here OpenBao) for.

Boundary's ``vault-generic`` credential library sends ``http_method`` (GET or POST, with
``http_request_body``) to ``<store address>/v1/<path>`` with the store's token and returns the
secret's ``data`` to the client (``SessionSecret.decoded``; ``raw`` is its base64 JSON). When the
session ends Boundary revokes the lease. We do the same over plain HTTP with ``requests``.

Not implemented: TLS client certificates, token renewal, worker-side Vault access.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import requests

_TIMEOUT = 10


class VaultError(RuntimeError):
    """Vault refused or could not be reached; the message never carries the token."""


@dataclass(frozen=True)
class VaultSecret:
    data: dict[str, Any]
    lease_id: str
    lease_duration: int

    @property
    def raw(self) -> str:
        return base64.b64encode(json.dumps(self.data).encode()).decode()


def _headers(token: str, namespace: str) -> dict[str, str]:
    headers = {"X-Vault-Token": token}
    if namespace:
        headers["X-Vault-Namespace"] = namespace
    return headers


def _call(method: str, url: str, token: str, namespace: str, body: str | None, verify: bool):
    try:
        resp = requests.request(
            method,
            url,
            headers=_headers(token, namespace),
            data=body,
            timeout=_TIMEOUT,
            verify=verify,
        )
    except requests.RequestException as err:
        raise VaultError(f"vault unreachable: {type(err).__name__}") from None
    if resp.status_code >= 400:
        try:
            errors = resp.json().get("errors", [])
        except ValueError:
            errors = [resp.text[:200]]
        raise VaultError(f"vault answered {resp.status_code}: {'; '.join(map(str, errors))}")
    return resp


def lookup_self(address: str, token: str, namespace: str = "", verify: bool = True) -> dict:
    """GET /v1/auth/token/lookup-self: Boundary checks the store's token this way on create."""
    resp = _call("GET", f"{address}/v1/auth/token/lookup-self", token, namespace, None, verify)
    return resp.json().get("data", {})


def issue(
    address: str,
    token: str,
    path: str,
    *,
    namespace: str = "",
    http_method: str = "GET",
    http_request_body: str = "",
    verify: bool = True,
) -> VaultSecret:
    """Read (or POST to) ``path`` and return its secret, e.g. ``database/creds/ROLE``."""
    url = f"{address}/v1/{path.lstrip('/')}"
    resp = _call(http_method, url, token, namespace, http_request_body or None, verify)
    payload = resp.json() if resp.content else {}
    return VaultSecret(
        data=payload.get("data") or {},
        lease_id=payload.get("lease_id", ""),
        lease_duration=int(payload.get("lease_duration", 0)),
    )


def revoke(address: str, token: str, lease_id: str, namespace: str = "", verify: bool = True):
    """PUT /v1/sys/leases/revoke, as Boundary does when the session that used it ends."""
    body = json.dumps({"lease_id": lease_id})
    _call("PUT", f"{address}/v1/sys/leases/revoke", token, namespace, body, verify)
