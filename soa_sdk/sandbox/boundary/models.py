"""The backend of one emulated Boundary controller: one class, one method per operation.

The state is split by resource family, each in its module with its records and operations:
:mod:`.scopes`, :mod:`.auth` (auth methods, accounts, users, groups, roles, tokens),
:mod:`.hosts` (catalogs, sets, hosts), :mod:`.credentials` (stores, libraries),
:mod:`.storage` (buckets), :mod:`.targets` and :mod:`.sessions` (and recordings). What every
collection shares (create, read, update, delete, list, grants, serialization) is
:mod:`.crud`; the records, their lock and the one write path are :mod:`.store`.
"""

from __future__ import annotations

from .auth import Account, AuthMethod, AuthOps, AuthToken, Group, Role, User
from .credentials import CredentialLibrary, CredentialOps, CredentialStore
from .grants import ANON_USER_ID, AUTH_USER_ID, GLOBAL
from .hosts import Host, HostCatalog, HostOps, HostSet
from .recording import S3RecordingStore
from .records import RESOURCE_CLASSES, Caller, Resource, new_id, now
from .scopes import Scope, ScopeOps
from .sessions import Session, SessionHook, SessionOps, SessionRecording
from .storage import StorageBucket, StorageOps
from .store import Store
from .targets import Target, TargetOps

DEFAULT_TOKEN_TTL = 7 * 24 * 3600  # Boundary's default auth token time to live

__all__ = [
    "RESOURCE_CLASSES", "Account", "AuthMethod", "AuthToken", "BoundaryBackend", "Caller",
    "CredentialLibrary", "CredentialStore", "Group", "Host", "HostCatalog", "HostSet",
    "Resource", "Role", "Scope", "Session", "SessionRecording", "StorageBucket", "Target",
    "User", "new_id",
]  # fmt: skip


class BoundaryBackend(ScopeOps, AuthOps, HostOps, CredentialOps, StorageOps, TargetOps,
                      SessionOps):  # fmt: skip
    """All state of one emulated Boundary controller, behind one re-entrant lock.

    Not implemented (real Boundary has them): OIDC and LDAP auth methods, managed groups,
    aliases, workers, static credentials and credential stores, plugin host catalogs,
    SSH/RDP targets, injected application credentials, storage policies, key management,
    pagination (``page_size``/``list_token`` refresh: every list answers ``complete``),
    ``filter`` expressions beyond ``"/item/<field>" == "<value>"``, cookie tokens.
    """

    def __init__(
        self,
        recording_store: S3RecordingStore | None = None,
        vault_verify_tls: bool = True,
    ) -> None:
        self.store = Store()
        self._acls = {}
        self.store.subscribe(self._forget_acls)
        self.recording_store = recording_store
        self.vault_verify_tls = vault_verify_tls
        #: called with (session id, reason) when a session is canceled or expires, so that
        #: the proxy can close its connections; set by :class:`~.proxy.SessionProxy`.
        self.session_end_hooks: list[SessionHook] = []
        self.dev_settings: dict[str, str] = {}
        #: seconds an auth token lives (the controller's ``auth_token_time_to_live``)
        self.auth_token_ttl: float = DEFAULT_TOKEN_TTL
        self.reset()

    def reset(self) -> None:
        """Forget everything, then recreate what ``boundary dev`` creates (if bootstrapped)."""
        with self.store.write() as w:
            w.clear()
            self.tokens_by_authz: dict[str, str] = {}
            self.recordings: dict[str, bytes] = {}  # sr id -> document when no S3 store
            t = now()
            w.put(Scope(id=GLOBAL, scope_id=GLOBAL, type="global", name="global",
                        description="Global Scope", created=t, updated=t))  # fmt: skip
            if self.dev_settings:
                self.bootstrap_dev(**self.dev_settings)

    def bootstrap_dev(self, login_name: str, password: str) -> dict[str, str]:
        """Create what ``boundary dev`` creates: ``ampw_1234567890``, the admin user
        ``u_1234567890`` with account ``acctpw_1234567890``, and the three global roles
        (anonymous login grants, authenticated user grants, administration).

        Difference: the authenticated-user role does not grant ``authorize-session`` on
        targets (``boundary dev`` adds it), so that a user without a role is denied.
        """
        with self.store.write() as w:
            self.dev_settings = {"login_name": login_name, "password": password}
            am = AuthMethod(
                id="ampw_1234567890", scope_id=GLOBAL,
                name="Generated global scope initial password auth method",
                description="Provides initial administrative and unprivileged authentication "
                "into Boundary",
            )  # fmt: skip
            acct = Account(
                id="acctpw_1234567890", scope_id=GLOBAL, auth_method_id=am.id,
                login_name=login_name,
            )  # fmt: skip
            acct.set_password(password)
            user = User(
                id="u_1234567890", scope_id=GLOBAL, name="admin",
                description='Initial admin user within the "global" scope',
                account_ids=[acct.id],
            )  # fmt: skip
            self._scope(GLOBAL).primary_auth_method_id = am.id
            roles = [
                Role(
                    id=new_id("r"),
                    scope_id=GLOBAL,
                    name=name,
                    description=description,
                    grant_strings=list(grants),
                    principal_ids=[principal],
                    grant_scope_ids=["this", "descendants"],
                )
                for name, description, principal, grants in _dev_roles(user.id)
            ]
            for res in (am, acct, user, *roles):
                w.put(res)
            return {"auth_method_id": am.id, "user_id": user.id, "account_id": acct.id}


def _dev_roles(admin_id: str) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """``boundary dev``'s global roles: (name, description, principal, grant strings)."""
    login = (
        "ids=*;type=scope;actions=list,no-op",
        "ids=*;type=auth-method;actions=list,authenticate",
        "ids=*;type=auth-token;actions=read:self,delete:self",
    )
    authenticated = (
        "ids=*;type=scope;actions=read",
        "ids=*;type=auth-token;actions=list",
        "ids={{.Account.Id}};actions=read,change-password",
        "ids=*;type=session;actions=list,read:self,cancel:self",
        "ids=*;type=target;actions=list,read",
    )
    return [
        ("Login Grants", "Role created for login capability for unauthenticated users",
         ANON_USER_ID, login),
        ("Authenticated User Grants", "Role created for account self-management, and other "
         "initial authenticated user grants", AUTH_USER_ID, authenticated),
        ("Administration", "Provides admin grants within all scopes to the initial admin user",
         admin_id, ("ids=*;type=*;actions=*",)),
    ]  # fmt: skip
