"""The unchanged terraform/shared_services/consul, applied by real Terraform to the sandbox's
Consul (over HTTPS, with a least-privilege token) through the local hashicorp/consul provider:
apply, no changes, drift through Consul's HTTP API, import, destroy leaving nothing. Plus the
schema check: every argument the folder's .tf files use is in the provider's schema."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from soa_sdk.paths import terraform_root
from soa_sdk.sandbox import lifecycle
from soa_sdk.sandbox.providers.consul import config_json
from soa_sdk.sandbox.providers.consul.provider import SCHEMA_FILE
from soa_sdk.sandbox.providers.schema import ProviderSchema
from soa_sdk.sandbox.services.consul import MANAGEMENT_TOKEN
from soa_sdk.sandbox.state import SandboxState
from soa_sdk.sandbox.terraform import consul_token
from soa_sdk.sandbox.terraform.run import TOKENS_RENEWED_AFTER, Terraform
from soa_sdk.tf.lab_spec import load_mesh

FOLDER = "shared_services/consul"


def test_every_argument_the_folder_uses_is_in_the_schema(schema_problems: Any) -> None:
    schema = ProviderSchema.load(SCHEMA_FILE)
    problems = schema_problems(terraform_root() / FOLDER, schema)
    assert not problems, "\n".join(problems)
    assert set(schema.resources) == {"consul_admin_partition", "consul_config_entry"}


def test_config_json_is_compared_as_the_real_provider_decodes_it() -> None:
    written = json.dumps({"Protocol": "http"})
    from_api = config_json.from_api(
        {"Kind": "service-defaults", "Name": "web", "Protocol": "http", "MeshGateway": {}}
    )
    assert from_api == '{"Protocol":"http"}'
    assert config_json.same_entry(written, from_api)
    assert config_json.same_entry('{"protocol": "http", "Meta": {}}', written)
    assert not config_json.same_entry('{"Protocol": "tcp"}', written)
    # Subset names are map keys, not field names: their case matters.
    assert not config_json.same_entry('{"Subsets": {"V1": {}}}', '{"Subsets": {"v1": {}}}')
    # What Consul adds to an intention's source is a difference, as for the real provider.
    bare = '{"Sources": [{"Name": "a", "Action": "allow"}]}'
    read = '{"Sources": [{"Name": "a", "Action": "allow", "Precedence": 9, "Type": "consul"}]}'
    assert not config_json.same_entry(bare, read)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxState]:
    """A sandbox of this module's own: the folder creates the admin partitions, which the
    session's sandbox has once step 1 has run."""
    home = tmp_path_factory.mktemp("tf-consul-home")
    state, _ = lifecycle.up(home)
    try:
        yield state
    finally:
        lifecycle.down(home)


@pytest.fixture(scope="module")
def consul(sandbox: SandboxState) -> Iterator[Terraform]:
    with Terraform(FOLDER, sandbox) as terraform:
        terraform.init()
        yield terraform


class Consul:
    """Consul's HTTP API with the management token (as an operator outside Terraform)."""

    def __init__(self, sandbox: SandboxState) -> None:
        self.url = sandbox.url("consul")
        self.headers = {"X-Consul-Token": sandbox.secret(MANAGEMENT_TOKEN)}

    def get(self, path: str, **params: str) -> Any:
        reply = requests.get(f"{self.url}{path}", params=params, headers=self.headers, timeout=10)
        return None if reply.status_code == 404 else reply.json()

    def put(self, path: str, body: Any, **params: str) -> None:
        reply = requests.put(
            f"{self.url}{path}", params=params, json=body, headers=self.headers, timeout=10
        )
        reply.raise_for_status()


def test_consul_round_trip(consul: Terraform, sandbox: SandboxState) -> None:
    mesh = load_mesh()
    partitions = {r.consul_partition for r in mesh.runtimes}
    api = Consul(sandbox)
    environment = consul.provider_environment()
    token = environment["CONSUL_HTTP_TOKEN"]
    assert token != sandbox.secret(MANAGEMENT_TOKEN)
    # Least privilege: the token Terraform runs with may not touch ACLs or the KV store.
    as_terraform = {"X-Consul-Token": token}
    for method, path in (("GET", "/v1/acl/tokens"), ("PUT", "/v1/kv/soa-lab/probe")):
        reply = requests.request(method, f"{api.url}{path}", headers=as_terraform, timeout=10)
        assert reply.status_code == 403, (method, path, reply.status_code)
    assert consul.variables["consul_address"].startswith("https://")

    applied = consul.apply()
    assert applied.add == len(applied.created) > 0, applied.output[-2000:]
    assert not applied.changed and not applied.destroyed
    created = set(applied.created)
    assert {f'consul_admin_partition.this["{p}"]' for p in partitions} <= created
    listed = {p["Name"] for p in api.get("/v1/partitions")}
    assert partitions <= listed
    ecs = next(r for r in mesh.runtimes if r.name == "runtime-ecs")
    service = ecs.services[0]
    defaults = api.get(
        f"/v1/config/service-defaults/{service.name}", partition=ecs.consul_partition
    )
    assert defaults["Protocol"] == service.protocol
    deny = api.get("/v1/config/service-intentions/*", partition=ecs.consul_partition)
    assert deny["Sources"][0]["Action"] == "deny"

    assert consul.plan().no_changes

    # Drift through Consul's API: the next plan shows it, and apply puts it back.
    other = "tcp" if service.protocol != "tcp" else "http"
    api.put(
        "/v1/config",
        {"Kind": "service-defaults", "Name": service.name, "Protocol": other},
        partition=ecs.consul_partition,
    )
    drifted = consul.plan()
    address = f'consul_config_entry.service_defaults["{ecs.consul_partition}/{service.name}"]'
    assert drifted.changed == (address,), drifted.output[-2000:]
    assert consul.apply().change == 1
    defaults = api.get(
        f"/v1/config/service-defaults/{service.name}", partition=ecs.consul_partition
    )
    assert defaults["Protocol"] == service.protocol

    # Import: the entry read from Consul is the entry in state, and the plan stays empty.
    consul.run("state", "rm", address, reattach=False)
    identifier = f"{ecs.consul_partition}/default/service-defaults/{service.name}"
    code, output = consul.run("import", *consul.variable_arguments(None), address, identifier)
    assert code == 0, output[-2000:]
    assert consul.plan().no_changes

    destroyed = consul.destroy()
    assert destroyed.destroy == len(applied.created)
    assert consul.state_list() == []
    listed = {p["Name"] for p in api.get("/v1/partitions")}
    assert not partitions & listed
    assert api.get(f"/v1/config/service-defaults/{service.name}") is None


def test_one_roots_token_is_not_narrowed_by_anothers(sandbox: SandboxState, tree_copy: Any) -> None:
    """Each set of partitions has its policy: a token minted for a copy of terraform/ with one
    more runtime keeps its partition while a token of terraform/ is minted beside it; each
    policy goes with the last token that holds it."""
    extra = tree_copy / "runtime_extra"
    shutil.copytree(tree_copy / "runtime_eks", extra)
    spec_file = extra / "runtime.auto.tfvars.json"
    document = json.loads(spec_file.read_text())
    document["runtime"].update(
        name="runtime-extra", consul_partition="extra", vpc_cidr="10.9.0.0/16"
    )
    spec_file.write_text(json.dumps(document))
    address, management = sandbox.url("consul"), sandbox.secret(MANAGEMENT_TOKEN)

    wider = consul_token.mint(address, management, "test: with runtime-extra", tree_copy)
    project = consul_token.mint(address, management, "test: terraform/", terraform_root())
    assert wider.policy != project.policy
    api = Consul(sandbox)
    assert 'partition "extra"' in api.get(f"/v1/acl/policy/name/{wider.policy}")["Rules"]
    reply = requests.get(
        f"{address}/v1/config/service-defaults",
        params={"partition": "extra"},
        headers={"X-Consul-Token": wider.secret_id},
        timeout=10,
    )
    assert reply.status_code == 200, reply.text

    consul_token.revoke(address, management, wider)
    gone = requests.get(
        f"{address}/v1/acl/policy/name/{wider.policy}", headers=api.headers, timeout=10
    )
    assert gone.status_code in (403, 404) and "ACL not found" in gone.text
    consul_token.revoke(address, management, project)
    tokens = api.get("/v1/acl/tokens")
    assert not {wider.accessor_id, project.accessor_id} & {t["AccessorID"] for t in tokens}


def test_a_runner_past_half_its_tokens_life_takes_new_ones(
    consul: Terraform, sandbox: SandboxState
) -> None:
    """A notebook kernel open longer than half the tokens' 8 h: its next command restarts the
    provider with a fresh Consul token and the old one is gone."""
    consul.plan()
    first = consul.provider_environment()["CONSUL_HTTP_TOKEN"]
    consul.renew_tokens_after = 0.0
    try:
        consul.plan()
    finally:
        consul.renew_tokens_after = TOKENS_RENEWED_AFTER
    second = consul.provider_environment()["CONSUL_HTTP_TOKEN"]
    assert second != first
    reply = requests.get(
        f"{sandbox.url('consul')}/v1/acl/token/self",
        headers={"X-Consul-Token": first},
        timeout=10,
    )
    assert reply.status_code == 403 and "ACL not found" in reply.text
