"""Boundary grant strings: parse, validate and evaluate them.

Follows ``internal/perms/grants.go`` and ``internal/perms/acl.go`` of hashicorp/boundary:
text (``ids=*;type=target;actions=list,read``) and JSON (``{"ids": [...], ...}``) forms, the
``id``/``ids``/``type``/``actions``/``output_fields`` keys, the templates ``{{user.id}}``
(``{{.User.Id}}``) and ``{{account.id}}`` (``{{.Account.Id}}``), the same validation rules
and Boundary's error texts. Evaluation implements the five match cases of ``ACL.Allowed``,
sub-actions (``read:self`` granted by ``read``), ``*`` actions and types, the anonymous user
restrictions, and grant scopes (``this``, ``children``, ``descendants`` or scope ids).

Not implemented: the deprecated-action check, grant hashes, alias-resolution permissions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

ANON_USER_ID = "u_anon"
AUTH_USER_ID = "u_auth"
GLOBAL = "global"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: resource type names as grant strings spell them (internal/types/resource)
RESOURCE_TYPES = _words(
    """* scope user group role auth-method account auth-token host-catalog host-set host target
    worker session session-recording managed-group credential-store credential-library
    credential storage-bucket policy billing alias"""
)
#: child type -> parent type (resource.Type.Parent)
PARENT_TYPE = {
    "account": "auth-method",
    "managed-group": "auth-method",
    "host-set": "host-catalog",
    "host": "host-catalog",
    "credential-library": "credential-store",
    "credential": "credential-store",
}
HAS_CHILD_TYPES = frozenset(PARENT_TYPE.values())

#: action names (internal/types/action)
ACTIONS = _words(
    """create list update read delete authenticate * authorize-session add-grants remove-grants
    set-grants add-principals set-principals remove-principals deauthenticate add-members
    set-members remove-members set-password change-password add-hosts set-hosts remove-hosts
    add-host-sets set-host-sets remove-host-sets cancel add-accounts set-accounts
    remove-accounts read:self cancel:self change-state delete:self no-op
    add-credential-libraries set-credential-libraries remove-credential-libraries
    add-credential-sources set-credential-sources remove-credential-sources add-host-sources
    set-host-sources remove-host-sources create:worker-led add-worker-tags set-worker-tags
    remove-worker-tags create:controller-led reinitialize-certificate-authority
    read-certificate-authority list-keys rotate-keys list-key-version-destruction-jobs
    destroy-key-version download attach-storage-policy detach-storage-policy
    reapply-storage-policy add-grant-scopes set-grant-scopes remove-grant-scopes
    monthly-active-users list-resolvable-aliases"""
)

#: id prefix -> resource type (globals.ResourceInfoFromPrefix), longest prefixes first
_PREFIX_TYPES = {
    "global": "scope",
    "o": "scope",
    "p": "scope",
    "u": "user",
    "g": "group",
    "r": "role",
    "ampw": "auth-method",
    "amoidc": "auth-method",
    "amldap": "auth-method",
    "acctpw": "account",
    "apw": "account",
    "acctoidc": "account",
    "acctldap": "account",
    "mgoidc": "managed-group",
    "mgldap": "managed-group",
    "at": "auth-token",
    "hcst": "host-catalog",
    "hcplg": "host-catalog",
    "hsst": "host-set",
    "hsplg": "host-set",
    "hst": "host",
    "hplg": "host",
    "ttcp": "target",
    "tssh": "target",
    "trdp": "target",
    "s": "session",
    "sr": "session-recording",
    "csvlt": "credential-store",
    "csst": "credential-store",
    "clvlt": "credential-library",
    "clvsclt": "credential-library",
    "clvllt": "credential-library",
    "credup": "credential",
    "credspk": "credential",
    "credjson": "credential",
    "sb": "storage-bucket",
    "w": "worker",
    "pst": "policy",
    "alt": "alias",
}

_TEMPLATES = {
    "user.id": "user",
    ".User.Id": "user",
    "account.id": "account",
    ".Account.Id": "account",
}


def type_from_id(resource_id: str) -> str:
    """Resource type of an id from its prefix, or "" when the prefix is unknown."""
    if resource_id == GLOBAL:
        return "scope"
    prefix, sep, _ = resource_id.partition("_")
    return _PREFIX_TYPES.get(prefix, "") if sep else ""


def is_top_level(resource_type: str) -> bool:
    """True for types that have collection actions (create, list) of their own."""
    return resource_type not in PARENT_TYPE and resource_type not in ("*", "")


class GrantError(ValueError):
    """A grant string Boundary would reject; the text follows Boundary's error chain."""


def _violation(op: str, msg: str) -> GrantError:
    return GrantError(f"{op}: {msg}: parameter violation: error #100")


@dataclass(frozen=True)
class Grant:
    """One parsed grant. ``ids`` keeps templates unresolved; see :meth:`resolve`."""

    raw: str
    ids: tuple[str, ...] = ()
    type: str = ""
    actions: frozenset[str] = frozenset()
    output_fields: tuple[str, ...] | None = None

    @property
    def canonical(self) -> str:
        parts = []
        if self.ids:
            parts.append("ids=" + ",".join(self.ids))
        if self.type:
            parts.append("type=" + self.type)
        if self.actions:
            parts.append("actions=" + ",".join(sorted(self.actions)))
        if self.output_fields is not None:
            parts.append("output_fields=" + ",".join(self.output_fields))
        return ";".join(parts)

    def to_dict(self) -> dict[str, object]:
        """The ``controller.api.resources.roles.v1.Grant`` shape."""
        js: dict[str, object] = {"actions": sorted(self.actions)}
        if self.ids:
            js["ids"] = list(self.ids)
        if self.type:
            js["type"] = self.type
        return {"raw": self.raw, "canonical": self.canonical, "json": js}

    def resolve(self, user_id: str, account_id: str) -> tuple[str, ...]:
        """The ids with templates replaced by the caller's user or account id."""
        out = []
        for i in self.ids:
            key = _TEMPLATES.get(i.removeprefix("{{").removesuffix("}}").strip())
            if i.startswith("{{") and key is not None:
                out.append(user_id if key == "user" else account_id)
            else:
                out.append(i)
        return tuple(out)


def _parse_text(text: str) -> dict[str, object]:
    op = "perms.(Grant).unmarshalText"
    parsed: dict[str, object] = {}
    for segment in text.split(";"):
        kv = segment.split("=")
        if len(kv) != 2:
            raise _violation(
                op, f'segment "{segment}" not formatted correctly, wrong number of equal signs'
            )
        key, value = kv
        if not key:
            raise _violation(op, f'segment "{segment}" not formatted correctly, missing key')
        if not value and key != "output_fields":
            raise _violation(op, f'segment "{segment}" not formatted correctly, missing value')
        if key == "id":
            if "," in value:
                raise _violation(op, "ID cannot contain a comma")
            parsed["id"] = value
        elif key == "ids":
            ids = value.split(",")
            if "" in ids:
                raise _violation(op, "empty ID provided")
            parsed["ids"] = ids
        elif key == "type":
            if value.lower() not in RESOURCE_TYPES:
                raise _violation(op, f'unknown type specifier "{value.lower()}"')
            parsed["type"] = value.lower()
        elif key == "actions":
            acts = value.split(",")
            if "" in acts:
                raise _violation(op, "empty action found")
            parsed["actions"] = [a.lower() for a in acts]
        elif key == "output_fields":
            parsed["output_fields"] = value.split(",") if value else []
        # Boundary ignores unknown keys in the text form.
    return parsed


def _parse_json(text: str) -> dict[str, object]:
    op = "perms.(Grant).unmarshalJSON"
    try:
        raw = json.loads(text)
    except ValueError as err:
        raise GrantError(f"{op}: {err}: parameter violation: error #100") from None
    if not isinstance(raw, dict):
        raise _violation(op, "grant is not a JSON object")
    parsed: dict[str, object] = {}
    for key in ("id", "type"):
        if key in raw:
            if not isinstance(raw[key], str):
                raise _violation(op, f'unable to interpret "{key}" as string')
            parsed[key] = raw[key] if key == "id" else raw[key].lower()
    if parsed.get("type", "*") not in RESOURCE_TYPES:
        raise _violation(op, f'unknown type specifier "{parsed["type"]}"')
    for key in ("ids", "actions", "output_fields"):
        if key in raw:
            if not isinstance(raw[key], list) or not all(isinstance(v, str) for v in raw[key]):
                raise _violation(op, f'unable to interpret "{key}" as array')
            parsed[key] = [v.lower() for v in raw[key]] if key == "actions" else list(raw[key])
    return parsed


def parse_grant(text: str) -> Grant:
    """Parse and validate one grant string as ``perms.Parse`` does; raise :class:`GrantError`."""
    op = "perms.Parse"
    if not text:
        raise _violation(op, "missing grant string")
    try:
        parsed = _parse_json(text) if text[0] == "{" else _parse_text(text)
    except GrantError as err:
        kind = "JSON grant string" if text[0] == "{" else "grant string"
        raise GrantError(f"{op}: unable to parse {kind}: {err}") from None
    if "id" in parsed and "ids" in parsed:
        raise _violation(op, f'input grant string "{text}" contains both "id" and "ids" fields')
    ids: list[str] = list(parsed.get("ids", [parsed["id"]] if "id" in parsed else []))  # type: ignore[arg-type]
    if len(ids) > 1 and "*" in ids:
        raise _violation(
            op,
            f'input grant string "{text}" contains both wildcard and non-wildcard values '
            'in "ids" field',
        )
    typ = str(parsed.get("type", ""))
    actions = list(parsed.get("actions", []))  # type: ignore[call-overload]
    out_fields = parsed.get("output_fields")
    for a in actions:
        if a not in ACTIONS:
            raise _violation(op, f'perms.(Grant).parseAndValidateActions: unknown action "{a}"')
    if len(set(actions)) > 1 and "*" in actions:
        raise _violation(op, 'perms.(Grant).parseAndValidateActions: "*" cannot be specified')
    grant = Grant(
        raw=text,
        ids=tuple(ids),
        type=typ,
        actions=frozenset(actions),
        output_fields=tuple(out_fields) if out_fields is not None else None,  # type: ignore[arg-type]
    )
    if not actions and out_fields is None:
        raise _violation(op, "perms.(Grant).parseAndValidateActions: missing actions")
    _validate_shape(grant, op)
    return grant


def _validate_shape(grant: Grant, op: str) -> None:
    canon = grant.canonical
    if len(grant.ids) > 1:
        types = {type_from_id(i) for i in grant.ids if not i.startswith("{{")}
        if len(types) > 1:
            raise _violation(
                op, f'input grant string "{grant.raw}" contains ids of differently-typed resources'
            )
    collection_only = {"create", "list"}
    for gid in grant.ids or ("",):
        if gid.startswith("{{"):
            key = _TEMPLATES.get(gid.removeprefix("{{").removesuffix("}}").strip())
            if key is None:
                raise _violation(op, f'unknown template "{gid}" in grant "ids" value')
            gid = "u_dummy" if key == "user" else "acctpw_dummy"
        if gid == "*":
            if not grant.type:
                raise _violation(
                    op, f'parsed grant string "{canon}" contains wildcard id and no specified type'
                )
        elif gid:
            id_type = type_from_id(gid)
            if not id_type:
                raise _violation(
                    op,
                    f'parsed grant string "{canon}" contains an id "{gid}" of an unknown '
                    "resource type",
                )
            if not grant.type:
                if grant.actions & collection_only:
                    raise _violation(
                        op,
                        f'parsed grant string "{canon}" contains create or list action in a '
                        "format that does not allow these",
                    )
            elif grant.type == "*":
                if id_type not in HAS_CHILD_TYPES:
                    raise _violation(
                        op,
                        f'parsed grant string "{canon}" contains an id that does not support '
                        "child types",
                    )
            elif PARENT_TYPE.get(grant.type, grant.type) != id_type:
                raise _violation(
                    op,
                    f'parsed grant string "{canon}" contains type {grant.type} that is not a '
                    f"child type of the type ({PARENT_TYPE.get(grant.type, grant.type)}) of "
                    "the specified id",
                )
        else:
            if not grant.type:
                raise _violation(op, f'parsed grant string "{canon}" contains no id or type')
            if grant.type == "*":
                raise _violation(
                    op, f'parsed grant string "{canon}" contains wildcard type with no id value'
                )
            if not grant.actions and grant.output_fields is None:
                raise _violation(
                    op, f'parsed grant string "{canon}" contains no actions or output fields'
                )
            parents = {a.split(":")[0] for a in grant.actions}
            if grant.actions and (not parents <= collection_only or len(grant.actions) > 2):
                raise _violation(
                    op,
                    f'parsed grant string "{canon}" contains non-create or non-list action in '
                    "a format that only allows these",
                )


@dataclass(frozen=True)
class ResourceRef:
    """What a permission check is about: ``id`` is "" for a collection action."""

    type: str
    scope_id: str
    parent_scope_id: str = ""
    id: str = ""
    pin: str = ""  # the parent resource's id for child types (host set -> host catalog)
    owner_user_id: str = ""  # for :self sub-actions (sessions, auth tokens)


@dataclass
class AclEntry:
    grant: Grant
    ids: tuple[str, ...]  # templates resolved


@dataclass
class Acl:
    """The grants of every role a caller is a principal of, indexed by where they apply."""

    user_id: str
    direct: dict[str, list[AclEntry]] = field(default_factory=dict)
    children: dict[str, list[AclEntry]] = field(default_factory=dict)
    descendants: list[AclEntry] = field(default_factory=list)

    def add(self, grant: Grant, role_scope_id: str, grant_scope_id: str, account_id: str) -> None:
        entry = AclEntry(grant, grant.resolve(self.user_id, account_id))
        if grant_scope_id == "this":
            self.direct.setdefault(role_scope_id, []).append(entry)
        elif grant_scope_id == "children":
            self.children.setdefault(role_scope_id, []).append(entry)
        elif grant_scope_id == "descendants":
            self.descendants.append(entry)
        else:
            self.direct.setdefault(grant_scope_id, []).append(entry)

    def _entries(self, r: ResourceRef) -> Iterable[AclEntry]:
        yield from self.direct.get(r.scope_id, ())
        yield from self.children.get(r.parent_scope_id, ())
        if r.scope_id != GLOBAL:  # descendants grants never apply to global
            yield from self.descendants

    def allowed(self, r: ResourceRef, action: str) -> tuple[bool, set[str] | None]:
        """(authorized, output fields or None for all) for ``action`` on ``r``."""
        parent_action = action.split(":")[0] if ":" in action else ""
        authorized = False
        fields: set[str] | None = set()
        anon = self.user_id in (ANON_USER_ID, "")
        for entry in self._entries(r):
            g = entry.grant
            fields_only = False
            if not g.actions:
                if g.output_fields is None:
                    continue
                fields_only = True
            elif not (action in g.actions or parent_action in g.actions or "*" in g.actions):
                continue
            if not _matches(entry, r, action, anon):
                continue
            if not fields_only:
                authorized = True
            # A grant without output_fields adds none: the fields of the grants that set
            # them apply, and only when none does are all fields shown (as in Boundary).
            if g.output_fields is not None and fields is not None:
                fields |= set(g.output_fields)
            if fields is not None and "*" in fields:
                fields = None
        if fields is not None and not fields:
            fields = None  # no output_fields anywhere: the default is every field
        return authorized, fields

    def allowed_with_self(self, r: ResourceRef, action: str) -> bool:
        """``action`` itself, or ``action:self`` when the caller owns the resource."""
        if self.allowed(r, action)[0]:
            return True
        return (
            bool(r.owner_user_id)
            and r.owner_user_id == self.user_id
            and (self.allowed(r, f"{action}:self")[0])
        )


def _matches(entry: AclEntry, r: ResourceRef, action: str, anon: bool) -> bool:
    g = entry.grant
    ids = entry.ids or ("",)
    collection_action = action.split(":")[0] in ("list", "create")
    if anon:
        # Case 1: the anonymous user may only discover scopes and auth methods and log in.
        if g.type == r.type == "scope" and action in ("list", "no-op"):
            return True
        return g.type == r.type == "auth-method" and action in ("list", "no-op", "authenticate")
    for gid in ids:
        # Case 2: a specific id (type optional).
        if (
            gid not in ("", "*")
            and gid == r.id
            and g.type in ("", type_from_id(gid))
            and not collection_action
        ):
            return True
        # Case 3: type=<t>;actions=list,create on a top-level collection.
        if not gid and not r.id and g.type == r.type and is_top_level(r.type) and collection_action:
            return True
        # Case 4: ids=*;type=<t or *>.
        if gid == "*" and g.type and g.type in (r.type, "*"):
            return True
        # Case 5: ids=<parent>;type=<child type or *> on child resources.
        if gid and gid == r.pin and g.type in (r.type, "*") and not is_top_level(r.type):
            return True
    return False
