"""The credentials the sandbox issued: its root keys, IAM users' keys, STS session keys.

Root keys come from the sandbox's secrets (`secrets.json`, made by
`soa_sdk.sandbox.services.aws.AwsService.new_secrets`) through the environment variables in
`ROOT_KEY_ENV`: moto serves them as the management account's root, as it serves any key it
does not know. IAM user keys and STS keys are read from moto's own backends, where
`CreateAccessKey` and `AssumeRole*` keep them (`IAMBackend.access_keys`,
`STSBackend.assumed_roles` with the session token and expiry).

A key found once is cached with the moto object it came from; each later request checks in
O(1) that the object is still the one moto holds (deleted keys, `moto-api/reset`) and still
active, so a lookup costs a dict read after the first call.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

#: Environment variables that give the server its root keys.
ROOT_KEY_ENV = ("SOA_LAB_AWS_ROOT_ACCESS_KEY_ID", "SOA_LAB_AWS_ROOT_SECRET_ACCESS_KEY")
ROOT, IAM_USER, ASSUMED_ROLE = "Root", "IAMUser", "AssumedRole"


@dataclass(frozen=True)
class RootKeys:
    """The sandbox's administrator keys (never shown in a repr)."""

    access_key_id: str
    secret_access_key: str

    def __repr__(self) -> str:
        return f"RootKeys({self.access_key_id[:4]}...)"

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> RootKeys | None:
        env = os.environ if environ is None else environ
        key_id, secret = (env.get(name, "") for name in ROOT_KEY_ENV)
        return cls(key_id, secret) if key_id and secret else None


@dataclass(frozen=True)
class Credential:
    """One issued credential, as the signature check needs it."""

    access_key_id: str
    secret_access_key: str
    kind: str  # ROOT, IAM_USER or ASSUMED_ROLE
    account_id: str | None = None
    session_token: str | None = None  # required, and must match, for ASSUMED_ROLE
    expiration: datetime | None = None  # aware, UTC

    def __repr__(self) -> str:
        return f"Credential({self.kind}, {self.access_key_id[:4]}...)"

    def expired(self, now: datetime) -> bool:
        return self.expiration is not None and now >= self.expiration


@dataclass(frozen=True)
class _Cached:
    credential: Credential
    backend: Any  # the moto IAMBackend the key was found in (reset() empties it in place)
    key: Any  # moto's AccessKey object


class CredentialStore:
    """Finds the credential behind an access key id (None when the sandbox never issued it)."""

    def __init__(self, root: RootKeys | None) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._cache: dict[str, _Cached] = {}

    def find(self, access_key_id: str) -> Credential | None:
        if self.root is not None and access_key_id == self.root.access_key_id:
            return Credential(access_key_id, self.root.secret_access_key, ROOT)
        cached = self._cache.get(access_key_id)
        if cached is not None:
            if (
                cached.backend.access_keys.get(access_key_id) is cached.key
                and cached.key.status == "Active"
            ):
                return cached.credential
            with self._lock:
                self._cache.pop(access_key_id, None)
        found = self._lookup(access_key_id)
        if found is not None:
            with self._lock:
                self._cache[access_key_id] = found
            return found.credential if found.key.status == "Active" else None
        return None

    @staticmethod
    def _lookup(access_key_id: str) -> _Cached | None:
        from moto.iam.models import iam_backends
        from moto.sts.models import sts_backends
        from moto.utilities.utils import PARTITION_NAMES

        # list(): other threads may add accounts meanwhile (as moto's get_account_id_from does).
        for account_id, account in list(iam_backends.items()):
            for partition in PARTITION_NAMES:
                backend = account.get(partition) if hasattr(account, "get") else None
                if backend is None:
                    continue
                key = backend.access_keys.get(access_key_id)
                if key is None:
                    continue
                if getattr(key, "role_arn", None) or key.access_key_id.startswith("ASIA"):
                    session = sts_backends[account_id][partition]
                    assumed = session.get_assumed_role_from_access_key(access_key_id)
                    if assumed is None:
                        return None
                    cred = Credential(
                        access_key_id,
                        assumed.secret_access_key,
                        ASSUMED_ROLE,
                        account_id,
                        assumed.session_token,
                        _aware(assumed.expiration),
                    )
                else:
                    cred = Credential(access_key_id, key.secret_access_key, IAM_USER, account_id)
                return _Cached(cred, backend, key)
        return None


def _aware(moment: datetime) -> datetime:
    """moto keeps naive UTC datetimes."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
