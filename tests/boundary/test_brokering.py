"""Just-in-time database access end to end: authorize-session brokers PostgreSQL credentials
from Vault (OpenBao), psycopg connects through the session proxy, the recording lands in S3
(moto) and its replay shows the statements the user ran."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from urllib.parse import urlparse

import boto3
import hvac
import psycopg
import pytest
import requests

from soa_sdk.sandbox.boundary import BoundaryBackend, BoundaryServer, postgres_statements
from soa_sdk.sandbox.boundary.recording import S3RecordingStore

from .conftest import ADMIN_LOGIN, ADMIN_PASSWORD, Api, login, start_server


@pytest.fixture(scope="module")
def recording_server(sandbox) -> Iterator[BoundaryServer]:
    store = S3RecordingStore(
        sandbox.url("aws"),
        aws_access_key_id=sandbox.secret("aws_access_key_id"),
        aws_secret_access_key=sandbox.secret("aws_secret_access_key"),
    )
    srv = start_server(BoundaryBackend(recording_store=store))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def db_role(sandbox) -> dict[str, str]:
    """A minimal Vault database secrets engine for the sandbox's PostgreSQL."""
    vault = hvac.Client(url=sandbox.url("vault"), token=sandbox.secret("vault_root_token"))
    mount = f"database-{secrets.token_hex(3)}"
    vault.sys.enable_secrets_engine("database", path=mount)
    pg = urlparse(sandbox.url("postgres"))
    vault.secrets.database.configure(
        name="pg", plugin_name="postgresql-database-plugin", allowed_roles=["readonly"],
        connection_url=f"postgresql://{{{{username}}}}:{{{{password}}}}@{pg.hostname}:{pg.port}"
        "/postgres?sslmode=disable",
        username=pg.username or "postgres", password=sandbox.secret("postgres_password"),
        mount_point=mount,
    )  # fmt: skip
    vault.secrets.database.create_role(
        name="readonly", db_name="pg", default_ttl="5m", max_ttl="10m", mount_point=mount,
        creation_statements=[
            "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' "
            "VALID UNTIL '{{expiration}}'; GRANT pg_read_all_data TO \"{{name}}\";"
        ],
    )  # fmt: skip
    return {"path": f"{mount}/creds/readonly", "host": pg.hostname or "", "port": str(pg.port)}


def test_brokered_postgres_session_is_recorded_and_replayed(
    sandbox, recording_server: BoundaryServer, db_role: dict[str, str]
):
    api = Api(recording_server.url)
    api.token = login(api, ADMIN_LOGIN, ADMIN_PASSWORD)
    bucket = f"recordings-{secrets.token_hex(4)}"
    s3 = boto3.client(
        "s3",
        endpoint_url=sandbox.url("aws"),
        region_name="us-east-1",
        aws_access_key_id=sandbox.secret("aws_access_key_id"),
        aws_secret_access_key=sandbox.secret("aws_secret_access_key"),
    )
    s3.create_bucket(Bucket=bucket)
    org = api.ok("POST", "/v1/scopes", {"scope_id": "global", "name": "prod"})
    proj = api.ok("POST", "/v1/scopes", {"scope_id": org["id"], "name": "runtime-ecs"})
    sb = api.ok(
        "POST",
        "/v1/storage-buckets",
        {
            "scope_id": org["id"],
            "plugin_name": "aws",
            "bucket_name": bucket,
            "bucket_prefix": "sessions",
            "attributes": {"region": "us-east-1"},
            "secrets": {
                "access_key_id": sandbox.secret("aws_access_key_id"),
                "secret_access_key": sandbox.secret("aws_secret_access_key"),
            },
        },
    )
    assert "secrets" not in sb and sb["secrets_hmac"]
    store = api.ok(
        "POST",
        "/v1/credential-stores",
        {
            "scope_id": proj["id"],
            "type": "vault",
            "attributes": {
                "address": sandbox.url("vault"),
                "token": sandbox.secret("vault_root_token"),
            },
        },
    )
    assert "token" not in store["attributes"] and store["attributes"]["token_hmac"]
    lib = api.ok(
        "POST",
        "/v1/credential-libraries",
        {
            "credential_store_id": store["id"],
            "type": "vault-generic",
            "credential_type": "username_password",
            "attributes": {"path": db_role["path"], "http_method": "GET"},
        },
    )
    target = api.ok(
        "POST",
        "/v1/targets",
        {
            "scope_id": proj["id"],
            "name": "prod-postgres",
            "type": "tcp",
            "address": db_role["host"],
            "session_max_seconds": 300,
            "attributes": {
                "default_port": int(db_role["port"]),
                "enable_session_recording": True,
                "storage_bucket_id": sb["id"],
            },
        },
    )
    target = api.ok(
        "POST",
        f"/v1/targets/{target['id']}:add-credential-sources",
        {"version": target["version"], "brokered_credential_source_ids": [lib["id"]]},
    )["item"]
    assert target["brokered_credential_source_ids"] == [lib["id"]]

    auth = api.ok("POST", f"/v1/targets/{target['id']}:authorize-session")["item"]
    cred = auth["credentials"][0]
    decoded = cred["secret"]["decoded"]
    assert cred["credential_source"]["id"] == lib["id"]
    assert decoded["username"].startswith("v-") and cred["credential"] == decoded
    assert auth["session_recording_id"].startswith("sr_")

    proxy = api.ok("POST", "/sandbox/connect", {"authorization_token": auth["authorization_token"]})
    sent = ["SELECT current_user", "SELECT count(*) FROM pg_catalog.pg_tables"]
    with psycopg.connect(
        host=proxy["address"],
        port=proxy["port"],
        dbname="postgres",
        user=decoded["username"],
        password=decoded["password"],
        sslmode="disable",
        connect_timeout=5,
        autocommit=True,
    ) as conn:
        assert conn.execute(sent[0]).fetchone()[0] == decoded["username"]
        conn.execute(sent[1]).fetchone()
        assert conn.execute("SELECT %s::int + 1", (41,)).fetchone()[0] == 42
    sess = api.ok("GET", f"/v1/sessions/{auth['session_id']}")
    api.ok("POST", f"/v1/sessions/{sess['id']}:cancel", {"version": sess["version"]})

    rec = api.ok("GET", f"/v1/session-recordings/{auth['session_recording_id']}")
    assert rec["state"] == "available" and int(rec["bytes_up"]) > 0
    assert rec["session_id"] == sess["id"] and rec["storage_bucket_id"] == sb["id"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == [f"sessions/{rec['id']}.jsonl"]
    download = api.get(f"/v1/session-recordings/{rec['id']}:download")
    assert download.status_code == 200
    statements = [s.sql for s in postgres_statements(download.content)]
    assert statements[:2] == sent and statements[2] == "SELECT $1::int + 1"
    # Read-only through the API.
    assert api.delete(f"/v1/session-recordings/{rec['id']}").status_code == 400
    assert api.patch(f"/v1/session-recordings/{rec['id']}", {"version": 1}).status_code == 405
    # The session's lease was revoked: the brokered user no longer exists.
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(
            host=db_role["host"],
            port=int(db_role["port"]),
            dbname="postgres",
            user=decoded["username"],
            password=decoded["password"],
            sslmode="disable",
            connect_timeout=5,
        ).close()


def test_credential_store_rejects_a_bad_vault_token(sandbox, recording_server: BoundaryServer):
    api = Api(recording_server.url)
    api.token = login(api, ADMIN_LOGIN, ADMIN_PASSWORD)
    org = api.ok("POST", "/v1/scopes", {"scope_id": "global"})
    proj = api.ok("POST", "/v1/scopes", {"scope_id": org["id"]})
    resp = api.post(
        "/v1/credential-stores",
        {
            "scope_id": proj["id"],
            "type": "vault",
            "attributes": {"address": sandbox.url("vault"), "token": "not-a-token"},
        },
    )
    assert resp.status_code == 400 and "not-a-token" not in resp.text
    assert (
        requests.get(
            f"{recording_server.url}/v1/credential-stores?scope_id={proj['id']}",
            headers={"Authorization": f"Bearer {api.token}"},
        ).json()["items"]
        == []
    )
