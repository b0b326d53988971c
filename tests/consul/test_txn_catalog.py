"""/v1/txn Node, Service, Check and Session operations (Consul's state/txn.go), through
python-consul2's txn.put and raw HTTP for the error bodies."""

from __future__ import annotations

from typing import Any as Running

import consul

NODE = {"Node": "ext-db", "Address": "10.0.0.5", "Meta": {"zone": "a"}}
SERVICE = {"ID": "pg-1", "Service": "postgres", "Port": 5432, "Tags": ["primary"]}


ROOT = object()  # the management token, unless a test names another (None: anonymous)


def _txn(cs: Running, ops: list, token: object = ROOT) -> tuple[int, dict]:
    r = cs.http("PUT", "/v1/txn", token=cs.root if token is ROOT else token, json=ops)
    return r.status_code, r.json()


def test_register_a_node_service_and_check_at_once(cs: Running, root: consul.Consul) -> None:
    out = root.txn.put(
        [
            {"Node": {"Verb": "set", "Node": NODE}},
            {"Service": {"Verb": "set", "Node": "ext-db", "Service": SERVICE}},
            {
                "Check": {
                    "Verb": "set",
                    "Check": {
                        "Node": "ext-db",
                        "CheckID": "pg-alive",
                        "Name": "postgres alive",
                        "Status": "passing",
                        "ServiceID": "pg-1",
                    },
                }
            },
        ]
    )
    assert out["Errors"] is None
    kinds = ("Node", "Service", "Check")
    node, svc, chk = (r[k] for r, k in zip(out["Results"], kinds, strict=True))
    assert node["Node"] == "ext-db" and node["Meta"] == {"zone": "a"} and node["ModifyIndex"] > 0
    assert svc["ID"] == "pg-1" and svc["Service"] == "postgres" and svc["Port"] == 5432
    assert chk["CheckID"] == "pg-alive" and chk["ServiceName"] == "postgres"
    # the catalog shows them, with one index for the whole transaction
    _, entries = root.health.service("postgres", passing=True)
    assert [e["Node"]["Node"] for e in entries] == ["ext-db"]
    assert node["ModifyIndex"] == svc["ModifyIndex"] == chk["ModifyIndex"]
    # reads
    out = root.txn.put(
        [
            {"Node": {"Verb": "get", "Node": {"Node": "ext-db"}}},
            {"Service": {"Verb": "get", "Node": "ext-db", "Service": {"ID": "pg-1"}}},
            {"Check": {"Verb": "get", "Check": {"Node": "ext-db", "CheckID": "pg-alive"}}},
        ]
    )
    assert [list(r) for r in out["Results"]] == [["Node"], ["Service"], ["Check"]]


def test_cas_and_delete(cs: Running, root: consul.Consul) -> None:
    index = root.txn.put([{"Node": {"Verb": "set", "Node": NODE}}])["Results"][0]["Node"][
        "ModifyIndex"
    ]
    stale = {**NODE, "ModifyIndex": index + 50}
    code, body = _txn(cs, [{"Node": {"Verb": "cas", "Node": stale}}])
    assert code == 409
    assert body == {
        "Results": None,
        "Errors": [{"OpIndex": 0, "What": 'failed to set node "ext-db", index is stale'}],
    }
    fresh = {**NODE, "Address": "10.0.0.6", "ModifyIndex": index}
    code, body = _txn(cs, [{"Node": {"Verb": "cas", "Node": fresh}}])
    assert code == 200 and body["Results"][0]["Node"]["Address"] == "10.0.0.6"
    root.txn.put([{"Service": {"Verb": "set", "Node": "ext-db", "Service": SERVICE}}])
    code, body = _txn(
        cs, [{"Service": {"Verb": "delete-cas", "Node": "ext-db", "Service": {"ID": "pg-1"}}}]
    )
    assert body["Errors"][0]["What"] == (
        'failed to delete service "pg-1" on node "ext-db", index is stale'
    )
    # deleting the node takes its services along
    assert (
        root.txn.put([{"Node": {"Verb": "delete", "Node": {"Node": "ext-db"}}}])["Errors"] is None
    )
    assert root.catalog.node("ext-db")[1] is None
    assert root.catalog.service("postgres")[1] == []


def test_a_failing_operation_rolls_everything_back(cs: Running, root: consul.Consul) -> None:
    root.kv.put("cfg/x", "old")
    before = cs.backend.index
    code, body = _txn(
        cs,
        [
            {"Node": {"Verb": "set", "Node": NODE}},
            {"KV": {"Verb": "set", "Key": "cfg/x", "Value": "bmV3"}},
            {"Service": {"Verb": "set", "Node": "ghost", "Service": SERVICE}},
            {"Check": {"Verb": "get", "Check": {"Node": "ext-db", "CheckID": "nope"}}},
        ],
    )
    assert code == 409
    assert body["Errors"] == [
        {"OpIndex": 2, "What": "failed inserting service: Missing node registration"},
        {"OpIndex": 3, "What": 'check "nope" on node "ext-db" doesn\'t exist'},
    ]
    assert root.catalog.node("ext-db")[1] is None
    assert root.kv.get("cfg/x")[1]["Value"] == b"old"
    assert cs.backend.index == before  # nothing committed
    code, body = _txn(
        cs,
        [
            {"Node": {"Verb": "set", "Node": NODE}},
            {
                "Check": {
                    "Verb": "set",
                    "Check": {"Node": "ext-db", "CheckID": "c", "ServiceID": "x"},
                }
            },
        ],
    )
    assert body["Errors"] == [{"OpIndex": 1, "What": "Missing service registration"}]


def test_a_rolled_back_delete_keeps_the_agents_checks_running(
    cs: Running, root: consul.Consul
) -> None:
    root.agent.service.register("web", service_id="web-1", port=80, check=consul.Check.ttl("60s"))
    code, _ = _txn(
        cs,
        [
            {"Node": {"Verb": "delete", "Node": {"Node": "sandbox"}}},
            {"Node": {"Verb": "get", "Node": {"Node": "nope"}}},
        ],
    )
    assert code == 409
    assert "web-1" in root.agent.services()
    root.agent.check.ttl_pass("service:web-1")
    assert root.agent.checks()["service:web-1"]["Status"] == "passing"


def test_session_delete_releases_its_locks(cs: Running, root: consul.Consul) -> None:
    sid = root.session.create(lock_delay=0)
    assert root.kv.put("svc/leader", "me", acquire=sid)
    out = root.txn.put([{"Session": {"Verb": "delete", "Session": {"ID": sid}}}])
    assert out == {"Results": [], "Errors": None}
    assert root.session.info(sid)[1] is None
    assert "Session" not in root.kv.get("svc/leader")[1]
    code, body = _txn(cs, [{"Session": {"Verb": "renew", "Session": {"ID": sid}}}])
    assert code == 409 and body["Errors"] == [
        {"OpIndex": 0, "What": 'unknown Session verb "renew"'}
    ]


def test_catalog_operations_need_their_acls(cs: Running, root: consul.Consul) -> None:
    anon = None  # no token: the anonymous token, default deny
    code, body = _txn(cs, [{"Node": {"Verb": "set", "Node": NODE}}], token=anon)
    assert (
        code == 409 and "lacks permission 'node:write' on \"ext-db\"" in body["Errors"][0]["What"]
    )
    code, body = _txn(
        cs, [{"Service": {"Verb": "set", "Node": "ext-db", "Service": SERVICE}}], token=anon
    )
    assert "'service:write' on \"postgres\"" in body["Errors"][0]["What"]
    sid = root.session.create(lock_delay=0)
    code, body = _txn(cs, [{"Session": {"Verb": "delete", "Session": {"ID": sid}}}], token=anon)
    assert code == 409 and "'session:write' on \"sandbox\"" in body["Errors"][0]["What"]
    assert root.session.info(sid)[1] is not None
    # input errors of the pre-check
    code, body = _txn(cs, [{"Node": {"Verb": "set", "Node": {"Address": "1.2.3.4"}}}])
    assert body["Errors"] == [{"OpIndex": 0, "What": "Must provide node"}]
    code, body = _txn(cs, [{"Node": {"Verb": "set", "Node": {**NODE, "ID": "nope"}}}])
    assert body["Errors"][0]["What"].startswith("Bad node ID: ")
    code, body = _txn(cs, [{"Service": {"Verb": "set", "Node": "n", "Service": {"ID": "x"}}}])
    assert body["Errors"] == [{"OpIndex": 0, "What": "Must provide service name with ID"}]
    # reads the token may not see are left out of the results, not refused
    root.txn.put([{"Node": {"Verb": "set", "Node": NODE}}])
    r = cs.http("PUT", "/v1/txn", token=None, json=[{"Node": {"Verb": "get", "Node": NODE}}])
    assert (r.status_code, r.json()) == (200, {"Results": [], "Errors": None})
