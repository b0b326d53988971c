"""ACL roles (``PUT /v1/acl/role``, ``GET|PUT|DELETE /v1/acl/role/:id``,
``GET /v1/acl/role/name/:name``, ``GET /v1/acl/roles``), and the links tokens and roles
make: to roles and policies by ID or name, into the rules they grant.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from .. import acl as aclmod
from ..exceptions import ACLNotFound, BadRequest
from .acl_fields import node_identities, service_identities
from .acl_templates import render_template, templated_policies
from .core import GLOBAL_MANAGEMENT_ID, Authz, Store
from .records import Role, Token


class RoleState(Store):
    """Roles (table ``_roles``, under the ``acl`` index) and link resolution."""

    _roles: Any

    def _resolve_links(
        self, table: Any, links: list[dict], what: str, name_of: Any
    ) -> list[dict[str, str]]:
        out = []
        for link in links or []:
            want_id, want_name = link.get("ID"), link.get("Name")
            found = next(
                (
                    r
                    for r in table.values()
                    if (want_id and r.id == want_id) or (not want_id and name_of(r) == want_name)
                ),
                None,
            )
            if found is None:
                by = f"ID {want_id!r}" if want_id else f"Name {want_name!r}"
                raise BadRequest(f"No such ACL {what} with {by}")
            if not any(o["ID"] == found.id for o in out):
                out.append({"ID": found.id, "Name": name_of(found)})
        return out

    def _identity_rules(
        self,
        policies: list[dict],
        services: list[dict],
        nodes: list[dict],
        templated: list[dict],
    ) -> list[aclmod.Rules]:
        parts = [self._policy_rules(p["ID"]) for p in policies if p["ID"] in self._policies]  # type: ignore[attr-defined]
        parts += [aclmod.service_identity_rules(i["ServiceName"]) for i in services]
        parts += [aclmod.node_identity_rules(i["NodeName"]) for i in nodes]
        parts += [
            aclmod.parse_rules(render_template(t["TemplateName"], t.get("TemplateVariables")))
            for t in templated
        ]
        return parts

    def _role_rules(self, token: Token) -> tuple[list[aclmod.Rules], bool]:
        """The rules a token's roles grant, and whether one links global-management."""
        parts: list[aclmod.Rules] = []
        management = False
        for link in token.roles:
            role = self._roles.get(link["ID"])
            if role is None:
                continue
            management |= any(p["ID"] == GLOBAL_MANAGEMENT_ID for p in role.policies)
            parts += self._identity_rules(
                role.policies, role.service_identities, role.node_identities,
                role.templated_policies,
            )  # fmt: skip
        return parts, management

    def role_upsert(self, raw: dict, role_id: str | None = None, authz: Authz = None) -> dict:
        """``PUT /v1/acl/role`` (create) and ``PUT /v1/acl/role/:id`` (update)."""
        self._acl_guard(authz, "write")  # type: ignore[attr-defined]
        name = raw.get("Name", "")
        if not name:
            raise BadRequest("Invalid Role: no Name is set")
        if not re.fullmatch(r"[A-Za-z0-9\-_]{1,256}", name):
            raise BadRequest("Invalid Role: the name can only contain alphanumeric characters,"
                             " dashes and underscores")  # fmt: skip
        with self.write():
            rid = role_id or raw.get("ID") or ""
            if rid and rid not in self._roles:
                raise BadRequest(f"Cannot find role {rid}")
            if any(r.name == name and r.id != rid for r in self._roles.values()):
                raise BadRequest(f"Invalid Role: A Role with Name {name!r} already exists")
            policies = self._resolve_policy_links(raw.get("Policies") or [])  # type: ignore[attr-defined]
            services = service_identities(raw.get("ServiceIdentities"), "Role")
            nodes = node_identities(raw.get("NodeIdentities"), self.datacenter)
            role = Role(
                rid or str(uuid.uuid4()),
                name,
                raw.get("Description", ""),
                policies,
                services,
                nodes,
                templated_policies(raw.get("TemplatedPolicies"), "Role"),
            )
            self._roles.put(role.id, role)
            for token in self._tokens.values():  # type: ignore[attr-defined]
                for link in token.roles:
                    if link["ID"] == role.id:
                        link["Name"] = name
            return role.to_dict()

    def role_get(
        self, role_id: str | None = None, name: str | None = None, authz: Authz = None
    ) -> dict:
        """``GET /v1/acl/role/:id`` or ``/v1/acl/role/name/:name`` (403 ``ACL not found``)."""
        self._acl_guard(authz, "read")  # type: ignore[attr-defined]
        with self._lock:
            role = next(
                (r for r in self._roles.values() if r.id == role_id or (name and r.name == name)),
                None,
            )
            if role is None:
                raise ACLNotFound()
            return role.to_dict()

    def role_list(self, policy: str = "", authz: Authz = None) -> list[dict]:
        """``GET /v1/acl/roles`` (``?policy=`` keeps the roles that link that policy)."""
        self._acl_guard(authz, "read")  # type: ignore[attr-defined]
        with self._lock:
            roles = [
                r.to_dict()
                for r in self._roles.values()
                if not policy or any(p["ID"] == policy for p in r.policies)
            ]
        return sorted(roles, key=lambda r: r["Name"])

    def role_delete(self, role_id: str, authz: Authz = None) -> bool:
        """``DELETE /v1/acl/role/:id`` (the links to it go from every token)."""
        self._acl_guard(authz, "write")  # type: ignore[attr-defined]
        with self.write():
            if self._roles.pop(role_id, None) is not None:
                for key, token in list(self._tokens.items()):  # type: ignore[attr-defined]
                    if any(r["ID"] == role_id for r in token.roles):
                        token.roles = [r for r in token.roles if r["ID"] != role_id]
                        self._tokens.touch(key)  # type: ignore[attr-defined]
        return True
