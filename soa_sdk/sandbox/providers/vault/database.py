"""``vault_database_secret_backend_connection`` and ``_role``: the database secrets engine's
``/:mount/config/:name`` and ``/:mount/roles/:name`` (OpenBao's API docs, secret/databases).

The connection's id is ``<backend>/config/<name>``, a role's ``<backend>/roles/<name>``, as
the real provider's. Only the ``postgresql`` block is implemented (the one engine the monorepo
uses); the passwords and keys Vault never returns are kept from state. ``verify_connection`` is
sent as configured: Vault itself connects to the database before it stores the connection.
Left out: the other engines' blocks, rotation schedules (Vault Enterprise), static roles.
"""

from __future__ import annotations

from typing import Any

from soa_sdk.sandbox.providers.framework import ProviderError, State
from soa_sdk.sandbox.providers.vault.base import VaultResource, as_configured, seconds

PLUGIN = "postgresql-database-plugin"
#: The postgresql block's arguments Vault stores under ``connection_details`` and returns.
_RETURNED = (
    "connection_url",
    "max_open_connections",
    "max_idle_connections",
    "username",
    "username_template",
    "disable_escaping",
    "password_authentication",
    "tls_ca",
    "tls_certificate",
    "auth_type",
    "self_managed",
)
#: Sent, never returned: kept from state.
_WRITE_ONLY = ("password", "private_key", "service_account_json")


def _split_id(resource_id: str, kind: str) -> tuple[str, str]:
    backend, _, name = resource_id.rpartition(f"/{kind}/")
    if not backend or not name:
        raise ProviderError(f"Invalid id {resource_id!r}", f"Expected <backend>/{kind}/<name>.")
    return backend, name


class Connection(VaultResource):
    type_name = "vault_database_secret_backend_connection"

    def _write(self, planned: State) -> State:
        blocks = planned.get("postgresql") or []
        if len(blocks) != 1:
            raise ProviderError(
                "Exactly one of the nested blocks of configuration options must be supplied",
                "This local provider implements the postgresql block only.",
            )
        block = blocks[0] or {}
        body: dict[str, Any] = dict(planned.get("data") or {})
        body.update(
            {
                "plugin_name": planned.get("plugin_name") or PLUGIN,
                "verify_connection": planned.get("verify_connection"),
                "allowed_roles": planned.get("allowed_roles") or [],
                "root_rotation_statements": planned.get("root_rotation_statements") or [],
            }
        )
        for key in (*_RETURNED, *_WRITE_ONLY):
            if block.get(key) is not None:
                body[key] = block[key]
        if block.get("max_connection_lifetime") is not None:
            body["max_connection_lifetime"] = f"{int(block['max_connection_lifetime'])}s"
        backend = planned["backend"].strip("/")
        path = f"{backend}/config/{planned['name']}"
        self.vault.write_data(path, data=body)
        return self.read({**planned, "id": path}) or {}

    def create(self, planned: State, config: State) -> State:
        return self._write(planned)

    def update(self, prior: State, planned: State, config: State) -> State:
        return self._write(planned)

    def read(self, state: State) -> State | None:
        backend, name = _split_id(state["id"], "config")
        found = self.read_path(state["id"])
        if found is None:
            return None
        details = found.get("connection_details") or {}
        prior_blocks = state.get("postgresql") or [{}]
        prior = prior_blocks[0] or {}
        block: dict[str, Any] = {key: prior.get(key) for key in _WRITE_ONLY}
        for key in _RETURNED:
            block[key] = as_configured(prior.get(key), details.get(key))
        lifetime = details.get("max_connection_lifetime")
        block["max_connection_lifetime"] = (
            None
            if prior.get("max_connection_lifetime") is None and seconds(lifetime) in (None, 0)
            else seconds(lifetime)
        )
        return {
            **state,
            "backend": backend,
            "name": name,
            "plugin_name": found.get("plugin_name"),
            "verify_connection": found.get("verify_connection", state.get("verify_connection")),
            "allowed_roles": as_configured(state.get("allowed_roles"), found.get("allowed_roles")),
            "root_rotation_statements": as_configured(
                state.get("root_rotation_statements"),
                found.get("root_credentials_rotate_statements"),
            ),
            "postgresql": [block],
        }

    def delete(self, prior: State) -> None:
        self.vault.delete(prior["id"])


class Role(VaultResource):
    type_name = "vault_database_secret_backend_role"

    _LISTS = (
        "creation_statements",
        "revocation_statements",
        "rollback_statements",
        "renew_statements",
    )

    def _write(self, planned: State) -> State:
        body: dict[str, Any] = {"db_name": planned["db_name"]}
        for key in self._LISTS:
            body[key] = planned.get(key) or []
        for key in ("default_ttl", "max_ttl"):
            if planned.get(key) is not None:
                body[key] = int(planned[key])
        if planned.get("credential_type"):
            body["credential_type"] = planned["credential_type"]
        if planned.get("credential_config"):
            body["credential_config"] = planned["credential_config"]
        path = f"{planned['backend'].strip('/')}/roles/{planned['name']}"
        self.vault.write_data(path, data=body)
        return self.read({**planned, "id": path}) or {}

    def create(self, planned: State, config: State) -> State:
        return self._write(planned)

    def update(self, prior: State, planned: State, config: State) -> State:
        return self._write(planned)

    def read(self, state: State) -> State | None:
        backend, name = _split_id(state["id"], "roles")
        found = self.read_path(state["id"])
        if found is None:
            return None
        out = {**state, "backend": backend, "name": name, "db_name": found.get("db_name")}
        for key in self._LISTS:
            out[key] = as_configured(state.get(key), found.get(key))
        for key in ("default_ttl", "max_ttl"):
            out[key] = as_configured(state.get(key), found.get(key) or None)
        out["credential_type"] = found.get("credential_type") or state.get("credential_type")
        out["credential_config"] = as_configured(
            state.get("credential_config"), found.get("credential_config")
        )
        return out

    def delete(self, prior: State) -> None:
        self.vault.delete(prior["id"])
