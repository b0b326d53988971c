"""The contract of each emulated endpoint, over HTTP, errors included."""

from __future__ import annotations

import pytest

from .conftest import ADMIN_PASSWORD, Api


def test_anonymous_may_list_scopes_and_auth_methods_only(anon: Api, admin: Api, project):
    scopes = anon.ok("GET", "/v1/scopes?scope_id=global")
    assert project["org"] in [s["id"] for s in scopes["items"]]
    # The anonymous user sees scopes only through no-op (discovery), as in Boundary.
    assert all(s["authorized_actions"] == ["no-op"] for s in scopes["items"])
    ams = anon.ok("GET", "/v1/auth-methods?scope_id=global")["items"]
    assert [a["id"] for a in ams] == ["ampw_1234567890"]
    assert ams[0]["authorized_actions"] == ["authenticate"]
    for path in ("/v1/users?scope_id=global", "/v1/roles?scope_id=global",
                 f"/v1/targets?scope_id={project['project']}"):  # fmt: skip
        resp = anon.get(path)
        assert resp.status_code == 401
        assert resp.json() == {"kind": "Unauthenticated",
                               "message": "Unauthenticated, or invalid token."}  # fmt: skip


def test_authenticate_returns_token_and_expiry(anon: Api):
    body = {"attributes": {"login_name": "admin", "password": ADMIN_PASSWORD}}
    resp = anon.post("/v1/auth-methods/ampw_1234567890:authenticate", body)
    assert resp.status_code == 200
    attrs = resp.json()["attributes"]
    assert resp.json()["command"] == "login"
    token = attrs["token"]
    assert token.startswith(attrs["id"] + "_") and attrs["id"].startswith("at_")
    assert attrs["user_id"] == "u_1234567890"
    assert attrs["expiration_time"] > attrs["created_time"]
    bad = anon.post(
        "/v1/auth-methods/ampw_1234567890:authenticate",
        {"attributes": {"login_name": "admin", "password": "wrong-password"}},
    )
    assert bad.status_code == 401 and bad.json()["kind"] == "Unauthenticated"
    # The token works, and reads itself.
    me = anon.as_token(token).ok("GET", f"/v1/auth-tokens/{attrs['id']}")
    assert me["item" if "item" in me else "id"] == attrs["id"]
    assert "token" not in me


def test_invalid_token_is_401_and_valid_token_outside_grants_is_403(anon: Api, make_user):
    forged = anon.as_token("at_1234567890_notavalidsecret")
    assert forged.get("/v1/users?scope_id=global").status_code == 401
    _, token = make_user()
    resp = anon.as_token(token).get("/v1/users?scope_id=global")
    assert resp.status_code == 403
    assert resp.json() == {"kind": "PermissionDenied", "message": "Forbidden."}


def test_scopes_crud_and_version_check(admin: Api, project):
    org = admin.ok("GET", f"/v1/scopes/{project['org']}")
    assert org["type"] == "org" and org["scope_id"] == "global"
    assert org["scope"]["id"] == "global"
    proj = admin.ok("GET", f"/v1/scopes/{project['project']}")
    assert proj["scope"]["parent_scope_id"] == "global"
    assert set(proj["authorized_collection_actions"]["targets"]) == {"create", "list"}
    updated = admin.ok(
        "PATCH", f"/v1/scopes/{org['id']}", {"version": org["version"], "description": "prod"}
    )
    assert updated["version"] == org["version"] + 1 and updated["description"] == "prod"
    stale = admin.patch(f"/v1/scopes/{org['id']}", {"version": org["version"], "name": "x"})
    assert stale.status_code == 404
    assert "incorrect version provided" in stale.json()["message"]
    missing = admin.patch(f"/v1/scopes/{org['id']}", {"name": "x"})
    assert missing.status_code == 400
    assert missing.json()["details"]["request_fields"] == [
        {"name": "version", "description": "Required field."}
    ]
    recursive = admin.ok("GET", "/v1/scopes?scope_id=global&recursive=true")["items"]
    assert {project["org"], project["project"]} <= {s["id"] for s in recursive}
    assert admin.delete(f"/v1/scopes/{project['org']}").status_code == 204
    assert admin.get(f"/v1/scopes/{project['project']}").status_code == 404


def test_unknown_ids_are_404_and_malformed_ids_400(admin: Api):
    for path in (
        "/v1/targets/ttcp_0000000000",
        "/v1/users/u_0000000000",
        "/v1/sessions/s_0000000000",
        "/v1/session-recordings/sr_0000000000",
    ):
        resp = admin.get(path)
        assert resp.status_code == 404 and resp.json()["kind"] == "NotFound"
    resp = admin.get("/v1/targets/nonsense")
    assert resp.status_code == 400 and resp.json()["kind"] == "InvalidArgument"
    assert admin.get("/v1/no-such-collection").status_code == 404
    # A Boundary operation the sandbox leaves out says so.
    gap = admin.get("/v1/workers")
    assert gap.status_code == 501 and "sandbox" in gap.json()["message"]


def test_users_groups_members(admin: Api, make_user, project):
    user, _ = make_user()
    assert user["login_name"] and user["primary_account_id"].startswith("acctpw_")
    group = admin.ok("POST", "/v1/groups", {"scope_id": project["org"], "name": "dbas"})
    assert group["id"].startswith("g_")
    added = admin.ok(
        "POST",
        f"/v1/groups/{group['id']}:add-members",
        {"version": group["version"], "member_ids": [user["id"]]},
    )["item"]
    assert added["member_ids"] == [user["id"]]
    assert added["members"] == [{"id": user["id"], "scope_id": "global"}]
    stale = admin.post(
        f"/v1/groups/{group['id']}:remove-members",
        {"version": group["version"], "member_ids": [user["id"]]},
    )
    assert stale.status_code == 500 and stale.json()["kind"] == "Internal"
    removed = admin.ok(
        "POST",
        f"/v1/groups/{group['id']}:remove-members",
        {"version": added["version"], "member_ids": [user["id"]]},
    )["item"]
    assert "member_ids" not in removed  # proto3 JSON leaves empty lists out
    unknown = admin.post(
        f"/v1/groups/{group['id']}:set-members",
        {"version": removed["version"], "member_ids": ["u_0000000000"]},
    )
    assert unknown.status_code == 400


@pytest.mark.parametrize(
    "grant",
    ["foo", "ids=*;actions=read", "type=target;actions=read", "ids=*;type=nope;actions=read",
     "ids=*;type=target;actions=fly", "type=*;actions=list", "ids={{nobody.id}};actions=read",
     "id=ttcp_1234567890;actions=read"],
)  # fmt: skip
def test_malformed_grant_strings_are_rejected(admin: Api, grant: str):
    role = admin.ok("POST", "/v1/roles", {"scope_id": "global", "name": f"r-{abs(hash(grant))}"})
    resp = admin.post(
        f"/v1/roles/{role['id']}:set-grants", {"version": role["version"], "grant_strings": [grant]}
    )
    assert resp.status_code == 400
    field = resp.json()["details"]["request_fields"][0]
    assert field["name"] == "grant_strings"
    assert f'"{grant}"' in field["description"]
    after = admin.ok("GET", f"/v1/roles/{role['id']}")
    assert after["version"] == role["version"] and "grant_strings" not in after


def test_roles_grants_principals_and_grant_scopes(admin: Api, make_user, project):
    user, token = make_user()
    as_user = admin.as_token(token)
    target = admin.ok("POST", "/v1/targets", {
        "scope_id": project["project"], "name": "db", "type": "tcp", "address": "127.0.0.1",
        "attributes": {"default_port": 5432}})  # fmt: skip
    # Listing works (authenticated-user role), authorize-session does not.
    listed = as_user.ok("GET", f"/v1/targets?scope_id={project['project']}")["items"]
    assert listed[0]["authorized_actions"] == ["read"]
    assert as_user.post(f"/v1/targets/{target['id']}:authorize-session").status_code == 403
    role = admin.ok("POST", "/v1/roles", {"scope_id": project["org"], "name": "db-access"})
    assert role["grant_scope_ids"] == ["this"]
    role = admin.ok(
        "POST",
        f"/v1/roles/{role['id']}:set-grant-scopes",
        {"version": role["version"], "grant_scope_ids": ["children"]},
    )["item"]
    role = admin.ok(
        "POST",
        f"/v1/roles/{role['id']}:add-grants",
        {
            "version": role["version"],
            "grant_strings": [
                f"ids={target['id']};actions=read,authorize-session",
                "ids=*;type=target;output_fields=id,name,authorized_actions",
            ],
        },
    )["item"]
    assert role["grants"][0]["json"]["actions"] == ["authorize-session", "read"]
    role = admin.ok(
        "POST",
        f"/v1/roles/{role['id']}:add-principals",
        {"version": role["version"], "principal_ids": [user["id"]]},
    )["item"]
    assert role["principals"] == [{"id": user["id"], "type": "user", "scope_id": "global"}]
    seen = as_user.ok("GET", f"/v1/targets/{target['id']}")
    assert set(seen) == {"id", "name", "authorized_actions"}  # output_fields
    assert "authorize-session" in seen["authorized_actions"]
    bad_scope = admin.post(
        f"/v1/roles/{role['id']}:add-grant-scopes",
        {"version": role["version"], "grant_scope_ids": ["descendants"]},
    )
    assert bad_scope.status_code == 400


def test_hosts_host_sets_and_target_host_sources(admin: Api, project):
    hc = admin.ok(
        "POST",
        "/v1/host-catalogs",
        {"scope_id": project["project"], "type": "static", "name": "hc"},
    )
    assert hc["id"].startswith("hcst_") and hc["type"] == "static"
    host = admin.ok(
        "POST",
        "/v1/hosts",
        {"host_catalog_id": hc["id"], "type": "static", "attributes": {"address": "127.0.0.1"}},
    )
    assert host["id"].startswith("hst_") and host["attributes"] == {"address": "127.0.0.1"}
    hs = admin.ok("POST", "/v1/host-sets", {"host_catalog_id": hc["id"], "type": "static"})
    hs = admin.ok(
        "POST",
        f"/v1/host-sets/{hs['id']}:add-hosts",
        {"version": hs["version"], "host_ids": [host["id"]]},
    )["item"]
    assert hs["host_ids"] == [host["id"]]
    assert admin.ok("GET", f"/v1/hosts/{host['id']}")["host_set_ids"] == [hs["id"]]
    listed = admin.ok("GET", f"/v1/hosts?host_catalog_id={hc['id']}")["items"]
    assert [h["id"] for h in listed] == [host["id"]]
    assert admin.get("/v1/hosts").status_code == 400  # host_catalog_id is required
    target = admin.ok(
        "POST",
        "/v1/targets",
        {
            "scope_id": project["project"],
            "name": "t",
            "type": "tcp",
            "attributes": {"default_port": 22},
        },
    )
    assert target["session_connection_limit"] == -1 and target["session_max_seconds"] == 28800
    target = admin.ok(
        "POST",
        f"/v1/targets/{target['id']}:add-host-sources",
        {"version": target["version"], "host_source_ids": [hs["id"]]},
    )["item"]
    assert target["host_sources"] == [{"id": hs["id"], "host_catalog_id": hc["id"]}]
    auth = admin.ok("POST", f"/v1/targets/{target['id']}:authorize-session")["item"]
    assert auth["endpoint"] == "tcp://127.0.0.1:22" and auth["host_id"] == host["id"]
    assert auth["host_set_id"] == hs["id"]
    conflict = admin.patch(
        f"/v1/targets/{target['id']}", {"version": target["version"], "address": "10.0.0.1"}
    )
    assert conflict.status_code == 400


def test_target_validation_and_uniqueness(admin: Api, project):
    base = {"scope_id": project["project"], "type": "tcp", "name": "dup",
            "address": "127.0.0.1"}  # fmt: skip
    admin.ok("POST", "/v1/targets", base)
    again = admin.post("/v1/targets", base)
    assert again.status_code == 400 and "unique" in again.json()["message"]
    wrong_scope = admin.post("/v1/targets", {**base, "scope_id": project["org"], "name": "x"})
    assert wrong_scope.status_code == 400
    bad_limit = admin.post("/v1/targets", {**base, "name": "y", "session_connection_limit": 0})
    assert bad_limit.status_code == 400
    unknown_field = admin.post("/v1/targets", {**base, "name": "z", "colour": "blue"})
    assert unknown_field.json()["details"]["request_fields"][0]["name"] == "colour"
    assert (
        admin.get(f'/v1/targets?scope_id={project["project"]}&filter="/item/name" == "dup"').json()[
            "est_item_count"
        ]
        == 1
    )


def test_sessions_cancel_and_self_grants(admin: Api, make_user, project):
    user, token = make_user()
    target = admin.ok("POST", "/v1/targets", {
        "scope_id": project["project"], "name": "s", "type": "tcp", "address": "127.0.0.1:9",
        "session_max_seconds": 60})  # fmt: skip
    role = admin.ok("POST", "/v1/roles", {"scope_id": project["project"], "name": "s"})
    role = admin.ok(
        "POST",
        f"/v1/roles/{role['id']}:add-grants",
        {
            "version": role["version"],
            "grant_strings": [f"ids={target['id']};actions=authorize-session"],
        },
    )["item"]
    admin.ok(
        "POST",
        f"/v1/roles/{role['id']}:add-principals",
        {"version": role["version"], "principal_ids": [user["id"]]},
    )
    as_user = admin.as_token(token)
    auth = as_user.ok("POST", f"/v1/targets/{target['id']}:authorize-session")["item"]
    assert auth["user_id"] == user["id"] and auth["endpoint"] == "tcp://127.0.0.1:9"
    sess = as_user.ok("GET", f"/v1/sessions/{auth['session_id']}")
    assert sess["status"] == "pending" and sess["authorized_actions"] == [
        "read:self",
        "cancel:self",
    ]
    admin_session = admin.ok("POST", f"/v1/targets/{target['id']}:authorize-session")["item"]
    assert as_user.get(f"/v1/sessions/{admin_session['session_id']}").status_code == 403
    mine = as_user.ok("GET", f"/v1/sessions?scope_id={project['project']}")["items"]
    assert [s["id"] for s in mine] == [auth["session_id"]]
    canceled = as_user.ok(
        "POST", f"/v1/sessions/{sess['id']}:cancel", {"version": sess["version"]}
    )["item"]
    assert canceled["status"] == "canceling"
    final = admin.ok("GET", f"/v1/sessions/{sess['id']}")
    assert final["status"] == "terminated" and final["termination_reason"] == "canceled"
    assert [s["status"] for s in final["states"]] == ["terminated", "canceling", "pending"]
    live = admin.ok("GET", f"/v1/sessions?scope_id={project['project']}")["items"]
    assert sess["id"] not in [s["id"] for s in live]
    everything = admin.ok(
        "GET", f"/v1/sessions?scope_id={project['project']}&include_terminated=true"
    )["items"]
    assert sess["id"] in [s["id"] for s in everything]


def test_sandbox_reset_restores_dev_state(server, admin: Api):
    org = admin.ok("POST", "/v1/scopes", {"scope_id": "global", "name": "to-forget"})
    client = Api(server.url)
    assert client.post("/sandbox/reset").status_code == 401  # anonymous: refused
    assert admin.get(f"/v1/scopes/{org['id']}").status_code == 200
    assert admin.post("/sandbox/reset").status_code == 204
    # Old tokens are gone; the dev admin can log in again.
    assert admin.get(f"/v1/scopes/{org['id']}").status_code == 404
    from .conftest import login

    admin.token = login(client, "admin", ADMIN_PASSWORD)
    assert admin.get(f"/v1/scopes/{org['id']}").status_code == 404
    assert admin.ok("GET", "/v1/scopes/global")["primary_auth_method_id"] == "ampw_1234567890"
    assert client.get("/sandbox/unimplemented").json()["operations"]
