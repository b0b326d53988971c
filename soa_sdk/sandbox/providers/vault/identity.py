"""The identity secrets engine's OIDC tokens: ``vault_identity_oidc`` (``/identity/oidc/config``),
``vault_identity_oidc_key`` (``/identity/oidc/key/:name``), ``vault_identity_oidc_role``
(``/identity/oidc/role/:name``) and ``vault_identity_oidc_key_allowed_client_id`` (one client
id in a key's ``allowed_client_ids``, read-modify-write under the provider's lock, as the real
provider does).

Ids are the real provider's: the key's and role's names, ``<key>/<client id>`` for an allowed
client id; the issuer's is ``default`` (one configuration per Vault). Destroying the issuer
writes it empty, so Vault names its own ``api_addr`` again. Left out: ``rotate`` of keys,
namespaces.
"""

from __future__ import annotations

import json
from typing import Any

from soa_sdk.sandbox.providers.framework import State
from soa_sdk.sandbox.providers.vault.base import VaultResource, as_configured

CONFIG = "identity/oidc/config"


class Oidc(VaultResource):
    type_name = "vault_identity_oidc"

    def create(self, planned: State, config: State) -> State:
        if planned.get("issuer") is not None:
            self.vault.write_data(CONFIG, data={"issuer": planned["issuer"]})
        return self.read({**planned, "id": "default"}) or {}

    def read(self, state: State) -> State | None:
        found = self.read_path(CONFIG) or {}
        return {**state, "id": "default", "issuer": found.get("issuer") or ""}

    def update(self, prior: State, planned: State, config: State) -> State:
        return self.create(planned, config)

    def delete(self, prior: State) -> None:
        self.vault.write_data(CONFIG, data={"issuer": ""})


class OidcKey(VaultResource):
    type_name = "vault_identity_oidc_key"

    def _write(self, planned: State) -> State:
        body: dict[str, Any] = {
            "rotation_period": int(planned["rotation_period"]),
            "verification_ttl": int(planned["verification_ttl"]),
            "algorithm": planned["algorithm"],
        }
        if planned.get("allowed_client_ids") is not None:
            body["allowed_client_ids"] = sorted(planned["allowed_client_ids"])
        with self.provider.lock:
            self.vault.write_data(f"identity/oidc/key/{planned['name']}", data=body)
        return self.read({**planned, "id": planned["name"]}) or {}

    def create(self, planned: State, config: State) -> State:
        return self._write(planned)

    def update(self, prior: State, planned: State, config: State) -> State:
        return self._write(planned)

    def read(self, state: State) -> State | None:
        name = state.get("id") or state.get("name")
        found = self.read_path(f"identity/oidc/key/{name}")
        if found is None:
            return None
        return {
            **state,
            "id": name,
            "name": name,
            "rotation_period": found.get("rotation_period"),
            "verification_ttl": found.get("verification_ttl"),
            "algorithm": found.get("algorithm"),
            "allowed_client_ids": sorted(found.get("allowed_client_ids") or []),
        }

    def delete(self, prior: State) -> None:
        self.vault.delete(f"identity/oidc/key/{prior['id']}")


class OidcKeyAllowedClientId(VaultResource):
    type_name = "vault_identity_oidc_key_allowed_client_id"

    def _allowed(self, key: str) -> list[str] | None:
        found = self.read_path(f"identity/oidc/key/{key}")
        return None if found is None else list(found.get("allowed_client_ids") or [])

    def _change(self, key: str, client_id: str, add: bool) -> None:
        with self.provider.lock:
            allowed = self._allowed(key)
            if allowed is None:
                return
            wanted = sorted({*allowed, client_id} if add else set(allowed) - {client_id})
            self.vault.write_data(f"identity/oidc/key/{key}", data={"allowed_client_ids": wanted})

    def create(self, planned: State, config: State) -> State:
        self._change(planned["key_name"], planned["allowed_client_id"], add=True)
        return (
            self.read({**planned, "id": f"{planned['key_name']}/{planned['allowed_client_id']}"})
            or {}
        )

    def read(self, state: State) -> State | None:
        key, _, client_id = state["id"].partition("/")
        allowed = self._allowed(key)
        if allowed is None or client_id not in allowed:
            return None
        return {**state, "key_name": key, "allowed_client_id": client_id}

    def delete(self, prior: State) -> None:
        self._change(prior["key_name"], prior["allowed_client_id"], add=False)


def _same_template(ours: str | None, theirs: str | None) -> bool:
    try:
        return json.loads(ours or "null") == json.loads(theirs or "null")
    except ValueError:
        return ours == theirs


class OidcRole(VaultResource):
    type_name = "vault_identity_oidc_role"

    def _write(self, planned: State) -> State:
        body: dict[str, Any] = {"key": planned["key"], "ttl": int(planned["ttl"])}
        if planned.get("template") is not None:
            body["template"] = planned["template"]
        if planned.get("client_id"):
            body["client_id"] = planned["client_id"]
        self.vault.write_data(f"identity/oidc/role/{planned['name']}", data=body)
        return self.read({**planned, "id": planned["name"]}) or {}

    def create(self, planned: State, config: State) -> State:
        return self._write(planned)

    def update(self, prior: State, planned: State, config: State) -> State:
        return self._write(planned)

    def read(self, state: State) -> State | None:
        name = state.get("id") or state.get("name")
        found = self.read_path(f"identity/oidc/role/{name}")
        if found is None:
            return None
        template = found.get("template")
        if _same_template(state.get("template"), template):
            template = state.get("template")
        return {
            **state,
            "id": name,
            "name": name,
            "key": found.get("key"),
            "ttl": found.get("ttl"),
            "client_id": found.get("client_id"),
            "template": as_configured(state.get("template"), template),
        }

    def delete(self, prior: State) -> None:
        self.vault.delete(f"identity/oidc/role/{prior['id']}")
