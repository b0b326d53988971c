"""A storage bucket in use cannot be deleted, as Boundary's schema refuses it: session
recordings reference their bucket ``on delete restrict``, and a recording target's
``storage_bucket_id`` may not become null while ``enable_session_recording`` is true."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from soa_sdk.sandbox.boundary import BoundaryBackend, BoundaryServer

from .conftest import ADMIN_LOGIN, ADMIN_PASSWORD, Api, login, start_server


class MemoryStore:
    """Stands in for S3: every bucket exists, documents are kept in memory."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}

    def check_bucket(self, name: str) -> None:
        pass

    def put(self, bucket: str, key: str, document: bytes) -> None:
        self.objects[(bucket, key)] = document


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    srv: BoundaryServer = start_server(BoundaryBackend(recording_store=MemoryStore()))  # type: ignore[arg-type]
    client = Api(srv.url)
    client.token = login(client, ADMIN_LOGIN, ADMIN_PASSWORD)
    yield client
    srv.stop()


def _bucket(api: Api, org: str) -> dict[str, Any]:
    return api.ok(
        "POST",
        "/v1/storage-buckets",
        {
            "scope_id": org,
            "plugin_name": "aws",
            "bucket_name": f"recordings-{secrets.token_hex(4)}",
            "attributes": {"region": "us-east-1"},
            "secrets": {"access_key_id": "AKIDEXAMPLE", "secret_access_key": "x" * 20},
        },
    )


def _target(api: Api, project: str, bucket: str, record: bool) -> dict[str, Any]:
    return api.ok(
        "POST",
        "/v1/targets",
        {
            "scope_id": project,
            "name": f"db-{secrets.token_hex(3)}",
            "type": "tcp",
            "address": "127.0.0.1",
            "attributes": {
                "default_port": 5432,
                "enable_session_recording": record,
                "storage_bucket_id": bucket,
            },
        },
    )


def test_deleting_a_bucket_in_use_is_refused(api: Api) -> None:
    org = api.ok("POST", "/v1/scopes", {"scope_id": "global", "name": "prod"})["id"]
    proj = api.ok("POST", "/v1/scopes", {"scope_id": org, "name": "db"})["id"]
    sb = _bucket(api, org)
    target = _target(api, proj, sb["id"], record=True)

    resp = api.delete(f"/v1/storage-buckets/{sb['id']}")
    assert resp.status_code == 500
    body = resp.json()
    assert body["kind"] == "Internal"
    assert body["message"].startswith("session recording enabled without storage bucket")
    assert target["id"] in body["message"]
    # Nothing changed: the bucket is there, the target still records, sessions are recorded.
    assert api.get(f"/v1/storage-buckets/{sb['id']}").status_code == 200
    attrs = api.ok("GET", f"/v1/targets/{target['id']}")["attributes"]
    assert (attrs["enable_session_recording"], attrs["storage_bucket_id"]) == (True, sb["id"])
    auth = api.ok("POST", f"/v1/targets/{target['id']}:authorize-session")["item"]
    assert auth["session_recording_id"].startswith("sr_")

    # With recording off, the bucket still holds that session's recording: restrict.
    api.ok(
        "PATCH",
        f"/v1/targets/{target['id']}",
        {"version": target["version"], "attributes": {"enable_session_recording": False}},
    )
    resp = api.delete(f"/v1/storage-buckets/{sb['id']}")
    assert resp.status_code == 500 and "cannot be deleted" in resp.json()["message"]
    assert api.get(f"/v1/storage-buckets/{sb['id']}").status_code == 200


def test_deleting_a_bucket_only_referenced_clears_the_reference(api: Api) -> None:
    org = api.ok("POST", "/v1/scopes", {"scope_id": "global", "name": "dev"})["id"]
    proj = api.ok("POST", "/v1/scopes", {"scope_id": org, "name": "db"})["id"]
    sb = _bucket(api, org)
    target = _target(api, proj, sb["id"], record=False)
    assert api.delete(f"/v1/storage-buckets/{sb['id']}").status_code == 204
    attrs = api.ok("GET", f"/v1/targets/{target['id']}")["attributes"]
    # Empty fields are left out of the JSON, as Boundary's protobuf answers leave them out.
    assert "storage_bucket_id" not in attrs and not attrs.get("enable_session_recording")
