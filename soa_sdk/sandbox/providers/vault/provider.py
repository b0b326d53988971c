"""The local ``hashicorp/vault`` provider: the resource types of :mod:`.mounts`,
:mod:`.database` and :mod:`.identity` on the configuration of :mod:`.base`."""

from __future__ import annotations

from typing import ClassVar

from soa_sdk.sandbox.providers.framework import DataSource, Resource
from soa_sdk.sandbox.providers.vault import database, identity, mounts
from soa_sdk.sandbox.providers.vault.base import SCHEMA_FILE, VaultProvider

__all__ = ["SCHEMA_FILE", "LocalVaultProvider"]


class LocalVaultProvider(VaultProvider):
    resource_types: ClassVar[list[type[Resource]]] = [
        mounts.Mount,
        mounts.Policy,
        mounts.Token,
        database.Connection,
        database.Role,
        identity.Oidc,
        identity.OidcKey,
        identity.OidcKeyAllowedClientId,
        identity.OidcRole,
    ]
    data_source_types: ClassVar[list[type[DataSource]]] = []
