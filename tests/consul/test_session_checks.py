"""A session ends when one of its checks turns critical or goes (Consul's ensureCheckTxn /
deleteCheckTxn): its locks released or deleted per Behavior, lock-delay applied."""

from __future__ import annotations

import time
from typing import Any as Running

import consul


def _ttl_check(root: consul.Consul, check_id: str) -> None:
    root.agent.check.register(check_id, check_id=check_id, check=consul.Check.ttl("60s"))
    root.agent.check.ttl_pass(check_id)


def test_critical_check_releases_the_lock(cs: Running, root: consul.Consul) -> None:
    _ttl_check(root, "leader-alive")
    sid = root.session.create(name="leader", checks=["serfHealth", "leader-alive"], lock_delay=0)
    assert root.kv.put("svc/leader", "me", acquire=sid) is True
    root.agent.check.ttl_warn("leader-alive")  # warning keeps the session
    assert root.session.info(sid)[1] is not None
    root.agent.check.ttl_fail("leader-alive")
    assert root.session.info(sid)[1] is None
    _, entry = root.kv.get("svc/leader")
    assert "Session" not in entry and entry["Value"] == b"me" and entry["LockIndex"] == 1
    # and a new session can take the lock (lock-delay 0)
    _ttl_check(root, "other-alive")
    other = root.session.create(checks=["other-alive"], lock_delay=0)
    assert root.kv.put("svc/leader", "other", acquire=other) is True


def test_critical_check_deletes_keys_of_delete_sessions(cs: Running, root: consul.Consul) -> None:
    _ttl_check(root, "worker-alive")
    sid = root.session.create(checks=["worker-alive"], behavior="delete", lock_delay=0)
    assert root.kv.put("workers/w1", "busy", acquire=sid) is True
    index = root.kv.get("workers/w1")[1]["ModifyIndex"]
    root.agent.check.ttl_fail("worker-alive")
    assert root.session.info(sid)[1] is None and root.kv.get("workers/w1")[1] is None
    # ended in the same write as the check: one index for the check, the session and the key
    assert cs.backend.table_index("sessions") == cs.backend.table_index("checks") > index


def test_lock_delay_after_invalidation(cs: Running, root: consul.Consul) -> None:
    _ttl_check(root, "a-alive")
    a = root.session.create(checks=["a-alive"], lock_delay=30)
    b = root.session.create(lock_delay=0)
    assert root.kv.put("svc/lock", "a", acquire=a) is True
    root.agent.check.ttl_fail("a-alive")
    assert root.session.info(a)[1] is None
    assert root.kv.put("svc/lock", "b", acquire=b) is False  # held back by a's lock-delay


def test_deregistered_check_ends_the_session(cs: Running, root: consul.Consul) -> None:
    _ttl_check(root, "tmp-alive")
    sid = root.session.create(checks=["tmp-alive"], lock_delay=0)
    keep = root.session.create(lock_delay=0)  # on serfHealth only
    root.agent.check.deregister("tmp-alive")
    assert root.session.info(sid)[1] is None
    assert root.session.info(keep)[1] is not None


def test_service_check_of_a_session(cs: Running, root: consul.Consul) -> None:
    root.agent.service.register("web", service_id="web-1", port=80, check=consul.Check.ttl("60s"))
    root.agent.check.ttl_pass("service:web-1")
    r = cs.http(
        "PUT",
        "/v1/session/create",
        json={"NodeChecks": [], "ServiceChecks": [{"ID": "service:web-1"}], "LockDelay": "0s"},
    )
    sid = r.json()["ID"]
    root.agent.check.ttl_pass("service:web-1")
    assert root.session.info(sid)[1] is not None
    root.agent.check.ttl_fail("service:web-1")
    assert root.session.info(sid)[1] is None


def test_check_runner_expiry_ends_the_session(cs: Running, root: consul.Consul) -> None:
    """The TTL check expires by itself (the check runner marks it critical)."""
    root.agent.check.register("short", check_id="short", check=consul.Check.ttl("1s"))
    root.agent.check.ttl_pass("short")
    sid = root.session.create(checks=["short"], lock_delay=0)
    deadline = time.monotonic() + 10
    while root.session.info(sid)[1] is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert root.agent.checks()["short"]["Status"] == "critical"
    assert root.session.info(sid)[1] is None


def test_maintenance_on_a_session_check_node(cs: Running, root: consul.Consul) -> None:
    """Node maintenance adds a critical node check; sessions not tied to it stay."""
    sid = root.session.create(lock_delay=0)
    assert cs.http("PUT", "/v1/agent/maintenance", params={"enable": "true"}).status_code == 200
    assert root.session.info(sid)[1] is not None
