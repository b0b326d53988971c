"""What every collection shares: authorization, serialization, and the generic operations.

``create``, ``read``, ``update``, ``delete`` and ``list`` are written once here for every
collection; a family module (``scopes``, ``auth``, ``hosts``, ...) adds only its builder
(``_build_<class>``), its updater (``_update_<class>``) and its own actions. Every operation
takes the :class:`~.records.Caller` and checks grants as Boundary does (a missing resource is
a 404 before any permission check). The list of a collection is :meth:`Crud.list_resources`,
and only it: scope (or parent), recursion, grants, filter and the list envelope.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from .exceptions import (
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from .grants import GLOBAL, ResourceRef
from .records import RESOURCE_CLASSES, Caller, Resource, prune
from .store import Store

_READ_ONLY = {"id", "created_time", "updated_time", "scope", "authorized_actions",
              "authorized_collection_actions", "version"}  # fmt: skip
#: collections whose items Boundary makes itself (never through POST on the collection)
_NEVER_CREATED = ("sessions", "session-recordings", "auth-tokens")
COMMON = ("name", "description", "scope_id", "type", "version")


class Crud:
    """The generic half of the backend; :class:`~.models.BoundaryBackend` adds the families."""

    store: Store

    @property
    def lock(self) -> Any:
        """The one re-entrant lock of the state (``with backend.lock:``)."""
        return self.store.lock

    @property
    def resources(self) -> dict[str, Resource]:
        return self.store.resources

    def _expire_sessions(self) -> None:  # sessions.py
        raise NotImplementedError

    def _scope(self, scope_id: str) -> Any:  # scopes.py
        raise NotImplementedError

    def descendants(self, scope_id: str) -> list[str]:  # scopes.py
        raise NotImplementedError

    def scope_info(self, scope_id: str) -> dict[str, Any]:  # scopes.py
        raise NotImplementedError

    # ------------------------------------------------------------ grants

    def ref(self, res: Resource) -> ResourceRef:
        scope_id = GLOBAL if res.id == GLOBAL else res.scope_id
        parent_scope = self.resources.get(scope_id)
        return ResourceRef(
            type=res.TYPE, scope_id=scope_id,
            parent_scope_id=parent_scope.scope_id if parent_scope and scope_id != GLOBAL else "",
            id=res.id, pin=res.parent_id,
            owner_user_id=getattr(res, "user_id", "") if res.OWNED else "",
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
            own = not action.endswith(":self") or r.owner_user_id == caller.user_id
            if own and caller.acl.allowed(r, action)[0]:
                out.append(action)
        return out

    def _collection_actions(self, caller: Caller, res: Resource) -> dict[str, list[str]]:
        if res.TYPE == "scope":
            kind = getattr(res, "type", "")
            wanted = {c: k.TYPE for c, k in RESOURCE_CLASSES.items() if kind in k.SCOPES}
            scope_id, pin = res.id, ""
        else:
            wanted, scope_id, pin = dict(res.CHILD_COLLECTIONS), res.scope_id, res.id
        out = {}
        for coll, rtype in wanted.items():
            r = self._collection_ref(rtype, scope_id, pin)
            acts = [a for a in ("create", "list") if caller.acl.allowed(r, a)[0]]
            if coll in _NEVER_CREATED and "create" in acts:
                acts.remove("create")
            if acts:
                out[coll] = acts
        return out

    def serialize(self, res: Resource, caller: Caller, action: str = "read") -> dict[str, Any]:
        """``res.to_dict()`` as this caller may see it (authorized actions, output fields)."""
        body = res.to_dict(self.store)
        body["scope"] = self.scope_info(res.scope_id if res.id != GLOBAL else GLOBAL)
        body["authorized_actions"] = self.authorized_actions(caller, res)
        if res.TYPE == "scope" or res.CHILD_COLLECTIONS:
            body["authorized_collection_actions"] = self._collection_actions(caller, res)
        body = prune(body)
        _, fields = caller.acl.allowed(self.ref(res), action)
        if fields is not None:
            body = {k: v for k, v in body.items() if k in fields}
        return body

    # ------------------------------------------------------------ lookups

    def of_type(self, cls: type[Any]) -> list[Any]:
        return self.store.of_type(cls)

    def scope_of(self, resource_id: str) -> str:
        return self.store.scope_of(resource_id)

    def _get(self, collection: str, resource_id: str) -> Any:
        """The resource, a 400 for an id of the wrong shape, or a 404 as Boundary answers."""
        cls = RESOURCE_CLASSES[collection]
        prefixes = {"scopes": ("o", "p")}.get(collection, (cls.PREFIX,))
        prefix, sep, rest = resource_id.partition("_")
        if resource_id != GLOBAL and (prefix not in prefixes or not sep or not rest):
            raise InvalidArgument(request_fields={"id": "Incorrectly formatted identifier."})
        return self.store.get_as(cls, resource_id)

    def _parent(self, cls: type[Resource], values: dict[str, Any]) -> Resource:
        """The parent a child collection is created or listed under (400 or 404)."""
        key = cls.PARENT_FIELD
        if not values.get(key):
            raise InvalidArgument(request_fields={key: "This field is required."})
        assert cls.PARENT_CLASS is not None
        return self.store.get_as(cls.PARENT_CLASS, values[key])

    # ------------------------------------------------------------ generic CRUD

    def create_resource(self, collection: str, body: dict[str, Any], caller: Caller) -> dict:
        """POST /v1/<collection>. Returns the new item."""
        with self.lock:
            cls = RESOURCE_CLASSES[collection]
            bad = {k: "This is a read only field." for k in body if k in _READ_ONLY}
            if bad:
                raise InvalidArgument(request_fields=bad)
            if cls.PARENT_FIELD:
                parent = self._parent(cls, body)
                scope_id, pin = parent.scope_id, parent.id
            else:
                scope_id, pin = body.get("scope_id", ""), ""
                if not scope_id:
                    raise InvalidArgument(request_fields={"scope_id": "This field is required."})
                scope = self._scope(scope_id)
                if scope.type not in cls.SCOPES:
                    raise InvalidArgument(
                        request_fields={"scope_id": f"This resource cannot be created in a "
                                        f"{scope.type} scope."})  # fmt: skip
            self.authorize(caller, self._collection_ref(cls.TYPE, scope_id, pin), "create")
            builder = getattr(self, f"_build_{cls.__name__.lower()}", None)
            if builder is None:
                raise InvalidArgument(f"Resources of {collection} are created by Boundary.")
            with self.store.write() as w:
                res = builder(body, scope_id)
                self._check_unique_name(res)
                w.put(res)
            return self.serialize(res, caller)

    def _check_unique_name(self, res: Resource) -> None:
        if not res.name:
            return
        twins = self.store.find(type(res), name=res.name, scope_id=res.scope_id,
                                parent_id=res.parent_id)  # fmt: skip
        if any(t.id != res.id for t in twins):
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
            with self.store.write() as w:
                candidate = copy.deepcopy(res)
                updater(candidate, body)
                self._check_unique_name(candidate)
                w.put(candidate)
                w.touch(candidate)
            return self.serialize(candidate, caller)

    def delete_resource(self, collection: str, resource_id: str, caller: Caller) -> None:
        """DELETE /v1/<collection>/<id>; what refers to it follows the references declared
        on the records' types (children go with their parent; a storage bucket in use is
        refused). 204 No Content."""
        with self.lock:
            res = self._get(collection, resource_id)
            if res.TYPE == "session-recording":
                raise FailedPrecondition(
                    "Session recordings are read-only in the sandbox: they cannot be deleted."
                )
            if res.id == GLOBAL:
                raise InvalidArgument(request_fields={"id": "Cannot delete the global scope."})
            self.authorize(caller, self.ref(res), "delete")
            with self.store.write() as w:
                w.delete(res)

    def list_resources(self, collection: str, params: dict[str, str], caller: Caller) -> dict:
        """GET /v1/<collection>?scope_id=...&recursive=true (or the parent id for child
        collections). Items the caller has no action on are left out, as in Boundary.

        Not implemented: pagination (``page_size``, ``list_token`` refresh; every list
        answers ``complete``), ``filter`` beyond ``"/item/<field>" == "<value>"``."""
        with self.lock:
            self._expire_sessions()
            cls = RESOURCE_CLASSES[collection]
            if cls.PARENT_FIELD:
                parent = self._parent(cls, params)
                self.authorize(caller, self._collection_ref(cls.TYPE, parent.scope_id,
                                                            parent.id), "list")  # fmt: skip
                candidates = [r for r in self.of_type(cls) if r.parent_id == parent.id]
            else:
                scope_id = params.get("scope_id") or GLOBAL
                self._scope(scope_id)
                scopes = [scope_id]
                if params.get("recursive", "").lower() == "true":
                    scopes += self.descendants(scope_id)
                allowed = {s for s in scopes if caller.acl.allowed(
                    self._collection_ref(cls.TYPE, s), "list")[0]}  # fmt: skip
                if not allowed:
                    raise self._deny(caller)
                candidates = [r for r in self.of_type(cls)
                              if r.id != GLOBAL and r.scope_id in allowed]  # fmt: skip
            items = [
                self.serialize(res, caller, "list")
                for res in sorted(candidates, key=lambda r: r.created, reverse=True)
                if res.listed(params) and self.authorized_actions(caller, res)
            ]
            items = apply_filter(items, params.get("filter", ""))
            return {
                "items": items,
                "response_type": "complete",
                "list_token": secrets.token_urlsafe(24),
                "sort_by": "created_time",
                "sort_dir": "desc",
                "est_item_count": len(items),
            }

    # ------------------------------------------------------------ id-list actions

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

    def change_ids(
        self,
        collection: str,
        resource_id: str,
        op: str,
        body: dict[str, Any],
        caller: Caller,
        *,
        thing: str,
        key: str,
        check: Callable[[Any, list[str], str], None],
        field: str = "",
        before: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict:
        """POST /v1/<collection>/{id}:add-<thing> | :set-<thing> | :remove-<thing>: check the
        version, ``before(body)``, the ids in ``body[key]`` and ``check(resource, ids, op)``
        (each raises on what is wrong), change the list ``field`` (``key`` unless named) and
        answer the resource."""
        with self.lock:
            kind = RESOURCE_CLASSES[collection].NAME.lower()
            res = self._versioned(collection, resource_id, body, caller, f"{op}-{thing}",
                                  f"{op} {thing.replace('-', ' ')} of {kind}")  # fmt: skip
            if before is not None:
                before(body)
            given = list_of_ids(body, key, op)
            with self.store.write() as w:
                check(res, given, op)
                name = field or key
                setattr(res, name, apply_ids(getattr(res, name), given, op))
                w.touch(res)
            return self.serialize(res, caller)


# ---------------------------------------------------------------- helpers


def check_fields(body: dict[str, Any], allowed: Iterable[str],
                 attrs: Iterable[str] = ()) -> dict[str, Any]:  # fmt: skip
    """``body``'s ``attributes``; a 400 naming every field not in ``allowed``/``attrs``."""
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


def set_common(res: Resource, body: dict[str, Any]) -> None:
    for k in ("name", "description"):
        if k in body:
            value = body[k] or ""
            if not isinstance(value, str):
                raise InvalidArgument(request_fields={k: "Must be a string."})
            setattr(res, k, value)


def check_common(res: Resource, body: dict[str, Any]) -> None:
    """The updater of resources with only name and description."""
    check_fields(body, COMMON)
    set_common(res, body)


def require_type(body: dict[str, Any], expected: str) -> None:
    if body.get("type", expected) != expected:
        raise InvalidArgument(request_fields={
            "type": f"Only '{expected}' is supported in the sandbox."})  # fmt: skip


def apply_ids(current: list[str], given: list[str], op: str) -> list[str]:
    if op == "add":
        return current + [i for i in dict.fromkeys(given) if i not in current]
    if op == "remove":
        return [i for i in current if i not in given]
    return list(dict.fromkeys(given))


def list_of_ids(body: dict[str, Any], key: str, op: str) -> list[str]:
    given = body.get(key) or []
    if not isinstance(given, list) or not all(isinstance(i, str) for i in given):
        raise InvalidArgument(request_fields={key: "Must be a list of ids."})
    if op != "set" and not given:
        raise InvalidArgument(request_fields={key: "Must be non-empty."})
    return given


def unknown_ids(key: str, message: str, ok: Callable[[str], bool]) -> Callable[..., None]:
    """A ``check`` for :meth:`Crud.change_ids`: a 400 ``message.format(bad=...)`` on ``key``
    when an id to add or set fails ``ok``."""

    def check(res: Any, given: list[str], op: str) -> None:
        bad = [i for i in given if not ok(i)]
        if bad and op != "remove":
            raise InvalidArgument(request_fields={key: message.format(bad=bad)})

    return check


def apply_filter(items: list[dict[str, Any]], expression: str) -> list[dict[str, Any]]:
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
