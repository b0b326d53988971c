"""Boundary's side of step 4, built idempotently (every resource is found by name first).

The same tree as ``terraform/shared_services/boundary/main.tf``, from the same
``access.json``: the org scope ``prod`` with a project per runtime; a password auth method with
one account and user per declared user; the groups; in each project holding a target, a static
host catalog with the database host, a Vault credential store and one generic credential library
per target (``<mount>/creds/<role>``, ``username_password``); the TCP targets; and the roles
(``anonymous-login``, ``members``, ``connect-<target>``, ``auditors``) with Terraform's grant
strings. What differs from Terraform, on purpose:

- **Just-in-time groups**: a group that any target allows (``dba``, ``developers``) gets no
  standing members; :mod:`soa_sdk.access.grants` adds a member for minutes and removes them.
  Other groups (``auditors``) get their declared members.
- **Session recording** on every target, into a storage bucket of the org (sandbox only: real
  Boundary records SSH and RDP targets only, and needs Enterprise or HCP).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from soa_sdk import validate
from soa_sdk.access.client import BoundaryApi
from soa_sdk.access.grant_strings import MalformedGrant, check_grant
from soa_sdk.access.values import SetupReport
from soa_sdk.errors import ValidationError
from soa_sdk.tf.lab_spec import AccessSpec

ANONYMOUS = "u_anon"
AUDITORS = "auditors"
AUTH_METHOD = "password"
MIN_PASSWORD_LENGTH = 12
HOST_CATALOG = "databases"
CREDENTIAL_STORE = "vault"
STORAGE_BUCKET = "session-recordings"

ANONYMOUS_GRANTS = (
    "ids=*;type=scope;actions=list,no-op",
    "ids=*;type=auth-method;actions=list,authenticate",
)
MEMBER_GRANTS = (
    "ids=*;type=scope;actions=list,read,no-op",
    "ids=*;type=target;actions=list,no-op",
    "ids=*;type=session;actions=list,read:self,cancel:self",
    "ids=*;type=auth-token;actions=list,read:self,delete:self",
    "ids={{.User.Id}};actions=read,change-password",
)
AUDITOR_GRANTS = (
    "ids=*;type=session;actions=list,read",
    "ids=*;type=session-recording;actions=list,read,download",
)


def _singular(collection: str) -> str:
    return collection[:-3] + "y" if collection.endswith("ies") else collection.removesuffix("s")


def connect_grants(target_id: str) -> tuple[str, ...]:
    """What a target's groups may do: read it and open sessions to it, nothing else."""
    return (f"ids={target_id};actions=read,authorize-session",)


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

    # --- scopes and identities -------------------------------------------------------------------

    def scopes(self, projects: list[str]) -> None:
        org = self.ensure(
            "scopes",
            self.spec.org,
            {"scope_id": "global"},
            {"description": "Production: every runtime's project"},
        )
        self.report.org_id = org["id"]
        for name in projects:
            project = self.ensure(
                "scopes", name, {"scope_id": org["id"]}, {"description": f"Runtime {name}"}
            )
            self.report.projects[name] = project["id"]

    def identities(self, password_of: Callable[[str], str]) -> None:
        org = self.report.org_id
        am = self.ensure(
            "auth-methods",
            AUTH_METHOD,
            {"scope_id": org},
            {
                "type": "password",
                "description": "Login names and passwords of the prod org",
                "attributes": {
                    "min_login_name_length": 3,
                    "min_password_length": MIN_PASSWORD_LENGTH,
                },
            },
        )
        self.report.auth_method_id = am["id"]
        accounts = {
            a["attributes"]["login_name"]: a
            for a in self.api.list("accounts", "list the prod accounts", auth_method_id=am["id"])
        }
        for user in self.spec.users:
            account = accounts.get(user.name)
            if account is None:
                account = self.api.create(
                    "accounts",
                    {
                        "auth_method_id": am["id"],
                        "type": "password",
                        "name": user.name,
                        "attributes": {"login_name": user.name, "password": password_of(user.name)},
                    },
                    f"create the account of {user.name!r}",
                )
                self._created(f"account {user.name}")
            item = self.ensure(
                "users", user.name, {"scope_id": org}, {"description": user.description}
            )
            if account["id"] not in (item.get("account_ids") or []):
                item = self.api.action(
                    "users",
                    item,
                    "add-accounts",
                    {"account_ids": [account["id"]]},
                    f"attach the account of {user.name!r}",
                )
            self.report.users[user.name] = item["id"]
        jit = jit_groups(self.spec)
        for group in self.spec.groups:
            item = self.ensure(
                "groups", group.name, {"scope_id": org}, {"description": group.description}
            )
            if group.name not in jit:
                standing = [
                    self.report.users[u.name] for u in self.spec.users if group.name in u.groups
                ]
                self.set_ids("groups", item, "member_ids", "members", standing)
            self.report.groups[group.name] = item["id"]

    # --- targets ---------------------------------------------------------------------------------

    def recording_bucket(self, bucket_name: str, region: str) -> None:
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

    def targets(
        self, db_host: str, db_port: int, vault_url: str, vault_token_for: Callable[[str], str]
    ) -> None:
        """Host catalogs, credential stores, libraries and targets, project by project.
        ``vault_token_for(project)`` is called only when a credential store must be made."""
        db = self.spec.database
        for project in sorted({t.project for t in self.spec.targets}):
            scope = {"scope_id": self.report.projects[project]}
            catalog = self.ensure(
                "host-catalogs",
                HOST_CATALOG,
                scope,
                {"type": "static", "description": f"Databases of {project}"},
            )
            where = {"host_catalog_id": catalog["id"]}
            host = self.ensure(
                "hosts", db.name, where, {"type": "static", "attributes": {"address": db_host}}
            )
            if host["attributes"]["address"] != db_host:  # the sandbox's port moves per run
                self.api.update(
                    "hosts",
                    host,
                    {"attributes": {"address": db_host}},
                    f"update the address of host {db.name!r}",
                )
            host_set = self.ensure("host-sets", db.name, where, {"type": "static"})
            host_set = self.set_ids("host-sets", host_set, "host_ids", "hosts", [host["id"]])
            store = self.api.find("credential-stores", CREDENTIAL_STORE, **scope)
            if store is None:
                store = self.api.create(
                    "credential-stores",
                    {
                        **scope,
                        "name": CREDENTIAL_STORE,
                        "type": "vault",
                        "description": "Vault of the shared-services account",
                        "attributes": {"address": vault_url, "token": vault_token_for(project)},
                    },
                    f"create the Vault credential store of {project}",
                )
                self._created(f"credential store {project}/{CREDENTIAL_STORE}")
            for target in (t for t in self.spec.targets if t.project == project):
                library = self.ensure(
                    "credential-libraries",
                    f"{db.name}-{target.database_role}",
                    {"credential_store_id": store["id"]},
                    {
                        "type": "vault-generic",
                        "credential_type": "username_password",
                        "description": f"{target.database_role} credentials for {db.name}, "
                        "leased per session",
                        "attributes": {
                            "path": db.credentials_path(target.database_role),
                            "http_method": "GET",
                        },
                    },
                )
                attributes: dict[str, object] = {"default_port": db_port}
                if self.report.storage_bucket_id:
                    attributes |= {
                        "enable_session_recording": True,
                        "storage_bucket_id": self.report.storage_bucket_id,
                    }
                wanted = {
                    "session_max_seconds": target.session_max_seconds,
                    "session_connection_limit": target.session_connection_limit,
                }
                item = self.ensure(
                    "targets",
                    target.name,
                    scope,
                    {
                        "type": "tcp",
                        "description": f"{target.database_role} access to {db.name}",
                        **wanted,
                        "attributes": attributes,
                    },
                )
                drift = {k: v for k, v in wanted.items() if item.get(k) != v}
                if drift or any(item["attributes"].get(k) != v for k, v in attributes.items()):
                    item = self.api.update(
                        "targets",
                        item,
                        {**wanted, "attributes": attributes},
                        f"update target {target.name!r}",
                    )
                    self.report.changes.append(f"updated target {target.name}")
                item = self.set_ids(
                    "targets", item, "host_source_ids", "host-sources", [host_set["id"]]
                )
                self.set_ids(
                    "targets",
                    item,
                    "brokered_credential_source_ids",
                    "credential-sources",
                    [library["id"]],
                )
                self.report.targets[target.name] = item["id"]

    # --- roles -----------------------------------------------------------------------------------

    def role_plans(self) -> list[RolePlan]:
        org, groups = self.report.org_id, self.report.groups
        plans = [
            RolePlan(
                "anonymous-login",
                org,
                "Lets anyone reach the login page of the prod org",
                ("this",),
                (ANONYMOUS,),
                ANONYMOUS_GRANTS,
            ),
            RolePlan(
                "members",
                org,
                "What every prod user may do: browse scopes, list targets, manage own sessions",
                ("this", "children"),
                tuple(groups[g.name] for g in self.spec.groups),
                MEMBER_GRANTS,
            ),
        ]
        for t in self.spec.targets:
            plans.append(
                RolePlan(
                    f"connect-{t.name}",
                    self.report.projects[t.project],
                    f"Open sessions to {t.name}",
                    ("this",),
                    tuple(groups[g] for g in t.groups),
                    connect_grants(self.report.targets[t.name]),
                )
            )
        if AUDITORS in groups:
            plans.append(
                RolePlan(
                    AUDITORS,
                    org,
                    "Read all sessions and session recordings of the prod org",
                    ("this", "children"),
                    (groups[AUDITORS],),
                    AUDITOR_GRANTS,
                )
            )
        return plans

    def roles(self, plans: list[RolePlan]) -> None:
        for plan in plans:
            check_grants(plan.grants)
        for plan in plans:
            self.report.roles[plan.name] = self.role(plan)

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
