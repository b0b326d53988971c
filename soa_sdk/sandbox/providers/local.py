"""The sandbox's local providers, by name: what the mirror installs and the server runs.

Each entry names a ``hashicorp/<type>`` provider, the version the mirror offers (one that
satisfies the monorepo's ``required_providers`` constraints) and the class that implements
it. The class is imported only when Terraform first talks to that provider, so a folder
that uses only ``aws`` never imports the others.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

REGISTRY = "registry.terraform.io"


@dataclass(frozen=True)
class LocalProvider:
    type_name: str  # aws
    version: str  # 5.99.0
    implementation: str  # module:Class

    @property
    def address(self) -> str:
        """The provider's source address as Terraform writes it."""
        return f"{REGISTRY}/hashicorp/{self.type_name}"

    def factory(self) -> Callable[[], Any]:
        """A callable that makes one provider servicer (imported on first call)."""

        def make() -> Any:
            module, name = self.implementation.split(":")
            return getattr(importlib.import_module(module), name)()

        return make


PROVIDERS: dict[str, LocalProvider] = {
    provider.type_name: provider
    for provider in [
        LocalProvider("aws", "5.99.0", "soa_sdk.sandbox.providers.aws.provider:LocalAwsProvider"),
        LocalProvider(
            "consul", "2.22.0", "soa_sdk.sandbox.providers.consul.provider:ConsulProvider"
        ),
        LocalProvider(
            "vault", "4.8.0", "soa_sdk.sandbox.providers.vault.provider:LocalVaultProvider"
        ),
        LocalProvider(
            "boundary", "1.2.0", "soa_sdk.sandbox.providers.boundary.provider:LocalBoundaryProvider"
        ),
    ]
}


def provider(type_name: str) -> LocalProvider:
    try:
        return PROVIDERS[type_name]
    except KeyError:
        raise SystemExit(
            f"No local provider named {type_name!r}; there are: {', '.join(PROVIDERS)}"
        ) from None
