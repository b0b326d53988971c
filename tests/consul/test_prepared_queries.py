"""Prepared queries (/v1/query*): definitions, ACLs, templates, execution and explain,
through python-consul2's query API and raw HTTP for the error bodies."""

from __future__ import annotations

from typing import Any as Running

import consul
import pytest


def _register(cs: Running, sid: str, name: str, tags: list[str], status: str) -> None:
    body = {
        "Name": name,
        "ID": sid,
        "Port": 80,
        "Tags": tags,
        "Meta": {"env": "prod" if "primary" in tags else "dev"},
        "Check": {"TTL": "60s", "Status": status},
    }
    assert cs.http("PUT", "/v1/agent/service/register", json=body).status_code == 200


@pytest.fixture
def redis(cs: Running) -> Running:
    _register(cs, "redis-1", "redis", ["primary"], "passing")
    _register(cs, "redis-2", "redis", ["replica"], "warning")
    _register(cs, "redis-3", "redis", ["replica", "experimental"], "critical")
    return cs


def _ids(result: dict) -> list[str]:
    return sorted(n["Service"]["ID"] for n in result["Nodes"])


def test_create_get_list_update_delete(redis: Running, root: consul.Consul) -> None:
    created = root.query.create("redis", name="cache", tags=["primary"], ttl="10s")
    qid = created["ID"]
    [query] = root.query.get(qid)
    assert query["Name"] == "cache" and query["Service"]["Service"] == "redis"
    assert query["Service"]["Tags"] == ["primary"] and query["DNS"] == {"TTL": "10s"}
    assert query["CreateIndex"] == query["ModifyIndex"] > 0
    # python-consul2 sends the client's token as the query's; a management caller sees it
    assert query["Token"] == cs_token(root)
    assert [q["ID"] for q in root.query.list()] == [qid]
    assert root.query.update(qid, "redis", name="cache", tags=["replica"]) is True
    assert root.query.get(qid)[0]["Service"]["Tags"] == ["replica"]
    assert root.query.delete(qid) is True
    assert root.query.list() == []
    r = redis.http("GET", f"/v1/query/{qid}")
    assert (r.status_code, r.text) == (404, "Query not found")
    r = redis.http("DELETE", f"/v1/query/{qid}")
    assert (r.status_code, r.text) == (500, f"Cannot modify non-existent prepared query: '{qid}'")


def cs_token(client: consul.Consul) -> str:
    return client.token  # type: ignore[no-any-return]


def test_execute_filters_health_tags_and_meta(redis: Running, root: consul.Consul) -> None:
    cs = redis

    def make(service: dict, name: str) -> str:
        r = cs.http("POST", "/v1/query", json={"Name": name, "Service": service})
        assert r.status_code == 200, r.text
        return r.json()["ID"]

    make({"Service": "redis"}, "all")
    result = root.query.execute("all")
    # the critical instance is left out; warning stays unless OnlyPassing
    assert _ids(result) == ["redis-1", "redis-2"]
    assert result["Service"] == "redis" and result["Datacenter"] == "dc1"
    assert result["Failovers"] == 0 and result["DNS"] == {"TTL": ""}
    entry = next(n for n in result["Nodes"] if n["Service"]["ID"] == "redis-1")
    assert entry["Node"]["Node"] == "sandbox" and entry["Checks"]
    qid = make({"Service": "redis", "OnlyPassing": True}, "passing")
    assert _ids(root.query.execute(qid)) == ["redis-1"]  # by ID too
    make({"Service": "redis", "Tags": ["replica", "!experimental"]}, "replicas")
    assert _ids(root.query.execute("replicas")) == ["redis-2"]
    make({"Service": "redis", "ServiceMeta": {"env": "prod"}}, "prod")
    assert _ids(root.query.execute("prod")) == ["redis-1"]
    make({"Service": "redis", "IgnoreCheckIDs": ["service:redis-3"]}, "everyone")
    assert _ids(root.query.execute("everyone")) == ["redis-1", "redis-2", "redis-3"]
    assert len(root.query.execute("everyone", limit=1)["Nodes"]) == 1
    r = cs.http("GET", "/v1/query/nope/execute")
    assert (r.status_code, r.text) == (404, "Query not found")


def test_templates_render_the_looked_up_name(redis: Running, root: consul.Consul) -> None:
    cs = redis
    _register(cs, "geo-db-1", "geo-db", ["primary"], "passing")
    body = {
        "Name": "geo-",
        "Template": {"Type": "name_prefix_match", "Regexp": "^geo-(.+?)-query$"},
        "Service": {"Service": "geo-${match(1)}", "Tags": ["${name.suffix}"]},
    }
    r = cs.http("POST", "/v1/query", json=body)
    assert r.status_code == 200, r.text
    explained = root.query.explain("geo-db-query")["Query"]
    assert explained["Service"]["Service"] == "geo-db"
    assert explained["Service"]["Tags"] == ["db-query"]
    # a template with python-consul2 (which makes every query a name_prefix_match template)
    root.query.create("${name.full}", name="", regexp="")
    assert _ids(root.query.execute("redis")) == ["redis-1", "redis-2"]
    # the longest prefix wins over the empty one
    r = cs.http(
        "POST",
        "/v1/query",
        json={
            "Name": "red",
            "Template": {"Type": "name_prefix_match"},
            "Service": {"Service": "redis", "OnlyPassing": True},
        },
    )
    assert _ids(root.query.execute("redis")) == ["redis-1"]
    bad = {
        "Name": "x-",
        "Template": {"Type": "name_prefix_match"},
        "Service": {"Service": "${nope.full}"},
    }
    r = cs.http("POST", "/v1/query", json=bad)
    assert (r.status_code, r.text) == (
        500,
        "failed compiling template: unknown variable accessed: nope.full",
    )
    r = cs.http("POST", "/v1/query", json={**bad, "Template": {"Type": "exact"}})
    assert r.text == "failed compiling template: Bad Template.Type 'exact'"


def test_definition_errors(cs: Running, root: consul.Consul) -> None:
    def post(body: dict) -> tuple[int, str]:
        r = cs.http("POST", "/v1/query", json=body)
        return r.status_code, r.text

    assert post({"Service": {"Service": "redis"}}) == (500, "Must be bound to a session")
    assert post({"Name": "q"}) == (500, "Must provide a Service name to query")
    assert post({"Name": "q", "Service": {"Service": "r", "Failover": {"NearestN": -1}}}) == (
        500,
        "Bad NearestN '-1', must be >= 0",
    )
    code, text = post({"Name": "q", "Service": {"Service": "r"}, "DNS": {"TTL": "soon"}})
    assert code == 500 and text.startswith("Bad DNS TTL 'soon': ")
    assert post({"Name": "q", "Token": "<hidden>", "Service": {"Service": "r"}})[1].startswith(
        "Bad Token '<hidden>'"
    )
    assert post({"Session": "nope", "Service": {"Service": "r"}}) == (500, 'invalid session "nope"')
    assert post({"Name": "q", "Service": {"Service": "r"}})[0] == 200
    assert post({"Name": "q", "Service": {"Service": "r"}}) == (
        500,
        "name 'q' aliases an existing query name",
    )
    assert cs.http("POST", "/v1/query", data="{nope").status_code == 400


def test_query_acls(cs: Running, root: consul.Consul) -> None:
    policy = root.acl.policy.create(
        "queries",
        rules='query_prefix "team-" { policy = "write" }\nservice "redis" { policy = "read" }',
    )
    team = root.acl.tokens.create({"Policies": [{"ID": policy["ID"]}]})["SecretID"]
    mine = cs.http(
        "POST",
        "/v1/query",
        token=team,
        json={"Name": "team-cache", "Service": {"Service": "redis"}},
    )
    assert mine.status_code == 200, mine.text
    other = cs.http(
        "POST", "/v1/query", token=team, json={"Name": "ops-cache", "Service": {"Service": "redis"}}
    )
    assert (other.status_code, other.text) == (403, "Permission denied")
    ops = root.query.create("redis", name="ops-cache", token="")
    # listing shows what query:read allows; the stored token is hidden from non-managers
    listed = cs.http("GET", "/v1/query", token=team).json()
    assert [q["Name"] for q in listed] == ["team-cache"]
    assert cs.http("GET", f"/v1/query/{ops['ID']}", token=team).status_code == 403
    anon = cs.http("GET", "/v1/query", token=None)
    assert anon.status_code == 200 and anon.json() == []
    with_token = root.query.create("redis", name="team-tokened")
    [seen] = cs.http("GET", f"/v1/query/{with_token['ID']}", token=team).json()
    assert seen["Token"] == "<hidden>"
    # executing needs only service:read on what it returns (the query's token, else the caller's)
    _register(cs, "redis-1", "redis", ["primary"], "passing")
    assert _ids(cs.http("GET", "/v1/query/team-cache/execute", token=team).json()) == ["redis-1"]
    assert cs.http("GET", "/v1/query/team-cache/execute", token=None).json()["Nodes"] == []


def test_session_bound_query_goes_with_its_session(cs: Running, root: consul.Consul) -> None:
    sid = root.session.create(lock_delay=0)
    r = cs.http("POST", "/v1/query", json={"Session": sid, "Service": {"Service": "redis"}})
    qid = r.json()["ID"]
    assert root.query.get(qid)
    root.session.destroy(sid)
    assert cs.http("GET", f"/v1/query/{qid}").status_code == 404


def test_queries_survive_a_snapshot(cs: Running, root: consul.Consul) -> None:
    qid = root.query.create("redis", name="cache")["ID"]
    saved = cs.http("GET", "/v1/snapshot").content
    root.query.delete(qid)
    assert cs.http("PUT", "/v1/snapshot", data=saved).status_code == 200
    assert root.query.get(qid)[0]["Name"] == "cache"
