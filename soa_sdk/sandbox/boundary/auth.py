"""Who may do what: auth methods, accounts, users, groups, roles and auth tokens.

A role's grant strings are parsed once after they change (:attr:`Role.grants`); a
caller's :class:`~.grants.Acl` is built from the parsed grants and kept until the next
committed write (the store's listeners drop it), so a request parses nothing.

Not implemented: OIDC and LDAP auth methods, managed groups, ``:change-state``,
``:set-password`` and ``:change-password``, ``token_type: cookie``, resolvable aliases.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

from .crud import COMMON, Crud, check_common, check_fields, set_common, unknown_ids
from .exceptions import InvalidArgument, Unauthenticated
from .grants import ANON_USER_ID, AUTH_USER_ID, GLOBAL, Acl, Grant, GrantError, parse_grant
from .records import Caller, Resource, new_id, now, ref, rfc3339
from .scopes import Scope
from .store import Store

_SPECIAL_PRINCIPALS = (ANON_USER_ID, AUTH_USER_ID, "u_recovery")
_IAM_SCOPES = ("global", "org")


@dataclass(kw_only=True)
class AuthMethod(Resource):
    TYPE = "auth-method"
    PREFIX = "ampw"
    COLLECTION = "auth-methods"
    NAME = "Auth method"
    SCOPES = _IAM_SCOPES
    ID_ACTIONS = ("no-op", "read", "update", "delete", "authenticate")
    CHILD_COLLECTIONS: ClassVar[dict[str, str]] = {"accounts": "account"}
    min_login_name_length: int = 3
    min_password_length: int = 8

    def fields(self, store: Store) -> dict[str, Any]:
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
    PARENT_FIELD = "auth_method_id"
    PARENT_CLASS = AuthMethod
    auth_method_id: Annotated[str, ref("auth-method", on_delete="cascade")]
    login_name: str
    password_hash: str = field(repr=False, default="")
    salt: bytes = field(repr=False, default_factory=lambda: secrets.token_bytes(16))

    def set_password(self, password: str) -> None:
        self.password_hash = self._hash(password)

    def check_password(self, password: str) -> bool:
        given = self._hash(password)
        return bool(self.password_hash) and hmac.compare_digest(given, self.password_hash)

    def _hash(self, password: str) -> str:
        return hashlib.scrypt(password.encode(), salt=self.salt, n=2**12, r=8, p=1).hex()

    def fields(self, store: Store) -> dict[str, Any]:
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
    SCOPES = _IAM_SCOPES
    ID_ACTIONS = (
        "no-op", "read", "update", "delete", "add-accounts", "set-accounts", "remove-accounts",
        "list-resolvable-aliases",
    )  # fmt: skip
    account_ids: Annotated[list[str], ref("account", on_delete="remove")] = field(
        default_factory=list
    )

    def fields(self, store: Store) -> dict[str, Any]:
        accounts = [store.resources[a] for a in self.account_ids if a in store.resources]
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
    SCOPES = ("global", "org", "project")
    ID_ACTIONS = ("no-op", "read", "update", "delete", "add-members", "set-members",
                  "remove-members")  # fmt: skip
    member_ids: Annotated[list[str], ref("user", on_delete="remove")] = field(default_factory=list)

    def fields(self, store: Store) -> dict[str, Any]:
        return {
            "scope_id": self.scope_id,
            "member_ids": list(self.member_ids),
            "members": [{"id": m, "scope_id": store.scope_of(m)} for m in self.member_ids],
        }


@dataclass(kw_only=True)
class Role(Resource):
    TYPE = "role"
    PREFIX = "r"
    COLLECTION = "roles"
    NAME = "Role"
    SCOPES = ("global", "org", "project")
    ID_ACTIONS = (
        "no-op", "read", "update", "delete", "add-principals", "set-principals",
        "remove-principals", "add-grants", "set-grants", "remove-grants", "add-grant-scopes",
        "set-grant-scopes", "remove-grant-scopes",
    )  # fmt: skip
    grant_strings: list[str] = field(default_factory=list)
    principal_ids: Annotated[list[str], ref("user", "group", on_delete="remove")] = field(
        default_factory=list
    )
    # "this", "children", "descendants" or scope ids; the sandbox keeps a gone scope's id
    # (Boundary drops it), so a role's grant scopes change only through its own actions.
    grant_scope_ids: Annotated[list[str], ref("scope", on_delete="keep")] = field(
        default_factory=lambda: ["this"]
    )
    #: ``grant_strings`` and their parse, redone only when the strings change
    parsed: tuple[tuple[str, ...], tuple[Grant, ...]] = field(
        default=((), ()), repr=False, compare=False
    )

    @property
    def grants(self) -> tuple[Grant, ...]:
        """The parsed grant strings: parsed once after each change, then cached."""
        if self.parsed[0] != tuple(self.grant_strings):
            strings = tuple(self.grant_strings)
            self.parsed = (strings, tuple(parse_grant(g) for g in strings))
        return self.parsed[1]

    def fields(self, store: Store) -> dict[str, Any]:
        return {
            "scope_id": self.scope_id,
            "grant_scope_ids": list(self.grant_scope_ids),
            "principal_ids": list(self.principal_ids),
            "principals": [
                {
                    "id": p,
                    "type": "user" if p.startswith("u_") else "group",
                    "scope_id": store.scope_of(p),
                }
                for p in self.principal_ids
            ],
            "grant_strings": list(self.grant_strings),
            "grants": [g.to_dict() for g in self.grants],
        }


@dataclass(kw_only=True)
class AuthToken(Resource):
    TYPE = "auth-token"
    PREFIX = "at"
    COLLECTION = "auth-tokens"
    NAME = "Auth token"
    SCOPES = _IAM_SCOPES
    VERSIONED = False
    OWNED = True
    ID_ACTIONS = ("no-op", "read", "read:self", "delete", "delete:self")
    user_id: Annotated[str, ref("user", on_delete="keep")]
    auth_method_id: Annotated[str, ref("auth-method", on_delete="keep")]
    account_id: Annotated[str, ref("account", on_delete="keep")]
    secret_hash: str = field(repr=False)
    expiration: float
    last_used: float = field(default_factory=now)

    def fields(self, store: Store) -> dict[str, Any]:
        return {
            "scope_id": self.scope_id,
            "user_id": self.user_id,
            "auth_method_id": self.auth_method_id,
            "account_id": self.account_id,
            "approximate_last_used_time": rfc3339(self.last_used),
            "expiration_time": rfc3339(self.expiration),
        }


class AuthOps(Crud):
    """Builders, updaters and actions of the auth family; callers and their grants."""

    auth_token_ttl: float
    _acls: dict[tuple[str, str, bool], Acl]

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

    def _forget_acls(self, changed: set[str]) -> None:
        self._acls.clear()

    def _acl(self, user_id: str, account_id: str, authenticated: bool) -> Acl:
        key = (user_id, account_id, authenticated)
        acl = self._acls.get(key)
        if acl is not None:
            return acl
        principals = {user_id, ANON_USER_ID}
        if authenticated:
            principals.add(AUTH_USER_ID)
            principals |= {g.id for g in self.store.holding(Group, "member_ids", user_id)}
        acl = Acl(user_id)
        for role in self.of_type(Role):
            if principals & set(role.principal_ids):
                for grant in role.grants:
                    for gs in role.grant_scope_ids:
                        acl.add(grant, role.scope_id, gs, account_id)
        self._acls[key] = acl
        return acl

    # ------------------------------------------------------------ builders and updaters

    def _build_authmethod(self, body: dict[str, Any], scope_id: str) -> AuthMethod:
        if body.get("type") != "password":
            check_fields(body, COMMON, ("min_login_name_length", "min_password_length"))
            raise InvalidArgument(request_fields={"type": "Only 'password' is supported in "
                                                  "the sandbox."})  # fmt: skip
        am = AuthMethod(id=new_id("ampw"), scope_id=scope_id)
        self._update_authmethod(am, body)
        return am

    def _update_authmethod(self, res: AuthMethod, body: dict[str, Any]) -> None:
        attrs = check_fields(body, COMMON, ("min_login_name_length", "min_password_length"))
        set_common(res, body)
        for k in ("min_login_name_length", "min_password_length"):
            if k in attrs:
                setattr(res, k, int(attrs[k] or (3 if "login" in k else 8)))

    def _build_account(self, body: dict[str, Any], scope_id: str) -> Account:
        attrs = check_fields(body, (*COMMON, "auth_method_id"), ("login_name", "password"))
        am = self.store.get_as(AuthMethod, body["auth_method_id"])
        login = str(attrs.get("login_name") or "")
        password = str(attrs.get("password") or "")
        bad = {}
        if not login:
            bad["attributes.login_name"] = "This is a required field for this type."
        elif login != login.lower() or len(login) < am.min_login_name_length:
            bad["attributes.login_name"] = "Invalid login name."
        if password and len(password) < am.min_password_length:
            bad["attributes.password"] = "Password is too short."
        if self.store.find(Account, auth_method_id=am.id, login_name=login):
            raise InvalidArgument(
                "Invalid request.  Request attempted to make second resource with the same "
                "field value that must be unique.")  # fmt: skip
        if bad:
            raise InvalidArgument(request_fields=bad)
        acct = Account(id=new_id("acctpw"), scope_id=scope_id, auth_method_id=am.id,
                       login_name=login)  # fmt: skip
        set_common(acct, body)
        if password:
            acct.set_password(password)
        return acct

    def _update_account(self, res: Account, body: dict[str, Any]) -> None:
        attrs = check_fields(body, COMMON, ("login_name",))
        set_common(res, body)
        if attrs.get("login_name"):
            res.login_name = str(attrs["login_name"])

    def _build_user(self, body: dict[str, Any], scope_id: str) -> User:
        user = User(id=new_id("u"), scope_id=scope_id)
        check_common(user, body)
        return user

    def _build_group(self, body: dict[str, Any], scope_id: str) -> Group:
        group = Group(id=new_id("g"), scope_id=scope_id)
        check_common(group, body)
        return group

    def _build_role(self, body: dict[str, Any], scope_id: str) -> Role:
        check_fields(body, (*COMMON, "grant_scope_id"))
        role = Role(id=new_id("r"), scope_id=scope_id)
        set_common(role, body)
        return role

    _update_user = _update_group = _update_role = staticmethod(check_common)

    # ------------------------------------------------------------ id-list actions

    def change_group_members(self, group_id: str, op: str, body: dict, caller: Caller) -> dict:
        """POST /v1/groups/{id}:add-members | :set-members | :remove-members."""
        users = unknown_ids("member_ids", "Unknown users: {bad}.",
                            lambda i: isinstance(self.resources.get(i), User))  # fmt: skip
        return self.change_ids("groups", group_id, op, body, caller, thing="members",
                               key="member_ids", check=users)  # fmt: skip

    def change_role_principals(self, role_id: str, op: str, body: dict, caller: Caller) -> dict:
        """POST /v1/roles/{id}:add-principals | :set-principals | :remove-principals."""
        principals = unknown_ids(
            "principal_ids", "Must only have user or group ids; unknown: {bad}.",
            lambda i: i in _SPECIAL_PRINCIPALS or isinstance(self.resources.get(i), User | Group),
        )  # fmt: skip
        return self.change_ids("roles", role_id, op, body, caller, thing="principals",
                               key="principal_ids", check=principals)  # fmt: skip

    def change_role_grants(self, role_id: str, op: str, body: dict, caller: Caller) -> dict:
        """POST /v1/roles/{id}:add-grants | :set-grants | :remove-grants; grant strings are
        parsed as Boundary does and a malformed one is a 400 naming it."""
        return self.change_ids("roles", role_id, op, body, caller, thing="grants",
                               key="grant_strings", check=_check_grants,
                               field="grant_strings")  # fmt: skip

    def change_role_grant_scopes(self, role_id: str, op: str, body: dict, caller: Caller) -> dict:
        """POST /v1/roles/{id}:add-grant-scopes | :set-grant-scopes | :remove-grant-scopes."""
        return self.change_ids("roles", role_id, op, body, caller, thing="grant-scopes",
                               key="grant_scope_ids", check=self._check_grant_scopes)  # fmt: skip

    def _check_grant_scopes(self, role: Role, given: list[str], op: str) -> None:
        for gs in given:
            if gs in ("this", "children", "descendants"):
                if gs == "descendants" and role.scope_id != GLOBAL:
                    raise InvalidArgument(request_fields={"grant_scope_ids": (
                        '"descendants" is only valid for roles in the global scope.')})  # fmt: skip
                continue
            scope = self.resources.get(gs)
            if not isinstance(scope, Scope) or (
                gs != role.scope_id and gs not in self.descendants(role.scope_id)
            ):
                raise InvalidArgument(
                    request_fields={
                        "grant_scope_ids": (
                            f'Scope "{gs}" is not the role\'s scope or one of its descendants.'
                        )
                    }
                )

    def change_user_accounts(self, user_id: str, op: str, body: dict, caller: Caller) -> dict:
        """POST /v1/users/{id}:add-accounts | :set-accounts | :remove-accounts."""

        def accounts(user: User, given: list[str], op: str) -> None:
            for a in given:
                if not isinstance(self.resources.get(a), Account) and op != "remove":
                    raise InvalidArgument(request_fields={"account_ids": f"Unknown: {a}."})
                owners = [u for u in self.store.holding(User, "account_ids", a) if u is not user]
                if owners and op != "remove":
                    raise InvalidArgument(f"account {a} is already associated with another user")

        return self.change_ids("users", user_id, op, body, caller, thing="accounts",
                               key="account_ids", check=accounts)  # fmt: skip

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
            acct = self.store.first(Account, auth_method_id=am.id, login_name=login)
            if acct is None or not acct.check_password(password):
                raise Unauthenticated("Unable to authenticate.")
            user = next(iter(self.store.holding(User, "account_ids", acct.id)), None)
            if user is None:
                raise Unauthenticated("Unable to authenticate.")
            secret = secrets.token_urlsafe(32)
            at = AuthToken(
                id=new_id("at"), scope_id=am.scope_id, user_id=user.id,
                auth_method_id=am.id, account_id=acct.id,
                secret_hash=hashlib.sha256(secret.encode()).hexdigest(),
                expiration=now() + self.auth_token_ttl,
            )  # fmt: skip
            with self.store.write() as w:
                w.put(at)
            new_caller = Caller(user.id, self._acl(user.id, acct.id, True), at.id, acct.id)
            item = self.serialize(at, new_caller)
            item["token"] = f"{at.id}_{secret}"
            return {"command": body.get("command") or "login", "attributes": item}


def _check_grants(role: Role, given: list[str], op: str) -> None:
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
