"""A user's side of step 4: log in, authorize a session to a target, open its proxy, run
queries with the brokered credentials, and end them.

Boundary: ``/v1/auth-methods/:id:authenticate``, ``/v1/targets/:id:authorize-session``,
``/v1/sessions/:id`` (``:cancel``). The sandbox only (:class:`~soa_sdk.sandbox.controls.
SandboxControls`): the session's local listener, which real Boundary's ``boundary connect``
opens on the user's machine.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

from soa_sdk import validate
from soa_sdk.access import database
from soa_sdk.access.client import BoundaryApi
from soa_sdk.access.context import Context
from soa_sdk.access.errors import BoundaryPermissionDenied, BoundaryUnauthenticated
from soa_sdk.access.grants import JustInTime, cancel_session
from soa_sdk.access.values import (
    Authorization,
    BrokeredCredential,
    ProxyAddress,
    Refusal,
    Revocation,
    UserToken,
)
from soa_sdk.errors import NotFound
from soa_sdk.tables import Table


class Sessions:
    """Log in, authorize, connect, query and revoke; see :class:`soa_sdk.access.Access`."""

    def __init__(self, ctx: Context, jit: JustInTime) -> None:
        self.ctx = ctx
        self.jit = jit

    def login(self, user: str) -> UserToken:
        ctx = self.ctx
        ctx.user(user)
        self.jit.expire()
        ids = ctx.lookup()
        attrs = BoundaryApi(ctx.url()).authenticate(ids.auth_method_id, user, ctx.password(user))
        return UserToken(
            user=user,
            user_id=attrs["user_id"],
            token_id=attrs["id"],
            expiration=attrs.get("expiration_time", ""),
            token=attrs["token"],
        )

    def authorize_session(self, token: UserToken, target: str) -> Authorization:
        ctx = self.ctx
        tok, t = ctx.token(token), ctx.target(target)
        self.jit.expire()
        ctx.renew_vault_tokens()
        target_id = ctx.lookup().targets[t.name]
        item = BoundaryApi(ctx.url(), tok.token).action(
            "targets",
            {"id": target_id},
            "authorize-session",
            {},
            f"authorize a session to {t.name} for {tok.user}",
            versioned=False,
        )
        creds = tuple(_credential(c) for c in item.get("credentials") or [])
        return Authorization(
            user=tok.user,
            target=t.name,
            target_id=target_id,
            session_id=item["session_id"],
            expiration=item.get("expiration", ""),
            endpoint=item.get("endpoint", ""),
            recording_id=item.get("session_recording_id", ""),
            authorization_token=item["authorization_token"],
            credentials=creds,
        )

    def try_authorize(self, token: UserToken, target: str) -> Authorization | Refusal:
        tok, t = self.ctx.token(token), self.ctx.target(target)
        try:
            return self.authorize_session(tok, t.name)
        except (BoundaryPermissionDenied, BoundaryUnauthenticated) as error:
            return Refusal(tok.user, t.name, error.status, error.kind, str(error))

    def connect(self, authorization: Authorization) -> ProxyAddress:
        check_authorization(authorization)
        self.jit.expire()
        controls = self.ctx.sandbox_controls(
            "Opening the session's proxy from the SDK",
            "against real Boundary run `boundary connect postgres -authz-token=...` (or "
            "`boundary connect -target-id ...`) on your machine; it prints the local address.",
        )
        answer = controls.boundary_connect(
            BoundaryApi(self.ctx.url()),
            authorization.authorization_token,
            authorization.session_id,
        )
        return ProxyAddress(answer["address"], int(answer["port"]), answer["session_id"])

    def run_queries(self, authorization: Authorization, queries: list[str]) -> Table:
        validate.names(queries, "queries (SQL strings)")
        address = self.connect(authorization)
        if not authorization.credentials:
            raise NotFound(f"Target {authorization.target} brokered no credentials.")
        cred = authorization.credentials[0]
        rows = []
        with psycopg.connect(
            host=address.host,
            port=address.port,
            dbname=self.ctx.spec.database.database,
            user=cred.username,
            password=cred.password,
            connect_timeout=5,
            autocommit=True,
            sslmode="disable" if self.ctx.sandbox else "prefer",
        ) as conn:
            for query in queries:
                result = conn.execute(query).fetchall()
                rows.append({"query": query, "result": _short(result)})
        return Table(
            rows,
            f"{authorization.user} on {authorization.target} (session {authorization.session_id})",
        )

    def session_status(self, authorization: Authorization) -> str:
        check_authorization(authorization)
        session = self.ctx.admin().read("sessions", authorization.session_id, "read a session")
        return str(session["status"])

    def revoke(self, lease: Authorization | str) -> Revocation:
        ctx = self.ctx
        if isinstance(lease, str):
            ctx.database.revoke(lease)  # an unknown lease: VaultNotFound
            return Revocation("", "", 0, 0)
        validate.instance(lease, Authorization, "an Authorization or a Vault lease id")
        self.jit.expire()
        admin = ctx.admin()
        session = admin.read("sessions", lease.session_id, f"read session {lease.session_id}")
        session = cancel_session(admin, session)
        left = len(lease.credentials)
        if ctx.sandbox:
            pg = ctx.admin_pg()
            deadline = time.monotonic() + 10
            while True:
                left = sum(database.user_exists(pg, c.username) for c in lease.credentials)
                if not left or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
        status = admin.read("sessions", lease.session_id, "read a session")["status"]
        return Revocation(lease.session_id, status, len(lease.credentials), left)

    def credentials_work(self, authorization: Authorization) -> bool:
        if not check_authorization(authorization).credentials:
            raise NotFound(f"Target {authorization.target} brokered no credentials.")
        host, port = self.ctx.database_address()
        cred = authorization.credentials[0]
        try:
            psycopg.connect(
                host=host,
                port=port,
                dbname=self.ctx.spec.database.database,
                user=cred.username,
                password=cred.password,
                connect_timeout=5,
                sslmode="disable" if self.ctx.sandbox else "prefer",
            ).close()
        except psycopg.OperationalError:
            return False
        return True

    def database_users(self) -> list[str]:
        return database.vault_users(self.ctx.admin_pg())


def check_authorization(value: object) -> Authorization:
    return validate.instance(value, Authorization, "the Authorization authorize_session() returned")


def _credential(entry: dict[str, Any]) -> BrokeredCredential:
    """A brokered ``username_password`` credential (or a generic secret holding one)."""
    source = entry.get("credential_source") or {}
    values = entry.get("credential") or (entry.get("secret") or {}).get("decoded") or {}
    return BrokeredCredential(
        source=source.get("name") or source.get("id", ""),
        username=str(values.get("username", "")),
        password=str(values.get("password", "")),
    )


def _short(rows: list[tuple[Any, ...]], limit: int = 5) -> str:
    shown = [row[0] if len(row) == 1 else tuple(row) for row in rows[:limit]]
    text = ", ".join(map(str, shown))
    return text + (f" ... ({len(rows)} rows)" if len(rows) > limit else "")
