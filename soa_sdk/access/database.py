"""The prod database as the lab's admin sees it on the sandbox, for step 4.

The database itself (``database.database`` of ``terraform/shared_services/access.json``) is
the runtime's: on the sandbox :mod:`soa_sdk.sandbox.terraform.inputs` makes it, with the role
Vault connects as, before ``shared_services/vault`` is first applied (Vault's engine, its
connection and roles are that folder's). Here only what Terraform does not do:
:func:`seed_orders` puts a small ``orders`` table in it so there is something to query, and
the checks that no user Vault made is left (:func:`vault_users`, :func:`user_exists`).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import psycopg

from soa_sdk.errors import ServiceUnavailable, ValidationError
from soa_sdk.reachability import unavailable

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


def seed_orders(admin: AdminConnection, database: str) -> list[str]:
    """Create ``database``'s ``orders`` table with a few rows unless it exists (sandbox)."""
    with admin.connect(database) as conn:
        exists = conn.execute("SELECT to_regclass('public.orders')").fetchone()
        if exists is not None and exists[0] is not None:
            return []
        conn.execute(
            "CREATE TABLE public.orders (id serial PRIMARY KEY, customer text NOT NULL, "
            "total numeric(10, 2) NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
        )
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO public.orders (customer, total) VALUES (%s, %s)", _ORDERS
            )
    return [f"created table {database}.public.orders"]


def drop_orders(admin: AdminConnection, database: str) -> bool:
    """Drop the table :func:`seed_orders` made. True if it existed."""
    with admin.connect("postgres") as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        if found.fetchone() is None:
            return False
    with admin.connect(database) as conn:
        exists = conn.execute("SELECT to_regclass('public.orders')").fetchone()
        if exists is None or exists[0] is None:
            return False
        conn.execute("DROP TABLE public.orders")
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


def _listens(host: str, port: int) -> bool:
    """Something accepts TCP connections at ``host``:``port``."""
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        return False
    return True
