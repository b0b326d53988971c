"""Where step 4 keeps what must outlive one Python process: in Vault, a KV version 1 engine.

- ``grants/<user>/<group>``: the just-in-time memberships and when they expire, so that any
  process (a notebook's kernel, a test, the next notebook) can run the expiry sweep.

Endpoints (hvac): ``GET /sys/mounts``, ``POST /sys/mounts/:path`` (type ``kv``, version 1),
``GET|POST|DELETE /:mount/:path``, ``LIST /:mount/:prefix``, ``DELETE /sys/mounts/:path``.
"""

from __future__ import annotations

import hvac
import hvac.exceptions

from soa_sdk.vault.errors import vault_errors

DEFAULT_MOUNT = "soa-lab-access"


class AccessStore:
    """The KV engine at ``mount``; methods are idempotent."""

    def __init__(self, client: hvac.Client, mount: str = DEFAULT_MOUNT) -> None:
        self.client = client
        self.mount = mount

    def ensure(self) -> bool:
        """Enable the engine unless it is there. True if enabled now."""
        with vault_errors(f"enable the {self.mount}/ key/value engine"):
            mounts = self.client.sys.list_mounted_secrets_engines()
            if f"{self.mount}/" in mounts.get("data", mounts):
                return False
            self.client.sys.enable_secrets_engine(
                "kv",
                path=self.mount,
                options={"version": "1"},
                description="soa-lab step 4: just-in-time grants",
            )
        return True

    def remove(self) -> bool:
        """Disable the engine (its data goes with it). True if it was there."""
        with vault_errors(f"disable the {self.mount}/ key/value engine"):
            mounts = self.client.sys.list_mounted_secrets_engines()
            if f"{self.mount}/" not in mounts.get("data", mounts):
                return False
            self.client.sys.disable_secrets_engine(self.mount)
        return True

    def read(self, path: str) -> dict[str, str] | None:
        with vault_errors(f"read {self.mount}/{path}"):
            try:
                answer = self.client.secrets.kv.v1.read_secret(path, mount_point=self.mount)
            except hvac.exceptions.InvalidPath:
                return None
        return dict(answer.get("data") or {})

    def write(self, path: str, data: dict[str, str]) -> None:
        with vault_errors(f"write {self.mount}/{path}"):
            self.client.secrets.kv.v1.create_or_update_secret(path, data, mount_point=self.mount)

    def delete(self, path: str) -> None:
        with vault_errors(f"delete {self.mount}/{path}"):
            self.client.secrets.kv.v1.delete_secret(path, mount_point=self.mount)

    def keys(self, prefix: str) -> list[str]:
        """Every key under ``prefix`` (recursively), as paths relative to the mount."""
        found: list[str] = []
        with vault_errors(f"list {self.mount}/{prefix}"):
            try:
                answer = self.client.secrets.kv.v1.list_secrets(prefix, mount_point=self.mount)
            except hvac.exceptions.InvalidPath:
                return []
        for key in answer.get("data", {}).get("keys", []):
            path = f"{prefix.rstrip('/')}/{key}"
            found.extend(self.keys(path) if key.endswith("/") else [path])
        return found
