"""``vault_mount``, ``vault_policy`` and ``vault_token``: Vault's ``sys/mounts``,
``sys/policies/acl`` and ``auth/token`` endpoints.

- mount: ``POST /sys/mounts/:path`` (create), ``GET /sys/mounts`` (read: the listing has
  every mount's type, accessor and config), ``POST /sys/mounts/:path/tune`` (update),
  ``POST /sys/remount`` (a new path), ``DELETE /sys/mounts/:path``; id is the path;
- policy: ``PUT|GET|DELETE /sys/policies/acl/:name``; id is the name;
- token: ``POST /auth/token/create`` (``/create/:role`` with a role), read by its accessor
  (``POST /auth/token/lookup-accessor``), revoked by it (``/revoke-accessor``); id is the
  accessor, as the real provider's; the token itself is in state only (sensitive), since no
  API returns it again. Renewing on read (``renew_min_lease``) and wrapping are left out.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import hvac.exceptions

from soa_sdk.sandbox.providers.framework import ProviderError, State
from soa_sdk.sandbox.providers.vault.base import VaultResource, as_configured, seconds

_TUNABLE = (
    "audit_non_hmac_request_keys",
    "audit_non_hmac_response_keys",
    "listing_visibility",
    "passthrough_request_headers",
    "allowed_response_headers",
    "delegated_auth_accessors",
    "allowed_managed_keys",
    "identity_token_key",
)


def _mount_config(planned: State) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if planned.get("default_lease_ttl_seconds") is not None:
        config["default_lease_ttl"] = f"{int(planned['default_lease_ttl_seconds'])}s"
    if planned.get("max_lease_ttl_seconds") is not None:
        config["max_lease_ttl"] = f"{int(planned['max_lease_ttl_seconds'])}s"
    for key in _TUNABLE:
        if planned.get(key):
            config[key] = planned[key]
    return config


class Mount(VaultResource):
    type_name = "vault_mount"

    def create(self, planned: State, config: State) -> State:
        body: dict[str, Any] = {
            "type": planned["type"],
            "description": planned.get("description") or "",
            "config": _mount_config(planned),
            "local": bool(planned.get("local")),
            "seal_wrap": bool(planned.get("seal_wrap")),
            "external_entropy_access": bool(planned.get("external_entropy_access")),
        }
        if planned.get("options"):
            body["options"] = planned["options"]
        if planned.get("plugin_version"):
            body["plugin_version"] = planned["plugin_version"]
        self.vault.adapter.post(f"/v1/sys/mounts/{planned['path']}", json=body)
        return self.read({**planned, "id": planned["path"]}) or {}

    def read(self, state: State) -> State | None:
        path = (state.get("id") or state.get("path") or "").strip("/")
        mounts = self.vault.sys.list_mounted_secrets_engines()
        found = (mounts.get("data") or mounts).get(f"{path}/")
        if not isinstance(found, dict):
            return None
        tune = found.get("config") or {}
        return {
            **state,
            "id": path,
            "path": path,
            "type": found.get("type"),
            "description": as_configured(state.get("description"), found.get("description")),
            "accessor": found.get("accessor"),
            "default_lease_ttl_seconds": tune.get("default_lease_ttl"),
            "max_lease_ttl_seconds": tune.get("max_lease_ttl"),
            "audit_non_hmac_request_keys": tune.get("audit_non_hmac_request_keys") or [],
            "audit_non_hmac_response_keys": tune.get("audit_non_hmac_response_keys") or [],
            "local": as_configured(state.get("local"), found.get("local")) or state.get("local"),
            "seal_wrap": found.get("seal_wrap", False),
            "external_entropy_access": found.get("external_entropy_access", False),
            "options": as_configured(state.get("options"), found.get("options")),
            "listing_visibility": as_configured(
                state.get("listing_visibility"), tune.get("listing_visibility")
            ),
            "passthrough_request_headers": as_configured(
                state.get("passthrough_request_headers"), tune.get("passthrough_request_headers")
            ),
            "allowed_response_headers": as_configured(
                state.get("allowed_response_headers"), tune.get("allowed_response_headers")
            ),
        }

    def update(self, prior: State, planned: State, config: State) -> State:
        old, new = prior["path"].strip("/"), planned["path"].strip("/")
        if old != new:
            self._remount(old, new)
        tune = _mount_config(planned)
        tune["description"] = planned.get("description") or ""
        if planned.get("options") is not None:
            tune["options"] = planned["options"]
        self.vault.adapter.post(f"/v1/sys/mounts/{new}/tune", json=tune)
        return self.read({**planned, "id": new}) or {}

    def _remount(self, old: str, new: str) -> None:
        """``POST /sys/remount``, then ``GET /sys/remount/status/:id`` until it is done (the
        move runs in the background)."""
        answer = self.vault.sys.move_backend(old, new)
        migration = (answer.json() if hasattr(answer, "json") else answer).get("migration_id")
        for _ in range(100):
            status = self.vault.read(f"sys/remount/status/{migration}") or {}
            info = (status.get("data") or {}).get("migration_info") or {}
            if info.get("status") == "success":
                return
            if info.get("status") == "failure":
                raise ProviderError(f"Moving the mount {old} to {new} failed")
            time.sleep(0.05)
        raise ProviderError(f"Moving the mount {old} to {new} did not finish")

    def delete(self, prior: State) -> None:
        self.vault.sys.disable_secrets_engine(prior["id"])

    def import_state(self, import_id: str) -> State | None:
        return self.read({"id": import_id.strip("/")})


class Policy(VaultResource):
    type_name = "vault_policy"

    def create(self, planned: State, config: State) -> State:
        self.vault.sys.create_or_update_acl_policy(planned["name"], planned["policy"])
        return {**planned, "id": planned["name"]}

    def read(self, state: State) -> State | None:
        name = state.get("id") or state.get("name")
        found = self.read_path(f"sys/policies/acl/{name}")
        if found is None:
            return None
        return {**state, "id": name, "name": name, "policy": found.get("policy")}

    def update(self, prior: State, planned: State, config: State) -> State:
        return self.create(planned, config)

    def delete(self, prior: State) -> None:
        self.vault.sys.delete_acl_policy(prior["id"])


class Token(VaultResource):
    type_name = "vault_token"

    def create(self, planned: State, config: State) -> State:
        answer = self.vault.auth.token.create(
            role_name=planned.get("role_name") or None,
            policies=sorted(planned.get("policies") or []) or None,
            meta=planned.get("metadata") or None,
            no_parent=planned.get("no_parent") or None,
            no_default_policy=planned.get("no_default_policy") or None,
            renewable=planned.get("renewable"),
            ttl=planned.get("ttl") or None,
            explicit_max_ttl=planned.get("explicit_max_ttl") or None,
            display_name=planned.get("display_name") or None,
            num_uses=planned.get("num_uses") or None,
            period=planned.get("period") or None,
        )
        auth = answer["auth"]
        state = {
            **planned,
            "id": auth["accessor"],
            "client_token": auth["client_token"],
            "lease_duration": auth.get("lease_duration"),
            "lease_started": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        return self.read(state) or {}

    def read(self, state: State) -> State | None:
        try:
            found = self.vault.auth.token.lookup_accessor(state["id"])["data"]
        except (hvac.exceptions.InvalidRequest, hvac.exceptions.Forbidden):
            return None  # Vault: "invalid accessor" once the token is revoked or expired
        policies = list(found.get("policies") or [])
        if "default" in policies and "default" not in (state.get("policies") or []):
            policies.remove("default")
        period = found.get("period") or None
        if period is not None and seconds(state.get("period")) == period:
            period = state.get("period")
        elif period is not None:
            period = f"{period}s"
        display = str(found.get("display_name") or "")
        return {
            **state,
            "policies": sorted(policies) or None if state.get("policies") is None else policies,
            "no_parent": bool(found.get("orphan")),
            "no_default_policy": as_configured(
                state.get("no_default_policy"), "default" not in (found.get("policies") or [])
            )
            if state.get("no_default_policy") is not None
            else None,
            "renewable": bool(found.get("renewable")),
            "display_name": display.removeprefix("token-") or state.get("display_name"),
            "num_uses": found.get("num_uses", 0),
            "period": period,
            "metadata": as_configured(state.get("metadata"), found.get("meta")),
        }

    def update(self, prior: State, planned: State, config: State) -> State:
        # Only renew_min_lease and renew_increment update in place: they act on read.
        return {**prior, **planned}

    def delete(self, prior: State) -> None:
        try:
            self.vault.auth.token.revoke_accessor(prior["id"])
        except hvac.exceptions.InvalidRequest:
            pass  # already revoked or expired

    def import_state(self, import_id: str) -> State | None:
        raise ProviderError(
            "vault_token cannot be imported here",
            "The token itself is never returned again by Vault, so the state could not hold it.",
        )
