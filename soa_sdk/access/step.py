"""Step 4, secure access: :class:`Access`, handed out as ``lab.access``.

Just-in-time access to the prod database through Boundary, with credentials Vault makes for
each session, every session recorded and replayed to an auditor. The real endpoints:

- Vault: ``/sys/mounts``, ``/database/config/:name``, ``/database/roles/:name``,
  ``/database/creds/:role``, ``/sys/policies/acl/:name``, ``/auth/token/create-orphan``,
  ``/sys/leases/revoke``; a KV engine keeps passwords and grants (:mod:`.store`).
- Boundary (controller API): ``/v1/scopes``, ``/v1/auth-methods`` (``:authenticate``),
  ``/v1/accounts``, ``/v1/users``, ``/v1/groups`` (``:add-members``, ``:remove-members``),
  ``/v1/roles`` (``:set-grants``, ``:set-principals``, ``:set-grant-scopes``),
  ``/v1/host-catalogs``, ``/v1/hosts``, ``/v1/host-sets``, ``/v1/credential-stores``,
  ``/v1/credential-libraries``, ``/v1/storage-buckets``, ``/v1/targets``
  (``:authorize-session``), ``/v1/sessions`` (``:cancel``), ``/v1/session-recordings``
  (``:download``).
- The sandbox only: ``POST /sandbox/connect`` opens the session's local listener, which real
  Boundary's ``boundary connect`` opens on the user's machine.

Every public method validates its parameters before any call and runs the expiry sweep of
just-in-time grants first (:mod:`.grants`).
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import psycopg
from botocore.exceptions import ClientError

from soa_sdk import validate
from soa_sdk.access import database
from soa_sdk.access.boundary_setup import BoundarySetup, RolePlan, check_grants, jit_groups
from soa_sdk.access.client import BoundaryApi
from soa_sdk.access.errors import (
    BoundaryError,
    BoundaryPermissionDenied,
    BoundaryUnauthenticated,
)
from soa_sdk.access.grants import JustInTime, cancel_session
from soa_sdk.access.store import DEFAULT_MOUNT, AccessStore
from soa_sdk.access.values import (
    Authorization,
    BrokeredCredential,
    Grant,
    ProxyAddress,
    Refusal,
    Revocation,
    SetupReport,
    TeardownReport,
    UserToken,
)
from soa_sdk.errors import (
    AccessDenied,
    NotFound,
    ServiceUnavailable,
    ValidationError,
    only_on_sandbox,
)
from soa_sdk.tables import Table
from soa_sdk.tf.spec import AccessSpec, BoundaryTarget, BoundaryUser, load_access
from soa_sdk.vault import DatabaseSecrets
from soa_sdk.vault.errors import vault_errors

if TYPE_CHECKING:
    import hvac

    from soa_sdk.awsclient import EndpointSession
    from soa_sdk.sandbox.controls import SandboxControls

#: Shortest and longest just-in-time grant, in minutes (3 seconds; a working day).
MIN_MINUTES = 0.05
MAX_MINUTES = 8 * 60
RECORDING_BUCKET = "soa-lab-session-recordings"
_TOKEN_RENEW_EVERY = 60.0


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

    ``vault``: the hvac client (database engine, policy, KV store of passwords and grants);
    ``aws``: the management session (the recordings bucket, sandbox); ``boundary_url``: the
    controller; ``vault_url``: the Vault address Boundary's credential stores call;
    ``postgres_url`` / ``postgres_password``: the database as its admin; ``sandbox``: the
    sandbox's controls (``boundary dev``'s admin, the session proxy, recordings' SQL), None
    on real endpoints."""

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
    ) -> None:
        self.vault = vault
        self.aws = aws
        self.boundary_url = boundary_url
        self.vault_url = vault_url
        self.region = region
        self.postgres_url = postgres_url
        self.postgres_password = postgres_password
        self.controls = sandbox
        self.progress = progress or (lambda message: None)
        self.spec = spec or load_access()
        self.store = AccessStore(vault, store_mount)
        self.database = DatabaseSecrets(vault, self.spec.database.vault_mount)
        self._admin_api: BoundaryApi | None = None
        self._ids: SetupReport | None = None
        self._renewed_at = 0.0
        self._lock = threading.RLock()
        self.jit = JustInTime(self.store, self._admin, self._targets_of_group, self.progress)

    def __repr__(self) -> str:
        return f"Access(boundary={self.boundary_url!r}, org={self.spec.org!r})"

    @property
    def sandbox(self) -> bool:
        """Whether the lab runs on the sandbox (it then has :attr:`controls`)."""
        return self.controls is not None

    def _controls(self, what: str, instead: str) -> SandboxControls:
        if self.controls is None:
            raise only_on_sandbox(what, instead)
        return self.controls

    # --- connections -----------------------------------------------------------------------------

    def _boundary_url(self) -> str:
        url = self.boundary_url
        if not url:
            raise ServiceUnavailable("No Boundary address: start the sandbox or set BOUNDARY_ADDR.")
        return url

    def _admin(self) -> BoundaryApi:
        """The administrator's API: in the sandbox, ``boundary dev``'s admin login on the
        global auth method; against real Boundary, the token in ``BOUNDARY_TOKEN``."""
        with self._lock:
            if self._admin_api is None:
                api = BoundaryApi(self._boundary_url())
                if self.controls is not None:
                    token = api.authenticate(*self.controls.boundary_admin_login())["token"]
                else:
                    token = os.environ.get("BOUNDARY_TOKEN", "")
                    if not token:
                        raise ValidationError(
                            "Set BOUNDARY_TOKEN to an administrator's token "
                            "(`boundary authenticate`)."
                        )
                self._admin_api = api.as_token(token)
            return self._admin_api

    def _admin_pg(self) -> database.AdminConnection:
        return database.AdminConnection.from_url(self.postgres_url or "", self.postgres_password)

    # --- setup -----------------------------------------------------------------------------------

    def setup(self) -> SetupReport:
        """Build (or find) everything of step 4; a second run changes nothing.

        Vault: the database engine, its connection and roles, Boundary's narrow policy and
        periodic token. Boundary: the org, a project per runtime, the password auth method, the
        users (generated passwords, kept in Vault, never shown), groups, targets with brokered
        credentials and session recording, and the roles. ``report.changes`` lists what changed.
        """
        report = SetupReport()
        if self.store.ensure():
            report.changes.append(f"enabled {self.store.mount}/")
        db = self.spec.database
        if self.sandbox:
            admin_pg = self._admin_pg()
            report.database_changes += database.prepare_sandbox(admin_pg, db.database)
            connection = admin_pg.for_vault(db.database, db.name)
            report.database_changes += self.database.configure(
                connection, database.vault_roles(self.spec)
            )
        with vault_errors("write the Boundary policy"):
            self.database.write_boundary_policy(
                sorted({t.database_role for t in self.spec.targets})
            )
        builder = BoundarySetup(self._admin(), self.spec, report)
        builder.scopes(self._projects())
        builder.identities(self._password)
        if self.sandbox:
            builder.recording_bucket(self._recording_bucket(), self.region)
        host, port = self._database_address()
        builder.targets(host, port, self.vault_url or "", self._new_vault_token)
        builder.roles(builder.role_plans())
        self._ids = report
        self._renew_vault_tokens(force=True)
        return report

    def _projects(self) -> list[str]:
        """A project per runtime (as in the talk), and at least those holding targets."""
        names = {t.project for t in self.spec.targets}
        try:
            from soa_sdk.tf.spec import load_mesh

            names |= {r.name for r in load_mesh().runtimes}
        except Exception as error:  # a runtime being written by step 5 must not block step 4
            self.progress(f"runtimes not read ({type(error).__name__}); projects for targets")
        return sorted(names)

    def _database_address(self) -> tuple[str, int]:
        if self.sandbox:
            pg = self._admin_pg()
            return pg.host, pg.port
        return self.spec.database.host, self.spec.database.port

    def _password(self, user: str) -> str:
        """The user's login password: from Vault, or generated and stored there now."""
        found = self.store.read(f"users/{user}")
        if found and found.get("password"):
            return found["password"]
        password = secrets.token_urlsafe(18)
        self.store.write(f"users/{user}", {"password": password})
        return password

    def _recording_bucket(self) -> str:
        s3 = self.aws.client("s3")
        try:
            s3.create_bucket(Bucket=RECORDING_BUCKET)
        except ClientError as error:
            if error.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
                raise
        return RECORDING_BUCKET

    def _new_vault_token(self, project: str) -> str:
        """A fresh orphan periodic token for ``project``'s credential store; its accessor (not
        the token) is kept to renew and revoke it."""
        token = self.database.create_boundary_token()
        self.store.write(f"boundary-tokens/{project}", {"accessor": token.accessor})
        return token.token

    def _renew_vault_tokens(self, force: bool = False) -> None:
        """Renew Boundary's Vault tokens (real Boundary renews its own; the sandbox's emulator
        does not), replacing one that died (e.g. the sandbox idled past its period)."""
        if not force and time.time() - self._renewed_at < _TOKEN_RENEW_EVERY:
            return
        self._renewed_at = time.time()
        ids = self._lookup()
        admin = self._admin()
        for project in sorted({t.project for t in self.spec.targets}):
            record = self.store.read(f"boundary-tokens/{project}") or {}
            try:
                self.vault.auth.token.renew_accessor(record.get("accessor", ""))
                continue
            except Exception:  # hvac raises per status; any failure means replace
                pass
            store = admin.find("credential-stores", "vault", scope_id=ids.projects[project])
            if store is not None:
                admin.update(
                    "credential-stores",
                    store,
                    {"attributes": {"token": self._new_vault_token(project)}},
                    f"replace the Vault token of {project}",
                )

    def _lookup(self) -> SetupReport:
        """The ids of what :meth:`setup` built, found by name (cached)."""
        if self._ids is not None:
            return self._ids
        admin = self._admin()
        ids = SetupReport()
        org = admin.find("scopes", self.spec.org, scope_id="global")
        if org is None:
            raise NotFound(f"Boundary has no org {self.spec.org!r}: run lab.access.setup() first.")
        ids.org_id = org["id"]
        for item in admin.list("scopes", "list the projects", scope_id=org["id"]):
            ids.projects[item["name"]] = item["id"]
        am = admin.find("auth-methods", "password", scope_id=org["id"])
        ids.auth_method_id = am["id"] if am else ""
        ids.users = {
            u["name"]: u["id"] for u in admin.list("users", "list users", scope_id=org["id"])
        }
        ids.groups = {
            g["name"]: g["id"] for g in admin.list("groups", "list groups", scope_id=org["id"])
        }
        for project_id in ids.projects.values():
            for t in admin.list("targets", "list targets", scope_id=project_id):
                ids.targets[t["name"]] = t["id"]
        missing = [t.name for t in self.spec.targets if t.name not in ids.targets]
        missing += [u.name for u in self.spec.users if u.name not in ids.users]
        if missing or not ids.auth_method_id:
            raise NotFound(
                f"Boundary lacks {', '.join(missing) or 'the auth method'}: run "
                "lab.access.setup() first."
            )
        self._ids = ids
        return ids

    # --- validation ------------------------------------------------------------------------------

    def _user(self, name: object) -> BoundaryUser:
        known = ", ".join(u.name for u in self.spec.users)
        validate.text(name, f"A user name ({known})")
        try:
            return self.spec.user(name)
        except NotFound:
            raise ValidationError(f"Unknown user {name!r}: the users are {known}.") from None

    def _target(self, name: object) -> BoundaryTarget:
        known = ", ".join(t.name for t in self.spec.targets)
        validate.text(name, f"A target name ({known})")
        try:
            return self.spec.target(name)
        except NotFound:
            raise ValidationError(f"Unknown target {name!r}: the targets are {known}.") from None

    def _scope_id(self, name: object) -> str:
        """An org or project scope by name: ``prod`` or a runtime's project."""
        ids = self._lookup()
        scopes = {self.spec.org: ids.org_id, **ids.projects}
        if not isinstance(name, str) or name not in scopes:
            raise ValidationError(
                f"Unknown scope {name!r}: the scopes are {', '.join(sorted(scopes))}."
            )
        return scopes[name]

    @staticmethod
    def _token(token: object) -> UserToken:
        return validate.instance(token, UserToken, "the UserToken that access.login(user) returned")

    def _targets_of_group(self, group: str) -> list[str]:
        ids = self._lookup()
        return [
            ids.targets[t.name]
            for t in self.spec.targets
            if group in t.groups and t.name in ids.targets
        ]

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
        u, t, m = self._user(user), self._target(target), check_minutes(minutes)
        eligible = [g for g in t.groups if g in u.groups and g in jit_groups(self.spec)]
        if not eligible:
            raise AccessDenied(
                f"{user} cannot be granted {target}: it is open to the group(s) "
                f"{', '.join(t.groups)} and {user} may join only {', '.join(u.groups) or 'none'}."
            )
        self.expire_grants()
        ids = self._lookup()
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
        self._user(user)
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
        group = self._admin().read("groups", grant.group_id, f"read group {grant.group!r}")
        recorded = any(g.user == grant.user and g.group == grant.group for g in self.jit.all())
        return not recorded and grant.user_id not in (group.get("member_ids") or [])

    # --- users and sessions ----------------------------------------------------------------------

    def login(self, user: str) -> UserToken:
        """``POST /v1/auth-methods/<prod password method>:authenticate`` with the user's
        password (read from Vault; never shown). Returns the user's token, hidden in ``repr``."""
        self._user(user)
        self.expire_grants()
        ids = self._lookup()
        record = self.store.read(f"users/{user}")
        if not record:
            raise NotFound(f"No password for {user!r} in Vault: run lab.access.setup().")
        attrs = BoundaryApi(self._boundary_url()).authenticate(
            ids.auth_method_id, user, record["password"]
        )
        return UserToken(
            user=user,
            user_id=attrs["user_id"],
            token_id=attrs["id"],
            expiration=attrs.get("expiration_time", ""),
            token=attrs["token"],
        )

    def authorize_session(self, token: UserToken, target: str) -> Authorization:
        """``POST /v1/targets/<id>:authorize-session`` as the user: a session, the brokered
        database credentials (Vault made the user for this session) and the token that opens
        the proxy. Raises :class:`~soa_sdk.access.errors.BoundaryPermissionDenied` (403) when
        the user's grants do not allow it, ``BoundaryUnauthenticated`` (401) for a bad token."""
        tok, t = self._token(token), self._target(target)
        self.expire_grants()
        self._renew_vault_tokens()
        target_id = self._lookup().targets[t.name]
        item = BoundaryApi(self._boundary_url(), tok.token).action(
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
        """Like :meth:`authorize_session`, but a refusal (401/403) is returned, not raised."""
        tok, t = self._token(token), self._target(target)
        try:
            return self.authorize_session(tok, t.name)
        except (BoundaryPermissionDenied, BoundaryUnauthenticated) as error:
            return Refusal(tok.user, t.name, error.status, error.kind, str(error))

    def connect(self, authorization: Authorization) -> ProxyAddress:
        """The local address to point a client at, like ``boundary connect``.

        Real Boundary: ``boundary connect -authz-token=<token>`` opens a listener on the user's
        machine and tunnels each connection over TLS to a worker, which checks the session and
        dials the database. The sandbox's emulator runs that listener itself:
        ``POST /sandbox/connect {"authorization_token"}``.
        """
        _authorization(authorization)
        self.expire_grants()
        controls = self._controls(
            "Opening the session's proxy from the SDK",
            "against real Boundary run `boundary connect postgres -authz-token=...` (or "
            "`boundary connect -target-id ...`) on your machine; it prints the local address.",
        )
        answer = controls.boundary_connect(
            BoundaryApi(self._boundary_url()),
            authorization.authorization_token,
            authorization.session_id,
        )
        return ProxyAddress(answer["address"], int(answer["port"]), answer["session_id"])

    def run_queries(self, authorization: Authorization, queries: list[str]) -> Table:
        """Open the proxy, log in with the brokered credentials (never shown) and run each
        query; one row per query with its result."""
        validate.names(queries, "queries (SQL strings)")
        address = self.connect(authorization)
        if not authorization.credentials:
            raise NotFound(f"Target {authorization.target} brokered no credentials.")
        cred = authorization.credentials[0]
        rows = []
        with psycopg.connect(
            host=address.host,
            port=address.port,
            dbname=self.spec.database.database,
            user=cred.username,
            password=cred.password,
            connect_timeout=5,
            autocommit=True,
            sslmode="disable" if self.sandbox else "prefer",
        ) as conn:
            for query in queries:
                result = conn.execute(query).fetchall()
                rows.append({"query": query, "result": _short(result)})
        return Table(
            rows,
            f"{authorization.user} on {authorization.target} (session {authorization.session_id})",
        )

    def session_status(self, authorization: Authorization) -> str:
        """The session's status as Boundary reports it (pending, active, canceling,
        terminated)."""
        _authorization(authorization)
        return self._admin().read("sessions", authorization.session_id, "read a session")["status"]

    # --- recordings ------------------------------------------------------------------------------

    def recordings(self, token: UserToken) -> Table:
        """``GET /v1/session-recordings?scope_id=<org>&recursive=true`` as ``token``'s user:
        the recordings they may see (an auditor: all of the org's)."""
        tok = self._token(token)
        self.expire_grants()
        api = BoundaryApi(self._boundary_url(), tok.token)
        items = api.list(
            "session-recordings",
            f"list session recordings as {tok.user}",
            scope_id=self._lookup().org_id,
            recursive="true",
        )
        rows = []
        for r in items:
            values = r.get("create_time_values") or {}
            rows.append(
                {
                    "id": r["id"],
                    "session": r.get("session_id", ""),
                    "user": (values.get("user") or {}).get("name", ""),
                    "target": (values.get("target") or {}).get("name", ""),
                    "state": r.get("state", ""),
                    "start": r.get("start_time", ""),
                    "duration": r.get("duration", ""),
                    "bytes_up": int(r.get("bytes_up") or 0),
                    "bytes_down": int(r.get("bytes_down") or 0),
                }
            )
        return Table(rows, f"Session recordings visible to {tok.user}")

    def replay(self, recording_id: str, token: UserToken) -> Table:
        """``GET /v1/session-recordings/<id>:download`` as ``token``'s user, replayed through
        the PostgreSQL protocol: the statements the session's user sent, in order, with times.

        The document is the sandbox's own JSON-lines recording (a sandbox extension: real
        Boundary records SSH and RDP sessions, as BSR files, and does not parse SQL)."""
        controls = self._controls(
            "Replaying a recording's SQL",
            "real Boundary records SSH and RDP sessions as BSR files (play them with "
            "`boundary session-recordings download`) and does not parse SQL.",
        )
        tok = self._token(token)
        if not isinstance(recording_id, str) or not recording_id.startswith("sr_"):
            raise ValidationError(f"{recording_id!r} is not a session recording id (sr_...).")
        self.expire_grants()
        document = BoundaryApi(self._boundary_url(), tok.token).request(
            "GET",
            f"/v1/session-recordings/{recording_id}:download",
            f"download recording {recording_id} as {tok.user}",
            raw=True,
        )
        rows = [
            {
                "time": s.time,
                "offset_s": round(s.offset, 3),
                "connection": s.connection_id,
                "kind": s.kind,
                "statement": s.sql,
            }
            for s in controls.postgres_statements(document)
        ]
        return Table(rows, f"Replay of {recording_id}")

    # --- leases ----------------------------------------------------------------------------------

    def revoke(self, lease: Authorization | str) -> Revocation:
        """End brokered credentials now. For an :class:`Authorization`: cancel its session
        (Boundary then revokes the session's Vault leases, ``PUT /sys/leases/revoke``) and wait
        until the PostgreSQL user is gone. For a Vault lease id: revoke it directly."""
        if isinstance(lease, str):
            self.database.revoke(lease)  # an unknown lease: VaultNotFound
            return Revocation("", "", 0, 0)
        validate.instance(lease, Authorization, "an Authorization or a Vault lease id")
        self.expire_grants()
        admin = self._admin()
        session = admin.read("sessions", lease.session_id, f"read session {lease.session_id}")
        session = cancel_session(admin, session)
        left = len(lease.credentials)
        if self.sandbox:
            pg = self._admin_pg()
            deadline = time.monotonic() + 10
            while True:
                left = sum(database.user_exists(pg, c.username) for c in lease.credentials)
                if not left or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
        status = admin.read("sessions", lease.session_id, "read a session")["status"]
        return Revocation(lease.session_id, status, len(lease.credentials), left)

    def credentials_work(self, authorization: Authorization) -> bool:
        """Whether the brokered credentials still log in to the database directly (sandbox:
        the proxy is bypassed, so this tests the PostgreSQL user itself)."""
        if not _authorization(authorization).credentials:
            raise NotFound(f"Target {authorization.target} brokered no credentials.")
        host, port = self._database_address()
        cred = authorization.credentials[0]
        try:
            psycopg.connect(
                host=host,
                port=port,
                dbname=self.spec.database.database,
                user=cred.username,
                password=cred.password,
                connect_timeout=5,
                sslmode="disable" if self.sandbox else "prefer",
            ).close()
        except psycopg.OperationalError:
            return False
        return True

    def database_users(self) -> list[str]:
        """The PostgreSQL users Vault made that exist now (sandbox: read as the admin)."""
        return database.vault_users(self._admin_pg())

    # --- roles -----------------------------------------------------------------------------------

    def ensure_role(
        self, scope: str, name: str, grants: list[str], groups: list[str], description: str = ""
    ) -> str:
        """Create or correct a role in ``scope`` (``prod`` or a runtime's project) granting
        ``grants`` to ``groups``. Everything is checked before the first call."""
        grants = check_grants(grants)
        validate.text(name, "A role's name")
        validate.text(description, "description", empty=True)
        validate.names(groups, "groups", empty=True)
        scope_id = self._scope_id(scope)
        ids = self._lookup()
        unknown = [g for g in groups if g not in ids.groups]
        if unknown:
            raise ValidationError(
                f"Unknown group(s) {unknown or groups!r}: the groups are "
                f"{', '.join(sorted(ids.groups))}."
            )
        plan = RolePlan(
            name,
            scope_id,
            description,
            ("this",),
            tuple(ids.groups[g] for g in groups),
            tuple(grants),
        )
        return BoundarySetup(self._admin(), self.spec, SetupReport()).role(plan)

    def roles_table(self) -> Table:
        """The org's and projects' roles: scope, who holds them, and their grants."""
        ids = self._lookup()
        admin = self._admin()
        names = {v: k for k, v in {**ids.groups, **ids.users}.items()} | {"u_anon": "anyone"}
        rows = []
        for scope_name, scope_id in {self.spec.org: ids.org_id, **ids.projects}.items():
            for role in admin.list("roles", "list roles", scope_id=scope_id):
                rows.append(
                    {
                        "scope": scope_name,
                        "role": role["name"],
                        "principals": ", ".join(
                            names.get(p, p) for p in role.get("principal_ids") or []
                        ),
                        "grants": "; ".join(role.get("grant_strings") or []),
                    }
                )
        return Table(rows, "Boundary roles of the prod org")

    # --- teardown --------------------------------------------------------------------------------

    def teardown(self) -> TeardownReport:
        """Remove everything :meth:`setup` made: sessions cancelled, the org deleted (with all it
        holds), every Vault lease of the engine revoked (Vault drops the PostgreSQL users), the
        engine, policy, Boundary's tokens and the KV engine removed; in the sandbox also the
        recordings bucket and the ``store`` database."""
        report = TeardownReport()
        self.jit.cancel_timers()
        admin = self._admin()
        org = admin.find("scopes", self.spec.org, scope_id="global")
        if org is not None:
            for project in admin.list("scopes", "list the projects", scope_id=org["id"]):
                for s in admin.list("sessions", "list sessions", scope_id=project["id"]):
                    cancel_session(admin, s)
            admin.delete("scopes", org["id"], f"delete the org {self.spec.org!r}")
            report.removed.append(f"boundary org {self.spec.org}")
        self._ids = None
        vault = self.vault
        with vault_errors("tear down the Vault side of step 4"):
            mounts = vault.sys.list_mounted_secrets_engines()
            if f"{self.database.mount_point}/" in mounts.get("data", mounts):
                self.database.revoke_prefix()
                vault.sys.disable_secrets_engine(self.database.mount_point)
                report.removed.append(f"vault {self.database.mount_point}/ (leases revoked)")
            for key in self.store.keys("boundary-tokens"):
                accessor = (self.store.read(key) or {}).get("accessor", "")
                try:
                    vault.auth.token.revoke_accessor(accessor)
                    report.removed.append(f"vault token of {key.rsplit('/', 1)[-1]}")
                except Exception:  # already expired or revoked
                    pass
            from soa_sdk.vault.database import BOUNDARY_POLICY

            if BOUNDARY_POLICY in (vault.sys.list_acl_policies().get("data", {}).get("keys") or []):
                vault.sys.delete_acl_policy(BOUNDARY_POLICY)
                report.removed.append(f"vault policy {BOUNDARY_POLICY}")
        if self.store.remove():
            report.removed.append(f"vault {self.store.mount}/")
        if self.sandbox:
            if self._remove_bucket():
                report.removed.append(f"s3 bucket {RECORDING_BUCKET}")
            pg = self._admin_pg()
            if database.drop_sandbox_database(pg, self.spec.database.database):
                report.removed.append(f"database {self.spec.database.database}")
            report.database_users_left = database.vault_users(pg)
        return report

    def _remove_bucket(self) -> bool:
        s3 = self.aws.client("s3")
        try:
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket=RECORDING_BUCKET)
            for page in pages:
                for obj in page.get("Contents", []):
                    s3.delete_object(Bucket=RECORDING_BUCKET, Key=obj["Key"])
            s3.delete_bucket(Bucket=RECORDING_BUCKET)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("NoSuchBucket", "404"):
                return False
            raise
        return True


def _authorization(value: object) -> Authorization:
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


__all__ = ["MAX_MINUTES", "MIN_MINUTES", "Access", "BoundaryError", "check_minutes"]
