"""Fetch an OpenID Connect issuer's signing keys: discovery document, then JWKS.

`<issuer>/.well-known/openid-configuration` names `jwks_uri`; the JWKS lists the public keys.
Both are cached for `ttl` seconds per issuer; an unknown `kid` forces one refetch (keys
rotate), at most once per `refetch_after` seconds. Only issuers registered as IAM OIDC
providers are ever fetched (the caller checks that first).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from soa_sdk.sandbox.aws.web_identity.errors import VERIFICATION_KEY, idp_unreachable, invalid_token

TIMEOUT = 5.0


@dataclass
class _Entry:
    keys: list[dict[str, Any]]
    fetched: float


class JwksCache:
    """Issuer -> JWKS keys, cached briefly."""

    def __init__(self, ttl: float = 60.0, refetch_after: float = 2.0) -> None:
        self.ttl = ttl
        self.refetch_after = refetch_after
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}

    def key_for(self, issuer: str, kid: str | None, alg: str) -> dict[str, Any]:
        """The JWK that signed a token; raises StsError when it cannot be had."""
        entry = self._cached(issuer)
        if entry is None or (
            _pick(entry.keys, kid, alg) is None
            and time.monotonic() - entry.fetched > self.refetch_after
        ):
            entry = self._fetch(issuer)
        key = _pick(entry.keys, kid, alg)
        if key is None:
            raise invalid_token(VERIFICATION_KEY)
        return key

    def _cached(self, issuer: str) -> _Entry | None:
        with self._lock:
            entry = self._entries.get(issuer)
        if entry and time.monotonic() - entry.fetched < self.ttl:
            return entry
        return None

    def _fetch(self, issuer: str) -> _Entry:
        config = _get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
        jwks_uri = config.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise invalid_token(VERIFICATION_KEY)
        keys = _get_json(jwks_uri).get("keys")
        if not isinstance(keys, list):
            raise invalid_token(VERIFICATION_KEY)
        entry = _Entry([k for k in keys if isinstance(k, dict)], time.monotonic())
        with self._lock:
            self._entries[issuer] = entry
        return entry


def _pick(keys: list[dict[str, Any]], kid: str | None, alg: str) -> dict[str, Any] | None:
    usable = [k for k in keys if k.get("use", "sig") == "sig" and k.get("alg", alg) == alg]
    if kid is not None:
        return next((k for k in usable if k.get("kid") == kid), None)
    return usable[0] if len(usable) == 1 else None


def _get_json(url: str) -> dict[str, Any]:
    if not url.startswith(("https://", "http://")):
        raise invalid_token(VERIFICATION_KEY)
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            data = json.loads(response.read(1024 * 1024))
    except urllib.error.HTTPError as err:
        raise invalid_token(VERIFICATION_KEY) from err
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        raise idp_unreachable() from err
    except ValueError as err:
        raise invalid_token(VERIFICATION_KEY) from err
    if not isinstance(data, dict):
        raise invalid_token(VERIFICATION_KEY)
    return data
