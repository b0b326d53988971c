"""Boundary resources and the backend that holds them.

Resources mirror the definitions of Boundary's ``controller.swagger.json``
(``controller.api.resources.<kind>.v1.<Kind>``): ``to_dict()`` returns the JSON the controller
sends, with proto3's habit of leaving out empty fields. :class:`BoundaryBackend` has one method
per operation; every method takes the :class:`Caller` and checks grants as Boundary does
(a missing resource is a 404 before any permission check). One lock guards the state.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from . import brokering
from .exceptions import (
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from .grants import ANON_USER_ID, AUTH_USER_ID, GLOBAL, Acl, GrantError, ResourceRef, parse_grant
from .recording import MIME_TYPE, S3RecordingStore, rfc3339

_ALPHABET = string.ascii_letters + string.digits
DEFAULT_TOKEN_TTL = 7 * 24 * 3600  # Boundary's default auth token time to live
_HMAC_KEY = secrets.token_bytes(32)


def new_id(prefix: str) -> str:
    """A Boundary-shaped public id: prefix, underscore, ten base62 characters."""
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(10))


def now() -> float:
    return time.time()


def hmac_of(secret: str) -> str:
    """What Boundary shows instead of a secret (``token_hmac``, ``secrets_hmac``)."""
    import base64

    digest = hmac.new(_HMAC_KEY, secret.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _prune(value: Any) -> Any:
    """Drop proto3 default values (None, "", 0, False, [], {}) as Boundary's JSON does."""
    if isinstance(value, dict):
        out = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if not _is_default(v)}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def _is_default(v: Any) -> bool:
    if isinstance(v, bool):
        return not v
    if isinstance(v, int | float):
        return v == 0
    return v is None or v == "" or v == [] or v == {}


@dataclass
class Caller:
    """Who is asking: the user (``u_anon`` without a valid token) and their grants."""

    user_id: str
    acl: Acl
    token_id: str = ""
    account_id: str = ""

    @property
    def anonymous(self) -> bool:
        return self.user_id == ANON_USER_ID


# ---------------------------------------------------------------- resources


@dataclass(kw_only=True)
class Resource:
    """Common fields of every Boundary resource."""

    TYPE: ClassVar[str] = ""  # the grant type name
    PREFIX: ClassVar[str] = ""
    COLLECTION: ClassVar[str] = ""
    ID_ACTIONS: ClassVar[tuple[str, ...]] = ("no-op", "read", "update", "delete")
    CHILD_COLLECTIONS: ClassVar[dict[str, str]] = {}  # collection -> grant type
    NAME: ClassVar[str] = "Resource"

    id: str
    scope_id: str
    name: str = ""
    description: str = ""
    version: int = 1
    created: float = field(default_factory=now)
    updated: float = field(default_factory=now)

    @property
    def parent_id(self) -> str:
        """The parent resource for child types (auth method, host catalog, store)."""
        return ""

    def touch(self) -> None:
        self.version += 1
        self.updated = now()

    def base_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "created_time": rfc3339(self.created),
            "updated_time": rfc3339(self.updated),
            "version": self.version,
        }

    def fields(self, b: BoundaryBackend) -> dict[str, Any]:
        """The resource's own fields beyond the common ones."""
        return {}


@dataclass(kw_only=True)
class Scope(Resource):
    TYPE = "scope"
    COLLECTION = "scopes"
    NAME = "Scope"
    ID_ACTIONS = ("no-op", "read", "update", "delete", "list-keys", "rotate-keys")
    type: str = "org"  # global, org or project
    primary_auth_method_id: str = ""

    @property
    def parent_id(self) -> str:
        return ""

    def fields(self, b: BoundaryBackend) -> dict[str, Any]:
        return {
            "scope_id": self.scope_id if self.id != GLOBAL else "",
            "type": self.type,
            "primary_auth_method_id": self.primary_auth_method_id,
        }


@dataclass(kw_only=True)
class AuthMethod(Resource):
    TYPE = "auth-method"
    PREFIX = "ampw"
    COLLECTION = "auth-methods"
    NAME = "Auth method"
    ID_ACTIONS = ("no-op", "read", "update", "delete", "authenticate")
    CHILD_COLLECTIONS: ClassVar[dict[str, str]] = {"accounts": "account"}
    min_login_name_length: int = 3
    min_password_length: int = 8

    def fields(self, b: BoundaryBackend) -> dict[str, Any]:
        return {
            "scope_id": self.scope_id,
            "type": "password",
            "attributes": {
                "min_login_name_length": self.min_login_name_length,
                "min_password_length": self.min_password_length,
            },
        }


@dataclass(kw_only=True)
class Account(Resource):
    TYPE = "account"
    PREFIX = "acctpw"
    COLLECTION = "accounts"
    NAME = "Account"
    ID_ACTIONS = ("no-op", "read", "update", "delete", "set-password", "change-password")
    auth_method_id: str
    login_name: str
    password_hash: str = field(repr=False, default="")
    salt: bytes = field(repr=False, default_factory=lambda: secrets.token_bytes(16))

    @property
    def parent_id(self) -> str:
        return self.auth_method_id

    def set_password(self, password: str) -> None:
        self.password_hash = hashlib.scrypt(
            password.encode(), salt=self.salt, n=2**12, r=8, p=1
        ).hex()

    def check_password(self, password: str) -> bool:
        given = hashlib.scrypt(password.encode(), salt=self.salt, n=2**12, r=8, p=1).hex()
        return bool(self.password_hash) and hmac.compare_digest(given, self.password_hash)

    def fields(self, b: BoundaryBackend) -> dict[str, Any]:
        return {
            "type": "password",
            "auth_method_id": self.auth_method_id,
            "attributes": {"login_name": self.login_name},
        }


@dataclass(kw_only=True)
class User(Resource):
    TYPE = "user"
    PREFIX = "u"
    COLLECTION = "users"
    NAME = "User"
    ID_ACTIONS = (
        "no-op", "read", "update", "delete", "add-accounts", "set-accounts", "remove-accounts",
        "list-resolvable-aliases",
    )  # fmt: skip
    account_ids: list[str] = field(default_factory=list)

    def fields(self, b: BoundaryBackend) -> dict[str, Any]:
        accounts = [b.resources[a] for a in self.account_ids if a in b.resources]
        primary = next((a for a in accounts if isinstance(a, Account)), None)
        return {
            "scope_id": self.scope_id,
            "account_ids": list(self.account_ids),
            "accounts": [{"id": a.id, "scope_id": a.scope_id} for a in accounts],
            "login_name": primary.login_name if primary else "",
            "primary_account_id": primary.id if primary else "",
        }


@dataclass(kw_only=True)
class Group(Resource):
    TYPE = "group"
    PREFIX = "g"
    COLLECTION = "groups"
    NAME = "Group"
    ID_ACTIONS = ("no-op", "read", "update", "delete", "add-members", "set-members",
                  "remove-members")  # fmt: skip
    member_ids: list[str] = field(default_factory=list)

    def fields(self, b: BoundaryBackend) -> dict[str, Any]:
        return {
            "scope_id": self.scope_id,
            "member_ids": list(self.member_ids),
            "members": [{"id": m, "scope_id": b.scope_of(m)} for m in self.member_ids],
        }


@dataclass(kw_only=True)
class Role(Resource):
    TYPE = "role"
    PREFIX = "r"
    COLLECTION = "roles"
    NAME = "Role"
    ID_ACTIONS = (
        "no-op", "read", "update", "delete", "add-principals", "set-principals",
        "remove-principals", "add-grants", "set-grants", "remove-grants", "add-grant-scopes",
        "set-grant-scopes", "remove-grant-scopes",
    )  # fmt: skip
    grant_strings: list[str] = field(default_factory=list)
    principal_ids: list[str] = field(default_factory=list)
    grant_scope_ids: list[str] = field(default_factory=lambda: ["this"])

    def fields(self, b: BoundaryBackend) -> dict[str, Any]:
        return {
            "scope_id": self.scope_id,
            "grant_scope_ids": list(self.grant_scope_ids),
            "principal_ids": list(self.principal_ids),
            "principals": [
                {
                    "id": p,
                    "type": "user" if p.startswith("u_") else "group",
                    "scope_id": b.scope_of(p),
                }
                for p in self.principal_ids
            ],
            "grant_strings": list(self.grant_strings),
            "grants": [parse_grant(g).to_dict() for g in self.grant_strings],
        }


@dataclass(kw_only=True)
class HostCatalog(Resource):
    TYPE = "host-catalog"
    PREFIX = "hcst"
    COLLECTION = "host-catalogs"
    NAME = "Host catalog"
    CHILD_COLLECTIONS: ClassVar[dict[str, str]] = {"host-sets": "host-set", "hosts": "host"}

    def fields(self, b: BoundaryBackend) -> dict[str, Any]:
        return {"scope_id": self.scope_id, "type": "static"}


@dataclass(kw_only=True)
class Host(Resource):
    TYPE = "host"
    PREFIX = "hst"
    COLLECTION = "hosts"
    NAME = "Host"
    host_catalog_id: str
    address: str = ""

    @property
    def parent_id(self) -> str:
        return self.host_catalog_id

    def fields(self, b: BoundaryBackend) -> dict[str, Any]:
        sets = [r.id for r in b.of_type(HostSet) if self.id in r.host_ids]
        return {
            "type": "static",
            "host_catalog_id": self.host_catalog_id,
            "host_set_ids": sets,
            "attributes": {"address": self.address},
        }


@dataclass(kw_only=True)
class HostSet(Resource):
    TYPE = "host-set"
    PREFIX = "hsst"
    COLLECTION = "host-sets"
    NAME = "Host set"
    ID_ACTIONS = ("no-op", "read", "update", "delete", "add-hosts", "set-hosts", "remove-hosts")
    host_catalog_id: str
    host_ids: list[str] = field(default_factory=list)

    @property
    def parent_id(self) -> str:
        return self.host_catalog_id

    def fields(self, b: BoundaryBackend) -> dict[str, Any]:
        return {
            "type": "static",
            "host_catalog_id": self.host_catalog_id,
            "host_ids": list(self.host_ids),
        }


@dataclass(kw_only=True)
class CredentialStore(Resource):
    TYPE = "credential-store"
    PREFIX = "csvlt"
    COLLECTION = "credential-stores"
    NAME = "Credential store"
    CHILD_COLLECTIONS: ClassVar[dict[str, str]] = {"credential-libraries": "credential-library"}
    address: str
    token: str = field(repr=False)
    namespace: str = ""
    tls_skip_verify: bool = False
    tls_server_name: str = ""
    worker_filter: str = ""

    def fields(self, b: BoundaryBackend) -> dict[str, Any]:
        return {
            "scope_id": self.scope_id,
            "type": "vault",
            "attributes": {
                "address": self.address,
                "namespace": self.namespace,
                "tls_skip_verify": self.tls_skip_verify,
                "tls_server_name": self.tls_server_name,
                "worker_filter": self.worker_filter,
                # Boundary never returns the token, only its HMAC and status.
                "token_hmac": hmac_of(self.token),
                "token_status": "current",
            },
        }


@dataclass(kw_only=True)
class CredentialLibrary(Resource):
    TYPE = "credential-library"
    PREFIX = "clvlt"
    COLLECTION = "credential-libraries"
    NAME = "Credential library"
    credential_store_id: str
    path: str
    http_method: str = "GET"
    http_request_body: str = ""
    credential_type: str = ""

    @property
    def parent_id(self) -> str:
        return self.credential_store_id

    def fields(self, b: BoundaryBackend) -> dict[str, Any]:
        return {
            "credential_store_id": self.credential_store_id,
            "type": "vault-generic",
            "credential_type": self.credential_type,
            "attributes": {
                "path": self.path,
                "http_method": self.http_method,
                "http_request_body": self.http_request_body,
            },
        }


@dataclass(kw_only=True)
class StorageBucket(Resource):
    TYPE = "storage-bucket"
    PREFIX = "sb"
    COLLECTION = "storage-buckets"
    NAME = "Storage bucket"
    bucket_name: str
    bucket_prefix: str = ""
    plugin_name: str = "aws"
    attributes: dict[str, Any] = field(default_factory=dict)
    secrets_hmac: str = ""
    worker_filter: str = ""

    def key_for(self, recording_id: str) -> str:
        prefix = self.bucket_prefix.strip("/")
        return f"{prefix}/{recording_id}.jsonl" if prefix else f"{recording_id}.jsonl"

    def fields(self, b: BoundaryBackend) -> dict[str, Any]:
        return {
            "scope_id": self.scope_id,
            "type": "plugin",
            "plugin_id": "pl_awsplugin",
            "plugin": {"id": "pl_awsplugin", "name": self.plugin_name},
            "bucket_name": self.bucket_name,
            "bucket_prefix": self.bucket_prefix,
            "attributes": dict(self.attributes),
            "secrets_hmac": self.secrets_hmac,
            "worker_filter": self.worker_filter,
        }


@dataclass(kw_only=True)
class Target(Resource):
    TYPE = "target"
    PREFIX = "ttcp"
    COLLECTION = "targets"
    NAME = "Target"
    ID_ACTIONS = (
        "no-op", "read", "update", "delete", "add-host-sources", "set-host-sources",
        "remove-host-sources", "add-credential-sources", "set-credential-sources",
        "remove-credential-sources", "authorize-session",
    )  # fmt: skip
    address: str = ""
    default_port: int = 0
    default_client_port: int = 0
    session_max_seconds: int = 28800
    session_connection_limit: int = -1
    worker_filter: str = ""
    egress_worker_filter: str = ""
    ingress_worker_filter: str = ""
    host_source_ids: list[str] = field(default_factory=list)
    brokered_credential_source_ids: list[str] = field(default_factory=list)
    # Real Boundary records SSH and RDP targets only; the sandbox accepts these on TCP.
    enable_session_recording: bool = False
    storage_bucket_id: str = ""

    def fields(self, b: BoundaryBackend) -> dict[str, Any]:
        sources = [b.resources.get(i) for i in self.host_source_ids]
        creds = [b.resources.get(i) for i in self.brokered_credential_source_ids]
        return {
            "scope_id": self.scope_id,
            "type": "tcp",
            "address": self.address,
            "session_max_seconds": self.session_max_seconds,
            "session_connection_limit": self.session_connection_limit,
            "worker_filter": self.worker_filter,
            "egress_worker_filter": self.egress_worker_filter,
            "ingress_worker_filter": self.ingress_worker_filter,
            "host_source_ids": list(self.host_source_ids),
            "host_sources": [
                {"id": h.id, "host_catalog_id": h.parent_id} for h in sources if h is not None
            ],
            "brokered_credential_source_ids": list(self.brokered_credential_source_ids),
            "brokered_credential_sources": [
                {"id": c.id, "credential_store_id": c.parent_id} for c in creds if c is not None
            ],
            "attributes": {
                "default_port": self.default_port,
                "default_client_port": self.default_client_port,
                "enable_session_recording": self.enable_session_recording,
                "storage_bucket_id": self.storage_bucket_id,
            },
        }


@dataclass(kw_only=True)
class SessionRecording(Resource):
    TYPE = "session-recording"
    PREFIX = "sr"
    COLLECTION = "session-recordings"
    NAME = "Session recording"
    ID_ACTIONS = ("no-op", "read", "download")
    session_id: str
    storage_bucket_id: str
    endpoint: str
    values: dict[str, Any] = field(default_factory=dict)
    state: str = "started"
    error_details: str = ""
    bytes_up: int = 0
    bytes_down: int = 0
    start: float = field(default_factory=now)
    end: float = 0.0
    connections: list[dict[str, Any]] = field(default_factory=list)

    def base_dict(self) -> dict[str, Any]:
        # Session recordings have no name, description or version.
        return {
            "id": self.id,
            "created_time": rfc3339(self.created),
            "updated_time": rfc3339(self.updated),
        }

    def fields(self, b: BoundaryBackend) -> dict[str, Any]:
        end = self.end or now()
        return {
            "session_id": self.session_id,
            "storage_bucket_id": self.storage_bucket_id,
            "bytes_up": str(self.bytes_up),
            "bytes_down": str(self.bytes_down),
            "start_time": rfc3339(self.start),
            "end_time": rfc3339(self.end) if self.end else "",
            "duration": f"{end - self.start:.6f}s",
            "type": "tcp",
            "state": self.state,
            "error_details": self.error_details,
            "mime_types": [MIME_TYPE],
            "endpoint": self.endpoint,
            "connection_recordings": [dict(c) for c in self.connections],
            "create_time_values": dict(self.values),
        }


@dataclass(kw_only=True)
class Session(Resource):
    TYPE = "session"
    PREFIX = "s"
    COLLECTION = "sessions"
    NAME = "Session"
    ID_ACTIONS = ("no-op", "read", "read:self", "cancel", "cancel:self")
    target_id: str
    user_id: str
    auth_token_id: str
    endpoint: str
    host: str
    port: int
    expiration: float
    connection_limit: int
    host_set_id: str = ""
    host_id: str = ""
    authorization_token: str = field(repr=False, default="")
    states: list[dict[str, Any]] = field(default_factory=list)
    termination_reason: str = ""
    connections: list[dict[str, Any]] = field(default_factory=list)
    leases: list[tuple[str, str]] = field(default_factory=list)  # (store id, lease id)
    recording_id: str = ""

    @property
    def status(self) -> str:
        return self.states[0]["status"]

    def fields(self, b: BoundaryBackend) -> dict[str, Any]:
        return {
            "scope_id": self.scope_id,
            "target_id": self.target_id,
            "type": "tcp",
            "expiration_time": rfc3339(self.expiration),
            "auth_token_id": self.auth_token_id,
            "user_id": self.user_id,
            "host_set_id": self.host_set_id,
            "host_id": self.host_id,
            "endpoint": self.endpoint,
            "status": self.status,
            "states": [
                {
                    "status": st["status"],
                    "start_time": rfc3339(st["start"]),
                    "end_time": rfc3339(st["end"]) if st["end"] else "",
                }
                for st in self.states
            ],
            "termination_reason": self.termination_reason,
            "connections": [dict(c) for c in self.connections],
        }

    def set_status(self, status: str) -> None:
        t = now()
        if self.states:
            self.states[0]["end"] = t
        self.states.insert(0, {"status": status, "start": t, "end": 0.0})
        self.touch()


@dataclass(kw_only=True)
class AuthToken(Resource):
    TYPE = "auth-token"
    PREFIX = "at"
    COLLECTION = "auth-tokens"
    NAME = "Auth token"
    ID_ACTIONS = ("no-op", "read", "read:self", "delete", "delete:self")
    user_id: str
    auth_method_id: str
    account_id: str
    secret_hash: str = field(repr=False)
    expiration: float
    last_used: float = field(default_factory=now)

    def base_dict(self) -> dict[str, Any]:
        # Auth tokens have no name, description or version.
        return {
            "id": self.id,
            "created_time": rfc3339(self.created),
            "updated_time": rfc3339(self.updated),
        }

    def fields(self, b: BoundaryBackend) -> dict[str, Any]:
        return {
            "scope_id": self.scope_id,
            "user_id": self.user_id,
            "auth_method_id": self.auth_method_id,
            "account_id": self.account_id,
            "approximate_last_used_time": rfc3339(self.last_used),
            "expiration_time": rfc3339(self.expiration),
        }


RESOURCE_CLASSES: dict[str, type[Resource]] = {
    c.COLLECTION: c
    for c in (
        Scope, AuthMethod, Account, User, Group, Role, HostCatalog, HostSet, Host,
        CredentialStore, CredentialLibrary, StorageBucket, Target, Session, SessionRecording,
        AuthToken,
    )
}  # fmt: skip


# ---------------------------------------------------------------- the backend

#: which collection lists/creates under which parent, and where it may live
_SCOPE_PARENTED = {
    "scopes": ("global", "org"),
    "auth-methods": ("global", "org"),
    "users": ("global", "org"),
    "groups": ("global", "org", "project"),
    "roles": ("global", "org", "project"),
    "storage-buckets": ("global", "org"),
    "host-catalogs": ("project",),
    "targets": ("project",),
    "credential-stores": ("project",),
    "sessions": ("project",),
    "session-recordings": ("global", "org"),
    "auth-tokens": ("global", "org"),
}
_CHILD_OF = {  # collection -> (parent id field, parent class)
    "accounts": ("auth_method_id", AuthMethod),
    "host-sets": ("host_catalog_id", HostCatalog),
    "hosts": ("host_catalog_id", HostCatalog),
    "credential-libraries": ("credential_store_id", CredentialStore),
}
_READ_ONLY = {"id", "created_time", "updated_time", "scope", "authorized_actions",
              "authorized_collection_actions", "version"}  # fmt: skip
_SCOPE_COLLECTIONS = {
    "global": ("auth-methods", "auth-tokens", "groups", "roles", "scopes", "storage-buckets",
               "users", "session-recordings"),
    "org": ("auth-methods", "auth-tokens", "groups", "roles", "scopes", "storage-buckets",
            "users", "session-recordings"),
    "project": ("credential-stores", "groups", "host-catalogs", "roles", "sessions", "targets"),
}  # fmt: skip

SessionHook = Callable[[str, str], None]


class BoundaryBackend:
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
        self.lock = threading.RLock()
        self.recording_store = recording_store
        self.vault_verify_tls = vault_verify_tls
        #: called with (session id, reason) when a session is canceled or expires, so that
        #: the proxy can close its connections; set by :class:`~.proxy.SessionProxy`.
        self.session_end_hooks: list[SessionHook] = []
        self.dev_settings: dict[str, str] = {}
        #: seconds an auth token lives (the controller's ``auth_token_time_to_live``)
        self.auth_token_ttl: float = DEFAULT_TOKEN_TTL
        self.reset()

    # ------------------------------------------------------------ state

    def reset(self) -> None:
        """Forget everything, then recreate what ``boundary dev`` creates (if bootstrapped)."""
        with self.lock:
            self.resources: dict[str, Resource] = {}
            self.tokens_by_authz: dict[str, str] = {}
            self.recordings: dict[str, bytes] = {}  # sr id -> document when no S3 store
            t = now()
            self.resources[GLOBAL] = Scope(
                id=GLOBAL, scope_id=GLOBAL, type="global", name="global",
                description="Global Scope", created=t, updated=t,
            )  # fmt: skip
            if self.dev_settings:
                self.bootstrap_dev(**self.dev_settings)

    def bootstrap_dev(self, login_name: str, password: str) -> dict[str, str]:
        """Create what ``boundary dev`` creates: ``ampw_1234567890``, the admin user
        ``u_1234567890`` with account ``acctpw_1234567890``, and the three global roles
        (anonymous login grants, authenticated user grants, administration).

        Difference: the authenticated-user role does not grant ``authorize-session`` on
        targets (``boundary dev`` adds it), so that a user without a role is denied.
        """
        with self.lock:
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
            scope = self.resources[GLOBAL]
            assert isinstance(scope, Scope)
            scope.primary_auth_method_id = am.id
            roles = [
                Role(
                    id=new_id("r"), scope_id=GLOBAL, name="Login Grants",
                    description="Role created for login capability for unauthenticated users",
                    grant_strings=[
                        "ids=*;type=scope;actions=list,no-op",
                        "ids=*;type=auth-method;actions=list,authenticate",
                        "ids=*;type=auth-token;actions=read:self,delete:self",
                    ],
                    principal_ids=[ANON_USER_ID], grant_scope_ids=["this", "descendants"],
                ),
                Role(
                    id=new_id("r"), scope_id=GLOBAL, name="Authenticated User Grants",
                    description="Role created for account self-management, and other initial "
                    "authenticated user grants",
                    grant_strings=[
                        "ids=*;type=scope;actions=read",
                        "ids=*;type=auth-token;actions=list",
                        "ids={{.Account.Id}};actions=read,change-password",
                        "ids=*;type=session;actions=list,read:self,cancel:self",
                        "ids=*;type=target;actions=list,read",
                    ],
                    principal_ids=[AUTH_USER_ID], grant_scope_ids=["this", "descendants"],
                ),
                Role(
                    id=new_id("r"), scope_id=GLOBAL, name="Administration",
                    description="Provides admin grants within all scopes to the initial admin "
                    "user",
                    grant_strings=["ids=*;type=*;actions=*"],
                    principal_ids=[user.id], grant_scope_ids=["this", "descendants"],
                ),
            ]  # fmt: skip
            for res in (am, acct, user, *roles):
                self.resources[res.id] = res
            return {"auth_method_id": am.id, "user_id": user.id, "account_id": acct.id}

    def of_type(self, cls: type[Resource]) -> list[Any]:
        return [r for r in self.resources.values() if type(r) is cls]

    def scope_of(self, resource_id: str) -> str:
        res = self.resources.get(resource_id)
        return res.scope_id if res else GLOBAL  # u_anon, u_auth live in global

    def _scope(self, scope_id: str) -> Scope:
        scope = self.resources.get(scope_id)
        if not isinstance(scope, Scope):
            raise NotFound()
        return scope

    def _get(self, collection: str, resource_id: str) -> Any:
        """The resource, a 400 for an id of the wrong shape, or a 404 as Boundary answers."""
        prefixes = {"scopes": ("o", "p")}.get(collection, (RESOURCE_CLASSES[collection].PREFIX,))
        prefix, sep, rest = resource_id.partition("_")
        if resource_id != GLOBAL and (prefix not in prefixes or not sep or not rest):
            raise InvalidArgument(request_fields={"id": "Incorrectly formatted identifier."})
        res = self.resources.get(resource_id)
        cls = RESOURCE_CLASSES[collection]
        if not isinstance(res, cls):
            raise NotFound()
        return res

    def descendants(self, scope_id: str) -> list[str]:
        """Scope ids under ``scope_id``, itself excluded."""
        out, todo = [], [scope_id]
        while todo:
            parent = todo.pop()
            for s in self.of_type(Scope):
                if s.scope_id == parent and s.id != GLOBAL:
                    out.append(s.id)
                    todo.append(s.id)
        return out

    # ------------------------------------------------------------ callers and grants

    def caller_for_token(self, token: str | None) -> Caller:
        """The caller for a bearer token; an invalid or expired token acts as ``u_anon``
        (the request then fails with 401 unless the anonymous user may do it)."""
        with self.lock:
            at = self._token(token) if token else None
            if at is None:
                return Caller(ANON_USER_ID, self._acl(ANON_USER_ID, "", False))
            at.last_used = now()
            return Caller(at.user_id, self._acl(at.user_id, at.account_id, True), at.id,
                          at.account_id)  # fmt: skip

    def _token(self, token: str) -> AuthToken | None:
        parts = token.split("_")
        if len(parts) < 3:
            return None
        at = self.resources.get(f"{parts[0]}_{parts[1]}")
        secret = "_".join(parts[2:])
        if not isinstance(at, AuthToken) or at.expiration < now():
            return None
        given = hashlib.sha256(secret.encode()).hexdigest()
        return at if hmac.compare_digest(given, at.secret_hash) else None

    def _acl(self, user_id: str, account_id: str, authenticated: bool) -> Acl:
        principals = {user_id, ANON_USER_ID}
        if authenticated:
            principals.add(AUTH_USER_ID)
            principals |= {g.id for g in self.of_type(Group) if user_id in g.member_ids}
        acl = Acl(user_id)
        for role in self.of_type(Role):
            if not principals & set(role.principal_ids):
                continue
            for text in role.grant_strings:
                grant = parse_grant(text)
                for gs in role.grant_scope_ids:
                    acl.add(grant, role.scope_id, gs, account_id)
        return acl

    def ref(self, res: Resource) -> ResourceRef:
        scope_id = res.scope_id if not isinstance(res, Scope) or res.id != GLOBAL else GLOBAL
        parent_scope = self.resources.get(scope_id)
        owner = getattr(res, "user_id", "") if isinstance(res, Session | AuthToken) else ""
        return ResourceRef(
            type=res.TYPE, scope_id=scope_id,
            parent_scope_id=parent_scope.scope_id if parent_scope and scope_id != GLOBAL else "",
            id=res.id, pin=res.parent_id, owner_user_id=owner,
        )  # fmt: skip

    def _collection_ref(self, rtype: str, scope_id: str, pin: str = "") -> ResourceRef:
        scope = self.resources.get(scope_id)
        parent = scope.scope_id if scope is not None and scope_id != GLOBAL else ""
        return ResourceRef(type=rtype, scope_id=scope_id, parent_scope_id=parent, pin=pin)

    def global_ref(self) -> ResourceRef:
        """The global scope, as a permission check sees it."""
        with self.lock:
            return self.ref(self.resources[GLOBAL])

    @staticmethod
    def _deny(caller: Caller) -> Exception:
        return Unauthenticated() if caller.anonymous else PermissionDenied()

    def authorize(self, caller: Caller, ref: ResourceRef, action: str) -> None:
        """Raise 401 (anonymous) or 403 unless the caller's grants allow ``action``."""
        if not caller.acl.allowed_with_self(ref, action):
            raise self._deny(caller)

    def authorized_actions(self, caller: Caller, res: Resource) -> list[str]:
        r = self.ref(res)
        out = []
        for action in res.ID_ACTIONS:
            if action.endswith(":self"):
                if r.owner_user_id == caller.user_id and caller.acl.allowed(r, action)[0]:
                    out.append(action)
            elif caller.acl.allowed(r, action)[0]:
                out.append(action)
        return out

    def _collection_actions(self, caller: Caller, res: Resource) -> dict[str, list[str]]:
        if isinstance(res, Scope):
            wanted = {c: RESOURCE_CLASSES[c].TYPE for c in _SCOPE_COLLECTIONS[res.type]}
            scope_id, pin = res.id, ""
        else:
            wanted, scope_id, pin = dict(res.CHILD_COLLECTIONS), res.scope_id, res.id
        out = {}
        for coll, rtype in wanted.items():
            r = self._collection_ref(rtype, scope_id, pin)
            acts = [a for a in ("create", "list") if caller.acl.allowed(r, a)[0]]
            if coll in ("sessions", "session-recordings", "auth-tokens") and "create" in acts:
                acts.remove("create")  # these are never created through their collection
            if acts:
                out[coll] = acts
        return out

    def scope_info(self, scope_id: str) -> dict[str, Any]:
        s = self._scope(scope_id)
        return _prune({"id": s.id, "type": s.type, "name": s.name,
                       "description": s.description,
                       "parent_scope_id": s.scope_id if s.id != GLOBAL else ""})  # fmt: skip

    def serialize(self, res: Resource, caller: Caller, action: str = "read") -> dict[str, Any]:
        """``res.to_dict()`` as this caller may see it (authorized actions, output fields)."""
        body = {**res.base_dict(), **res.fields(self)}
        body["scope"] = self.scope_info(res.scope_id if res.id != GLOBAL else GLOBAL)
        body["authorized_actions"] = self.authorized_actions(caller, res)
        if isinstance(res, Scope) or res.CHILD_COLLECTIONS:
            body["authorized_collection_actions"] = self._collection_actions(caller, res)
        body = _prune(body)
        _, fields = caller.acl.allowed(self.ref(res), action)
        if fields is not None:
            body = {k: v for k, v in body.items() if k in fields}
        return body

    # ------------------------------------------------------------ generic CRUD

    def create_resource(self, collection: str, body: dict[str, Any], caller: Caller) -> dict:
        """POST /v1/<collection>. Returns the new item."""
        with self.lock:
            cls = RESOURCE_CLASSES[collection]
            bad = {k: "This is a read only field." for k in body if k in _READ_ONLY}
            if bad:
                raise InvalidArgument(request_fields=bad)
            if collection in _CHILD_OF:
                key, parent_cls = _CHILD_OF[collection]
                parent = self.resources.get(body.get(key, ""))
                if not isinstance(parent, parent_cls):
                    if not body.get(key):
                        raise InvalidArgument(request_fields={key: "This field is required."})
                    raise NotFound()
                scope_id, pin = parent.scope_id, parent.id
            else:
                scope_id, pin = body.get("scope_id", ""), ""
                if not scope_id:
                    raise InvalidArgument(request_fields={"scope_id": "This field is required."})
                scope = self._scope(scope_id)
                if scope.type not in _SCOPE_PARENTED[collection]:
                    raise InvalidArgument(
                        request_fields={"scope_id": f"This resource cannot be created in a "
                                        f"{scope.type} scope."})  # fmt: skip
            self.authorize(caller, self._collection_ref(cls.TYPE, scope_id, pin), "create")
            builder = getattr(self, f"_build_{cls.__name__.lower()}", None)
            if builder is None:
                raise InvalidArgument(f"Resources of {collection} are created by Boundary.")
            res = builder(body, scope_id)
            self._check_unique_name(res)
            self.resources[res.id] = res
            return self.serialize(res, caller)

    def _check_unique_name(self, res: Resource) -> None:
        if not res.name:
            return
        for other in self.resources.values():
            if (
                type(other) is type(res)
                and other.id != res.id
                and other.name == res.name
                and other.scope_id == res.scope_id
                and other.parent_id == res.parent_id
            ):
                raise InvalidArgument(
                    "Invalid request.  Request attempted to make second resource with the "
                    "same field value that must be unique.")  # fmt: skip

    def read_resource(self, collection: str, resource_id: str, caller: Caller) -> dict:
        """GET /v1/<collection>/<id>."""
        with self.lock:
            self._expire_sessions()
            res = self._get(collection, resource_id)
            self.authorize(caller, self.ref(res), "read")
            return self.serialize(res, caller)

    def update_resource(self, collection: str, resource_id: str, body: dict[str, Any],
                        caller: Caller) -> dict:  # fmt: skip
        """PATCH /v1/<collection>/<id> with ``version``; a stale version is a 404 as in
        Boundary (``<Kind> "<id>" doesn't exist or incorrect version provided.``)."""
        with self.lock:
            res = self._get(collection, resource_id)
            self.authorize(caller, self.ref(res), "update")
            version = body.get("version")
            if not version:
                raise InvalidArgument(request_fields={"version": "Required field."})
            bad = {k: "This is a read only field." for k in body
                   if k in _READ_ONLY - {"version"} or k in ("scope_id", "type")}  # fmt: skip
            if bad:
                raise InvalidArgument(request_fields=bad)
            if version != res.version:
                raise NotFound(
                    f'{res.NAME} "{res.id}" doesn\'t exist or incorrect version provided.'
                )
            updater = getattr(self, f"_update_{type(res).__name__.lower()}", None)
            if updater is None:
                raise InvalidArgument(f"Resources of {collection} cannot be updated.")
            candidate = _copy(res)
            updater(candidate, body)
            self._check_unique_name(candidate)
            candidate.touch()
            self.resources[res.id] = candidate
            return self.serialize(candidate, caller)

    def delete_resource(self, collection: str, resource_id: str, caller: Caller) -> None:
        """DELETE /v1/<collection>/<id>; children go with their parent (204 No Content)."""
        with self.lock:
            res = self._get(collection, resource_id)
            if isinstance(res, SessionRecording):
                raise FailedPrecondition(
                    "Session recordings are read-only in the sandbox: they cannot be deleted."
                )
            if res.id == GLOBAL:
                raise InvalidArgument(request_fields={"id": "Cannot delete the global scope."})
            self.authorize(caller, self.ref(res), "delete")
            if isinstance(res, StorageBucket):
                self._check_bucket_unused(res)
            self._delete_tree(res)

    def _check_bucket_unused(self, bucket: StorageBucket) -> None:
        """Boundary's schema refuses to delete a storage bucket still in use: its session
        recordings reference it ``on delete restrict``, and a target's ``storage_bucket_id``
        is set null ``on delete``, which the ``validate_target_storage_bucket`` trigger
        refuses while the target has ``enable_session_recording`` (``raise exception
        'session recording enabled without storage bucket'``). The database error surfaces
        as Boundary's generic 500 ``Internal`` (handlers/errors.go). Targets that do not
        record just lose the reference, as ``on delete set null`` does."""
        recording = [
            r.id for r in self.of_type(SessionRecording) if r.storage_bucket_id == bucket.id
        ]
        if recording:
            raise Internal(
                'update or delete on table "storage_plugin_storage_bucket" violates foreign key'
                ' constraint "storage_plugin_storage_bucket_fkey" on table "recording_session":'
                f" storage bucket {bucket.id} holds session recordings ({', '.join(recording)});"
                " storage buckets with session recordings cannot be deleted."
            )
        users = [t for t in self.of_type(Target) if t.storage_bucket_id == bucket.id]
        recording_targets = [t.id for t in users if t.enable_session_recording]
        if recording_targets:
            raise Internal(
                "session recording enabled without storage bucket: target(s)"
                f" {', '.join(recording_targets)} record to storage bucket {bucket.id}; turn"
                " their session recording off or give them another storage bucket first."
            )
        for target in users:
            target.storage_bucket_id = ""

    def _delete_tree(self, res: Resource) -> None:
        self.resources.pop(res.id, None)
        for other in list(self.resources.values()):
            if other.parent_id == res.id or (isinstance(res, Scope) and other.scope_id == res.id
                                             and other.id != GLOBAL):  # fmt: skip
                self._delete_tree(other)
        for other in self.resources.values():  # drop dangling references
            for attr in ("member_ids", "principal_ids", "account_ids", "host_ids",
                         "host_source_ids", "brokered_credential_source_ids"):  # fmt: skip
                ids = getattr(other, attr, None)
                if ids is not None and res.id in ids:
                    ids.remove(res.id)

    def list_resources(self, collection: str, params: dict[str, str], caller: Caller) -> dict:
        """GET /v1/<collection>?scope_id=...&recursive=true (or the parent id for child
        collections). Items the caller has no action on are left out, as in Boundary."""
        with self.lock:
            self._expire_sessions()
            cls = RESOURCE_CLASSES[collection]
            if collection in _CHILD_OF:
                key, parent_cls = _CHILD_OF[collection]
                if not params.get(key):
                    raise InvalidArgument(request_fields={key: "This field is required."})
                parent = self.resources.get(params[key])
                if not isinstance(parent, parent_cls):
                    raise NotFound()
                self.authorize(caller, self._collection_ref(cls.TYPE, parent.scope_id, parent.id),
                               "list")  # fmt: skip
                candidates = [r for r in self.of_type(cls) if r.parent_id == parent.id]
            else:
                scope_id = params.get("scope_id") or GLOBAL
                self._scope(scope_id)
                scopes = [scope_id]
                if params.get("recursive", "").lower() == "true":
                    scopes += self.descendants(scope_id)
                allowed = [s for s in scopes if caller.acl.allowed(
                    self._collection_ref(cls.TYPE, s), "list")[0]]  # fmt: skip
                if not allowed:
                    raise self._deny(caller)
                candidates = [r for r in self.of_type(cls) if r.id != GLOBAL and (
                    r.scope_id in allowed)]  # fmt: skip
                if cls is Session and params.get("include_terminated", "").lower() != "true":
                    candidates = [r for r in candidates if r.status != "terminated"]
            items = []
            for res in sorted(candidates, key=lambda r: r.created, reverse=True):
                if self.authorized_actions(caller, res):
                    items.append(self.serialize(res, caller, "list"))
            items = _apply_filter(items, params.get("filter", ""))
            return {
                "items": items,
                "response_type": "complete",
                "list_token": secrets.token_urlsafe(24),
                "sort_by": "created_time",
                "sort_dir": "desc",
                "est_item_count": len(items),
            }

    # ------------------------------------------------------------ builders and updaters

    @staticmethod
    def _check_fields(body: dict[str, Any], allowed: Iterable[str], attrs: Iterable[str] = ()):
        bad = {k: "Unknown field." for k in body if k not in set(allowed) | {"attributes"}}
        attributes = body.get("attributes") or {}
        if not isinstance(attributes, dict):
            bad["attributes"] = "Must be an object."
        else:
            bad |= {f"attributes.{k}": "Unknown field." for k in attributes
                    if k not in set(attrs)}  # fmt: skip
        if bad:
            raise InvalidArgument(request_fields=bad)
        return attributes

    _COMMON = ("name", "description", "scope_id", "type", "version")

    def _build_scope(self, body: dict[str, Any], scope_id: str) -> Scope:
        self._check_fields(body, self._COMMON)
        parent = self._scope(scope_id)
        kind = "org" if parent.type == "global" else "project"
        return Scope(
            id=new_id("o" if kind == "org" else "p"),
            scope_id=scope_id,
            type=kind,
            name=body.get("name") or "",
            description=body.get("description") or "",
        )

    def _update_scope(self, res: Scope, body: dict[str, Any]) -> None:
        self._check_fields(body, (*self._COMMON, "primary_auth_method_id"))
        _set_common(res, body)
        if "primary_auth_method_id" in body:
            res.primary_auth_method_id = body["primary_auth_method_id"] or ""

    def _build_authmethod(self, body: dict[str, Any], scope_id: str) -> AuthMethod:
        attrs = self._check_fields(
            body, self._COMMON, ("min_login_name_length", "min_password_length")
        )
        if body.get("type") != "password":
            raise InvalidArgument(request_fields={"type": "Only 'password' is supported in "
                                                  "the sandbox."})  # fmt: skip
        am = AuthMethod(id=new_id("ampw"), scope_id=scope_id)
        _set_common(am, body)
        am.min_login_name_length = int(attrs.get("min_login_name_length") or 3)
        am.min_password_length = int(attrs.get("min_password_length") or 8)
        return am

    def _update_authmethod(self, res: AuthMethod, body: dict[str, Any]) -> None:
        attrs = self._check_fields(
            body, self._COMMON, ("min_login_name_length", "min_password_length")
        )
        _set_common(res, body)
        for k in ("min_login_name_length", "min_password_length"):
            if k in attrs:
                setattr(res, k, int(attrs[k] or (3 if "login" in k else 8)))

    def _build_account(self, body: dict[str, Any], scope_id: str) -> Account:
        attrs = self._check_fields(
            body, (*self._COMMON, "auth_method_id"), ("login_name", "password")
        )
        am = self.resources[body["auth_method_id"]]
        assert isinstance(am, AuthMethod)
        login = str(attrs.get("login_name") or "")
        password = str(attrs.get("password") or "")
        bad = {}
        if not login:
            bad["attributes.login_name"] = "This is a required field for this type."
        elif login != login.lower() or len(login) < am.min_login_name_length:
            bad["attributes.login_name"] = "Invalid login name."
        if password and len(password) < am.min_password_length:
            bad["attributes.password"] = "Password is too short."
        if any(a.login_name == login for a in self.of_type(Account)
               if a.auth_method_id == am.id):  # fmt: skip
            raise InvalidArgument(
                "Invalid request.  Request attempted to make second resource with the same "
                "field value that must be unique.")  # fmt: skip
        if bad:
            raise InvalidArgument(request_fields=bad)
        acct = Account(id=new_id("acctpw"), scope_id=scope_id, auth_method_id=am.id,
                       login_name=login)  # fmt: skip
        _set_common(acct, body)
        if password:
            acct.set_password(password)
        return acct

    def _update_account(self, res: Account, body: dict[str, Any]) -> None:
        attrs = self._check_fields(body, self._COMMON, ("login_name",))
        _set_common(res, body)
        if attrs.get("login_name"):
            res.login_name = str(attrs["login_name"])

    def _build_user(self, body: dict[str, Any], scope_id: str) -> User:
        self._check_fields(body, self._COMMON)
        user = User(id=new_id("u"), scope_id=scope_id)
        _set_common(user, body)
        return user

    def _update_user(self, res: User, body: dict[str, Any]) -> None:
        self._check_fields(body, self._COMMON)
        _set_common(res, body)

    def _build_group(self, body: dict[str, Any], scope_id: str) -> Group:
        self._check_fields(body, self._COMMON)
        group = Group(id=new_id("g"), scope_id=scope_id)
        _set_common(group, body)
        return group

    _update_group = _update_user

    def _build_role(self, body: dict[str, Any], scope_id: str) -> Role:
        self._check_fields(body, (*self._COMMON, "grant_scope_id"))
        role = Role(id=new_id("r"), scope_id=scope_id)
        _set_common(role, body)
        return role

    _update_role = _update_user

    def _build_hostcatalog(self, body: dict[str, Any], scope_id: str) -> HostCatalog:
        self._check_fields(body, self._COMMON)
        _require_type(body, "static")
        hc = HostCatalog(id=new_id("hcst"), scope_id=scope_id)
        _set_common(hc, body)
        return hc

    _update_hostcatalog = _update_user

    def _build_host(self, body: dict[str, Any], scope_id: str) -> Host:
        attrs = self._check_fields(body, (*self._COMMON, "host_catalog_id"), ("address",))
        if not attrs.get("address"):
            raise InvalidArgument(
                request_fields={"attributes.address": "This field is required."})  # fmt: skip
        host = Host(id=new_id("hst"), scope_id=scope_id, host_catalog_id=body["host_catalog_id"],
                    address=str(attrs["address"]))  # fmt: skip
        _set_common(host, body)
        return host

    def _update_host(self, res: Host, body: dict[str, Any]) -> None:
        attrs = self._check_fields(body, self._COMMON, ("address",))
        _set_common(res, body)
        if "address" in attrs:
            if not attrs["address"]:
                raise InvalidArgument(request_fields={"attributes.address": "Cannot be empty."})
            res.address = str(attrs["address"])

    def _build_hostset(self, body: dict[str, Any], scope_id: str) -> HostSet:
        self._check_fields(body, (*self._COMMON, "host_catalog_id"))
        hs = HostSet(id=new_id("hsst"), scope_id=scope_id,
                     host_catalog_id=body["host_catalog_id"])  # fmt: skip
        _set_common(hs, body)
        return hs

    _update_hostset = _update_user

    _STORE_ATTRS = ("address", "token", "namespace", "ca_cert", "tls_server_name",
                    "tls_skip_verify", "worker_filter")  # fmt: skip

    def _build_credentialstore(self, body: dict[str, Any], scope_id: str) -> CredentialStore:
        attrs = self._check_fields(body, self._COMMON, self._STORE_ATTRS)
        _require_type(body, "vault")
        bad = {f"attributes.{k}": "Field required for creating a vault credential store."
               for k in ("address", "token") if not attrs.get(k)}  # fmt: skip
        if bad:
            raise InvalidArgument(request_fields=bad)
        store = CredentialStore(id=new_id("csvlt"), scope_id=scope_id,
                                address=str(attrs["address"]).rstrip("/"),
                                token=str(attrs["token"]))  # fmt: skip
        _set_common(store, body)
        self._set_store_attrs(store, attrs)
        return store

    def _set_store_attrs(self, store: CredentialStore, attrs: dict[str, Any]) -> None:
        for k in ("namespace", "tls_server_name", "worker_filter"):
            if k in attrs:
                setattr(store, k, attrs[k] or "")
        if "tls_skip_verify" in attrs:
            store.tls_skip_verify = bool(attrs["tls_skip_verify"])
        # Boundary looks the token up in Vault before accepting it.
        try:
            brokering.lookup_self(store.address, store.token, store.namespace,
                                  verify=not store.tls_skip_verify)  # fmt: skip
        except brokering.VaultError as err:
            raise InvalidArgument(
                f"Unable to create credential store: vault token lookup failed: {err}"
            ) from None

    def _update_credentialstore(self, res: CredentialStore, body: dict[str, Any]) -> None:
        attrs = self._check_fields(body, self._COMMON, self._STORE_ATTRS)
        _set_common(res, body)
        if attrs.get("address"):
            res.address = str(attrs["address"]).rstrip("/")
        if attrs.get("token"):
            res.token = str(attrs["token"])
        if attrs:
            self._set_store_attrs(res, attrs)

    _LIB_ATTRS = ("path", "http_method", "http_request_body")

    def _build_credentiallibrary(self, body: dict[str, Any], scope_id: str) -> CredentialLibrary:
        attrs = self._check_fields(body, (*self._COMMON, "credential_store_id",
                                          "credential_type"), self._LIB_ATTRS)  # fmt: skip
        if body.get("type", "vault-generic") not in ("vault-generic", "vault"):
            raise InvalidArgument(request_fields={"type": "Only 'vault-generic' is supported."})
        if not attrs.get("path"):
            raise InvalidArgument(request_fields={"attributes.path": "This is a required field."})
        lib = CredentialLibrary(id=new_id("clvlt"), scope_id=scope_id,
                                credential_store_id=body["credential_store_id"],
                                path=str(attrs["path"]))  # fmt: skip
        _set_common(lib, body)
        self._set_lib_attrs(lib, body, attrs)
        return lib

    @staticmethod
    def _set_lib_attrs(lib: CredentialLibrary, body: dict[str, Any], attrs: dict[str, Any]):
        if "credential_type" in body:
            ctype = body["credential_type"] or ""
            if ctype not in ("", "username_password"):
                raise InvalidArgument(request_fields={
                    "credential_type": "Only 'username_password' is supported."})  # fmt: skip
            lib.credential_type = ctype
        if attrs.get("path"):
            lib.path = str(attrs["path"])
        if "http_method" in attrs:
            method = str(attrs["http_method"] or "GET").upper()
            if method not in ("GET", "POST"):
                raise InvalidArgument(request_fields={
                    "attributes.http_method": "Must be GET or POST."})  # fmt: skip
            lib.http_method = method
        if "http_request_body" in attrs:
            if attrs["http_request_body"] and lib.http_method != "POST":
                raise InvalidArgument(request_fields={
                    "attributes.http_request_body": "Only valid with POST."})  # fmt: skip
            lib.http_request_body = attrs["http_request_body"] or ""

    def _update_credentiallibrary(self, res: CredentialLibrary, body: dict[str, Any]) -> None:
        attrs = self._check_fields(body, (*self._COMMON, "credential_type"), self._LIB_ATTRS)
        _set_common(res, body)
        self._set_lib_attrs(res, body, attrs)

    _BUCKET_FIELDS = ("bucket_name", "bucket_prefix", "plugin_name", "plugin_id", "secrets",
                      "worker_filter")  # fmt: skip

    def _build_storagebucket(self, body: dict[str, Any], scope_id: str) -> StorageBucket:
        attrs = self._check_fields(
            body,
            (*self._COMMON, *self._BUCKET_FIELDS),
            (
                "region",
                "endpoint_url",
                "disable_credential_rotation",
                "role_arn",
                "role_external_id",
                "role_session_name",
            ),
        )
        if body.get("type", "plugin") != "plugin" or body.get("plugin_name", "aws") != "aws":
            raise InvalidArgument(request_fields={"plugin_name": "Only 'aws' is supported."})
        if not body.get("bucket_name"):
            raise InvalidArgument(request_fields={"bucket_name": "This is a required field."})
        if self.recording_store is None:
            raise FailedPrecondition(
                "This sandbox Boundary was started without "
                "--recording-s3-endpoint: no S3 to store recordings in."
            )
        try:
            self.recording_store.check_bucket(body["bucket_name"])
        except Exception as err:  # botocore's ClientError and connection errors alike
            raise InvalidArgument(
                request_fields={"bucket_name": f"Unable to reach bucket: {type(err).__name__}."}
            ) from None
        secrets_given = body.get("secrets") or {}
        sb = StorageBucket(
            id=new_id("sb"), scope_id=scope_id, bucket_name=body["bucket_name"],
            bucket_prefix=body.get("bucket_prefix") or "", attributes=dict(attrs),
            secrets_hmac=hmac_of(repr(sorted(secrets_given.items()))) if secrets_given else "",
            worker_filter=body.get("worker_filter") or "",
        )  # fmt: skip
        _set_common(sb, body)
        return sb

    def _update_storagebucket(self, res: StorageBucket, body: dict[str, Any]) -> None:
        attrs = self._check_fields(
            body,
            (*self._COMMON, "secrets", "worker_filter"),
            ("region", "endpoint_url", "disable_credential_rotation"),
        )
        _set_common(res, body)
        res.attributes.update(attrs)

    _TARGET_FIELDS = (
        "address",
        "session_max_seconds",
        "session_connection_limit",
        "worker_filter",
        "egress_worker_filter",
        "ingress_worker_filter",
    )
    _TARGET_ATTRS = ("default_port", "default_client_port", "enable_session_recording",
                     "storage_bucket_id")  # fmt: skip

    def _build_target(self, body: dict[str, Any], scope_id: str) -> Target:
        self._check_fields(body, (*self._COMMON, *self._TARGET_FIELDS), self._TARGET_ATTRS)
        _require_type(body, "tcp")
        if not body.get("name"):
            raise InvalidArgument(request_fields={"name": "This field is required."})
        target = Target(id=new_id("ttcp"), scope_id=scope_id)
        self._update_target(target, body)
        return target

    def _update_target(self, res: Target, body: dict[str, Any]) -> None:
        attrs = self._check_fields(body, (*self._COMMON, *self._TARGET_FIELDS),
                                   self._TARGET_ATTRS)  # fmt: skip
        _set_common(res, body)
        bad = {}
        if "address" in body:
            if body["address"] and res.host_source_ids:
                bad["address"] = "Cannot set an address on a target with host sources."
            res.address = body["address"] or ""
        for k, default in (("session_max_seconds", 28800), ("session_connection_limit", -1)):
            if k in body:
                v = body[k] if body[k] is not None else default
                if not isinstance(v, int) or v == 0 or v < -1 or (
                        k == "session_max_seconds" and v < 1):  # fmt: skip
                    bad[k] = "This must be greater than zero." if k == "session_max_seconds" \
                        else "This must be -1 (unlimited) or greater than zero."  # fmt: skip
                else:
                    setattr(res, k, v)
        for k in ("worker_filter", "egress_worker_filter", "ingress_worker_filter"):
            if k in body:
                setattr(res, k, body[k] or "")
        for k in ("default_port", "default_client_port"):
            if k in attrs:
                v = attrs[k] or 0
                if not isinstance(v, int) or not 0 <= v <= 65535:
                    bad[f"attributes.{k}"] = "Must be a port number."
                else:
                    setattr(res, k, v)
        if "storage_bucket_id" in attrs:
            sb = attrs["storage_bucket_id"] or ""
            if sb and not isinstance(self.resources.get(sb), StorageBucket):
                bad["attributes.storage_bucket_id"] = "Unknown storage bucket."
            res.storage_bucket_id = sb
        if "enable_session_recording" in attrs:
            res.enable_session_recording = bool(attrs["enable_session_recording"])
        if res.enable_session_recording and not res.storage_bucket_id:
            bad["attributes.storage_bucket_id"] = (
                "This field is required when session recording is enabled."
            )
        if bad:
            raise InvalidArgument(request_fields=bad)

    # ------------------------------------------------------------ membership-style actions

    def _versioned(self, collection: str, resource_id: str, body: dict[str, Any],
                   caller: Caller, action: str, what: str) -> Any:  # fmt: skip
        res = self._get(collection, resource_id)
        self.authorize(caller, self.ref(res), action)
        if not body.get("version"):
            raise InvalidArgument(request_fields={"version": "Required field."})
        if body["version"] != res.version:
            # Boundary surfaces the failed versioned update as an Internal error here.
            raise Internal(f"Unable to {what}: {res.NAME.lower()} version {body['version']} "
                           f"does not match the current version {res.version}.")  # fmt: skip
        return res

    def _apply_ids(self, current: list[str], given: list[str], op: str) -> list[str]:
        if op == "add":
            return current + [i for i in dict.fromkeys(given) if i not in current]
        if op == "remove":
            return [i for i in current if i not in given]
        return list(dict.fromkeys(given))

    def _ids(self, body: dict[str, Any], key: str, op: str) -> list[str]:
        given = body.get(key) or []
        if not isinstance(given, list) or not all(isinstance(i, str) for i in given):
            raise InvalidArgument(request_fields={key: "Must be a list of ids."})
        if op != "set" and not given:
            raise InvalidArgument(request_fields={key: "Must be non-empty."})
        return given

    def change_group_members(self, group_id: str, op: str, body: dict, caller: Caller) -> dict:
        """POST /v1/groups/{id}:add-members | :set-members | :remove-members."""
        with self.lock:
            group = self._versioned("groups", group_id, body, caller, f"{op}-members",
                                    f"{op} members of group")  # fmt: skip
            given = self._ids(body, "member_ids", op)
            bad = [i for i in given if not isinstance(self.resources.get(i), User)]
            if bad and op != "remove":
                raise InvalidArgument(request_fields={"member_ids": f"Unknown users: {bad}."})
            group.member_ids = self._apply_ids(group.member_ids, given, op)
            group.touch()
            return self.serialize(group, caller)

    def change_role_principals(self, role_id: str, op: str, body: dict, caller: Caller) -> dict:
        """POST /v1/roles/{id}:add-principals | :set-principals | :remove-principals."""
        with self.lock:
            role = self._versioned("roles", role_id, body, caller, f"{op}-principals",
                                   f"{op} principals of role")  # fmt: skip
            given = self._ids(body, "principal_ids", op)
            specials = (ANON_USER_ID, AUTH_USER_ID, "u_recovery")
            bad = [i for i in given if i not in specials
                   and not isinstance(self.resources.get(i), User | Group)]  # fmt: skip
            if bad and op != "remove":
                raise InvalidArgument(
                    request_fields={
                        "principal_ids": f"Must only have user or group ids; unknown: {bad}."
                    }
                )
            role.principal_ids = self._apply_ids(role.principal_ids, given, op)
            role.touch()
            return self.serialize(role, caller)

    def change_role_grants(self, role_id: str, op: str, body: dict, caller: Caller) -> dict:
        """POST /v1/roles/{id}:add-grants | :set-grants | :remove-grants; grant strings are
        parsed as Boundary does and a malformed one is a 400 naming it."""
        with self.lock:
            role = self._versioned("roles", role_id, body, caller, f"{op}-grants",
                                   f"{op} grants of role")  # fmt: skip
            given = self._ids(body, "grant_strings", op)
            for g in given:
                if not g:
                    raise InvalidArgument(request_fields={
                        "grant_strings": "Grant strings must not be empty."})  # fmt: skip
                try:
                    parse_grant(g)
                except GrantError as err:
                    detail = f'Improperly formatted grant "{g}"'
                    detail += f": {err}." if op == "set" else "."
                    raise InvalidArgument(request_fields={"grant_strings": detail}) from None
                if g.startswith("id=") or ";id=" in g:
                    raise InvalidArgument(request_fields={"grant_strings": (
                        f'Grant "{g}" uses the "id" field which is no longer supported. '
                        'Please use "ids" instead.')})  # fmt: skip
            role.grant_strings = self._apply_ids(role.grant_strings, given, op)
            role.touch()
            return self.serialize(role, caller)

    def change_role_grant_scopes(self, role_id: str, op: str, body: dict, caller: Caller) -> dict:
        """POST /v1/roles/{id}:add-grant-scopes | :set-grant-scopes | :remove-grant-scopes."""
        with self.lock:
            role = self._versioned("roles", role_id, body, caller, f"{op}-grant-scopes",
                                   f"{op} grant scopes of role")  # fmt: skip
            given = self._ids(body, "grant_scope_ids", op)
            for gs in given:
                if gs in ("this", "children", "descendants"):
                    if gs == "descendants" and role.scope_id != GLOBAL:
                        raise InvalidArgument(
                            request_fields={
                                "grant_scope_ids": (
                                    '"descendants" is only valid for roles in the global scope.'
                                )
                            }
                        )
                    continue
                if not isinstance(self.resources.get(gs), Scope) or (
                    gs != role.scope_id and gs not in self.descendants(role.scope_id)
                ):
                    raise InvalidArgument(
                        request_fields={
                            "grant_scope_ids": (
                                f'Scope "{gs}" is not the role\'s scope or one of its descendants.'
                            )
                        }
                    )
            role.grant_scope_ids = self._apply_ids(role.grant_scope_ids, given, op)
            role.touch()
            return self.serialize(role, caller)

    def change_host_set_hosts(self, set_id: str, op: str, body: dict, caller: Caller) -> dict:
        """POST /v1/host-sets/{id}:add-hosts | :set-hosts | :remove-hosts."""
        with self.lock:
            hs = self._versioned("host-sets", set_id, body, caller, f"{op}-hosts",
                                 f"{op} hosts of host set")  # fmt: skip
            given = self._ids(body, "host_ids", op)
            bad = [h for h in given if not (isinstance(self.resources.get(h), Host)
                   and self.resources[h].parent_id == hs.host_catalog_id)]  # fmt: skip
            if bad and op != "remove":
                raise InvalidArgument(request_fields={
                    "host_ids": f"Hosts not in this host set's catalog: {bad}."})  # fmt: skip
            hs.host_ids = self._apply_ids(hs.host_ids, given, op)
            hs.touch()
            return self.serialize(hs, caller)

    def change_target_host_sources(self, target_id: str, op: str, body: dict,
                                   caller: Caller) -> dict:  # fmt: skip
        """POST /v1/targets/{id}:add-host-sources | :set-host-sources | :remove-host-sources."""
        with self.lock:
            target = self._versioned("targets", target_id, body, caller, f"{op}-host-sources",
                                     f"{op} host sources of target")  # fmt: skip
            given = self._ids(body, "host_source_ids", op)
            bad = [h for h in given if not (isinstance(self.resources.get(h), HostSet)
                   and self.resources[h].scope_id == target.scope_id)]  # fmt: skip
            if bad and op != "remove":
                raise InvalidArgument(
                    request_fields={"host_source_ids": f"Unknown host sets in this project: {bad}."}
                )
            if given and op != "remove" and target.address:
                raise InvalidArgument(
                    request_fields={
                        "host_source_ids": "Cannot add host sources to a target with an address."
                    }
                )
            target.host_source_ids = self._apply_ids(target.host_source_ids, given, op)
            target.touch()
            return self.serialize(target, caller)

    def change_target_credential_sources(self, target_id: str, op: str, body: dict,
                                         caller: Caller) -> dict:  # fmt: skip
        """POST /v1/targets/{id}:add-credential-sources | :set-... | :remove-...
        (brokered sources; injected application credentials are not implemented)."""
        with self.lock:
            target = self._versioned("targets", target_id, body, caller,
                                     f"{op}-credential-sources",
                                     f"{op} credential sources of target")  # fmt: skip
            if body.get("injected_application_credential_source_ids"):
                raise InvalidArgument(
                    request_fields={
                        "injected_application_credential_source_ids": (
                            "Injected application credentials are not supported on TCP targets."
                        )
                    }
                )
            key = "brokered_credential_source_ids"
            given = body.get(key) or []
            if op != "set" and not given:
                raise InvalidArgument(request_fields={key: "Must be non-empty."})
            bad = [c for c in given if not (isinstance(self.resources.get(c), CredentialLibrary)
                   and self.resources[c].scope_id == target.scope_id)]  # fmt: skip
            if bad and op != "remove":
                raise InvalidArgument(request_fields={
                    key: f"Unknown credential sources in this project: {bad}."})  # fmt: skip
            target.brokered_credential_source_ids = self._apply_ids(
                target.brokered_credential_source_ids, given, op
            )
            target.touch()
            return self.serialize(target, caller)

    def change_user_accounts(self, user_id: str, op: str, body: dict, caller: Caller) -> dict:
        """POST /v1/users/{id}:add-accounts | :set-accounts | :remove-accounts."""
        with self.lock:
            user = self._versioned("users", user_id, body, caller, f"{op}-accounts",
                                   f"{op} accounts of user")  # fmt: skip
            given = self._ids(body, "account_ids", op)
            for a in given:
                if not isinstance(self.resources.get(a), Account) and op != "remove":
                    raise InvalidArgument(request_fields={"account_ids": f"Unknown: {a}."})
                owner = next((u for u in self.of_type(User)
                              if a in u.account_ids and u.id != user.id), None)  # fmt: skip
                if owner is not None and op != "remove":
                    raise InvalidArgument(f"account {a} is already associated with another user")
            user.account_ids = self._apply_ids(user.account_ids, given, op)
            user.touch()
            return self.serialize(user, caller)

    # ------------------------------------------------------------ authentication

    def authenticate(self, auth_method_id: str, body: dict, caller: Caller) -> dict:
        """POST /v1/auth-methods/{id}:authenticate with ``attributes.login_name`` and
        ``password``; answers ``{"command": "login", "attributes": <auth token>}`` whose
        ``token`` is the bearer token. Not implemented: ``token_type: cookie``."""
        with self.lock:
            am = self._get("auth-methods", auth_method_id)
            self.authorize(caller, self.ref(am), "authenticate")
            attrs = body.get("attributes") or {}
            login, password = attrs.get("login_name"), attrs.get("password")
            if not login or not password:
                raise InvalidArgument(request_fields={
                    "attributes": "login_name and password are required."})  # fmt: skip
            acct = next(
                (
                    a
                    for a in self.of_type(Account)
                    if a.auth_method_id == am.id and a.login_name == login
                ),
                None,
            )
            if acct is None or not acct.check_password(password):
                raise Unauthenticated("Unable to authenticate.")
            user = next((u for u in self.of_type(User) if acct.id in u.account_ids), None)
            if user is None:
                raise Unauthenticated("Unable to authenticate.")
            secret = secrets.token_urlsafe(32)
            at = AuthToken(
                id=new_id("at"), scope_id=am.scope_id, user_id=user.id,
                auth_method_id=am.id, account_id=acct.id,
                secret_hash=hashlib.sha256(secret.encode()).hexdigest(),
                expiration=now() + self.auth_token_ttl,
            )  # fmt: skip
            self.resources[at.id] = at
            new_caller = Caller(user.id, self._acl(user.id, acct.id, True), at.id, acct.id)
            item = self.serialize(at, new_caller)
            item["token"] = f"{at.id}_{secret}"
            return {"command": body.get("command") or "login", "attributes": item}

    # ------------------------------------------------------------ sessions

    def authorize_session(self, target_id: str, body: dict, caller: Caller) -> dict:
        """POST /v1/targets/{id}:authorize-session: a pending session, brokered credentials
        from Vault, and the authorization token the proxy accepts."""
        host_id = body.get("host_id") or ""
        with self.lock:
            target = self._get("targets", target_id)
            self.authorize(caller, self.ref(target), "authorize-session")
            host_set_id, endpoint_host = "", target.address
            if not target.address:
                candidates = [(hs_id, h) for hs_id in target.host_source_ids
                              for h in self.resources[hs_id].host_ids
                              if not host_id or h == host_id]  # fmt: skip
                if not candidates:
                    raise FailedPrecondition(
                        "No host sources or address found for given target.")  # fmt: skip
                host_set_id, host_id = secrets.choice(candidates)
                endpoint_host = self.resources[host_id].address
            host, _, port_text = endpoint_host.rpartition(":")
            if not host or not port_text.isdigit():
                host, port = endpoint_host, target.default_port
            else:
                port = int(port_text)
            if not port:
                raise FailedPrecondition("Target has no default port and its address no port.")
            libs = [self.resources[c] for c in target.brokered_credential_source_ids]
            stores = {lib.id: self.resources[lib.credential_store_id] for lib in libs}
            recording_bucket = self.resources.get(target.storage_bucket_id)
            if target.enable_session_recording and not isinstance(recording_bucket, StorageBucket):
                # Boundary's schema never lets this happen (see _check_bucket_unused); should
                # it, no session may start unrecorded.
                raise FailedPrecondition(
                    "session recording enabled without storage bucket: the target's storage"
                    " bucket does not exist."
                )
            user_res = self.resources.get(caller.user_id)
        # Vault is called without the lock held: it may be slow and the proxy must not wait.
        issued: list[tuple[CredentialLibrary, CredentialStore, brokering.VaultSecret]] = []
        try:
            for lib in libs:
                store = stores[lib.id]
                secret = brokering.issue(
                    store.address, store.token, lib.path, namespace=store.namespace,
                    http_method=lib.http_method, http_request_body=lib.http_request_body,
                    verify=self.vault_verify_tls and not store.tls_skip_verify,
                )  # fmt: skip
                issued.append((lib, store, secret))
        except brokering.VaultError as err:
            self._revoke([(s.id, sec.lease_id) for _, s, sec in issued])
            raise Internal(f"Unable to retrieve credentials for session: {err}") from None
        with self.lock:
            sess = Session(
                id=new_id("s"), scope_id=target.scope_id, target_id=target.id,
                user_id=caller.user_id, auth_token_id=caller.token_id,
                endpoint=f"tcp://{host}:{port}", host=host, port=port,
                expiration=now() + target.session_max_seconds,
                connection_limit=target.session_connection_limit,
                host_set_id=host_set_id, host_id=host_id,
                authorization_token=secrets.token_urlsafe(48),
                leases=[(s.id, sec.lease_id) for _, s, sec in issued if sec.lease_id],
            )  # fmt: skip
            sess.set_status("pending")
            sess.version = 1
            if target.enable_session_recording and isinstance(recording_bucket, StorageBucket):
                rec = SessionRecording(
                    id=new_id("sr"), scope_id=recording_bucket.scope_id, session_id=sess.id,
                    storage_bucket_id=recording_bucket.id, endpoint=sess.endpoint,
                    values={
                        "user": {"id": caller.user_id,
                                 "name": getattr(user_res, "name", ""),
                                 "scope": self.scope_info(self.scope_of(caller.user_id))},
                        "target": {"id": target.id, "name": target.name, "type": "tcp",
                                   "scope": self.scope_info(target.scope_id),
                                   "session_max_seconds": target.session_max_seconds,
                                   "session_connection_limit":
                                       target.session_connection_limit},
                    },
                )  # fmt: skip
                self.resources[rec.id] = rec
                sess.recording_id = rec.id
            self.resources[sess.id] = sess
            self.tokens_by_authz[sess.authorization_token] = sess.id
            credentials = []
            for lib, store, secret in issued:
                cred: dict[str, Any] = {
                    "credential_source": {
                        "id": lib.id, "name": lib.name, "description": lib.description,
                        "credential_store_id": store.id, "type": "vault-generic",
                        "credential_type": lib.credential_type,
                    },
                    "secret": {"raw": secret.raw, "decoded": secret.data},
                }  # fmt: skip
                if lib.credential_type == "username_password":
                    cred["credential"] = {k: secret.data.get(k) for k in ("username", "password")}
                credentials.append(_prune(cred))
            item = {
                "session_id": sess.id,
                "target_id": target.id,
                "scope": self.scope_info(target.scope_id),
                "created_time": rfc3339(sess.created),
                "user_id": caller.user_id,
                "host_set_id": host_set_id,
                "host_id": host_id,
                "type": "tcp",
                "authorization_token": sess.authorization_token,
                "connection_limit": sess.connection_limit,
                "endpoint": sess.endpoint,
                "endpoint_port": port,
                "expiration": rfc3339(sess.expiration),
                "credentials": credentials,
                "session_recording_id": sess.recording_id,
            }
            return _prune(item) | {"credentials": credentials}

    def cancel_session(self, session_id: str, body: dict, caller: Caller) -> dict:
        """POST /v1/sessions/{id}:cancel with ``version``. The proxy closes the session's
        live connections at once; the answer shows the ``canceling`` state Boundary reports."""
        with self.lock:
            sess = self._get("sessions", session_id)
            self.authorize(caller, self.ref(sess), "cancel")
            if not body.get("version"):
                raise InvalidArgument(request_fields={"version": "Required field."})
            if body["version"] != sess.version:
                raise Internal("Unable to cancel session: session version mismatch.")
            if sess.status in ("canceling", "terminated"):
                return self.serialize(sess, caller)
            sess.set_status("canceling")
            answer = self.serialize(sess, caller)
        self.end_session(session_id, "canceled")
        return answer

    def end_session(self, session_id: str, reason: str) -> None:
        """Close the session's connections (via the proxy hooks) and terminate it."""
        for hook in list(self.session_end_hooks):
            hook(session_id, reason)
        self.terminate_session(session_id, reason, None)

    def session_for_authorization(self, authorization_token: str) -> Session:
        """The live session an authorization token opens (for the proxy)."""
        with self.lock:
            self._expire_sessions()
            sess = self.resources.get(self.tokens_by_authz.get(authorization_token, ""))
            if not isinstance(sess, Session):
                raise Unauthenticated("Unknown session authorization token.")
            if sess.status in ("canceling", "terminated"):
                raise FailedPrecondition(f"Session {sess.id} is {sess.status}.")
            return sess

    def connection_opened(self, session_id: str, info: dict[str, Any]) -> int:
        """Record a proxied connection; return its index. Raises when over the limit."""
        with self.lock:
            sess = self._get("sessions", session_id)
            if sess.status not in ("pending", "active") or sess.expiration <= now():
                raise FailedPrecondition(f"Session {session_id} is not active.")
            if 0 < sess.connection_limit <= len(sess.connections):
                raise FailedPrecondition("Connection limit reached.")
            if sess.status == "pending":
                sess.set_status("active")
            sess.connections.append({**info, "bytes_up": "0", "bytes_down": "0"})
            return len(sess.connections) - 1

    def connection_closed(self, session_id: str, index: int, up: int, down: int,
                          reason: str) -> bool:  # fmt: skip
        """Record a closed connection; True when the session has no connections left to
        make (its limit is used up), so that it should end."""
        with self.lock:
            sess = self.resources.get(session_id)
            if not isinstance(sess, Session):
                return False
            conn = sess.connections[index]
            conn.update(bytes_up=str(up), bytes_down=str(down), closed_reason=reason)
            return 0 < sess.connection_limit <= len(sess.connections) and all(
                c.get("closed_reason") for c in sess.connections
            )

    def terminate_session(self, session_id: str, reason: str, recording: Any) -> None:
        """Terminate, revoke the session's Vault leases and store its recording (if any).
        ``recording`` is a :class:`~.recording.Recorder` or None."""
        with self.lock:
            sess = self.resources.get(session_id)
            if not isinstance(sess, Session) or sess.status == "terminated":
                return
            sess.set_status("terminated")
            sess.termination_reason = reason
            self.tokens_by_authz.pop(sess.authorization_token, None)
            leases = list(sess.leases)
            rec = self.resources.get(sess.recording_id)
        self._revoke(leases)
        if isinstance(rec, SessionRecording):
            self._store_recording(rec, recording)

    def _revoke(self, leases: list[tuple[str, str]]) -> None:
        for store_id, lease_id in leases:
            store = self.resources.get(store_id)
            if isinstance(store, CredentialStore) and lease_id:
                try:
                    brokering.revoke(store.address, store.token, lease_id, store.namespace,
                                     verify=not store.tls_skip_verify)  # fmt: skip
                except brokering.VaultError:
                    pass  # the lease expires on its own; Boundary also only logs this

    def _store_recording(self, rec: SessionRecording, recorder: Any) -> None:
        if recorder is None:
            from .recording import Recorder

            recorder = Recorder({"session_id": rec.session_id, "session_recording_id": rec.id})
        document = recorder.document()
        with self.lock:
            bucket = self.resources.get(rec.storage_bucket_id)
        try:
            if self.recording_store is None or not isinstance(bucket, StorageBucket):
                raise RuntimeError("no storage bucket")
            self.recording_store.put(bucket.bucket_name, bucket.key_for(rec.id), document)
            state, error = "available", ""
        except Exception as err:  # keep the document in memory and say why S3 failed
            self.recordings[rec.id] = document
            state, error = "unknown", f"storing in S3 failed: {type(err).__name__}"
        with self.lock:
            rec.state, rec.error_details = state, error
            rec.bytes_up, rec.bytes_down = recorder.bytes_up, recorder.bytes_down
            rec.end = now()
            rec.connections = [
                {"id": new_id("cr"), "bytes_up": str(c["up"]), "bytes_down": str(c["down"]),
                 "start_time": rfc3339(c["start"]), "end_time": rfc3339(c["end"]),
                 "duration": f"{c['end'] - c['start']:.6f}s", "mime_types": [MIME_TYPE]}
                for c in recorder.connections.values()
            ]  # fmt: skip
            rec.updated = now()

    def _expire_sessions(self) -> None:
        expired = [s.id for s in self.of_type(Session)
                   if s.status != "terminated" and s.expiration <= now()]  # fmt: skip
        for sid in expired:
            # Only the bookkeeping here; the proxy's own timer closes sockets.
            threading.Thread(target=self.end_session, args=(sid, "timed out"), daemon=True).start()

    def download_recording(self, recording_id: str, caller: Caller) -> tuple[bytes, str]:
        """GET /v1/session-recordings/{id}:download: the recording document and mime type."""
        with self.lock:
            rec = self._get("session-recordings", recording_id)
            self.authorize(caller, self.ref(rec), "download")
            if rec.state == "started":
                raise FailedPrecondition("The session recording is still in progress.")
            bucket = self.resources.get(rec.storage_bucket_id)
            if rec.id in self.recordings:
                return self.recordings[rec.id], MIME_TYPE
        assert isinstance(bucket, StorageBucket) and self.recording_store is not None
        return self.recording_store.get(bucket.bucket_name, bucket.key_for(rec.id)), MIME_TYPE


def _set_common(res: Resource, body: dict[str, Any]) -> None:
    for k in ("name", "description"):
        if k in body:
            value = body[k] or ""
            if not isinstance(value, str):
                raise InvalidArgument(request_fields={k: "Must be a string."})
            setattr(res, k, value)


def _require_type(body: dict[str, Any], expected: str) -> None:
    if body.get("type", expected) != expected:
        raise InvalidArgument(request_fields={
            "type": f"Only '{expected}' is supported in the sandbox."})  # fmt: skip


def _copy(res: Resource) -> Any:
    import copy

    return copy.deepcopy(res)


def _apply_filter(items: list[dict[str, Any]], expression: str) -> list[dict[str, Any]]:
    """The subset of go-bexpr filters we understand: ``"/item/<path>" == "<value>"``
    clauses joined by ``and``. Anything else is a 400, as Boundary rejects bad filters."""
    if not expression.strip():
        return items
    clauses = []
    for part in expression.split(" and "):
        lhs, op, rhs = part.strip().partition("==")
        lhs, rhs = lhs.strip().strip('"'), rhs.strip().strip('"')
        if not op or not lhs.startswith("/item/"):
            raise InvalidArgument(request_fields={
                "filter": f'Unsupported filter "{expression}" in the sandbox.'})  # fmt: skip
        clauses.append((lhs.removeprefix("/item/").split("/"), rhs))

    def value(item: Any, path: list[str]) -> Any:
        for p in path:
            item = item.get(p) if isinstance(item, dict) else None
        return item

    return [i for i in items if all(str(value(i, p)) == v for p, v in clauses)]
