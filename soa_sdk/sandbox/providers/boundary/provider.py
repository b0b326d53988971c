"""The local ``hashicorp/boundary`` provider: the twelve resource types
``shared_services/boundary`` uses, each declared on :class:`.base.BoundaryResource`.

- scopes (``/v1/scopes``): an org or project; ``auto_create_admin_role`` /
  ``auto_create_default_role`` false send ``skip_admin_role_creation`` /
  ``skip_default_role_creation``, as the real provider does;
- identities: the password auth method, its accounts (the password is sent on create only,
  as the real provider documents), users (``:set-accounts``), groups (``:set-members``);
- roles: ``:set-grant-scopes``, ``:set-grants``, ``:set-principals``;
- static host catalogs, hosts and host sets (``:set-hosts``);
- the Vault credential store (its token never read back: ``token_hmac`` says which it holds)
  and its generic credential library;
- targets (``tcp``; ``:set-host-sources``, ``:set-credential-sources``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from soa_sdk.sandbox.providers.boundary.base import BoundaryProvider, BoundaryResource
from soa_sdk.sandbox.providers.framework import DataSource, Resource, State
from soa_sdk.sandbox.providers.schema import ProviderSchema

SCHEMA_FILE = Path(__file__).with_name("schema.json")


class Scope(BoundaryResource):
    type_name = "boundary_scope"
    collection = "scopes"

    def create_query(self, planned: State) -> dict[str, str]:
        query = {}
        if not planned.get("auto_create_admin_role"):
            query["skip_admin_role_creation"] = "true"
        if not planned.get("auto_create_default_role"):
            query["skip_default_role_creation"] = "true"
        return query

    def from_item(self, state: State, item: dict[str, Any]) -> State:
        return super().from_item(state, {**item, "scope_id": item.get("scope_id")})


class AuthMethodPassword(BoundaryResource):
    type_name = "boundary_auth_method_password"
    collection = "auth-methods"
    api_type = "password"
    attributes = ("min_login_name_length", "min_password_length")

    def from_item(self, state: State, item: dict[str, Any]) -> State:
        out = super().from_item(state, item)
        found = item.get("attributes") or {}
        for key in self.attributes:  # computed: Boundary's defaults when unset
            out[key] = found.get(key)
        out["type"] = item.get("type", "password")
        return out


class AccountPassword(BoundaryResource):
    type_name = "boundary_account_password"
    collection = "accounts"
    parent = "auth_method_id"
    api_type = "password"
    attributes = ("login_name",)
    write_only = ("password",)

    def from_item(self, state: State, item: dict[str, Any]) -> State:
        out = super().from_item(state, item)
        out["password"] = state.get("password")
        out["type"] = item.get("type", "password")
        return out


class User(BoundaryResource):
    type_name = "boundary_user"
    collection = "users"
    id_sets: ClassVar[dict[str, tuple[str, str]]] = {"account_ids": ("set-accounts", "account_ids")}


class Group(BoundaryResource):
    type_name = "boundary_group"
    collection = "groups"
    id_sets: ClassVar[dict[str, tuple[str, str]]] = {"member_ids": ("set-members", "member_ids")}


class Role(BoundaryResource):
    type_name = "boundary_role"
    collection = "roles"
    id_sets: ClassVar[dict[str, tuple[str, str]]] = {
        "grant_scope_ids": ("set-grant-scopes", "grant_scope_ids"),
        "grant_strings": ("set-grants", "grant_strings"),
        "principal_ids": ("set-principals", "principal_ids"),
    }

    def from_item(self, state: State, item: dict[str, Any]) -> State:
        out = super().from_item(state, item)
        out["grant_scope_ids"] = sorted(item.get("grant_scope_ids") or [])  # computed
        return out


class HostCatalogStatic(BoundaryResource):
    type_name = "boundary_host_catalog_static"
    collection = "host-catalogs"
    api_type = "static"


class HostStatic(BoundaryResource):
    type_name = "boundary_host_static"
    collection = "hosts"
    parent = "host_catalog_id"
    attributes = ("address",)

    def from_item(self, state: State, item: dict[str, Any]) -> State:
        return {**super().from_item(state, item), "type": item.get("type", "static")}


class HostSetStatic(BoundaryResource):
    type_name = "boundary_host_set_static"
    collection = "host-sets"
    parent = "host_catalog_id"
    id_sets: ClassVar[dict[str, tuple[str, str]]] = {"host_ids": ("set-hosts", "host_ids")}

    def from_item(self, state: State, item: dict[str, Any]) -> State:
        return {**super().from_item(state, item), "type": item.get("type", "static")}


class CredentialStoreVault(BoundaryResource):
    type_name = "boundary_credential_store_vault"
    collection = "credential-stores"
    api_type = "vault"
    attributes = (
        "address",
        "ca_cert",
        "client_certificate",
        "namespace",
        "tls_server_name",
        "tls_skip_verify",
        "worker_filter",
    )
    write_only = ("token", "client_certificate_key")

    def body(self, planned: State, creating: bool) -> dict[str, Any]:
        body = super().body(planned, creating)
        if not creating:  # a new token or key is sent when it changed
            body.setdefault("attributes", {})["token"] = planned.get("token")
        return body

    def from_item(self, state: State, item: dict[str, Any]) -> State:
        out = super().from_item(state, item)
        found = item.get("attributes") or {}
        out["token"] = state.get("token")
        out["client_certificate_key"] = state.get("client_certificate_key")
        out["token_hmac"] = found.get("token_hmac")
        out["client_certificate_key_hmac"] = found.get("client_certificate_key_hmac")
        return out


class CredentialLibraryVault(BoundaryResource):
    type_name = "boundary_credential_library_vault"
    collection = "credential-libraries"
    parent = "credential_store_id"
    api_type = "vault-generic"
    fields = ("name", "description", "credential_type")
    attributes = ("path", "http_method", "http_request_body")

    def from_item(self, state: State, item: dict[str, Any]) -> State:
        out = super().from_item(state, item)
        out["http_method"] = (item.get("attributes") or {}).get("http_method") or "GET"
        out["credential_mapping_overrides"] = state.get("credential_mapping_overrides")
        return out


class Target(BoundaryResource):
    type_name = "boundary_target"
    collection = "targets"
    fields = (
        "name",
        "description",
        "address",
        "session_max_seconds",
        "session_connection_limit",
        "worker_filter",
        "egress_worker_filter",
        "ingress_worker_filter",
    )
    attributes = (
        "default_port",
        "default_client_port",
        "enable_session_recording",
        "storage_bucket_id",
    )
    id_sets: ClassVar[dict[str, tuple[str, str]]] = {
        "host_source_ids": ("set-host-sources", "host_source_ids"),
    }

    def create(self, planned: State, config: State) -> State:
        state = super().create(planned, config)
        return self._set_credentials(state, {}, planned)

    def update(self, prior: State, planned: State, config: State) -> State:
        state = super().update(prior, planned, config)
        return self._set_credentials(state, prior, planned)

    def _set_credentials(self, state: State, prior: State, planned: State) -> State:
        """``:set-credential-sources`` takes both kinds of source at once."""
        keys = ("brokered_credential_source_ids", "injected_application_credential_source_ids")
        item = self.provider.request("GET", self._path(state["id"]))
        item = item.get("item", item)
        if all(sorted(item.get(k) or []) == sorted(planned.get(k) or []) for k in keys):
            return self.from_item(planned, item)
        answer = self.provider.request(
            "POST",
            f"{self._path(state['id'])}:set-credential-sources",
            {"version": item["version"], **{k: sorted(planned.get(k) or []) for k in keys}},
        )
        return self.from_item(planned, answer.get("item", answer))

    def from_item(self, state: State, item: dict[str, Any]) -> State:
        out = super().from_item(state, item)
        for key in ("session_max_seconds", "session_connection_limit"):  # computed
            out[key] = item.get(key)
        out["worker_filter"] = item.get("worker_filter") or ""
        out["type"] = item.get("type", state.get("type"))
        for key in ("brokered_credential_source_ids", "injected_application_credential_source_ids"):
            out[key] = self._kept(state.get(key), sorted(item.get(key) or []))
        return out


class LocalBoundaryProvider(BoundaryProvider):
    resource_types: ClassVar[list[type[Resource]]] = [
        Scope,
        AuthMethodPassword,
        AccountPassword,
        User,
        Group,
        Role,
        HostCatalogStatic,
        HostStatic,
        HostSetStatic,
        CredentialStoreVault,
        CredentialLibraryVault,
        Target,
    ]
    data_source_types: ClassVar[list[type[DataSource]]] = []

    def __init__(self) -> None:
        super().__init__(ProviderSchema.load(SCHEMA_FILE))
