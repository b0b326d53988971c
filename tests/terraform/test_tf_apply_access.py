"""The unchanged shared_services/vault and shared_services/boundary, applied by real Terraform
to a sandbox of their own through the local hashicorp/vault and hashicorp/boundary providers:
apply, no changes, drift made through hvac and Boundary's HTTP API shows in the next plan,
destroy leaves nothing. Plus the schema checks: every argument the folders use is in the
providers' schemas, and the secrets are sensitive there."""

from __future__ import annotations

import json
from collections.abc import Iterator

import hvac
import pytest

from soa_sdk.access.client import BoundaryApi
from soa_sdk.paths import terraform_root
from soa_sdk.sandbox import lifecycle
from soa_sdk.sandbox.providers.boundary.provider import SCHEMA_FILE as BOUNDARY_SCHEMA
from soa_sdk.sandbox.providers.schema import ProviderSchema
from soa_sdk.sandbox.providers.vault.provider import SCHEMA_FILE as VAULT_SCHEMA
from soa_sdk.sandbox.services.boundary import ADMIN_AUTH_METHOD, ADMIN_LOGIN
from soa_sdk.sandbox.state import SandboxState
from soa_sdk.sandbox.terraform import inputs, vault_token
from soa_sdk.sandbox.terraform.run import Terraform
from soa_sdk.tf.lab_spec import load_access, load_mesh

VAULT = "shared_services/vault"
BOUNDARY = "shared_services/boundary"
SCHEMAS = {
    "vault": ProviderSchema.load(VAULT_SCHEMA),
    "boundary": ProviderSchema.load(BOUNDARY_SCHEMA),
}


@pytest.mark.parametrize("folder", [VAULT, BOUNDARY])
def test_every_argument_the_folder_uses_is_in_the_schema(folder: str, schema_problems) -> None:
    problems = schema_problems(terraform_root() / folder, SCHEMAS)
    assert not problems, "\n".join(problems)


def test_secrets_are_sensitive_in_the_schemas() -> None:
    vault, boundary = SCHEMAS["vault"], SCHEMAS["boundary"]
    sensitive = [
        vault.provider.block.attributes["token"],
        vault.resources["vault_token"].block.attributes["client_token"],
        vault.resources["vault_database_secret_backend_connection"]
        .block.blocks["postgresql"]
        .block.attributes["password"],
        boundary.provider.block.attributes["auth_method_password"],
        boundary.resources["boundary_account_password"].block.attributes["password"],
        boundary.resources["boundary_credential_store_vault"].block.attributes["token"],
    ]
    assert all(a.sensitive for a in sensitive), [a.name for a in sensitive if not a.sensitive]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxState]:
    home = tmp_path_factory.mktemp("tf-access-home")
    state, _ = lifecycle.up(home)
    try:
        yield state
    finally:
        lifecycle.down(home)


@pytest.fixture(scope="module")
def vault(sandbox: SandboxState) -> hvac.Client:
    return hvac.Client(url=sandbox.url("vault"), token=sandbox.secret("vault_root_token"))


@pytest.fixture(scope="module")
def boundary(sandbox: SandboxState) -> BoundaryApi:
    """The admin's API (the controller's plain listener; Terraform uses its TLS one)."""
    api = BoundaryApi(sandbox.url("boundary"))
    password = sandbox.secret("boundary_admin_password")
    return api.as_token(api.authenticate(ADMIN_AUTH_METHOD, ADMIN_LOGIN, password)["token"])


def _terraform(folder: str, sandbox: SandboxState) -> Terraform:
    terraform = Terraform(folder, sandbox)
    terraform.init()
    return terraform


def _state_json(terraform: Terraform) -> str:
    code, output = terraform.run("state", "pull")
    assert code == 0, output
    return output


def _reimport(terraform: Terraform, address: str, resource_id: str) -> None:
    """Forget ``address`` and import it again by its id: the next plan has no changes."""
    for args in (("state", "rm", address), ("import", "-no-color", address, resource_id)):
        code, output = terraform.run(*args)
        assert code == 0, output[-2000:]
    assert terraform.plan().no_changes


def _mounts(vault: hvac.Client) -> set[str]:
    return set(vault.sys.list_mounted_secrets_engines()["data"])


def test_vault_round_trip(sandbox: SandboxState, vault: hvac.Client) -> None:
    access = load_access()
    runtimes = {r.name for r in load_mesh().runtimes}
    roles = {r.name for r in access.database.roles}
    with _terraform(VAULT, sandbox) as terraform:
        applied = terraform.apply()
        expected = 1 + 1 + len(roles) * 2 + 1 + len(runtimes) * 3 + 1 + 1
        assert applied.add == expected and not applied.changed, applied.output[-2000:]
        assert f"{access.database.vault_mount}/" in _mounts(vault)
        config = vault.read(f"{access.database.vault_mount}/config/{access.database.name}")
        assert config["data"]["connection_details"]["username"] == "vault"
        key = vault.read("identity/oidc/key/workloads")["data"]
        assert set(key["allowed_client_ids"]) == runtimes
        issuer = vault.read("identity/oidc/config")["data"]["issuer"]
        assert issuer == sandbox.services["vault"].extra["tls_url"]
        # Vault itself connected to the database (verify_connection) and mints users.
        creds = vault.read(f"{access.database.vault_mount}/creds/{sorted(roles)[0]}")
        assert creds["data"]["username"].startswith("v-")
        vault.sys.revoke_lease(creds["lease_id"])
        # The initial database password is in no output Terraform printed.
        password = inputs.variables(VAULT, sandbox)["postgres_password"]
        assert password not in applied.output

        assert terraform.plan().no_changes
        _reimport(terraform, "vault_policy.boundary_controller", "boundary-controller")
        _reimport(terraform, "vault_mount.database", access.database.vault_mount)

        # Drift made through the API: the next plan shows exactly it.
        vault.sys.create_or_update_acl_policy("boundary-controller", 'path "x" {}')
        role = sorted(runtimes)[0]
        vault.write_data(f"identity/oidc/role/{role}", data={"key": "workloads", "ttl": 3600})
        drifted = terraform.plan()
        assert set(drifted.changed) == {
            "vault_policy.boundary_controller",
            f'vault_identity_oidc_role.runtime["{role}"]',
        }, drifted.output[-2000:]
        assert terraform.apply().change == 2
        assert terraform.plan().no_changes

        destroyed = terraform.destroy()
        assert destroyed.destroy == expected
        assert terraform.state_list() == []
    assert f"{access.database.vault_mount}/" not in _mounts(vault)
    policies = set(vault.sys.list_acl_policies()["data"]["keys"])
    assert not policies & ({"boundary-controller"} | runtimes)
    keys = vault.list("identity/oidc/key")["data"]["keys"]
    assert "workloads" not in keys
    assert vault.read("identity/oidc/config")["data"]["issuer"] == ""


def test_terraform_runs_with_a_least_privilege_vault_token(
    sandbox: SandboxState, vault: hvac.Client
) -> None:
    with Terraform(VAULT, sandbox) as terraform:
        token = terraform.provider_environment()["VAULT_TOKEN"]
        assert token != sandbox.secret("vault_root_token")
        client = hvac.Client(url=sandbox.url("vault"), token=token, timeout=10)
        me = client.auth.token.lookup_self()["data"]
        assert sorted(me["policies"]) == ["default", vault_token.POLICY]
        assert 0 < me["ttl"] <= 8 * 3600
        # What the folders declare is allowed (the round trips); nothing else is.
        denied = [
            lambda: client.sys.read_acl_policy("default"),
            lambda: client.sys.create_or_update_acl_policy("evil", 'path "*" {}'),
            lambda: client.sys.enable_auth_method("userpass", path="tf-probe"),
            lambda: client.sys.enable_secrets_engine("kv", path="tf-probe"),
            lambda: client.sys.list_auth_methods(),
            lambda: client.auth.token.create(policies=["root"]),
        ]
        for call in denied:
            with pytest.raises((hvac.exceptions.Forbidden, hvac.exceptions.InvalidRequest)):
                call()
    with pytest.raises(hvac.exceptions.Forbidden):  # revoked when the runner closed
        client.auth.token.lookup_self()


def test_boundary_round_trip(
    sandbox: SandboxState, vault: hvac.Client, boundary: BoundaryApi
) -> None:
    access = load_access()
    runtimes = {r.name for r in load_mesh().runtimes}
    with _terraform(VAULT, sandbox) as shared, _terraform(BOUNDARY, sandbox) as terraform:
        shared.apply()  # the policies the credential stores' tokens carry
        applied = terraform.apply()
        assert applied.add >= 20 and not applied.changed, applied.output[-2000:]
        org = boundary.find("scopes", access.org, scope_id="global")
        assert org is not None
        projects = {p["name"]: p for p in boundary.list("scopes", "projects", scope_id=org["id"])}
        assert set(projects) == runtimes
        users = boundary.list("users", "users", scope_id=org["id"])
        assert {u["name"] for u in users} == {u.name for u in access.users}
        project = projects[access.targets[0].project]
        targets = {t["name"]: t for t in boundary.list("targets", "t", scope_id=project["id"])}
        assert set(targets) == {t.name for t in access.targets}
        state = _state_json(terraform)
        tokens = [
            r["instances"][0]["attributes"]["client_token"]
            for r in json.loads(state)["resources"]
            if r["type"] == "vault_token"
        ]
        secrets = [*tokens, sandbox.secret("boundary_admin_password")]
        secrets += list(inputs.variables(BOUNDARY, sandbox)["user_passwords"].values())
        assert not [s for s in secrets if s in applied.output], "a secret in Terraform's output"
        _check_credential_store_token(sandbox, tokens[0])

        assert terraform.plan().no_changes
        # A just-in-time membership (what a grant adds) is no drift: Terraform leaves it.
        dba = boundary.find("groups", "dba", scope_id=org["id"])
        assert dba is not None and not dba.get("member_ids")
        alice = next(u for u in users if u["name"] == "alice")
        boundary.action("groups", dba, "add-members", {"member_ids": [alice["id"]]}, "grant")
        assert terraform.plan().no_changes
        first = next(u for u in users if u["name"] == access.users[0].name)
        _reimport(terraform, f'boundary_user.this["{first["name"]}"]', first["id"])

        # Drift through Boundary's API and through Vault: both show.
        name = access.targets[0].name
        target = boundary.read("targets", targets[name]["id"], "read")
        boundary.update("targets", target, {"session_max_seconds": 60}, "drift")
        group = boundary.find("groups", "auditors", scope_id=org["id"])
        assert group is not None and group["member_ids"]
        boundary.action("groups", group, "set-members", {"member_ids": []}, "drift")
        accessors = [
            r["instances"][0]["attributes"]["id"]
            for r in json.loads(state)["resources"]
            if r["type"] == "vault_token"
        ]
        vault.auth.token.revoke_accessor(accessors[0])  # gone from Vault: planned again
        drifted = terraform.plan()
        assert f'boundary_target.this["{name}"]' in drifted.changed, drifted.output[-2000:]
        assert 'boundary_group.standing["auditors"]' in drifted.changed
        assert any(a.startswith("vault_token.boundary") for a in drifted.created)
        converged = terraform.apply()
        assert converged.add == 1 and terraform.plan().no_changes

        destroyed = terraform.destroy()
        assert set(destroyed.destroyed) >= set(applied.created) - {
            a for a in applied.created if a.startswith("vault_token")
        }
        assert terraform.state_list() == []
        assert boundary.find("scopes", access.org, scope_id="global") is None
        shared.destroy()


def _check_credential_store_token(sandbox: SandboxState, token: str) -> None:
    """The token Terraform gives a credential store: orphan, periodic, renewable, with only
    the boundary-controller and database-<role> policies; it reads credentials, renews and
    revokes their leases, and nothing else."""
    mount = load_access().database.vault_mount
    store = hvac.Client(url=sandbox.url("vault"), token=token, timeout=10)
    me = store.auth.token.lookup_self()["data"]
    assert sorted(me["policies"]) == ["boundary-controller", "database-admin", "database-readonly"]
    assert me["orphan"] is True and me["renewable"] is True and me["period"] == 1200
    assert store.auth.token.renew_self()["auth"]["lease_duration"] == 1200
    issued = store.secrets.database.generate_credentials("readonly", mount)
    assert issued["data"]["username"].startswith("v-")
    store.sys.renew_lease(issued["lease_id"])
    store.sys.revoke_lease(issued["lease_id"])  # what Boundary does when a session ends
    denied = [
        lambda: store.sys.list_mounted_secrets_engines(),
        lambda: store.secrets.database.read_connection(load_access().database.name, mount),
        lambda: store.secrets.database.create_role("evil", "x", ["SELECT 1"], mount_point=mount),
        lambda: store.auth.token.create(policies=["boundary-controller"]),
        lambda: store.sys.revoke_prefix(f"{mount}/creds/"),
        lambda: store.sys.read_acl_policy("boundary-controller"),
    ]
    for call in denied:
        with pytest.raises(hvac.exceptions.Forbidden):
            call()
