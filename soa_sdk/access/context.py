"""What every part of step 4 shares: the clients (``lab.tf`` among them), the declared access,
Boundary's admin login, the users' passwords (``shared_services/boundary``'s input), the ids of
what Terraform built, the renewal of Boundary's Vault tokens, and the checks of names before
any call.

The parts (:mod:`.provision`, :mod:`.sessions`, :mod:`.recordings`, :mod:`.roles`, and the
just-in-time grants of :mod:`.grants`) each take a :class:`Context`;
:class:`soa_sdk.access.Access` composes them.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from soa_sdk import validate
from soa_sdk.access import database
from soa_sdk.access.client import BoundaryApi
from soa_sdk.access.store import AccessStore
from soa_sdk.access.values import SetupReport, UserToken
from soa_sdk.errors import NotFound, ServiceUnavailable, ValidationError, require_sandbox
from soa_sdk.tf.lab_spec import AccessSpec, BoundaryTarget, BoundaryUser
from soa_sdk.vault import DatabaseSecrets

if TYPE_CHECKING:
    import hvac

    from soa_sdk.awsclient import EndpointSession
    from soa_sdk.sandbox.controls import SandboxControls
    from soa_sdk.tf.workspace import LabTerraform

_TOKEN_RENEW_EVERY = 60.0
#: Where the users' passwords come from on real endpoints: the variable that gives
#: shared_services/boundary its ``user_passwords``.
PASSWORDS_VARIABLE = "TF_VAR_" + "user_passwords"
#: The folders of step 4's standing configuration, in the order they apply.
VAULT_FOLDER = "shared_services/vault"
BOUNDARY_FOLDER = "shared_services/boundary"
#: Vault names a token ``token-<display_name>``; shared_services/boundary's are
#: ``boundary-<project>``.
_TOKEN_DISPLAY_NAME = "token-boundary-{project}"


class Context:
    """The clients and state the parts of :class:`soa_sdk.access.Access` share.

    ``vault``: the hvac client; ``aws``: the management session; ``boundary_url``: the
    controller; ``vault_url``: the Vault address Boundary's credential stores call;
    ``postgres_url`` / ``postgres_password``: the database as its admin; ``controls``: the
    sandbox's (None on real endpoints); ``store`` and ``database``: the KV store and the
    database engine in Vault; ``terraform``: ``lab.tf``, which applies the folders of
    step 4's standing configuration."""

    def __init__(
        self,
        spec: AccessSpec,
        vault: hvac.Client,
        aws: EndpointSession,
        store: AccessStore,
        boundary_url: str | None,
        vault_url: str | None,
        region: str,
        postgres_url: str | None,
        postgres_password: str | None,
        controls: SandboxControls | None,
        progress: Callable[[str], None],
        terraform: LabTerraform | None = None,
    ) -> None:
        self.spec = spec
        self.vault = vault
        self.aws = aws
        self.store = store
        self.database = DatabaseSecrets(vault, spec.database.vault_mount)
        self.boundary_url = boundary_url
        self.vault_url = vault_url
        self.region = region
        self.postgres_url = postgres_url
        self.postgres_password = postgres_password
        self.controls = controls
        self.progress = progress
        self.terraform = terraform
        self.ids: SetupReport | None = None
        self._admin_api: BoundaryApi | None = None
        self._renewed_at = 0.0
        self._accessors: dict[str, str] = {}
        self._lock = threading.RLock()

    @property
    def sandbox(self) -> bool:
        """Whether the lab runs on the sandbox (it then has :attr:`controls`)."""
        return self.controls is not None

    def sandbox_controls(self, what: str, instead: str) -> SandboxControls:
        """The sandbox's controls; a clear error saying ``what`` is sandbox-only otherwise."""
        return require_sandbox(self.controls, what, instead)

    # --- connections -----------------------------------------------------------------------------

    def url(self) -> str:
        """Boundary's address; a clear error when there is none."""
        if not self.boundary_url:
            raise ServiceUnavailable("No Boundary address: start the sandbox or set BOUNDARY_ADDR.")
        return self.boundary_url

    def admin(self) -> BoundaryApi:
        """The administrator's API: in the sandbox, ``boundary dev``'s admin login on the
        global auth method; against real Boundary, the token in ``BOUNDARY_TOKEN``."""
        with self._lock:
            if self._admin_api is None:
                api = BoundaryApi(self.url())
                if self.controls is not None:
                    token = api.authenticate(*self.controls.boundary_admin_login())["token"]
                else:
                    token = os.environ.get("BOUNDARY_TOKEN", "")
                    if not token:
                        raise ValidationError(
                            "Set BOUNDARY_TOKEN to an administrator's token "
                            "(`boundary authenticate`)."
                        )
                self._admin_api = api.as_token(token)
            return self._admin_api

    def admin_pg(self) -> database.AdminConnection:
        return database.AdminConnection.from_url(self.postgres_url or "", self.postgres_password)

    def database_address(self) -> tuple[str, int]:
        if self.sandbox:
            pg = self.admin_pg()
            return pg.host, pg.port
        return self.spec.database.host, self.spec.database.port

    def password(self, user: str) -> str:
        """``user``'s Boundary password, never shown: on the sandbox the initial one that
        ``shared_services/boundary`` set from its ``user_passwords`` input; on real endpoints
        from ``TF_VAR_user_passwords`` (the same secret, JSON by user name)."""
        if self.controls is not None:
            return self.controls.boundary_user_password(user)
        try:
            passwords = json.loads(os.environ.get(PASSWORDS_VARIABLE) or "{}")
        except ValueError:
            passwords = {}
        if not isinstance(passwords, dict) or not passwords.get(user):
            raise ValidationError(
                f"No password for {user!r}: set TF_VAR_user_passwords (JSON by user name), "
                "as for terraform/shared_services/boundary."
            )
        return str(passwords[user])

    def tf(self) -> LabTerraform:
        """``lab.tf``; a clear error when this Access was built without it."""
        if self.terraform is None:
            raise ValidationError(
                "This Access has no Terraform: build it as lab.access (or lab.new_access())."
            )
        return self.terraform

    # --- Boundary's Vault tokens -----------------------------------------------------------------

    def _accessor(self, project: str) -> str:
        """The accessor of the token shared_services/boundary made for ``project``'s credential
        store, found by its display name (``LIST /auth/token/accessors``, then
        ``/auth/token/lookup-accessor``); cached. Empty when Vault has none."""
        found = self._accessors.get(project, "")
        if found:
            return found
        wanted = _TOKEN_DISPLAY_NAME.format(project=project)
        answer = self.vault.auth.token.list_accessors()
        for accessor in (answer.get("data") or {}).get("keys") or []:
            try:
                data = self.vault.auth.token.lookup_accessor(accessor)["data"]
            except Exception:  # expired between the list and the lookup
                continue
            if data.get("display_name") == wanted:
                self._accessors[project] = accessor
                return accessor
        return ""

    def renew_vault_tokens(self, force: bool = False) -> None:
        """Renew Boundary's Vault tokens (real Boundary renews its own; the sandbox's emulator
        does not). A token that died (the sandbox idled past its period) is Terraform's to
        replace: ``shared_services/boundary`` is applied again (its ``vault_token`` is gone, so
        Terraform makes a new one and gives it to the credential store)."""
        if not force and time.time() - self._renewed_at < _TOKEN_RENEW_EVERY:
            return
        self._renewed_at = time.time()
        dead = False
        for project in sorted({t.project for t in self.spec.targets}):
            accessor = self._accessor(project)
            try:
                if not accessor:
                    raise LookupError(project)
                self.vault.auth.token.renew_accessor(accessor)
            except Exception:  # hvac raises per status; any failure means gone
                self._accessors.pop(project, None)
                dead = True
        if dead and self.terraform is not None:
            self.progress("a credential store's Vault token is gone: Terraform replaces it")
            self.terraform.apply(BOUNDARY_FOLDER)

    # --- what setup built ------------------------------------------------------------------------

    def lookup(self) -> SetupReport:
        """The ids of what setup built, found by name (cached)."""
        if self.ids is not None:
            return self.ids
        admin = self.admin()
        ids = SetupReport()
        org = admin.find("scopes", self.spec.org, scope_id="global")
        if org is None:
            raise NotFound(f"Boundary has no org {self.spec.org!r}: run lab.access.setup() first.")
        ids.org_id = org["id"]
        for item in admin.list("scopes", "list the projects", scope_id=org["id"]):
            ids.projects[item["name"]] = item["id"]
        am = admin.find("auth-methods", "password", scope_id=org["id"])
        ids.auth_method_id = am["id"] if am else ""
        ids.users = {
            u["name"]: u["id"] for u in admin.list("users", "list users", scope_id=org["id"])
        }
        ids.groups = {
            g["name"]: g["id"] for g in admin.list("groups", "list groups", scope_id=org["id"])
        }
        for project_id in ids.projects.values():
            for t in admin.list("targets", "list targets", scope_id=project_id):
                ids.targets[t["name"]] = t["id"]
        missing = [t.name for t in self.spec.targets if t.name not in ids.targets]
        missing += [u.name for u in self.spec.users if u.name not in ids.users]
        if missing or not ids.auth_method_id:
            raise NotFound(
                f"Boundary lacks {', '.join(missing) or 'the auth method'}: run "
                "lab.access.setup() first."
            )
        self.ids = ids
        return ids

    def targets_of_group(self, group: str) -> list[str]:
        ids = self.lookup()
        return [
            ids.targets[t.name]
            for t in self.spec.targets
            if group in t.groups and t.name in ids.targets
        ]

    # --- validation ------------------------------------------------------------------------------

    def user(self, name: object) -> BoundaryUser:
        known = ", ".join(u.name for u in self.spec.users)
        validate.text(name, f"A user name ({known})")
        try:
            return self.spec.user(name)
        except NotFound:
            raise ValidationError(f"Unknown user {name!r}: the users are {known}.") from None

    def target(self, name: object) -> BoundaryTarget:
        known = ", ".join(t.name for t in self.spec.targets)
        validate.text(name, f"A target name ({known})")
        try:
            return self.spec.target(name)
        except NotFound:
            raise ValidationError(f"Unknown target {name!r}: the targets are {known}.") from None

    def scope_id(self, name: object) -> str:
        """An org or project scope by name: ``prod`` or a runtime's project."""
        ids = self.lookup()
        scopes = {self.spec.org: ids.org_id, **ids.projects}
        if not isinstance(name, str) or name not in scopes:
            raise ValidationError(
                f"Unknown scope {name!r}: the scopes are {', '.join(sorted(scopes))}."
            )
        return scopes[name]

    @staticmethod
    def token(token: object) -> UserToken:
        return validate.instance(token, UserToken, "the UserToken that access.login(user) returned")
