"""Who made a call: the CloudTrail `userIdentity` of an access key, read from moto's backends.

moto finds the account of a request the same way for every service
(`moto.core.responses.BaseResponse.get_current_account`): the `MOTO_ACCOUNT_ID` environment
variable, else an `x-moto-account-id` header, else the account whose IAM backend holds the
access key (`moto.iam.models.get_account_id_from`; keys issued by STS `AssumeRole` are
created in the role's account), else moto's default account. We follow the same order, so
an event lands in the account whose resources the call touched.

The identity types recorded: `AssumedRole` (keys issued by STS), `IAMUser` (keys of an IAM
user), `Root` (any other key: moto's default credentials act as the account's root),
`WebIdentityUser` (unsigned `AssumeRoleWithWebIdentity`). `FederatedUser`, `AWSService`
and `SAMLUser` are not produced.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID

PARTITION = "aws"


@dataclass(frozen=True)
class Caller:
    """The identity behind one request."""

    account_id: str
    type: str
    principal_id: str
    arn: str | None
    access_key_id: str | None
    username: str | None  # what LookupEvents shows as Username
    extra: dict[str, Any] = field(default_factory=dict)  # userName, sessionContext, ...

    def user_identity(self) -> dict[str, Any]:
        """The CloudTrail `userIdentity` element."""
        ident: dict[str, Any] = {"type": self.type, "principalId": self.principal_id}
        if self.arn:
            ident["arn"] = self.arn
        ident["accountId"] = self.account_id
        if self.access_key_id:
            ident["accessKeyId"] = self.access_key_id
        ident.update(self.extra)
        return ident


class IdentityResolver:
    """Maps access keys to callers; assumed-role identities are cached by key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._assumed: dict[str, Caller] = {}

    def account_for(self, access_key_id: str | None, headers: dict[str, str]) -> str:
        """The account moto will serve this request from (same order as moto)."""
        if "MOTO_ACCOUNT_ID" in os.environ:
            return os.environ["MOTO_ACCOUNT_ID"]
        if "x-moto-account-id" in headers:
            return headers["x-moto-account-id"]
        if not access_key_id:
            return DEFAULT_ACCOUNT_ID
        from moto.iam.models import get_account_id_from

        return get_account_id_from(access_key_id)

    def resolve(self, access_key_id: str, headers: dict[str, str]) -> Caller:
        """The caller behind a signed request."""
        with self._lock:
            cached = self._assumed.get(access_key_id)
        if cached is not None:
            return cached
        account = self.account_for(access_key_id, headers)
        caller = self._assumed_role(account, access_key_id)
        if caller is not None:
            with self._lock:
                self._assumed[access_key_id] = caller
            return caller
        return self._iam_user(account, access_key_id) or root(account, access_key_id)

    def reset(self) -> None:
        with self._lock:
            self._assumed.clear()

    @staticmethod
    def _assumed_role(account: str, access_key_id: str) -> Caller | None:
        from moto.iam.models import iam_backends
        from moto.sts.models import sts_backends

        assumed = sts_backends[account][PARTITION].get_assumed_role_from_access_key(access_key_id)
        if assumed is None:
            return None
        role_arn = assumed.role_arn
        role_name = role_arn.rsplit("/", 1)[-1]
        try:
            role_id = iam_backends[account][PARTITION].get_role_by_arn(arn=assumed.role_arn).id
        except Exception:
            # moto lets callers assume roles that do not exist; keep a stable stand-in id.
            role_id = "AROA" + access_key_id[4:20].upper()
        session = {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role_id,
                "arn": role_arn,
                "accountId": account,
                "userName": role_name,
            },
            "webIdFederationData": {},
            "attributes": {
                # moto keeps only the expiry; the first time the key is seen is close enough.
                "creationDate": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "mfaAuthenticated": "false",
            },
        }
        return Caller(
            account_id=account,
            type="AssumedRole",
            principal_id=f"{role_id}:{assumed.session_name}",
            arn=assumed.arn,
            access_key_id=access_key_id,
            username=assumed.session_name,
            extra={"sessionContext": session},
        )

    @staticmethod
    def _iam_user(account: str, access_key_id: str) -> Caller | None:
        from moto.iam.models import iam_backends

        user = iam_backends[account][PARTITION].get_user_from_access_key_id(access_key_id)
        if user is None:
            return None
        return Caller(
            account_id=account,
            type="IAMUser",
            principal_id=user.id,
            arn=user.arn,
            access_key_id=access_key_id,
            username=user.name,
            extra={"userName": user.name},
        )


def root(account: str, access_key_id: str | None) -> Caller:
    """The account's root user (what moto's default credentials stand for)."""
    return Caller(
        account_id=account,
        type="Root",
        principal_id=account,
        arn=f"arn:{PARTITION}:iam::{account}:root",
        access_key_id=access_key_id,
        username="root",
    )


def web_identity(account: str, claims: dict[str, Any], provider: str) -> Caller:
    """The caller of `AssumeRoleWithWebIdentity`: the token's subject at its provider."""
    aud = claims.get("aud")
    aud = aud[0] if isinstance(aud, list) and aud else aud
    sub = str(claims.get("sub", ""))
    # An unreadable token still leaves a record; its principal is then unknown.
    principal = f"{provider}:{aud}:{sub}" if provider and aud and sub else "unknown"
    return Caller(
        account_id=account,
        type="WebIdentityUser",
        principal_id=principal,
        arn=None,
        access_key_id=None,
        username=sub or None,
        extra={"userName": sub, "identityProvider": provider},
    )


def other_account(caller: Caller) -> dict[str, Any]:
    """`userIdentity` as a role's account sees a caller from another account."""
    return {
        "type": "AWSAccount",
        "principalId": caller.principal_id,
        "accountId": caller.account_id,
    }
