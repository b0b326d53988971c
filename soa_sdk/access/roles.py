"""Boundary roles beyond the declared ones: :meth:`Roles.ensure_role` and a table of them all.

Boundary: ``/v1/roles`` (``:set-grants``, ``:set-principals``, ``:set-grant-scopes``).
"""

from __future__ import annotations

from soa_sdk import validate
from soa_sdk.access.boundary_setup import BoundarySetup, RolePlan, check_grants
from soa_sdk.access.context import Context
from soa_sdk.access.values import SetupReport
from soa_sdk.errors import ValidationError
from soa_sdk.tables import Table


class Roles:
    """Create, correct and list roles; see :class:`soa_sdk.access.Access`."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def ensure_role(
        self, scope: str, name: str, grants: list[str], groups: list[str], description: str = ""
    ) -> str:
        grants = check_grants(grants)
        validate.text(name, "A role's name")
        validate.text(description, "description", empty=True)
        validate.names(groups, "groups", empty=True)
        scope_id = self.ctx.scope_id(scope)
        ids = self.ctx.lookup()
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
        return BoundarySetup(self.ctx.admin(), self.ctx.spec, SetupReport()).role(plan)

    def roles_table(self) -> Table:
        ids = self.ctx.lookup()
        admin = self.ctx.admin()
        names = {v: k for k, v in {**ids.groups, **ids.users}.items()} | {"u_anon": "anyone"}
        rows = []
        for scope_name, scope_id in {self.ctx.spec.org: ids.org_id, **ids.projects}.items():
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
