"""The local ``hashicorp/vault`` provider's configuration and the base of its resources, on
hvac against the sandbox's OpenBao (Vault's API).

Configured as the real provider is (``website/docs/index.html.markdown``): ``address`` (else
``VAULT_ADDR``), ``token`` (else ``VAULT_TOKEN``, else ``~/.vault-token``), TLS from
``ca_cert_file`` / ``ca_cert_dir`` / ``skip_tls_verify`` (else ``VAULT_CACERT``,
``VAULT_CAPATH``, ``VAULT_SKIP_VERIFY``). Unless ``skip_child_token`` (or
``TERRAFORM_VAULT_SKIP_CHILD_TOKEN``), the provider first makes a child token of that token,
named ``token_name`` (default ``terraform``), living ``max_lease_ttl_seconds`` (default 1200),
and does everything with it, as the real one does, so a run's token expires with the run.

Resources: :mod:`.mounts` (``vault_mount``, ``vault_policy``, ``vault_token``),
:mod:`.database` (the database engine's connection and roles), :mod:`.identity` (the identity
OIDC issuer, key, role and allowed client id). Every read goes to the API; what Vault never
returns (passwords, a token's secret) is kept from state.

Left out: ``auth_login*`` blocks, ``client_auth``, namespaces (Vault Enterprise), the token
helper, ``headers``, retries (OpenBao answers at once).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions

from soa_sdk.sandbox.providers.framework import (
    Provider,
    ProviderError,
    Resource,
    State,
)
from soa_sdk.sandbox.providers.schema import ProviderSchema

log = logging.getLogger(__name__)
SCHEMA_FILE = Path(__file__).with_name("schema.json")
DEFAULT_TOKEN_NAME = "terraform"
DEFAULT_MAX_LEASE_TTL = 1200


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "t", "true", "yes")


class VaultProvider(Provider):
    def __init__(self) -> None:
        super().__init__(ProviderSchema.load(SCHEMA_FILE))
        self._client: hvac.Client | None = None
        #: Read-modify-write of one object by several resources (a key's allowed client ids).
        self.lock = threading.Lock()

    def configure(self, config: State) -> None:
        self.config = config
        address = config.get("address") or os.environ.get("VAULT_ADDR")
        if not address:
            raise ProviderError(
                "No Vault address", "Set the provider's address or VAULT_ADDR (https://...)."
            )
        token = config.get("token") or os.environ.get("VAULT_TOKEN") or _token_file()
        if not token:
            raise ProviderError(
                "No Vault token",
                "Set VAULT_TOKEN (or the provider's token); the provider never reads one "
                "from a Terraform variable file.",
            )
        client = hvac.Client(url=address, token=token, verify=self._verify(config), timeout=30)
        skip_child = config.get("skip_child_token")
        if skip_child is None:
            skip_child = _flag(os.environ.get("TERRAFORM_VAULT_SKIP_CHILD_TOKEN"))
        if not skip_child:
            client.token = self._child_token(client, config)
        self._client = client

    def _verify(self, config: State) -> bool | str:
        """requests' ``verify``: the CA file or folder, or no check when asked."""
        skip = config.get("skip_tls_verify")
        if skip is None:
            skip = _flag(os.environ.get("VAULT_SKIP_VERIFY"))
        if skip:
            return False
        return (
            config.get("ca_cert_file")
            or os.environ.get("VAULT_CACERT")
            or config.get("ca_cert_dir")
            or os.environ.get("VAULT_CAPATH")
            or True
        )

    def _child_token(self, client: hvac.Client, config: State) -> str:
        """``POST /auth/token/create``: the run's own token, as the real provider makes it."""
        ttl = int(
            config.get("max_lease_ttl_seconds")
            or os.environ.get("TERRAFORM_VAULT_MAX_TTL")
            or DEFAULT_MAX_LEASE_TTL
        )
        name = config.get("token_name") or os.environ.get("VAULT_TOKEN_NAME") or DEFAULT_TOKEN_NAME
        try:
            answer = client.auth.token.create(
                ttl=f"{ttl}s", explicit_max_ttl=f"{ttl}s", display_name=name
            )
        except hvac.exceptions.VaultError as error:
            raise ProviderError(
                "Failed to create a limited child token",
                f"{error}. The token in VAULT_TOKEN must be allowed auth/token/create.",
            ) from None
        return answer["auth"]["client_token"]

    @property
    def client(self) -> hvac.Client:
        if self._client is None:
            raise ProviderError("The vault provider is not configured")
        return self._client


def _token_file() -> str | None:
    path = Path.home() / ".vault-token"
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


class VaultResource(Resource):
    provider: VaultProvider

    @property
    def vault(self) -> hvac.Client:
        return self.provider.client

    def read_path(self, path: str) -> dict[str, Any] | None:
        """``GET /v1/<path>``'s ``data``, or None when Vault has nothing there (404)."""
        try:
            answer = self.vault.read(path)
        except hvac.exceptions.InvalidPath:
            return None
        return None if answer is None else answer.get("data") or {}


def as_configured(configured: Any, from_api: Any) -> Any:
    """The API's value, or null where the configuration left it null and the API holds the
    empty value (Vault answers ``[]``, ``{}`` or ``""`` for what was never set)."""
    if configured is None and from_api in (None, [], {}, ""):
        return None
    return from_api


def seconds(text: str | int | None) -> int | None:
    """A Vault duration (``"20m"``, ``"1h30m"``, ``"45s"``, ``"300"``) in seconds."""
    if text is None or text == "":
        return None
    if isinstance(text, int):
        return text
    total, number = 0, ""
    for char in str(text).strip():
        if char.isdigit():
            number += char
            continue
        unit = {"h": 3600, "m": 60, "s": 1}.get(char)
        if unit is None or not number:
            raise ProviderError("Invalid duration", f"{text!r} is not a duration such as 20m.")
        total, number = total + int(number) * unit, ""
    return total + int(number or 0)
