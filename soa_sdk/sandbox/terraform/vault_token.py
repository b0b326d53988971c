"""The Vault token a folder on ``hashicorp/vault`` runs with in the sandbox: least privilege.

The folders' provider blocks take the token from ``VAULT_TOKEN``, as the real provider reads
it. Rather than hand Terraform OpenBao's root token, :func:`mint` writes (or rewrites) one ACL
policy, ``soa-lab-terraform-vault``, granting what ``shared_services/vault`` and
``shared_services/boundary`` declare and nothing else, and makes a token of it that expires,
as an operator would give a CI pipeline (the same pattern as
:mod:`soa_sdk.sandbox.terraform.consul_token`). The rules, from the folders' resources:

- ``vault_mount``: ``sys/mounts`` (read: the provider reads the listing back) and the
  database mount of ``shared_services/access.json`` (``sys/mounts/<mount>`` and its
  ``tune``); ``vault_database_secret_backend_connection`` / ``_role``: the mount's
  ``config/*`` and ``roles/*``;
- ``vault_policy``: ``sys/policies/acl/<name>`` for the names the folder declares only
  (``database-<role>``, ``boundary-controller``, one per runtime);
- ``vault_identity_oidc*``: ``identity/oidc/config``, the ``workloads`` key, one role per
  runtime;
- ``vault_token`` and the provider's own child token: ``auth/token/create`` with ``sudo``
  (``shared_services/boundary``'s token for Boundary is an orphan, periodic token with the
  database policies: Vault allows those to a root or sudo caller only), and
  ``auth/token/lookup-accessor`` / ``revoke-accessor`` to read and revoke it by accessor.
  The default policy stays (``lookup-self`` and the like).

Nothing else: no other secrets engine or mount, no auth method, no ``sys/`` administration,
no ``sys/policies/acl/*`` beyond the declared names (the sandbox's own policies cannot be read
or rewritten). The runtimes and the database's roles come from the lab's specification files,
so a runtime added by step 5 is covered by the next token.

What it still reaches: ``sudo`` on ``auth/token/create`` lets the token create tokens of any
existing policy but ``root``, so through a child token it reaches whatever one of OpenBao's
policies grants. That is what the folder's ``vault_token`` asks of its caller as declared (an
orphan, periodic token of other policies). A token role (``auth/token/roles/:name`` with
``allowed_policies``, ``orphan`` and ``token_period``, and ``role_name`` on the
``vault_token``) would narrow it to the Boundary token's policies, but measured on OpenBao it
does not fit: a caller without ``sudo`` asking a ``period`` through the role is refused ("root
or sudo privileges required to create periodic token"), and a token that takes its period from
the role reads back (``lookup``) with no ``period``, which Boundary asks of a credential
store's token. Hence the token lives no longer than its
runner (:data:`TTL`, revoked on close; the runner takes a new one past half that life).
"""

from __future__ import annotations

from dataclasses import dataclass

import hvac

from soa_sdk.tf.lab_spec import load_access, load_mesh

POLICY = "soa-lab-terraform-vault"
TTL = "8h"
OIDC_KEY = "workloads"
BOUNDARY_POLICY = "boundary-controller"

CRUD = ["create", "read", "update", "delete"]


def _path(path: str, capabilities: list[str]) -> str:
    quoted = ", ".join(f'"{c}"' for c in capabilities)
    return f'path "{path}" {{\n  capabilities = [{quoted}]\n}}\n'


def rules(mount: str, database_roles: list[str], runtimes: list[str]) -> str:
    """The policy's rules (Vault's HCL)."""
    policies = [f"database-{r}" for r in database_roles] + [BOUNDARY_POLICY] + runtimes
    blocks = [
        _path("sys/mounts", ["read"]),
        _path(f"sys/mounts/{mount}", CRUD),
        _path(f"sys/mounts/{mount}/tune", ["read", "update"]),
        _path(f"{mount}/config/*", [*CRUD, "list"]),
        _path(f"{mount}/roles/*", [*CRUD, "list"]),
        *(_path(f"sys/policies/acl/{name}", CRUD) for name in policies),
        _path("identity/oidc/config", ["read", "update"]),
        _path(f"identity/oidc/key/{OIDC_KEY}", CRUD),
        *(_path(f"identity/oidc/role/{name}", CRUD) for name in runtimes),
        _path("auth/token/create", ["create", "update", "sudo"]),
        _path("auth/token/lookup-accessor", ["update"]),
        _path("auth/token/revoke-accessor", ["update"]),
    ]
    return "".join(blocks)


@dataclass(frozen=True)
class VaultToken:
    accessor: str
    token: str


def mint(admin: hvac.Client, display_name: str) -> VaultToken:
    """Write the policy for today's specification and return a new token of it, as
    ``admin`` (the sandbox's root token): ``PUT /sys/policies/acl/:name``,
    ``POST /auth/token/create``."""
    access = load_access().database
    runtimes = [r.name for r in load_mesh().runtimes]
    admin.sys.create_or_update_acl_policy(
        POLICY, rules(access.vault_mount, [r.name for r in access.roles], runtimes)
    )
    answer = admin.auth.token.create(
        policies=[POLICY], ttl=TTL, display_name=display_name, renewable=False
    )["auth"]
    return VaultToken(answer["accessor"], answer["client_token"])


def revoke(admin: hvac.Client, token: VaultToken) -> None:
    """Revoke the token (and the provider's child token with it); an OpenBao already gone
    took it along, and a token left behind expires on its own."""
    try:
        admin.auth.token.revoke_accessor(token.accessor)
    except (hvac.exceptions.VaultError, OSError):
        pass
