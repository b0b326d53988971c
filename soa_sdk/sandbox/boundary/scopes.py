"""Scopes: ``global``, its orgs and their projects (``controller.api.resources.scopes.v1``).

Not implemented: key management (``:list-keys``, ``:rotate-keys``, destruction jobs),
storage policies (``:attach-storage-policy``) and alias suffixes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from .crud import COMMON, Crud, check_fields, set_common
from .exceptions import NotFound
from .grants import GLOBAL
from .records import Resource, new_id, prune, ref
from .store import Store


@dataclass(kw_only=True)
class Scope(Resource):
    TYPE = "scope"
    COLLECTION = "scopes"
    NAME = "Scope"
    SCOPES = ("global", "org")
    ID_ACTIONS = ("no-op", "read", "update", "delete", "list-keys", "rotate-keys")
    type: str = "org"  # global, org or project
    # Boundary sets it null when the auth method goes (``on delete set null``).
    primary_auth_method_id: Annotated[str, ref("auth-method", on_delete="set null")] = ""

    def fields(self, store: Store) -> dict[str, Any]:
        return {
            "scope_id": self.scope_id if self.id != GLOBAL else "",
            "type": self.type,
            "primary_auth_method_id": self.primary_auth_method_id,
        }


class ScopeOps(Crud):
    """Scopes: the tree, and how a permission check and a resource's JSON name them."""

    def _scope(self, scope_id: str) -> Scope:
        scope = self.resources.get(scope_id)
        if not isinstance(scope, Scope):
            raise NotFound()
        return scope

    def descendants(self, scope_id: str) -> list[str]:
        """Scope ids under ``scope_id``, itself excluded."""
        out, todo = [], [scope_id]
        while todo:
            parent = todo.pop()
            for s in self.store.find(Scope, scope_id=parent):
                if s.id != GLOBAL:
                    out.append(s.id)
                    todo.append(s.id)
        return out

    def scope_info(self, scope_id: str) -> dict[str, Any]:
        s = self._scope(scope_id)
        return prune({"id": s.id, "type": s.type, "name": s.name,
                      "description": s.description,
                      "parent_scope_id": s.scope_id if s.id != GLOBAL else ""})  # fmt: skip

    def _build_scope(self, body: dict[str, Any], scope_id: str) -> Scope:
        check_fields(body, COMMON)
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
        check_fields(body, (*COMMON, "primary_auth_method_id"))
        set_common(res, body)
        if "primary_auth_method_id" in body:
            res.primary_auth_method_id = body["primary_auth_method_id"] or ""
