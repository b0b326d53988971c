"""What the sandbox gives a folder of the monorepo, as a Terraform Cloud workspace's variable
set does, and what it makes before the first run, as an administrator does.

- ``shared_services/vault``: ``vault_address`` and ``oidc_issuer``, OpenBao's public (TLS)
  address (:mod:`soa_sdk.sandbox.services.vault`); ``database_endpoint``, the sandbox's
  PostgreSQL behind its TLS front (:mod:`soa_sdk.sandbox.pgtls`); ``postgres_password`` of
  the role Vault connects as (``postgres_username``'s default, ``vault``), which
  :func:`prepare` makes first, as a DBA makes it on a managed database (here a superuser:
  RDS's master user has ``rds_superuser``). The ``store`` database is made too (on real
  endpoints the runtime has it; step 4 seeds its ``orders`` table on the sandbox).
- a runtime folder (``runtime_ecs``, ``runtime_eks``, ``runtime_ec2``, or one step 5 renders:
  a folder with a ``runtime.auto.tfvars.json``): ``vault_oidc_issuer``, the ``iss`` of
  OpenBao's identity tokens at its TLS address, which the account trusts as an OIDC provider;
  ``consul``, the Consul emulator's HTTPS address and datacenter (what the workloads would
  join). ``account_id`` is the caller's: the runtime's account in the organization.
- ``shared_services/boundary``: ``boundary_address`` (the emulator's TLS listener),
  ``boundary_admin`` (``boundary dev``'s global auth method and admin login) and
  ``boundary_admin_password``, ``vault_address``, ``database_endpoint``, and
  ``user_passwords``, one initial password per user of ``access.json``.

The passwords are derived from the sandbox's root token (HMAC-SHA256, one label each), so
every run of the same sandbox gives the same ones without a file holding them; they go to
Terraform as ``TF_VAR_`` environment variables, never on a command line or in a file.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from soa_sdk.paths import terraform_root
from soa_sdk.sandbox.services.boundary import ADMIN_AUTH_METHOD, ADMIN_LOGIN, ADMIN_PASSWORD
from soa_sdk.sandbox.services.consul import DATACENTER
from soa_sdk.sandbox.services.vault import ROOT_TOKEN, tls_url
from soa_sdk.sandbox.state import SandboxState

VAULT_ROLE = "vault"


def derive(root_token: str, label: str) -> str:
    """A password of the sandbox whose root token is ``root_token``, for ``label`` (24
    URL-safe characters)."""
    digest = hmac.new(root_token.encode(), label.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode()[:24]


def derived_secret(state: SandboxState, label: str) -> str:
    """A password of the sandbox for ``label`` (24 URL-safe characters)."""
    return derive(state.secret(ROOT_TOKEN), label)


def user_label(user: str) -> str:
    """The label of ``user``'s initial Boundary password."""
    return f"boundary/users/{user}"


def user_password(state: SandboxState, user: str) -> str:
    """The initial Boundary password Terraform gives ``user`` (``user_passwords``)."""
    return derived_secret(state, user_label(user))


def _database_endpoint(state: SandboxState) -> dict[str, Any]:
    from urllib.parse import urlsplit

    parts = urlsplit(state.url("postgres-tls"))
    return {"host": parts.hostname, "port": parts.port}


def variables(folder: str, state: SandboxState, root: Path | None = None) -> dict[str, Any]:
    """The folder's inputs on this sandbox (none for folders that need none); ``root``: the
    monorepo the folder is in (``terraform/`` by default)."""
    if folder == "shared_services/vault":
        vault = tls_url(state.services["vault"])
        return {
            "vault_address": vault,
            "oidc_issuer": vault,
            "database_endpoint": _database_endpoint(state),
            "postgres_password": derived_secret(state, "postgres/vault"),
        }
    if folder == "shared_services/boundary":
        from soa_sdk.tf.lab_spec import load_access

        return {
            "boundary_address": tls_url(state.services["boundary"]),
            "boundary_admin": {"auth_method_id": ADMIN_AUTH_METHOD, "login_name": ADMIN_LOGIN},
            "boundary_admin_password": state.secret(ADMIN_PASSWORD),
            "vault_address": tls_url(state.services["vault"]),
            "database_endpoint": _database_endpoint(state),
            "user_passwords": {u.name: user_password(state, u.name) for u in load_access().users},
        }
    if ((root or terraform_root()) / folder / "runtime.auto.tfvars.json").is_file():
        from urllib.parse import urlsplit

        from soa_sdk.vault.identity import token_issuer

        consul = state.services["consul"].extra.get("https_url") or state.url("consul")
        return {
            "vault_oidc_issuer": token_issuer(tls_url(state.services["vault"])),
            "consul": {"server_address": urlsplit(consul).netloc, "datacenter": DATACENTER},
        }
    return {}


def environment(folder: str, state: SandboxState, root: Path | None = None) -> dict[str, str]:
    """:func:`variables` as ``TF_VAR_<name>`` (objects and maps as JSON, which Terraform
    reads as HCL)."""
    return {
        f"TF_VAR_{name}": value if isinstance(value, str) else json.dumps(value)
        for name, value in variables(folder, state, root).items()
    }


def prepare(folder: str, state: SandboxState) -> None:
    """What the folder expects to exist before its first run (idempotent): for the vault
    folder, the database and the role Vault connects as."""
    if folder != "shared_services/vault":
        return
    import psycopg
    from psycopg import sql

    from soa_sdk.tf.lab_spec import load_access

    database = load_access().database.database
    password = derived_secret(state, "postgres/vault")
    with psycopg.connect(
        state.url("postgres"),
        password=state.secret("postgres_password"),
        autocommit=True,
        connect_timeout=5,
    ) as connection:
        found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        if found.fetchone() is None:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        exists = connection.execute(
            "SELECT 1 FROM pg_roles WHERE rolname = %s", (VAULT_ROLE,)
        ).fetchone()
        verb = "ALTER" if exists else "CREATE"
        connection.execute(
            sql.SQL(verb + " ROLE {} WITH LOGIN SUPERUSER PASSWORD {}").format(
                sql.Identifier(VAULT_ROLE), sql.Literal(password)
            )
        )
