"""What every part of step 4 shares: the clients, the declared access, Boundary's admin login,
the ids of what setup built, and the checks of names before any call.

The parts (:mod:`.provision`, :mod:`.sessions`, :mod:`.recordings`, :mod:`.roles`, and the
just-in-time grants of :mod:`.grants`) each take a :class:`Context`;
:class:`soa_sdk.access.Access` composes them.
"""

from __future__ import annotations

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

_TOKEN_RENEW_EVERY = 60.0


class Context:
    """The clients and state the parts of :class:`soa_sdk.access.Access` share.

    ``vault``: the hvac client; ``aws``: the management session; ``boundary_url``: the
    controller; ``vault_url``: the Vault address Boundary's credential stores call;
    ``postgres_url`` / ``postgres_password``: the database as its admin; ``controls``: the
    sandbox's (None on real endpoints); ``store`` and ``database``: the KV store and the
    database engine in Vault."""

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
        self.ids: SetupReport | None = None
        self._admin_api: BoundaryApi | None = None
        self._renewed_at = 0.0
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

    # --- Boundary's Vault tokens -----------------------------------------------------------------

    def new_vault_token(self, project: str) -> str:
        """A fresh orphan periodic token for ``project``'s credential store; its accessor (not
        the token) is kept to renew and revoke it."""
        token = self.database.create_boundary_token()
        self.store.write(f"boundary-tokens/{project}", {"accessor": token.accessor})
        return token.token

    def renew_vault_tokens(self, force: bool = False) -> None:
        """Renew Boundary's Vault tokens (real Boundary renews its own; the sandbox's emulator
        does not), replacing one that died (e.g. the sandbox idled past its period)."""
        if not force and time.time() - self._renewed_at < _TOKEN_RENEW_EVERY:
            return
        self._renewed_at = time.time()
        ids = self.lookup()
        admin = self.admin()
        for project in sorted({t.project for t in self.spec.targets}):
            record = self.store.read(f"boundary-tokens/{project}") or {}
            try:
                self.vault.auth.token.renew_accessor(record.get("accessor", ""))
                continue
            except Exception:  # hvac raises per status; any failure means replace
                pass
            store = admin.find("credential-stores", "vault", scope_id=ids.projects[project])
            if store is not None:
                admin.update(
                    "credential-stores",
                    store,
                    {"attributes": {"token": self.new_vault_token(project)}},
                    f"replace the Vault token of {project}",
                )

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
