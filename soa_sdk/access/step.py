"""Step 4, secure access: :class:`Access`, handed out as ``lab.access``.

Just-in-time access to the prod database through Boundary, with credentials Vault makes for
each session, every session recorded and replayed to an auditor. :class:`Access` composes
the parts, one module per concern, over a shared :class:`~soa_sdk.access.context.Context`
(the clients, Boundary's admin login, the ids of what setup built):

- :mod:`.provision`: setup and teardown: ``lab.tf`` applies ``terraform/shared_services/vault``
  then ``terraform/shared_services/boundary`` (the standing configuration, the platform
  team's), plus what Terraform does not do (the KV engine of grants; on the sandbox the rows
  to query and session recording, ``/v1/storage-buckets``, with :mod:`.boundary_setup`);
- :mod:`.grants`: just-in-time grants (``/v1/groups`` ``:add-members``, ``:remove-members``)
  and their expiry sweep;
- :mod:`.sessions`: login (``:authenticate``), ``/v1/targets/:id:authorize-session``, the
  proxy, queries, ``/v1/sessions`` (``:cancel``) and revocation;
- :mod:`.recordings`: ``/v1/session-recordings`` (``:download``) and the replay;
- :mod:`.roles`: roles beyond the declared ones.

What only the sandbox has (``boundary dev``'s admin login, ``POST /sandbox/connect`` for the
session's local listener that real Boundary's ``boundary connect`` opens on the user's
machine, SQL out of recordings) comes through :class:`~soa_sdk.sandbox.controls.
SandboxControls`, None on real endpoints. Every public method validates its parameters
before any call and runs the expiry sweep of just-in-time grants first.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from soa_sdk import validate
from soa_sdk.access.boundary_setup import jit_groups
from soa_sdk.access.client import BoundaryApi
from soa_sdk.access.context import Context
from soa_sdk.access.errors import BoundaryError
from soa_sdk.access.grants import JustInTime
from soa_sdk.access.provision import RECORDING_BUCKET, setup, teardown
from soa_sdk.access.recordings import Recordings
from soa_sdk.access.roles import Roles
from soa_sdk.access.sessions import Sessions
from soa_sdk.access.store import DEFAULT_MOUNT, AccessStore
from soa_sdk.access.values import (
    Authorization,
    Grant,
    ProxyAddress,
    Refusal,
    Revocation,
    SetupReport,
    TeardownReport,
    UserToken,
)
from soa_sdk.errors import AccessDenied, ValidationError
from soa_sdk.tables import Table
from soa_sdk.tf.lab_spec import AccessSpec, load_access

if TYPE_CHECKING:
    import hvac

    from soa_sdk.awsclient import EndpointSession
    from soa_sdk.sandbox.controls import SandboxControls
    from soa_sdk.tf.workspace import LabTerraform

#: Shortest and longest just-in-time grant, in minutes (3 seconds; a working day).
MIN_MINUTES = 0.05
MAX_MINUTES = 8 * 60


def check_minutes(minutes: object) -> float:
    """``minutes`` as a float if it is a number within [MIN_MINUTES, MAX_MINUTES]."""
    value = validate.number(minutes, "minutes")
    if not MIN_MINUTES <= value <= MAX_MINUTES:
        raise ValidationError(
            f"A just-in-time grant lasts {MIN_MINUTES} to {MAX_MINUTES} minutes; got {minutes}."
        )
    return value


class Access:
    """Step 4 of the lab. Build it as ``lab.access`` (or ``lab.new_access()``).

    ``vault``: the hvac client (leases, Boundary's token renewal, the KV store of grants);
    ``aws``: the management session (the recordings bucket, sandbox); ``boundary_url``: the
    controller; ``vault_url``: the Vault address Boundary's credential stores call;
    ``postgres_url`` / ``postgres_password``: the database as its admin; ``sandbox``: the
    sandbox's controls (``boundary dev``'s admin, the session proxy, recordings' SQL), None
    on real endpoints; ``terraform``: ``lab.tf``, which applies step 4's folders."""

    def __init__(
        self,
        vault: hvac.Client,
        aws: EndpointSession,
        boundary_url: str | None,
        vault_url: str | None = None,
        region: str = "us-east-1",
        postgres_url: str | None = None,
        postgres_password: str | None = None,
        sandbox: SandboxControls | None = None,
        progress: Callable[[str], None] | None = None,
        spec: AccessSpec | None = None,
        store_mount: str = DEFAULT_MOUNT,
        terraform: LabTerraform | None = None,
    ) -> None:
        self.spec = spec or load_access()
        self.store = AccessStore(vault, store_mount)
        self.ctx = Context(
            self.spec,
            vault,
            aws,
            self.store,
            boundary_url,
            vault_url,
            region,
            postgres_url,
            postgres_password,
            sandbox,
            progress or (lambda message: None),
            terraform,
        )
        self.database = self.ctx.database
        self.jit = JustInTime(
            self.store, self.ctx.admin, self.ctx.targets_of_group, self.ctx.progress
        )
        self._sessions = Sessions(self.ctx, self.jit)
        self._recordings = Recordings(self.ctx, self.jit)
        self._roles = Roles(self.ctx)

    def __repr__(self) -> str:
        return f"Access(boundary={self.ctx.boundary_url!r}, org={self.spec.org!r})"

    @property
    def sandbox(self) -> bool:
        """Whether the lab runs on the sandbox (it then has the sandbox's controls)."""
        return self.ctx.sandbox

    def _admin(self) -> BoundaryApi:
        """The administrator's Boundary API (see :meth:`Context.admin`)."""
        return self.ctx.admin()

    def _lookup(self) -> SetupReport:
        """The ids of what :meth:`setup` built, found by name (cached)."""
        return self.ctx.lookup()

    # --- setup and teardown ----------------------------------------------------------------------

    def setup(self) -> SetupReport:
        """Apply step 4's standing configuration through ``lab.tf`` and do what Terraform
        does not; a second run changes nothing.

        ``terraform/shared_services/vault`` (the database engine, its connection and roles, the
        ``boundary-controller`` and ``database-<role>`` policies), then
        ``terraform/shared_services/boundary`` (the org, a project per runtime, the password auth
        method, the users with their initial passwords, the groups, Vault credential stores with
        their periodic tokens, targets with brokered credentials, and the roles). On the sandbox
        also an ``orders`` table to query and session recording. ``report.terraform`` has each
        folder's counts, ``report.changes`` lists what changed.
        """
        return setup(self.ctx)

    def teardown(self) -> TeardownReport:
        """Remove everything :meth:`setup` made: sessions cancelled, every Vault lease of the
        engine revoked (Vault drops the PostgreSQL users), ``terraform destroy`` of
        ``shared_services/boundary`` then ``shared_services/vault``, the KV engine removed; in
        the sandbox also the recordings bucket and the ``orders`` table."""
        return teardown(self.ctx, self.jit)

    # --- just-in-time grants ---------------------------------------------------------------------

    def expire_grants(self) -> list[Grant]:
        """End every grant whose time is up (membership removed, the user's open sessions to
        the group's targets cancelled). Every other method runs this first."""
        return self.jit.expire()

    def grants(self) -> list[Grant]:
        """The live just-in-time grants."""
        self.expire_grants()
        return self.jit.all()

    def grant_just_in_time(self, user: str, target: str, minutes: float) -> Grant:
        """Let ``user`` open sessions to ``target`` for ``minutes``: the user joins the target's
        group they are eligible for (their groups in access.json), and leaves it at expiry."""
        u, t, m = self.ctx.user(user), self.ctx.target(target), check_minutes(minutes)
        eligible = [g for g in t.groups if g in u.groups and g in jit_groups(self.spec)]
        if not eligible:
            raise AccessDenied(
                f"{user} cannot be granted {target}: it is open to the group(s) "
                f"{', '.join(t.groups)} and {user} may join only {', '.join(u.groups) or 'none'}."
            )
        self.expire_grants()
        ids = self.ctx.lookup()
        now = time.time()
        grant = Grant(
            user=user,
            user_id=ids.users[user],
            group=eligible[0],
            group_id=ids.groups[eligible[0]],
            target=target,
            granted_at=now,
            expires_at=now + m * 60,
        )
        return self.jit.add(grant)

    def end_grants(self, user: str) -> list[Grant]:
        """End all of ``user``'s grants now (as if they had expired)."""
        self.ctx.user(user)
        self.expire_grants()
        return self.jit.end_now(user)

    def wait_for_expiry(self, grant: Grant, margin: float = 0.2) -> bool:
        """Sleep until ``grant`` has expired, then sweep. True when the grant is gone (its
        membership removed, whether by the timer or by this sweep)."""
        validate.instance(grant, Grant, "a Grant from grant_just_in_time()")
        validate.number(margin, "margin", 0, 60, " seconds")
        if grant.seconds_left > MAX_MINUTES * 60:
            raise ValidationError("That grant expires too far in the future to wait for.")
        time.sleep(grant.seconds_left + margin)
        self.expire_grants()
        group = self.ctx.admin().read("groups", grant.group_id, f"read group {grant.group!r}")
        recorded = any(g.user == grant.user and g.group == grant.group for g in self.jit.all())
        return not recorded and grant.user_id not in (group.get("member_ids") or [])

    # --- users and sessions -----------------------------------------------------------------------

    def login(self, user: str) -> UserToken:
        """``POST /v1/auth-methods/<prod password method>:authenticate`` with the user's
        password (read from Vault; never shown). Returns the user's token, hidden in ``repr``."""
        return self._sessions.login(user)

    def authorize_session(self, token: UserToken, target: str) -> Authorization:
        """``POST /v1/targets/<id>:authorize-session`` as the user: a session, the brokered
        database credentials (Vault made the user for this session) and the token that opens
        the proxy. Raises :class:`~soa_sdk.access.errors.BoundaryPermissionDenied` (403) when
        the user's grants do not allow it, ``BoundaryUnauthenticated`` (401) for a bad token."""
        return self._sessions.authorize_session(token, target)

    def try_authorize(self, token: UserToken, target: str) -> Authorization | Refusal:
        """Like :meth:`authorize_session`, but a refusal (401/403) is returned, not raised."""
        return self._sessions.try_authorize(token, target)

    def connect(self, authorization: Authorization) -> ProxyAddress:
        """The local address to point a client at, like ``boundary connect``.

        Real Boundary: ``boundary connect -authz-token=<token>`` opens a listener on the user's
        machine and tunnels each connection over TLS to a worker, which checks the session and
        dials the database. The sandbox's emulator runs that listener itself:
        ``POST /sandbox/connect {"authorization_token"}``.
        """
        return self._sessions.connect(authorization)

    def run_queries(self, authorization: Authorization, queries: list[str]) -> Table:
        """Open the proxy, log in with the brokered credentials (never shown) and run each
        query; one row per query with its result."""
        return self._sessions.run_queries(authorization, queries)

    def session_status(self, authorization: Authorization) -> str:
        """The session's status as Boundary reports it (pending, active, canceling,
        terminated)."""
        return self._sessions.session_status(authorization)

    # --- recordings -------------------------------------------------------------------------------

    def recordings(self, token: UserToken) -> Table:
        """``GET /v1/session-recordings?scope_id=<org>&recursive=true`` as ``token``'s user:
        the recordings they may see (an auditor: all of the org's)."""
        return self._recordings.recordings(token)

    def replay(self, recording_id: str, token: UserToken) -> Table:
        """``GET /v1/session-recordings/<id>:download`` as ``token``'s user, replayed through
        the PostgreSQL protocol: the statements the session's user sent, in order, with times.

        The document is the sandbox's own JSON-lines recording (a sandbox extension: real
        Boundary records SSH and RDP sessions, as BSR files, and does not parse SQL)."""
        return self._recordings.replay(recording_id, token)

    # --- leases -----------------------------------------------------------------------------------

    def revoke(self, lease: Authorization | str) -> Revocation:
        """End brokered credentials now. For an :class:`Authorization`: cancel its session
        (Boundary then revokes the session's Vault leases, ``PUT /sys/leases/revoke``) and wait
        until the PostgreSQL user is gone. For a Vault lease id: revoke it directly."""
        return self._sessions.revoke(lease)

    def credentials_work(self, authorization: Authorization) -> bool:
        """Whether the brokered credentials still log in to the database directly (sandbox:
        the proxy is bypassed, so this tests the PostgreSQL user itself)."""
        return self._sessions.credentials_work(authorization)

    def database_users(self) -> list[str]:
        """The PostgreSQL users Vault made that exist now (sandbox: read as the admin)."""
        return self._sessions.database_users()

    # --- roles ------------------------------------------------------------------------------------

    def ensure_role(
        self, scope: str, name: str, grants: list[str], groups: list[str], description: str = ""
    ) -> str:
        """Create or correct a role in ``scope`` (``prod`` or a runtime's project) granting
        ``grants`` to ``groups``. Everything is checked before the first call."""
        return self._roles.ensure_role(scope, name, grants, groups, description)

    def roles_table(self) -> Table:
        """The org's and projects' roles: scope, who holds them, and their grants."""
        return self._roles.roles_table()


__all__ = [
    "MAX_MINUTES",
    "MIN_MINUTES",
    "RECORDING_BUCKET",
    "Access",
    "BoundaryError",
    "check_minutes",
]
