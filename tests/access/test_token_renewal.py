"""Boundary's Vault tokens: the SDK renews them (the sandbox's Boundary does not); a token that
died is Terraform's to replace, and sessions get brokered credentials again."""

from __future__ import annotations

from soa_sdk.access import Access

from .conftest import READONLY_TARGET


def test_a_dead_credential_store_token_is_replaced_by_terraform(fresh: Access, lab):
    ctx = fresh.ctx
    ctx.renew_vault_tokens(force=True)
    accessor = ctx._accessor("runtime-ecs")
    assert accessor, "no token of shared_services/boundary found"
    before = lab.vault.auth.token.lookup_accessor(accessor)["data"]
    assert before["display_name"] == "token-boundary-runtime-ecs" and before["period"] == 1200

    lab.vault.auth.token.revoke_accessor(accessor)  # as if the sandbox idled past its period
    ctx.renew_vault_tokens(force=True)  # finds it gone: Terraform applies the folder again
    replaced = ctx._accessor("runtime-ecs")
    assert replaced and replaced != accessor
    assert lab.tf.plan("shared_services/boundary").no_changes

    fresh.grant_just_in_time("bob", READONLY_TARGET, 1)
    authorization = fresh.authorize_session(fresh.login("bob"), READONLY_TARGET)
    rows = fresh.run_queries(authorization, ["SELECT current_user LIKE 'v-%'"]).rows
    assert rows[0]["result"] == "True", "the new token brokers credentials"
    fresh.revoke(authorization)
