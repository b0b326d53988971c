"""Sessions and KV locks, /v1/txn, events, coordinates, operator, snapshot, agent operations
(issue 16, second part), through python-consul2 where it has a method."""

from __future__ import annotations

import base64
import time
from typing import Any as Running

import consul
import pytest


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_session_lifecycle(cs: Running, root: consul.Consul) -> None:
    sid = root.session.create(name="leader", ttl=10, lock_delay=0)
    _, info = root.session.info(sid)
    assert info["Name"] == "leader" and info["TTL"] == "10s" and info["Behavior"] == "release"
    assert info["NodeChecks"] == ["serfHealth"] and info["Node"] == "sandbox"
    assert [s["ID"] for s in root.session.list()[1]] == [sid]
    assert [s["ID"] for s in root.session.node("sandbox")[1]] == [sid]
    assert root.session.renew(sid)["ID"] == sid
    assert root.session.destroy(sid) is True
    assert root.session.info(sid)[1] is None
    r = cs.http("PUT", f"/v1/session/renew/{sid}")
    assert (r.status_code, r.text) == (404, f"Session id '{sid}' not found")


def test_session_errors(cs: Running) -> None:
    r = cs.http("PUT", "/v1/session/create", json={"TTL": "5s"})
    assert r.status_code == 400 and "Invalid Session TTL '5s'" in r.text
    r = cs.http("PUT", "/v1/session/create", json={"Behavior": "explode"})
    assert r.status_code == 400
    r = cs.http("PUT", "/v1/session/create", json={"Node": "ghost"})
    assert (r.status_code, r.text) == (500, "Missing node registration")
    r = cs.http("PUT", "/v1/session/create", json={"Checks": ["nope"]})
    assert (r.status_code, r.text) == (500, "Missing check 'nope' registration")
    anon = cs.http("PUT", "/v1/session/create", token=None, json={})
    assert anon.status_code == 403


def test_kv_acquire_release_and_lock_delay(cs: Running, root: consul.Consul) -> None:
    a = root.session.create(lock_delay=0)
    b = root.session.create(lock_delay=0)
    assert root.kv.put("svc/leader", "a", acquire=a) is True
    assert root.kv.put("svc/leader", "b", acquire=b) is False
    _, entry = root.kv.get("svc/leader")
    assert entry["Session"] == a and entry["LockIndex"] == 1 and entry["Value"] == b"a"
    assert root.kv.put("svc/leader", "a2", acquire=a) is True  # re-acquire: same LockIndex
    assert root.kv.get("svc/leader")[1]["LockIndex"] == 1
    assert root.kv.put("svc/leader", "x", release=b) is False
    assert root.kv.put("svc/leader", "free", release=a) is True
    assert "Session" not in root.kv.get("svc/leader")[1]
    assert root.kv.put("svc/leader", "b", acquire=b) is True
    assert root.kv.get("svc/leader")[1]["LockIndex"] == 2
    # a destroyed session's locks are released and held back for its lock-delay
    c = root.session.create(lock_delay=30)
    assert root.kv.put("svc/other", "c", acquire=c) is True
    root.session.destroy(c)
    assert "Session" not in root.kv.get("svc/other")[1]
    assert root.kv.put("svc/other", "a", acquire=a) is False
    r = cs.http("PUT", "/v1/kv/svc/x?acquire=6a1253d2-1785-24fd-91c2-f8e78c745511", data=b"v")
    assert r.status_code == 500 and "invalid session" in r.text


def test_session_behavior_delete(cs: Running, root: consul.Consul) -> None:
    sid = root.session.create(behavior="delete", lock_delay=0)
    assert root.kv.put("eph/key", "v", acquire=sid)
    root.session.destroy(sid)
    assert root.kv.get("eph/key")[1] is None


def test_session_ttl_expires(cs: Running, root: consul.Consul) -> None:
    sid = root.session.create(ttl=10, lock_delay=0)
    assert root.kv.put("ttl/key", "v", acquire=sid)
    # Consul ends a session at twice its TTL; move its deadline instead of waiting 20s
    with cs.backend._lock:
        cs.backend._session_deadlines[("default", sid)] = time.monotonic()
        cs.backend._schedule_reaper()
    deadline = time.monotonic() + 10
    while root.session.info(sid)[1] is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert root.session.info(sid)[1] is None
    assert "Session" not in root.kv.get("ttl/key")[1]


def test_txn(cs: Running, root: consul.Consul) -> None:
    out = root.txn.put(
        [
            {"KV": {"Verb": "set", "Key": "t/a", "Value": _b64("1")}},
            {"KV": {"Verb": "set", "Key": "t/b", "Value": _b64("2")}},
            {"KV": {"Verb": "get", "Key": "t/a"}},
        ]
    )
    assert out["Errors"] is None
    assert [r["KV"]["Key"] for r in out["Results"]] == ["t/a", "t/b", "t/a"]
    assert out["Results"][0]["KV"]["Value"] is None and out["Results"][2]["KV"]["Value"] == _b64(
        "1"
    )
    index = root.kv.get("t/a")[1]["ModifyIndex"]
    # all or nothing: a stale cas rolls back the set before it
    r = cs.http(
        "PUT",
        "/v1/txn",
        json=[
            {"KV": {"Verb": "set", "Key": "t/c", "Value": _b64("3")}},
            {"KV": {"Verb": "cas", "Key": "t/a", "Value": _b64("9"), "Index": index + 100}},
        ],
    )
    assert r.status_code == 409
    assert r.json() == {
        "Results": None,
        "Errors": [{"OpIndex": 1, "What": 'failed to set key "t/a", index is stale'}],
    }
    assert root.kv.get("t/c")[1] is None
    r = cs.http("PUT", "/v1/txn", json=[{"KV": {"Verb": "get-tree", "Key": "t/"}}])
    assert [x["KV"]["Key"] for x in r.json()["Results"]] == ["t/a", "t/b"]
    r = cs.http("PUT", "/v1/txn", json=[{"KV": {"Verb": "delete-tree", "Key": "t/"}}])
    assert r.status_code == 200 and root.kv.get("t/a")[1] is None


def test_txn_limits_and_errors(cs: Running) -> None:
    ops = [{"KV": {"Verb": "get", "Key": f"k{i}"}} for i in range(129)]
    r = cs.http("PUT", "/v1/txn", json=ops)
    assert (r.status_code, r.text) == (413, "Transaction contains too many operations (129 > 128)")
    r = cs.http("PUT", "/v1/txn", data=b"x" * (512 * 1024 + 1))
    assert r.status_code == 413
    r = cs.http("PUT", "/v1/txn", json=[{"KV": {"Verb": "explode", "Key": "k"}}])
    assert r.status_code == 409 and r.json()["Errors"][0]["What"] == 'unknown KV verb "explode"'
    r = cs.http("PUT", "/v1/txn", json=[{"Node": {"Verb": "get"}}])
    assert r.status_code == 409 and r.json()["Errors"][0]["What"] == 'node "" doesn\'t exist'
    r = cs.http("PUT", "/v1/txn", json=[{"KV": {"Verb": "get", "Key": "k"}, "Node": {}}])
    assert r.status_code == 400 and "must be exactly one of" in r.text
    denied = cs.http(
        "PUT", "/v1/txn", token=None, json=[{"KV": {"Verb": "set", "Key": "k", "Value": ""}}]
    )
    # Consul's preCheck: acl.PermissionDeniedError's text for each refused operation
    assert denied.status_code == 409
    assert denied.json()["Errors"][0]["What"].startswith(
        "Permission denied: anonymous token lacks permission 'key:write' on \"k\""
    )


def test_events(cs: Running, root: consul.Consul) -> None:
    assert root.event.fire("deploy", body="v2")["Name"] == "deploy"
    _, events = root.event.list(name="deploy")
    assert [(e["Name"], base64.b64decode(e["Payload"])) for e in events] == [("deploy", b"v2")]
    assert events[0]["Version"] == 1 and events[0]["LTime"] == 1
    r = cs.http("PUT", "/v1/event/fire/x", params={"tag": "t"})
    assert r.status_code == 400
    assert cs.http("PUT", "/v1/event/fire/x", token=None).status_code == 403


def test_coordinates(cs: Running, root: consul.Consul) -> None:
    dcs = root.coordinate.datacenters()
    assert dcs[0]["Datacenter"] == "dc1" and len(dcs[0]["Coordinates"]) == 1
    nodes = cs.http("GET", "/v1/coordinate/nodes").json()
    assert [n["Node"] for n in nodes] == ["sandbox"] and len(nodes[0]["Coord"]["Vec"]) == 8
    coord = {"Vec": [0.1] * 8, "Error": 0.5, "Adjustment": 0.0, "Height": 0.0001}
    r = cs.http("PUT", "/v1/coordinate/update", json={"Node": "sandbox", "Coord": coord})
    assert r.status_code == 200 and r.json() is True
    r = cs.http("GET", "/v1/coordinate/node/sandbox")
    assert r.json()[0]["Coord"]["Vec"] == [0.1] * 8
    assert cs.http("GET", "/v1/coordinate/node/ghost").status_code == 404
    # Coordinate.Update: the coordinate is validated (an RPC error) before the token.
    bad = cs.http("PUT", "/v1/coordinate/update", json={"Node": "sandbox", "Coord": {"Vec": []}})
    assert (bad.status_code, bad.text) == (500, "invalid coordinate")
    body = {"Node": "sandbox", "Coord": coord}
    denied = cs.http("PUT", "/v1/coordinate/update", token=None, json=body)
    assert denied.status_code == 403 and "'node:write' on \"sandbox\"" in denied.text
    # Coordinate.Node checks node:read on the node before looking: 403, not 404.
    denied = cs.http("GET", "/v1/coordinate/node/sandbox", token=None)
    assert denied.status_code == 403 and "'node:read' on \"sandbox\"" in denied.text
    # ACL Required: none (Coordinate.ListDatacenters resolves no token)
    assert cs.http("GET", "/v1/coordinate/datacenters", token=None).status_code == 200


def test_operator(cs: Running, root: consul.Consul) -> None:
    raft = root.operator.raft_config()
    assert [(s["Node"], s["Leader"], s["Voter"]) for s in raft["Servers"]] == [
        ("sandbox", True, True)
    ]
    health = cs.http("GET", "/v1/operator/autopilot/health").json()
    assert health["Healthy"] is True and health["FailureTolerance"] == 0
    conf = cs.http("GET", "/v1/operator/autopilot/configuration").json()
    assert conf["CleanupDeadServers"] is True
    r = cs.http(
        "PUT",
        "/v1/operator/autopilot/configuration",
        params={"cas": conf["ModifyIndex"] + 50},
        json={**conf, "MaxTrailingLogs": 10},
    )
    assert r.json() is False
    r = cs.http(
        "PUT",
        "/v1/operator/autopilot/configuration",
        params={"cas": conf["ModifyIndex"]},
        json={**conf, "MaxTrailingLogs": 10},
    )
    assert r.json() is True
    assert cs.http("GET", "/v1/operator/autopilot/configuration").json()["MaxTrailingLogs"] == 10
    state = cs.http("GET", "/v1/operator/autopilot/state").json()
    assert state["Voters"] == [state["Leader"]]
    keys = cs.http("GET", "/v1/operator/keyring").json()
    assert sorted(k["WAN"] for k in keys) == [False, True] and all(k["Keys"] == {} for k in keys)
    assert cs.http("POST", "/v1/operator/keyring", json={"Key": "x"}).status_code == 500
    root.agent.service.register("web", port=80)
    usage = cs.http("GET", "/v1/operator/usage").json()["Usage"]["dc1"]
    assert usage["Services"] == 2 and usage["ServiceInstances"] == 2  # web and consul
    assert cs.http("GET", "/v1/operator/raft/configuration", token=None).status_code == 403


def test_snapshot_restore_reproduces_state(cs: Running, root: consul.Consul) -> None:
    root.kv.put("app/config", "v1")
    root.agent.service.register("web", service_id="web-1", port=80, tags=["blue"])
    policy = root.acl.policy.create("reader", rules='key_prefix "" { policy = "read" }')
    token = root.acl.tokens.create({"Policies": [{"ID": policy["ID"]}]})
    sid = root.session.create(lock_delay=0)
    root.kv.put("app/lock", "me", acquire=sid)
    r = cs.http("GET", "/v1/snapshot")
    assert r.status_code == 200 and r.content[:2] == b"\x1f\x8b"
    saved = r.content
    before = {
        "kv": root.kv.get("app", recurse=True)[1],
        "services": root.agent.services(),
        "tokens": root.acl.tokens.list(),
        "sessions": root.session.list()[1],
    }
    root.kv.put("app/config", "v2")
    root.kv.delete("app/lock")
    root.agent.service.deregister("web-1")
    root.acl.tokens.delete(token["AccessorID"])
    index = int(cs.http("GET", "/v1/kv/app/config").headers["X-Consul-Index"])
    r = cs.http("PUT", "/v1/snapshot", data=saved)
    assert r.status_code == 200, r.text
    after = {
        "kv": root.kv.get("app", recurse=True)[1],
        "services": root.agent.services(),
        "tokens": root.acl.tokens.list(),
        "sessions": root.session.list()[1],
    }
    assert after == before
    assert cs.client(token["SecretID"]).kv.get("app/config")[1]["Value"] == b"v1"
    assert int(cs.http("GET", "/v1/kv/app/config").headers["X-Consul-Index"]) > index
    r = cs.http("PUT", "/v1/snapshot", data=b"not a snapshot")
    assert r.status_code == 500 and r.text.startswith("failed to read snapshot file")
    assert cs.http("GET", "/v1/snapshot", token=None).status_code == 403


def test_agent_maintenance(cs: Running, root: consul.Consul) -> None:
    root.agent.service.register("web", service_id="web-1", port=80)
    assert root.agent.maintenance("true", "patching")
    chk = root.agent.checks()["_node_maintenance"]
    assert chk["Status"] == "critical" and chk["Notes"] == "patching"
    assert root.agent.maintenance("false")
    assert "_node_maintenance" not in root.agent.checks()
    assert root.agent.service.maintenance("web-1", "true")
    assert root.agent.checks()["_service_maintenance:web-1"]["ServiceID"] == "web-1"
    assert root.health.service("web", passing=True)[1] == []
    r = cs.http("PUT", "/v1/agent/service/maintenance/ghost", params={"enable": "true"})
    assert (r.status_code, r.text) == (404, 'No service registered with ID "ghost"')
    r = cs.http("PUT", "/v1/agent/maintenance")
    assert (r.status_code, r.text) == (400, "Bad request: Missing value for enable")


def test_agent_operations(cs: Running, root: consul.Consul) -> None:
    assert cs.http("PUT", "/v1/agent/reload").status_code == 200
    assert cs.http("PUT", "/v1/agent/reload", token=None).status_code == 403
    metrics = cs.http("GET", "/v1/agent/metrics").json()
    assert {"Timestamp", "Gauges", "Counters", "Samples", "Points"} <= set(metrics)
    prom = cs.http("GET", "/v1/agent/metrics", params={"format": "prometheus"})
    assert prom.headers["Content-Type"].startswith("text/plain") and "# TYPE" in prom.text
    mon = cs.http("GET", "/v1/agent/monitor", params={"loglevel": "debug"})
    assert mon.status_code == 200 and "[INFO]" in mon.text
    assert cs.http("GET", "/v1/agent/monitor", params={"loglevel": "loud"}).status_code == 400
    assert root.agent.force_leave("sandbox")
    r = cs.http("PUT", "/v1/agent/force-leave/ghost")
    assert (r.status_code, r.text) == (500, "agent: No node found with name 'ghost'")
    assert cs.http("PUT", "/v1/agent/leave").status_code == 200
    r = cs.http("PUT", "/v1/agent/token/bogus", json={"Token": "x"})
    assert (r.status_code, r.text) == (404, 'Token "bogus" is unknown')


@pytest.mark.parametrize("kind", ["default", "agent", "replication"])
def test_agent_token(cs: Running, root: consul.Consul, kind: str) -> None:
    policy = root.acl.policy.create(f"kv-{kind}", rules='key_prefix "" { policy = "read" }')
    token = root.acl.tokens.create({"Policies": [{"ID": policy["ID"]}]})
    root.kv.put("k", "v")
    r = cs.http("PUT", f"/v1/agent/token/{kind}", json={"Token": token["SecretID"]})
    assert r.status_code == 200
    anonymous = cs.http("GET", "/v1/kv/k", token=None).status_code
    # only the default token stands in for requests that carry none
    assert anonymous == (200 if kind == "default" else 403)
