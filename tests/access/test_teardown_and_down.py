"""Nothing is left behind: ``teardown()`` drops every PostgreSQL user the lab made while the
server runs, and ``soa-lab down`` leaves no session listener and no database server.

This module starts a sandbox of its own, since it takes it down: marked slow (about 10 s on
an idle machine, the start and stop of a whole sandbox)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import psycopg
import pytest

from soa_sdk import Lab
from soa_sdk.access import Access
from soa_sdk.sandbox import lifecycle

from .conftest import ADMIN_TARGET, READONLY_TARGET


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "soa_sdk.cli", *args], capture_output=True, text=True,
        timeout=120, env={**os.environ, "SOA_LAB_HOME": str(home)},
    )  # fmt: skip


@pytest.fixture(scope="module")
def own_home(tmp_path_factory: pytest.TempPathFactory):
    """A sandbox started by ``soa-lab up`` in a process of its own, as a user starts it (the
    services then outlive that process, and ``soa-lab down`` stops processes it did not
    start)."""
    home = tmp_path_factory.mktemp("soa-lab-access-down")
    started = _cli(home, "up")
    assert started.returncode == 0, started.stderr
    yield home
    lifecycle.down(home)  # a no-op when the test already took it down


def _listening(port: int) -> bool:
    return any(
        c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN
        for c in psutil.net_connections(kind="tcp")
    )


def _open_session(access: Access, target: str) -> tuple[psycopg.Connection, int]:
    access.grant_just_in_time("alice", target, 5)
    auth = access.authorize_session(access.login("alice"), target)
    address = access.connect(auth)
    cred = auth.credentials[0]
    conn = psycopg.connect(
        host=address.host, port=address.port, dbname=access.spec.database.database,
        user=cred.username, password=cred.password, sslmode="disable", connect_timeout=5,
        autocommit=True,
    )  # fmt: skip
    assert conn.execute("SELECT count(*) FROM orders").fetchone()[0] > 0
    return conn, address.port


@pytest.mark.slow
def test_teardown_then_down_leave_nothing(own_home: Path):
    lab = Lab.connect("sandbox", home=own_home, start=False)
    access = lab.new_access()
    access.setup()
    conn, _ = _open_session(access, ADMIN_TARGET)
    _open_session(access, READONLY_TARGET)[0].close()
    assert len(access.database_users()) == 2

    report = access.teardown()
    assert report.database_users_left == []
    assert "boundary org prod" in report.removed
    with pytest.raises(psycopg.OperationalError):
        conn.execute("SELECT 1")
    admin = access._admin()
    assert admin.find("scopes", "prod", scope_id="global") is None
    assert "database/" not in lab.vault.sys.list_mounted_secrets_engines()["data"]
    assert access.teardown().removed == []  # a second teardown finds nothing to remove

    # Set up again, keep a proxied connection open, then take the whole sandbox down.
    access = lab.new_access()
    access.setup()
    conn, proxy_port = _open_session(access, ADMIN_TARGET)
    assert _listening(proxy_port)
    pg_url = lab.endpoints.postgres_url or ""
    pg_port = int(pg_url.rsplit(":", 1)[1].split("/")[0])
    down = _cli(own_home, "down")
    assert down.returncode == 0, down.stderr
    conn.close()
    assert not _listening(proxy_port), "the session proxy still listens"
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", proxy_port), timeout=1).close()
    # No database user is left because no database server is left.
    assert not _listening(pg_port)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", pg_port), timeout=1).close()
