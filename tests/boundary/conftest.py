"""Fixtures: the emulated Boundary controller on a free loopback port, and a client that
checks every JSON answer against our schema of Boundary's swagger (api_schema.py)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from soa_sdk.sandbox.boundary import BoundaryBackend, BoundaryServer, create_server

from . import api_schema

ADMIN_LOGIN = "admin"
ADMIN_PASSWORD = secrets.token_urlsafe(12)
#: every response body seen, with its definition, for test_every_response_matches_schema
SEEN: list[tuple[str, Any]] = []


def definition_for(method: str, path: str, status: int) -> str | None:
    """Which swagger definition an answer to ``method path`` is an instance of."""
    if status >= 400:
        return "controller.api.v1.Error"
    if status == 204 or not path.startswith("/v1/"):
        return None
    rest = path.removeprefix("/v1/")
    collection, _, tail = rest.partition("/")
    action = tail.partition(":")[2]
    if action == "authenticate":
        return "controller.api.services.v1.AuthenticateResponse"
    if action == "download":
        return None
    if action == "authorize-session":
        return "item:" + api_schema.R + "targets.v1.SessionAuthorization"
    item = api_schema.COLLECTIONS[collection]
    if not tail and method == "GET":
        return "list:" + item
    return ("item:" if action else "") + item


class Api:
    """A thin ``requests`` client for one server and (optionally) one bearer token."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url
        self.token = token

    def as_token(self, token: str | None) -> Api:
        return Api(self.url, token)

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        resp = requests.request(method, self.url + path, headers=headers, timeout=30, **kwargs)
        definition = definition_for(method, path.split("?")[0], resp.status_code)
        if definition:
            body = resp.json()
            SEEN.append((definition, body))
            problems = _problems(definition, body)
            assert not problems, problems
        return resp

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: dict | None = None, **kw: Any) -> requests.Response:
        return self.call("POST", path, json=body if body is not None else {}, **kw)

    def patch(self, path: str, body: dict, **kw: Any) -> requests.Response:
        return self.call("PATCH", path, json=body, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.call("DELETE", path, **kw)

    def ok(self, method: str, path: str, body: dict | None = None) -> dict:
        resp = self.call(method, path, json=body) if body is not None else self.call(method, path)
        assert resp.status_code == 200, (resp.status_code, resp.text)
        return resp.json()


def _problems(definition: str, body: Any) -> list[str]:
    kind, _, name = definition.partition(":")
    if not name:
        return api_schema.validate(body, kind)
    if kind == "list":
        return api_schema.validate(body, "list") + [
            p for i, it in enumerate(body.get("items", []))
            for p in api_schema.validate(it, name, f"$.items[{i}]")
        ]  # fmt: skip
    extra = [f"$.{k}: unexpected" for k in body if k != "item"]
    return extra + api_schema.validate(body["item"], name, "$.item")


def login(api: Api, login_name: str, password: str, am: str = "ampw_1234567890") -> str:
    body = {"attributes": {"login_name": login_name, "password": password}}
    resp = api.as_token(None).post(f"/v1/auth-methods/{am}:authenticate", body)
    assert resp.status_code == 200, resp.text
    return resp.json()["attributes"]["token"]


def start_server(backend: BoundaryBackend) -> BoundaryServer:
    backend.bootstrap_dev(ADMIN_LOGIN, ADMIN_PASSWORD)
    return create_server(backend, "127.0.0.1", 0).start()


@pytest.fixture(scope="session")
def server() -> Iterator[BoundaryServer]:
    srv = start_server(BoundaryBackend())
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def anon(server: BoundaryServer) -> Api:
    return Api(server.url)


@pytest.fixture(scope="session")
def admin(anon: Api) -> Api:
    return anon.as_token(login(anon, ADMIN_LOGIN, ADMIN_PASSWORD))


@pytest.fixture
def project(admin: Api) -> dict[str, str]:
    """A fresh org and project."""
    org = admin.ok("POST", "/v1/scopes", {"scope_id": "global", "name": _name("org")})
    proj = admin.ok("POST", "/v1/scopes", {"scope_id": org["id"], "name": _name("proj")})
    return {"org": org["id"], "project": proj["id"]}


def _name(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


@pytest.fixture
def make_user(admin: Api):
    """Create a user with a password account in ampw_1234567890; returns (user, token)."""

    def make(org: str = "global") -> tuple[dict, str]:
        login_name = _name("user")
        password = secrets.token_urlsafe(12)
        acct = admin.ok("POST", "/v1/accounts", {
            "auth_method_id": "ampw_1234567890", "type": "password",
            "attributes": {"login_name": login_name, "password": password}})  # fmt: skip
        user = admin.ok("POST", "/v1/users", {"scope_id": org, "name": login_name})
        user = admin.ok(
            "POST",
            f"/v1/users/{user['id']}:add-accounts",
            {"version": user["version"], "account_ids": [acct["id"]]},
        )["item"]
        return user, login(admin, login_name, password)

    return make
