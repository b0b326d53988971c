"""Setup is idempotent; bad input is refused with a clear error before anything changes; no
secret shows in a repr, the sandbox's logs or ``soa-lab status``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from soa_sdk.access import Access, check_minutes
from soa_sdk.errors import AccessDenied, ValidationError

from .conftest import ADMIN_TARGET, READONLY_TARGET


def _state(access: Access) -> dict:
    """What a rejected call must not change: grants, group members, roles and their grants."""
    admin = access._admin()
    ids = access._lookup()
    groups = {g: admin.read("groups", i, "read")["version"] for g, i in ids.groups.items()}
    scopes = [ids.org_id, *ids.projects.values()]
    roles = {
        r["id"]: (r["version"], tuple(r.get("grant_strings") or []))
        for s in scopes
        for r in admin.list("roles", "list", scope_id=s)
    }
    return {"grants": access.jit.all(), "groups": groups, "roles": roles}


def test_setup_is_idempotent(access: Access):
    again = access.setup()
    assert again.changes == [] and again.database_changes == []
    # Terraform's second plan of both folders is empty.
    assert set(again.terraform) == {"shared_services/vault", "shared_services/boundary"}
    assert all(s.no_changes for s in again.terraform.values())
    assert set(again.targets) == {ADMIN_TARGET, READONLY_TARGET}
    assert set(again.users) == {"alice", "bob", "carol"}
    assert again.storage_bucket_id.startswith("sb_")
    # The talk's shape: an org "prod" with a project per runtime.
    assert {"runtime-ecs"} <= set(again.projects)
    assert all(p.startswith("p_") for p in again.projects.values())
    # Only the auditors are standing members; target groups are just in time.
    admin = access._admin()
    members = {g: admin.read("groups", i, "read").get("member_ids", []) for g, i in
               again.groups.items()}  # fmt: skip
    assert members["auditors"] == [again.users["carol"]]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda a: a.grant_just_in_time("mallory", ADMIN_TARGET, 5), "Unknown user 'mallory'"),
        (lambda a: a.grant_just_in_time("alice", "prod-mainframe", 5), "Unknown target"),
        (lambda a: a.grant_just_in_time("alice", ADMIN_TARGET, 0), "0.05 to 480 minutes"),
        (lambda a: a.grant_just_in_time("alice", ADMIN_TARGET, -1), "0.05 to 480 minutes"),
        (lambda a: a.grant_just_in_time("alice", ADMIN_TARGET, 481), "0.05 to 480 minutes"),
        (lambda a: a.grant_just_in_time("alice", ADMIN_TARGET, float("nan")), "minutes"),
        (lambda a: a.grant_just_in_time("alice", ADMIN_TARGET, "5"), "must be a number"),
        (lambda a: a.grant_just_in_time("alice", ADMIN_TARGET, True), "must be a number"),
        (lambda a: a.login("eve"), "Unknown user 'eve'"),
        (lambda a: a.authorize_session("not-a-token", ADMIN_TARGET), "UserToken"),
        (lambda a: a.ensure_role("staging", "x", ["ids=*;type=target;actions=list"], ["dba"]),
         "Unknown scope 'staging'"),
        (lambda a: a.ensure_role("prod", "x", ["type=target;actions=read,authorize-session"],
                                 ["dba"]), "Malformed grant string"),
        (lambda a: a.ensure_role("prod", "x", ["ids=*;actions=read"], ["dba"]),
         "Malformed grant string"),
        (lambda a: a.ensure_role("prod", "x", ["ids=*;type=target;actions=fly"], ["dba"]),
         'unknown action "fly"'),
        (lambda a: a.ensure_role("prod", "x", ["garbage"], ["dba"]), "Malformed grant string"),
        (lambda a: a.ensure_role("prod", "x", [], ["dba"]), "non-empty list"),
        (lambda a: a.ensure_role("prod", "x", ["ids=*;type=target;actions=list"], ["ops"]),
         "Unknown group"),
        (lambda a: a.replay("s_1234567890", None), "UserToken"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_and_changes_nothing(fresh: Access, call, message):
    before = _state(fresh)
    with pytest.raises(ValidationError, match=message):
        call(fresh)
    assert _state(fresh) == before


def test_ineligible_grant_is_denied_and_changes_nothing(fresh: Access):
    """bob may join only 'developers'; the admin target is open to 'dba' alone."""
    before = _state(fresh)
    with pytest.raises(AccessDenied, match="bob cannot be granted prod-postgres-admin"):
        fresh.grant_just_in_time("bob", ADMIN_TARGET, 5)
    assert _state(fresh) == before


def test_a_well_formed_role_is_created_once(fresh: Access):
    grants = ["ids=*;type=session;actions=list,read"]
    role_id = fresh.ensure_role("runtime-ecs", "session-viewers", grants, ["dba"])
    assert fresh.ensure_role("runtime-ecs", "session-viewers", grants, ["dba"]) == role_id
    role = fresh._admin().read("roles", role_id, "read")
    assert role["grant_strings"] == grants
    assert role["principal_ids"] == [fresh._lookup().groups["dba"]]
    fresh._admin().delete("roles", role_id, "clean up")


def test_minutes_bounds():
    assert check_minutes(0.05) == 0.05 and check_minutes(480) == 480.0
    with pytest.raises(ValidationError):
        check_minutes(0.04)


def test_no_secret_in_reprs_logs_or_status(fresh: Access, sandbox):
    grant = fresh.grant_just_in_time("alice", READONLY_TARGET, 1)
    alice = fresh.login("alice")
    auth = fresh.authorize_session(alice, READONLY_TARGET)
    fresh.run_queries(auth, ["SELECT 1"])
    fresh.revoke(auth)
    cred = auth.credentials[0]
    user_passwords = [fresh.ctx.password(u.name) for u in fresh.spec.users]
    secret_values = {
        **{name: value for name, value in sandbox.secrets.items()},
        "alice token": alice.token,
        "authorization token": auth.authorization_token,
        "brokered password": cred.password,
        "admin token": fresh._admin()._token,
        **{f"password {i}": p for i, p in enumerate(user_passwords)},
    }
    shown = " ".join(repr(x) for x in (alice, auth, cred, grant, fresh, fresh._admin()))
    status = subprocess.run(
        [sys.executable, "-m", "soa_sdk.cli", "status"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "SOA_LAB_HOME": str(sandbox.home)},
    )  # fmt: skip
    status_json = subprocess.run(
        [sys.executable, "-m", "soa_sdk.cli", "status", "--json"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "SOA_LAB_HOME": str(sandbox.home)},
    )  # fmt: skip
    assert status.returncode == 0, status.stderr
    assert "boundary" in status.stdout
    logs = sorted((sandbox.home / "logs").glob("*.log"))
    assert any(p.name == "boundary.log" for p in logs)
    texts = {"reprs": shown, "status": status.stdout + status.stderr,
             "status --json": status_json.stdout + status_json.stderr}  # fmt: skip
    texts |= {p.name: p.read_text(errors="replace") for p in logs}
    for where, text in texts.items():
        for name, value in secret_values.items():
            assert value and value not in text, f"{where} shows the {name}"


def test_vault_log_hides_the_dev_banners_root_token_and_unseal_key(sandbox):
    log = (sandbox.home / "logs" / "vault.log").read_text(errors="replace")
    assert sandbox.secret("vault_root_token") not in log
    banner = [line for line in log.splitlines() if line.startswith(("Root Token:", "Unseal Key:"))]
    assert banner and all(set(line.split(": ", 1)[1]) == {"*"} for line in banner)
