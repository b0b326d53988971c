"""What every Boundary record shares: the common fields, the reference markers, ids and time.

A record is a dataclass mirroring one definition of Boundary's ``controller.swagger.json``
(``controller.api.resources.<kind>.v1.<Kind>``). ``to_dict()`` is its JSON as the controller
sends it, in one place per record; proto3's habit of leaving out empty fields is
:func:`prune`'s. A field that holds another resource's id is annotated with :class:`Ref`,
which says what happens to it when that resource is deleted; :func:`references` finds them
by introspection, so that delete needs no list of its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from functools import cache
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    ClassVar,
    Literal,
    get_args,
    get_origin,
    get_type_hints,
)

from .grants import ANON_USER_ID, Acl
from .recording import rfc3339

if TYPE_CHECKING:
    from .exceptions import BoundaryError
    from .store import Store

_ALPHABET = string.ascii_letters + string.digits
_HMAC_KEY = secrets.token_bytes(32)


def new_id(prefix: str) -> str:
    """A Boundary-shaped public id: prefix, underscore, ten base62 characters."""
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(10))


def now() -> float:
    return time.time()


def hmac_of(secret: str) -> str:
    """What Boundary shows instead of a secret (``token_hmac``, ``secrets_hmac``)."""
    digest = hmac.new(_HMAC_KEY, secret.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def prune(value: Any) -> Any:
    """Drop proto3 default values (None, "", 0, False, [], {}) as Boundary's JSON does."""
    if isinstance(value, dict):
        out = {k: prune(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if not _is_default(v)}
    if isinstance(value, list):
        return [prune(v) for v in value]
    return value


def _is_default(v: Any) -> bool:
    if isinstance(v, bool):
        return not v
    if isinstance(v, int | float):
        return v == 0
    return v is None or v == "" or v == [] or v == {}


# ---------------------------------------------------------------- references

OnDelete = Literal["cascade", "remove", "set null", "restrict", "keep"]


@dataclass(frozen=True)
class Ref:
    """Marks a field (``Annotated[str, Ref(...)]`` or a list of ids) as referring to a
    resource of ``kinds`` (grant type names), and says what a delete of that resource does
    to it, as Boundary's schema does with its foreign keys:

    - ``cascade``: this record goes too (``on delete cascade``: children, a scope's content);
    - ``remove``: the id leaves the list (membership tables);
    - ``set null``: the field is emptied, unless ``restrict_if`` names a field of this record
      that is true, in which case the delete is refused (a trigger's check);
    - ``restrict``: the delete is refused while this record refers to it;
    - ``keep``: the id stays as history (a session keeps the id of its gone target).

    ``refuse`` builds the error of a refused delete from the deleted resource and the ids of
    the records that hold it.
    """

    kinds: tuple[str, ...]
    on_delete: OnDelete
    restrict_if: str = ""
    refuse: Callable[[Resource, list[str]], BoundaryError] | None = None


def ref(*kinds: str, on_delete: OnDelete, restrict_if: str = "", refuse: Any = None) -> Ref:
    return Ref(kinds, on_delete, restrict_if, refuse)


@dataclass(frozen=True)
class RefField:
    name: str
    ref: Ref
    many: bool


@cache
def references(cls: type[Resource]) -> tuple[RefField, ...]:
    """The fields of ``cls`` annotated with :class:`Ref`, found from its type hints."""
    hints = get_type_hints(cls, include_extras=True)
    out = []
    for f in fields(cls):
        hint = hints.get(f.name)
        for meta in getattr(hint, "__metadata__", ()):
            if isinstance(meta, Ref):
                many = get_origin(get_args(hint)[0]) is list
                out.append(RefField(f.name, meta, many))
    return tuple(out)


ScopeRef = Annotated[str, ref("scope", on_delete="cascade")]


# ---------------------------------------------------------------- records


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


@dataclass(kw_only=True)
class Resource:
    """Common fields of every Boundary resource."""

    TYPE: ClassVar[str] = ""  # the grant type name
    PREFIX: ClassVar[str] = ""
    COLLECTION: ClassVar[str] = ""
    ID_ACTIONS: ClassVar[tuple[str, ...]] = ("no-op", "read", "update", "delete")
    CHILD_COLLECTIONS: ClassVar[dict[str, str]] = {}  # collection -> grant type
    NAME: ClassVar[str] = "Resource"
    #: the field naming the parent resource of a child type (auth method, catalog, store)
    PARENT_FIELD: ClassVar[str] = ""
    #: scope types a top-level resource lives in (empty for child types)
    SCOPES: ClassVar[tuple[str, ...]] = ()
    #: the class of the parent of a child type
    PARENT_CLASS: ClassVar[type[Resource] | None] = None
    #: whether the JSON has name, description and version (tokens and recordings do not)
    VERSIONED: ClassVar[bool] = True
    #: whether ``user_id`` names an owner, for the ``:self`` actions (sessions, tokens)
    OWNED: ClassVar[bool] = False

    id: str
    scope_id: ScopeRef
    name: str = ""
    description: str = ""
    version: int = 1
    created: float = field(default_factory=now)
    updated: float = field(default_factory=now)

    @property
    def parent_id(self) -> str:
        """The parent resource for child types (auth method, host catalog, store)."""
        return getattr(self, self.PARENT_FIELD) if self.PARENT_FIELD else ""

    def base_dict(self) -> dict[str, Any]:
        common = {"id": self.id, "created_time": rfc3339(self.created),
                  "updated_time": rfc3339(self.updated)}  # fmt: skip
        if self.VERSIONED:
            common |= {"name": self.name, "description": self.description,
                       "version": self.version}  # fmt: skip
        return common

    def fields(self, store: Store) -> dict[str, Any]:
        """The resource's own fields beyond the common ones."""
        return {}

    def listed(self, params: dict[str, str]) -> bool:
        """Whether a list with these query parameters shows this record."""
        return True

    def to_dict(self, store: Store) -> dict[str, Any]:
        """The resource's JSON before authorization (actions, output fields) and pruning."""
        return {**self.base_dict(), **self.fields(store)}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.COLLECTION:
            RESOURCE_CLASSES[cls.COLLECTION] = cls


#: collection name -> record class, filled as the record modules are imported
RESOURCE_CLASSES: dict[str, type[Resource]] = {}
