"""The prod database and its Vault side for step 4, from ``terraform/shared_services/access.json``.

- The database: in the sandbox, the ``store`` database (``database.database``) is created on the
  sandbox's PostgreSQL with a small ``orders`` table, so there is something to query. On real
  infrastructure it exists already and is not touched.
- Vault (via :class:`soa_sdk.vault.DatabaseSecrets`): the database engine at
  ``database.vault_mount``, a connection to the database, one role per ``database.roles`` entry
  (``readonly``, ``readwrite`` or ``admin`` privileges, the spec's TTLs), the narrow policy of
  Boundary's credential store and its orphan periodic token.

The PostgreSQL admin (the sandbox's superuser) is used only by Vault, by :func:`prepare_sandbox`
and by :func:`vault_users` to check that no user Vault made is left.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from soa_sdk.errors import ServiceUnavailable, ValidationError
from soa_sdk.reachability import unavailable
from soa_sdk.tf.lab_spec import AccessSpec
from soa_sdk.tf.lab_spec import DatabaseRole as SpecRole
from soa_sdk.vault import DatabaseRole, PostgresConnection

_CREATE_USER = (
    "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';"
)
#: Vault names the users it makes ``v-<display name>-<role>-<random>-<time>``.
VAULT_USER_PATTERN = "v-%"

_ORDERS = [
    ("acme", 120.50),
    ("globex", 75.00),
    ("initech", 310.25),
    ("umbrella", 42.10),
    ("hooli", 980.00),
    ("stark", 15.75),
    ("wayne", 640.40),
    ("tyrell", 99.99),
]


@dataclass(frozen=True)
class AdminConnection:
    """How the lab itself reaches PostgreSQL as its admin. ``repr`` hides the password."""

    host: str
    port: int
    username: str
    password: str = field(repr=False)
    options: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_url(cls, url: str, password: str | None) -> AdminConnection:
        if not password:
            raise ValidationError(
                "No PostgreSQL admin password: the sandbox keeps it in its state; against real "
                "infrastructure apply terraform/shared_services/vault instead of Access.setup()."
            )
        parts = urlsplit(url)
        if not parts.hostname:
            raise ValidationError(f"Not a PostgreSQL URL: {url!r}.")
        return cls(
            parts.hostname,
            parts.port or 5432,
            parts.username or "postgres",
            password,
            (("sslmode", "disable"),),
        )

    def connect(self, database: str) -> psycopg.Connection:
        try:
            return psycopg.connect(
                host=self.host,
                port=self.port,
                dbname=database,
                user=self.username,
                password=self.password,
                autocommit=True,
                connect_timeout=5,
                **dict(self.options),
            )
        except psycopg.OperationalError as error:
            if not _listens(self.host, self.port):  # not refused by PostgreSQL: no server
                url = f"postgresql://{self.host}:{self.port}/{database}"
                raise unavailable("postgres", url, error, "Connecting as the lab's admin") from None
            raise ServiceUnavailable(
                f"PostgreSQL at {self.host}:{self.port} refused the lab's admin connection "
                f"({type(error).__name__}); is the sandbox up?"
            ) from None

    def for_vault(self, database: str, name: str) -> PostgresConnection:
        """The connection Vault stores for ``database`` (it fills in user and password)."""
        return PostgresConnection(
            self.host,
            self.port,
            database,
            self.username,
            self.password,
            name=name,
            options=self.options,
        )


def prepare_sandbox(admin: AdminConnection, database: str) -> list[str]:
    """Create the ``database`` and its ``orders`` table unless they exist (sandbox only)."""
    changes = []
    with admin.connect("postgres") as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        if found.fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            changes.append(f"created database {database}")
    with admin.connect(database) as conn:
        exists = conn.execute("SELECT to_regclass('public.orders')").fetchone()
        if exists is None or exists[0] is None:
            conn.execute(
                "CREATE TABLE public.orders (id serial PRIMARY KEY, customer text NOT NULL, "
                "total numeric(10, 2) NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
            )
            with conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO public.orders (customer, total) VALUES (%s, %s)", _ORDERS
                )
            changes.append(f"created table {database}.public.orders")
    return changes


def drop_sandbox_database(admin: AdminConnection, database: str) -> bool:
    """Drop the sandbox's ``database`` (closing its sessions). True if it existed."""
    with admin.connect("postgres") as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        if found.fetchone() is None:
            return False
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database)))
    return True


def vault_users(admin: AdminConnection) -> list[str]:
    """PostgreSQL roles that Vault made (``v-...``) and that still exist."""
    with admin.connect("postgres") as conn:
        rows = conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE %s ORDER BY 1", (VAULT_USER_PATTERN,)
        ).fetchall()
    return [r[0] for r in rows]


def user_exists(admin: AdminConnection, username: str) -> bool:
    with admin.connect("postgres") as conn:
        row = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (username,)).fetchone()
    return row is not None


def vault_roles(spec: AccessSpec) -> list[DatabaseRole]:
    """One Vault database role per ``database.roles`` entry of the access spec."""
    return [_vault_role(r) for r in spec.database.roles]


def _vault_role(role: SpecRole) -> DatabaseRole:
    ttls = {"default_ttl": role.default_ttl, "max_ttl": role.max_ttl}
    if role.privileges == "readonly":
        return DatabaseRole.readonly(role.name, **ttls)
    if role.privileges == "admin":
        return DatabaseRole.admin(role.name, **ttls)
    if role.privileges == "readwrite":
        return DatabaseRole(
            name=role.name,
            creation_statements=(
                _CREATE_USER,
                'GRANT USAGE ON SCHEMA "public" TO "{{name}}";',
                'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "public" '
                'TO "{{name}}";',
                'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "public" TO "{{name}}";',
            ),
            **ttls,
        )
    raise ValidationError(f"Database role {role.name!r}: unknown privileges {role.privileges!r}.")


def _listens(host: str, port: int) -> bool:
    """Something accepts TCP connections at ``host``:``port``."""
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        return False
    return True
