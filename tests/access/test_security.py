"""The security properties of step 4, each checked over HTTP against the sandbox's Boundary,
Vault (OpenBao) and PostgreSQL."""

from __future__ import annotations

import secrets
import socket
import time

import psycopg
import pytest
import requests

from soa_sdk.access import (
    Access,
    Authorization,
    BoundaryPermissionDenied,
    BoundaryUnauthenticated,
    Refusal,
)
from soa_sdk.sandbox.boundary import BoundaryBackend, create_server

from .conftest import ADMIN_TARGET, READONLY_TARGET


def _bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _proxy_conn(access: Access, auth: Authorization) -> psycopg.Connection:
    address = access.connect(auth)
    cred = auth.credentials[0]
    return psycopg.connect(
        host=address.host,
        port=address.port,
        dbname=access.spec.database.database,
        user=cred.username,
        password=cred.password,
        sslmode="disable",
        connect_timeout=5,
        autocommit=True,
    )


def test_no_token_is_401(access: Access, lab):
    target_id = access._lookup().targets[ADMIN_TARGET]
    url = lab.endpoints.boundary_url
    resp = requests.post(f"{url}/v1/targets/{target_id}:authorize-session", json={}, timeout=10)
    assert resp.status_code == 401
    assert resp.json()["kind"] == "Unauthenticated"
    resp = requests.get(f"{url}/v1/session-recordings?scope_id=global&recursive=true", timeout=10)
    assert resp.status_code == 401


def test_valid_token_outside_its_grants_is_403(fresh: Access, lab):
    url = lab.endpoints.boundary_url
    ids = fresh._lookup()
    bob = fresh.login("bob")
    resp = requests.post(
        f"{url}/v1/targets/{ids.targets[ADMIN_TARGET]}:authorize-session",
        json={},
        headers=_bearer(bob.token),
        timeout=10,
    )
    assert resp.status_code == 403 and resp.json()["kind"] == "PermissionDenied"
    with pytest.raises(BoundaryPermissionDenied):
        fresh.authorize_session(bob, READONLY_TARGET)
    # The auditor reads recordings and nothing else: no sessions, no changes to roles.
    carol = fresh.login("carol")
    refusal = fresh.try_authorize(carol, ADMIN_TARGET)
    assert isinstance(refusal, Refusal) and refusal.status == 403
    role_id = fresh.setup().roles["auditors"]
    resp = requests.post(
        f"{url}/v1/roles/{role_id}:add-grants",
        json={"version": 1, "grant_strings": ["ids=*;type=*;actions=*"]},
        headers=_bearer(carol.token),
        timeout=10,
    )
    assert resp.status_code == 403


def test_expired_token_is_refused():
    """Boundary's ``auth_token_time_to_live``: a token past its expiry is a 401."""
    backend = BoundaryBackend()
    backend.auth_token_ttl = 1.0
    password = secrets.token_urlsafe(16)
    backend.bootstrap_dev("admin", password)
    server = create_server(backend, "127.0.0.1", 0).start()
    try:
        body = {"attributes": {"login_name": "admin", "password": password}}
        login = requests.post(
            f"{server.url}/v1/auth-methods/ampw_1234567890:authenticate", json=body, timeout=10
        ).json()["attributes"]
        scopes = f"{server.url}/v1/scopes?scope_id=global"
        org = requests.post(
            f"{server.url}/v1/scopes",
            json={"scope_id": "global", "name": "prod"},
            headers=_bearer(login["token"]),
            timeout=10,
        )
        assert org.status_code == 200
        time.sleep(1.2)
        late = requests.post(
            f"{server.url}/v1/scopes",
            json={"scope_id": "global", "name": "late"},
            headers=_bearer(login["token"]),
            timeout=10,
        )
        assert late.status_code == 401 and late.json()["kind"] == "Unauthenticated"
        names = [s["name"] for s in requests.get(scopes, timeout=10).json()["items"]]
        assert "late" not in names
    finally:
        server.stop()


def test_logged_out_token_is_refused(fresh: Access, lab):
    alice = fresh.login("alice")
    url = lab.endpoints.boundary_url
    resp = requests.delete(
        f"{url}/v1/auth-tokens/{alice.token_id}", headers=_bearer(alice.token), timeout=10
    )
    assert resp.status_code == 204
    with pytest.raises(BoundaryUnauthenticated):
        fresh.authorize_session(alice, ADMIN_TARGET)


def test_expired_grant_is_refused_and_its_session_cancelled(fresh: Access):
    grant = fresh.grant_just_in_time("alice", ADMIN_TARGET, 0.05)
    alice = fresh.login("alice")
    auth = fresh.authorize_session(alice, ADMIN_TARGET)
    with _proxy_conn(fresh, auth) as conn:
        assert conn.execute("SELECT count(*) FROM orders").fetchone()[0] > 0
        assert fresh.wait_for_expiry(grant) is True
        assert fresh.session_status(auth) == "terminated"
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    refusal = fresh.try_authorize(alice, ADMIN_TARGET)
    assert isinstance(refusal, Refusal) and refusal.status == 403
    assert all(g.user != "alice" for g in fresh.grants())


def test_expiry_is_enforced_by_any_process(fresh: Access, lab):
    """The sweep, not only the granting process's timer: another Access (as another process
    would build) removes an expired membership on its first call."""
    grant = fresh.grant_just_in_time("alice", READONLY_TARGET, 0.05)
    fresh.jit.cancel_timers()  # as if the granting process had gone away
    time.sleep(grant.seconds_left + 0.1)
    group = fresh._admin().read("groups", grant.group_id, "read")
    assert grant.user_id in group["member_ids"]  # nobody swept yet
    other = lab.new_access()
    refusal = other.try_authorize(other.login("alice"), READONLY_TARGET)
    assert isinstance(refusal, Refusal) and refusal.status == 403
    group = fresh._admin().read("groups", grant.group_id, "read")
    assert grant.user_id not in group.get("member_ids", [])


def test_cancelled_session_proxy_closes_its_connections(fresh: Access):
    fresh.grant_just_in_time("alice", ADMIN_TARGET, 2)
    auth = fresh.authorize_session(fresh.login("alice"), ADMIN_TARGET)
    address = fresh.connect(auth)
    conn = _proxy_conn(fresh, auth)
    assert conn.execute("SELECT 1").fetchone() == (1,)
    revocation = fresh.revoke(auth)
    assert revocation.session_status == "terminated"
    with pytest.raises(psycopg.OperationalError):
        conn.execute("SELECT 1")
    conn.close()
    with pytest.raises(OSError):
        socket.create_connection((address.host, address.port), timeout=2).close()


def test_brokered_credentials_stop_working_after_their_lease_ends(fresh: Access):
    fresh.grant_just_in_time("alice", READONLY_TARGET, 2)
    auth = fresh.authorize_session(fresh.login("alice"), READONLY_TARGET)
    assert fresh.credentials_work(auth) is True
    username = auth.credentials[0].username
    assert username in fresh.database_users()
    revocation = fresh.revoke(auth)
    assert revocation.database_users_left == 0
    assert username not in fresh.database_users()
    assert fresh.credentials_work(auth) is False


def test_recording_cannot_be_changed_through_the_api(fresh: Access, lab):
    fresh.grant_just_in_time("alice", ADMIN_TARGET, 2)
    auth = fresh.authorize_session(fresh.login("alice"), ADMIN_TARGET)
    with _proxy_conn(fresh, auth) as conn:
        conn.execute("SELECT max(total) FROM orders").fetchone()
    fresh.revoke(auth)
    carol = fresh.login("carol")
    replay = fresh.replay(auth.recording_id, carol)
    assert replay.column("statement") == ["SELECT max(total) FROM orders"]
    url = f"{lab.endpoints.boundary_url}/v1/session-recordings/{auth.recording_id}"
    admin_token = fresh._admin()._token
    for token in (carol.token, admin_token):
        before = requests.get(f"{url}:download", headers=_bearer(token), timeout=10).content
        deleted = requests.delete(url, headers=_bearer(token), timeout=10)
        patched = requests.patch(url, json={"version": 1}, headers=_bearer(token), timeout=10)
        assert deleted.status_code in (400, 403) and patched.status_code == 405
        after = requests.get(f"{url}:download", headers=_bearer(token), timeout=10)
        assert after.status_code == 200 and after.content == before
    assert requests.get(url, headers=_bearer(carol.token), timeout=10).json()["state"] == (
        "available"
    )
