"""The values step 4 hands out. Anything secret (passwords, tokens, brokered credentials) is
kept out of ``repr`` and of every notebook display; only ids, names and times show."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from soa_sdk.tf.result import PlanSummary


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S")


@dataclass(frozen=True)
class UserToken:
    """A Boundary auth token of one user, from ``:authenticate``. ``repr`` hides the token."""

    user: str
    user_id: str
    token_id: str
    expiration: str
    token: str = field(repr=False)

    def __repr__(self) -> str:
        return (
            f"UserToken(user={self.user!r}, user_id={self.user_id!r}, "
            f"token_id={self.token_id!r}, expires={self.expiration!r})"
        )


@dataclass(frozen=True)
class BrokeredCredential:
    """What Boundary brokered from Vault for one session: a database user that exists only
    for the session's lease. The SDK passes it to psycopg; nobody needs to read it."""

    source: str
    username: str = field(repr=False)
    password: str = field(repr=False)

    def __repr__(self) -> str:
        return f"BrokeredCredential(source={self.source!r}, username=<hidden>, password=<hidden>)"


@dataclass(frozen=True)
class Authorization:
    """An authorized session (``:authorize-session``): its id, expiry, recording and, hidden,
    the authorization token that opens the proxy and the brokered credentials."""

    user: str
    target: str
    target_id: str
    session_id: str
    expiration: str
    endpoint: str
    recording_id: str
    authorization_token: str = field(repr=False)
    credentials: tuple[BrokeredCredential, ...] = field(repr=False, default=())

    def __repr__(self) -> str:
        return (
            f"Authorization(user={self.user!r}, target={self.target!r}, "
            f"session_id={self.session_id!r}, expires={self.expiration!r}, "
            f"recording_id={self.recording_id!r}, "
            f"brokered_credentials={len(self.credentials)} (hidden))"
        )

    @property
    def allowed(self) -> bool:
        return True


@dataclass(frozen=True)
class Refusal:
    """A refused ``:authorize-session``: Boundary's status, kind and message."""

    user: str
    target: str
    status: int | None
    kind: str
    message: str

    @property
    def allowed(self) -> bool:
        return False


@dataclass(frozen=True)
class ProxyAddress:
    """Where the session's local listener answers (what ``boundary connect`` prints)."""

    host: str
    port: int
    session_id: str


@dataclass(frozen=True)
class Grant:
    """A just-in-time group membership: ``user`` is in ``group`` until ``expires_at``."""

    user: str
    user_id: str
    group: str
    group_id: str
    target: str
    granted_at: float
    expires_at: float

    @property
    def expired(self) -> bool:
        return time.time() >= self.expires_at

    @property
    def seconds_left(self) -> float:
        return max(0.0, self.expires_at - time.time())

    def __repr__(self) -> str:
        return (
            f"Grant(user={self.user!r}, group={self.group!r}, target={self.target!r}, "
            f"granted={_clock(self.granted_at)}Z, expires={_clock(self.expires_at)}Z)"
        )

    def to_record(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.__dict__.items()}

    @classmethod
    def from_record(cls, data: dict[str, str]) -> Grant:
        return cls(
            user=data["user"],
            user_id=data["user_id"],
            group=data["group"],
            group_id=data["group_id"],
            target=data["target"],
            granted_at=float(data["granted_at"]),
            expires_at=float(data["expires_at"]),
        )


@dataclass(frozen=True)
class Revocation:
    """The end of a session's brokered credentials: which session, and whether the
    PostgreSQL user still exists afterwards (it must not)."""

    session_id: str
    session_status: str
    credentials: int
    database_users_left: int


@dataclass
class SetupReport:
    """What :meth:`~soa_sdk.access.Access.setup` found or made (ids only, no secrets):
    ``terraform`` has each folder's apply (its counts and addresses), ``changes`` what changed,
    Terraform's resources and the SDK's own additions alike."""

    changes: list[str] = field(default_factory=list)
    terraform: dict[str, PlanSummary] = field(default_factory=dict)
    org_id: str = ""
    auth_method_id: str = ""
    projects: dict[str, str] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    targets: dict[str, str] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    storage_bucket_id: str = ""
    database_changes: list[str] = field(default_factory=list)


@dataclass
class TeardownReport:
    """What :meth:`~soa_sdk.access.Access.teardown` removed, and what PostgreSQL users made
    by Vault were left (must be none)."""

    removed: list[str] = field(default_factory=list)
    terraform: dict[str, PlanSummary] = field(default_factory=dict)
    database_users_left: list[str] = field(default_factory=list)
