"""What the SDK does in Boundary beside ``terraform/shared_services/boundary``.

That folder declares the standing tree (org, projects, auth method, users, groups, roles,
host catalogs, Vault credential stores and libraries, targets) and step 4 applies it through
``lab.tf``. This module keeps what Terraform does not do:

- **roles beyond the declared ones** (:meth:`BoundarySetup.role`, for
  :meth:`soa_sdk.access.Access.ensure_role`), with grant strings checked by Boundary's rules
  first;
- **session recording** on the sandbox: a storage bucket of the org (``/v1/storage-buckets``)
  and ``enable_session_recording`` on every target. Real Boundary records SSH and RDP targets
  only (Enterprise or HCP), so the folder declares no recording for its TCP targets and
  ignores those two attributes (``lifecycle { ignore_changes }``); the sandbox's emulator
  records TCP sessions as its extension.

:func:`jit_groups` says which groups are just in time (the folder's
``boundary_group.just_in_time``): those that open a target.
"""

from __future__ import annotations

from dataclasses import dataclass

from soa_sdk import validate
from soa_sdk.access.client import BoundaryApi
from soa_sdk.access.grant_strings import MalformedGrant, check_grant
from soa_sdk.access.values import SetupReport
from soa_sdk.errors import ValidationError
from soa_sdk.tf.lab_spec import AccessSpec

STORAGE_BUCKET = "session-recordings"


def _singular(collection: str) -> str:
    return collection[:-3] + "y" if collection.endswith("ies") else collection.removesuffix("s")


def check_grants(grants: list[str] | tuple[str, ...]) -> list[str]:
    """Validate grant strings with Boundary's own rules (``perms.Parse``); raise one clear
    :class:`ValidationError` naming the first bad one, before anything is sent."""
    for text in validate.names(grants, "Grants (grant strings)"):
        try:
            check_grant(text)
        except MalformedGrant as error:
            raise ValidationError(
                f"Malformed grant string {text!r}: {error}. A grant names ids (or ids=* with a "
                "type) and actions, e.g. 'ids=*;type=target;actions=list,read,authorize-session'."
            ) from None
    return list(grants)


def jit_groups(spec: AccessSpec) -> set[str]:
    """Groups that give access to a target: members only just in time."""
    return {g for t in spec.targets for g in t.groups}


@dataclass
class RolePlan:
    name: str
    scope_id: str
    description: str
    grant_scope_ids: tuple[str, ...]
    principal_ids: tuple[str, ...]
    grants: tuple[str, ...]


class BoundarySetup:
    """Builds (or finds) the tree; ``report`` collects ids and what changed."""

    def __init__(self, api: BoundaryApi, spec: AccessSpec, report: SetupReport) -> None:
        self.api = api
        self.spec = spec
        self.report = report

    def _created(self, what: str) -> None:
        self.report.changes.append(f"created {what}")

    def ensure(self, collection: str, name: str, where: dict[str, str], body: dict) -> dict:
        """The item named ``name`` in ``where`` (a scope or parent), created when missing."""
        item = self.api.find(collection, name, **where)
        if item is None:
            item = self.api.create(
                collection, {**where, **body, "name": name}, f"create {collection} {name!r}"
            )
            self._created(f"{_singular(collection)} {name}")
        return item

    def set_ids(
        self, collection: str, item: dict, field: str, thing: str, wanted: list[str]
    ) -> dict:
        """``:set-<thing>`` when the item's ``field`` differs from ``wanted`` (order ignored)."""
        if sorted(item.get(field) or []) == sorted(wanted):
            return item
        item = self.api.action(
            collection,
            item,
            f"set-{thing}",
            {field: wanted},
            f"set the {thing} of {item.get('name') or item['id']}",
        )
        self.report.changes.append(
            f"set {thing} of {_singular(collection)} {item.get('name') or item['id']}"
        )
        return item

    # --- session recording (the sandbox's) ------------------------------------------------------

    def recording_bucket(self, bucket_name: str, region: str) -> None:
        """The org's storage bucket over the S3 bucket ``bucket_name`` (``/v1/storage-buckets``,
        the ``aws`` plugin), created when missing."""
        item = self.ensure(
            "storage-buckets",
            STORAGE_BUCKET,
            {"scope_id": self.report.org_id},
            {
                "plugin_name": "aws",
                "bucket_name": bucket_name,
                "bucket_prefix": "sessions",
                "description": "Recordings of every prod session",
                "attributes": {"region": region, "disable_credential_rotation": True},
            },
        )
        self.report.storage_bucket_id = item["id"]

    def record_targets(self) -> None:
        """``enable_session_recording`` into the storage bucket on every declared target
        (``PATCH /v1/targets/:id``), where it is not on yet."""
        bucket = self.report.storage_bucket_id
        wanted = {"enable_session_recording": True, "storage_bucket_id": bucket}
        for name, target_id in sorted(self.report.targets.items()):
            item = self.api.read("targets", target_id, f"read target {name!r}")
            attributes = item.get("attributes") or {}
            if all(attributes.get(k) == v for k, v in wanted.items()):
                continue
            self.api.update(
                "targets",
                item,
                {"attributes": {**attributes, **wanted}},
                f"record the sessions of {name!r}",
            )
            self.report.changes.append(f"recording on target {name}")

    # --- roles -----------------------------------------------------------------------------------

    def role(self, plan: RolePlan) -> str:
        """Create or correct one role: grant scopes, grants and principals as planned."""
        item = self.ensure(
            "roles", plan.name, {"scope_id": plan.scope_id}, {"description": plan.description}
        )
        item = self.set_ids(
            "roles", item, "grant_scope_ids", "grant-scopes", list(plan.grant_scope_ids)
        )
        item = self.set_ids("roles", item, "grant_strings", "grants", list(plan.grants))
        item = self.set_ids("roles", item, "principal_ids", "principals", list(plan.principal_ids))
        return item["id"]
