"""The database secrets engine against a real OpenBao and a real PostgreSQL."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import hvac
import hvac.exceptions
import psycopg
import pytest
from psycopg import errors as pg_errors

from soa_sdk.vault.database import (
    DatabaseLease,
    DatabaseRole,
    DatabaseSecrets,
    PostgresConnection,
)
from soa_sdk.vault.errors import (
    InvalidSettingError,
    InvalidTTLError,
    VaultInvalidRequest,
    VaultUnavailable,
)

SHORT_TTL = 2  # seconds: the lease Vault's expiration manager must end by itself


@dataclass
class Setup:
    db: DatabaseSecrets
    connection: PostgresConnection
    roles: list[DatabaseRole]
    first_changes: list[str]
    table: str


@pytest.fixture(scope="module")
def setup(vault: hvac.Client, endpoints) -> Setup:
    suffix = secrets.token_hex(3)
    connection = PostgresConnection.from_url(endpoints.postgres_url, endpoints.postgres_password)
    table = f"inventory_{suffix}"
    with psycopg.connect(_admin(connection), autocommit=True) as admin:
        admin.execute(f"CREATE TABLE {table} (sku text PRIMARY KEY, stock int)")
        admin.execute(f"INSERT INTO {table} VALUES ('tea', 3), ('coffee', 5)")
    roles = [
        DatabaseRole.readonly("prod-readonly"),
        DatabaseRole.admin("prod-admin"),
        DatabaseRole.readonly("prod-short", default_ttl=SHORT_TTL, max_ttl=SHORT_TTL),
    ]
    db = DatabaseSecrets(vault, mount_point=f"db-{suffix}")
    return Setup(db, connection, roles, db.configure(connection, roles), table)


def _admin(connection: PostgresConnection) -> str:
    return connection.conninfo(connection.username, connection.password)


def _login(s: Setup, lease: DatabaseLease) -> psycopg.Connection:
    return psycopg.connect(s.connection.conninfo(lease.username, lease.password), autocommit=True)


def _role_exists(s: Setup, username: str) -> bool:
    with psycopg.connect(_admin(s.connection)) as admin:
        row = admin.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", (username,))
        return row.fetchone()[0] == 1


def test_configure_then_configure_again_changes_nothing(setup: Setup) -> None:
    mount = setup.db.mount_point
    assert setup.first_changes == [
        f"enabled {mount}/",
        f"configured {mount}/config/prod",
        f"wrote {mount}/roles/prod-readonly",
        f"wrote {mount}/roles/prod-admin",
        f"wrote {mount}/roles/prod-short",
    ]
    lease = setup.db.issue_credentials("prod-readonly")
    assert setup.db.configure(setup.connection, setup.roles) == []
    # Credentials issued before the second run still work: nothing was reset.
    with _login(setup, lease) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == lease.username
    stored = setup.db.client.secrets.database.read_role("prod-short", mount)["data"]
    assert (stored["default_ttl"], stored["max_ttl"]) == (SHORT_TTL, SHORT_TTL)
    setup.db.revoke(lease.lease_id)


def test_readonly_user_reads_but_cannot_write(setup: Setup) -> None:
    lease = setup.db.issue_credentials("prod-readonly")
    assert lease.password not in repr(lease)
    assert lease.username.startswith("v-") and lease.renewable
    assert lease.lease_duration == 300
    with _login(setup, lease) as conn:
        rows = conn.execute(f"SELECT sku, stock FROM {setup.table} ORDER BY sku").fetchall()
        assert rows == [("coffee", 5), ("tea", 3)]
        with pytest.raises(pg_errors.InsufficientPrivilege):
            conn.execute(f"INSERT INTO {setup.table} VALUES ('cocoa', 1)")
        with pytest.raises(pg_errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE sneaky (x int)")
    setup.db.revoke(lease.lease_id)


def test_admin_user_writes_and_what_it_built_survives_its_revocation(setup: Setup) -> None:
    lease = setup.db.issue_credentials("prod-admin")
    own_table = f"audit_{secrets.token_hex(3)}"
    with _login(setup, lease) as conn:
        conn.execute(f"UPDATE {setup.table} SET stock = stock + 1 WHERE sku = 'tea'")
        conn.execute(f"CREATE TABLE {own_table} (note text)")
        conn.execute(f"INSERT INTO {own_table} VALUES ('made by a dynamic user')")
    setup.db.revoke(lease.lease_id)
    assert not _role_exists(setup, lease.username)
    with psycopg.connect(_admin(setup.connection)) as admin:
        owner = admin.execute("SELECT tableowner FROM pg_tables WHERE tablename = %s", (own_table,))
        assert owner.fetchone()[0] == setup.connection.username
        admin.execute(f"UPDATE {setup.table} SET stock = stock - 1 WHERE sku = 'tea'")


def test_revoke_drops_the_user_and_ends_its_sessions(setup: Setup) -> None:
    lease = setup.db.issue_credentials("prod-readonly")
    conn = _login(setup, lease)
    assert _role_exists(setup, lease.username)
    setup.db.revoke(lease.lease_id)
    assert not _role_exists(setup, lease.username)
    with pytest.raises(psycopg.OperationalError):
        conn.execute("SELECT 1")
    conn.close()
    with pytest.raises(psycopg.OperationalError, match="authentication failed"):
        _login(setup, lease)


def test_revoke_prefix_ends_every_lease_of_a_role(setup: Setup) -> None:
    leases = [setup.db.issue_credentials("prod-admin") for _ in range(2)]
    assert all(_role_exists(setup, lease.username) for lease in leases)
    assert setup.db.revoke_prefix("prod-admin") == f"{setup.db.mount_point}/creds/prod-admin/"
    assert not any(_role_exists(setup, lease.username) for lease in leases)


def test_lease_ends_by_itself_when_its_ttl_runs_out(setup: Setup) -> None:
    lease = setup.db.issue_credentials("prod-short")
    assert lease.lease_duration == SHORT_TTL
    with _login(setup, lease) as conn:
        assert conn.execute(f"SELECT count(*) FROM {setup.table}").fetchone()[0] == 2
    deadline = time.monotonic() + SHORT_TTL + 8
    while _role_exists(setup, lease.username) and time.monotonic() < deadline:
        time.sleep(0.25)
    assert not _role_exists(setup, lease.username), "Vault did not revoke the expired lease"
    with pytest.raises(psycopg.OperationalError, match="authentication failed"):
        _login(setup, lease)


@pytest.mark.parametrize(
    ("default_ttl", "max_ttl"),
    [(7200, 3600), (0, 60), (60, 0), (-5, 60), ("5m", "800h"), ("soon", "1h"), (True, 60)],
)
def test_out_of_range_ttls_are_refused_before_any_call(default_ttl, max_ttl) -> None:
    with pytest.raises(InvalidTTLError) as info:
        DatabaseRole.readonly("prod-readonly", default_ttl=default_ttl, max_ttl=max_ttl)
    assert isinstance(info.value, ValueError)
    assert "prod-readonly" in str(info.value)


def test_bad_input_changes_nothing(vault: hvac.Client, setup: Setup) -> None:
    # An unreachable Vault proves no call is made: validation fails first, not the network.
    offline = DatabaseSecrets(hvac.Client(url="http://127.0.0.1:9", timeout=2), "db-offline")
    with pytest.raises(InvalidSettingError):
        offline.configure(setup.connection, [setup.roles[0], setup.roles[0]])
    with pytest.raises(InvalidSettingError):
        offline.configure(setup.connection, ["prod-readonly"])  # type: ignore[list-item]
    with pytest.raises(InvalidSettingError):
        offline.issue_credentials("../sys/mounts")
    with pytest.raises(VaultUnavailable, match="soa-lab status"):
        offline.issue_credentials("prod-readonly")

    # Vault refuses a connection it cannot log in with, and stores nothing.
    db = DatabaseSecrets(vault, mount_point=f"db-bad-{secrets.token_hex(3)}")
    wrong = PostgresConnection.from_url(
        setup.connection.vault_connection_url().replace("{{username}}:{{password}}", "postgres"),
        "not-the-password",
        name="wrong",
    )
    with pytest.raises(VaultInvalidRequest) as info:
        db.configure(wrong, [DatabaseRole.readonly()])
    assert "not-the-password" not in str(info.value)
    with pytest.raises(hvac.exceptions.InvalidPath):  # Vault's 404: no connection at all
        vault.secrets.database.list_connections(db.mount_point)
    vault.sys.disable_secrets_engine(db.mount_point)
