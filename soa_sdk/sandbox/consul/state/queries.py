"""Prepared queries: ``/v1/query``, ``/v1/query/:id``, ``.../execute``, ``.../explain``.

As Consul's ``agent/consul/prepared_query_endpoint.go``, ``prepared_query/template.go`` and
``state/prepared_query.go``:

- a definition (``Name``, ``Session``, ``Token``, ``Service`` with ``Service``, ``Tags``
  (``!tag`` excludes), ``OnlyPassing``, ``IgnoreCheckIDs``, ``NodeMeta``, ``ServiceMeta``,
  ``Connect``, ``Failover``; ``DNS.TTL``; ``Template``) is checked as ``parseQuery`` checks it
  (500 ``Must provide a Service name to query``, ``Must be bound to a session``, ``Bad DNS TTL
  ...``, ``invalid session "..."``, ``name '...' aliases an existing query name``, ``failed
  compiling template: Bad Template.Type '...'``);
- ACLs: a named query (or template, by its name prefix) needs ``query:write`` to be written
  and ``query:read`` to be read, else ``Permission denied``; an unnamed query is managed and
  read by whoever knows its ID; listing shows what ``query:read`` allows (all with
  ``acl:read``); a stored ``Token`` shows as ``<hidden>`` to tokens without ``acl:write``;
- resolution by ID, then exact name, then the longest ``name_prefix_match`` template prefix;
  a template renders ``${name.full}``, ``${name.prefix}``, ``${name.suffix}``, ``${match(N)}``
  (its ``Regexp``'s groups) and ``${agent.segment}`` in every string of the definition;
- execution: the service's instances (its Connect-capable ones with ``Connect`` or
  ``?connect=``) whose checks are not critical (nor warning with ``OnlyPassing``; the
  ``IgnoreCheckIDs`` skipped), filtered by node and service meta and tags, with the query's
  ``Token`` (else the caller's) reading them; shuffled, then cut to ``?limit=``;
- a query bound to a session is deleted when the session ends (:mod:`.sessions`).

Not implemented: ``Failover`` is never tried (a single dev agent has no other datacenter;
peer ``Targets`` are not followed either), so ``Failovers`` is always 0; ``Near`` / ``?near=``
sorting (the only node is the agent's); queries resolve and execute in the ``default``
partition.
"""

from __future__ import annotations

import random
import re
import uuid
from typing import Any

from ..checks import parse_duration
from ..decode import canonicalize
from ..exceptions import NotFound, PermissionDenied, RPCError
from .core import Authz, Store
from .records import PreparedQuery

REDACTED = "<hidden>"
TEMPLATE_TYPE = "name_prefix_match"
_UUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_INTERPOLATION = re.compile(r"\$\{\s*([^}]*?)\s*\}")
_MATCH = re.compile(r"^match\(\s*(\d+)\s*\)$")


def _list(value: Any) -> list | None:
    return list(value) if value else None


def normalize(raw: dict, query_id: str) -> dict[str, Any]:
    """A definition as Consul stores it (``structs.PreparedQuery``), every field present."""
    svc = raw.get("Service") or {}
    failover = canonicalize(svc.get("Failover") or {})  # a struct here, not a keyed map
    template = raw.get("Template") or {}
    return {
        "ID": query_id,
        "Name": raw.get("Name") or "",
        "Session": raw.get("Session") or "",
        "Token": raw.get("Token") or "",
        "Template": {
            "Type": template.get("Type") or "",
            "Regexp": template.get("Regexp") or "",
            "RemoveEmptyTags": bool(template.get("RemoveEmptyTags")),
        },
        "Service": {
            "Service": svc.get("Service") or "",
            "Failover": {
                "NearestN": int(failover.get("NearestN") or 0),
                "Datacenters": _list(failover.get("Datacenters")),
                "Targets": _list(failover.get("Targets")),
            },
            "IgnoreCheckIDs": _list(svc.get("IgnoreCheckIDs")),
            "OnlyPassing": bool(svc.get("OnlyPassing")),
            "Near": svc.get("Near") or "",
            "Tags": _list(svc.get("Tags")),
            "NodeMeta": dict(svc["NodeMeta"]) if svc.get("NodeMeta") else None,
            "ServiceMeta": dict(svc["ServiceMeta"]) if svc.get("ServiceMeta") else None,
            "Peer": svc.get("Peer") or "",
            "Connect": bool(svc.get("Connect")),
        },
        "DNS": {"TTL": (raw.get("DNS") or {}).get("TTL") or ""},
    }


def parse_query(body: dict) -> None:
    """``parseQuery``: the definition's own checks (500 with Consul's text)."""
    if not body["Session"] and not body["Template"]["Type"] and not body["Name"]:
        raise RPCError("Must be bound to a session")
    if body["Token"] == REDACTED:
        raise RPCError(
            f"Bad Token '{REDACTED}', it looks like a query definition with a redacted token"
            " was submitted"
        )
    if not body["Service"]["Service"]:
        raise RPCError("Must provide a Service name to query")
    nearest = body["Service"]["Failover"]["NearestN"]
    if nearest < 0:
        raise RPCError(f"Bad NearestN '{nearest}', must be >= 0")
    ttl = body["DNS"]["TTL"]
    if ttl:
        try:
            parse_duration(ttl)
        except ValueError as exc:
            raise RPCError(f"Bad DNS TTL '{ttl}': time: invalid duration \"{ttl}\"") from exc


def render(body: dict, name: str, segment: str = "") -> dict[str, Any]:
    """A template rendered for the looked-up ``name`` (``CompiledTemplate.Render``)."""
    template = body["Template"]
    if template["Type"] != TEMPLATE_TYPE:
        raise RPCError(f"Bad Template.Type '{template['Type']}'")
    groups: list[str] = []
    if template["Regexp"]:
        try:
            found = re.search(template["Regexp"], name)
        except re.error as exc:
            raise RPCError(f"Bad Regexp: {exc}") from exc
        if found:
            groups = [found.group(0), *(g or "" for g in found.groups())]
    prefix = body["Name"]
    values = {
        "name.full": name,
        "name.prefix": prefix,
        "name.suffix": name[len(prefix) :] if name.startswith(prefix) else "",
        "agent.segment": segment,
    }

    def expand(text: str) -> str:
        def one(m: re.Match[str]) -> str:
            expr = m.group(1)
            index = _MATCH.fullmatch(expr)
            if index:
                n = int(index.group(1))
                return groups[n] if n < len(groups) else ""
            if expr not in values:
                raise RPCError(f"unknown variable accessed: {expr}")
            return values[expr]

        return _INTERPOLATION.sub(one, text)

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return expand(value)
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        return value

    out = {k: (v if k in ("ID", "Template") else walk(v)) for k, v in body.items()}
    if template["RemoveEmptyTags"] and out["Service"]["Tags"]:
        out["Service"]["Tags"] = [t for t in out["Service"]["Tags"] if t] or None
    return out


def _tags_match(wanted: list[str], tags: list[str]) -> bool:
    """``tagFilter``: every tag present, every ``!tag`` absent, case-insensitively."""
    have = {t.lower() for t in tags}
    for tag in (t.lower() for t in wanted):
        if tag.startswith("!"):
            if tag[1:] in have:
                return False
        elif tag not in have:
            return False
    return True


def _healthy(entry: dict, only_passing: bool, ignore: list[str]) -> bool:
    """``FilterIgnore``: no critical check (no non-passing one with ``OnlyPassing``)."""
    for chk in entry["Checks"]:
        if chk["CheckID"] in ignore:
            continue
        if chk["Status"] == "critical" or (only_passing and chk["Status"] != "passing"):
            return False
    return True


class PreparedQueryState(Store):
    """Prepared queries by ID (the ``prepared-queries`` table)."""

    _queries: Any  # Table[str, PreparedQuery], built by the backend

    # ------------------------------------------------------------------ ACL helpers

    def _query_prefix_allowed(self, authz: Authz, query: dict, level: str) -> bool:
        """The query's ACL (``GetACLPrefix``: a named query or template has its name; an
        unnamed query has none and is open to whoever has its ID)."""
        if not query["Name"] and not query["Template"]["Type"]:
            return True
        return self._allowed(authz, "query", level, query["Name"])

    def _query_listable(self, authz: Authz, query: dict) -> bool:
        """``filterPreparedQueries``: everything with ``acl:read``, else only the named
        queries and templates that ``query:read`` allows (unnamed ones are filtered)."""
        if self._allowed(authz, "acl", "read"):
            return True
        named = bool(query["Name"] or query["Template"]["Type"])
        return named and self._query_prefix_allowed(authz, query, "read")

    def _query_doc(self, query: PreparedQuery, authz: Authz) -> dict:
        doc = query.to_dict()
        if doc["Token"] and not self._allowed(authz, "acl", "write"):
            doc["Token"] = REDACTED
        return doc

    def _require_query(self, authz: Authz, query: dict) -> None:
        if not self._query_prefix_allowed(authz, query, "write"):
            raise PermissionDenied()

    # ------------------------------------------------------------------ writes

    def _query_store(self, body: dict) -> None:
        """``preparedQuerySetTxn``'s checks, then the write (inside a write)."""
        if body["Session"] and ("default", body["Session"]) not in self._sessions:  # type: ignore[attr-defined]
            raise RPCError(f'invalid session "{body["Session"]}"')
        for other in self._queries.values():
            if other.id == body["ID"]:
                continue
            if body["Name"] and other.name == body["Name"]:
                raise RPCError(f"name '{body['Name']}' aliases an existing query name")
            if not body["Name"] and body["Template"]["Type"] and other.template and not other.name:
                raise RPCError("a query template with an empty name already exists")
        if _UUID.fullmatch(body["Name"]) and body["Name"] in self._queries:
            raise RPCError(f"name '{body['Name']}' aliases an existing query ID")
        if body["Template"]["Type"]:
            try:
                render(body, body["Name"])
            except RPCError as exc:
                raise RPCError(f"failed compiling template: {exc}") from exc
        self._queries.put(body["ID"], PreparedQuery(body))

    def query_create(self, raw: dict, authz: Authz = None) -> str:
        """``POST /v1/query``: the new query's ID."""
        body = normalize(raw, str(uuid.uuid4()))
        parse_query(body)
        self._require_query(authz, body)
        with self.write():
            self._query_store(body)
        return body["ID"]

    def _existing_query(self, query_id: str, authz: Authz) -> PreparedQuery:
        existing = self._queries.get(query_id)
        if existing is None:
            raise RPCError(f"Cannot modify non-existent prepared query: '{query_id}'")
        self._require_query(authz, existing.body)
        return existing

    def query_update(self, query_id: str, raw: dict, authz: Authz = None) -> None:
        """``PUT /v1/query/:uuid``: replace the definition."""
        body = normalize(raw, query_id)
        parse_query(body)
        self._require_query(authz, body)
        with self.write():
            self._existing_query(query_id, authz)
            self._query_store(body)

    def query_delete(self, query_id: str, authz: Authz = None) -> None:
        """``DELETE /v1/query/:uuid``."""
        with self.write():
            self._existing_query(query_id, authz)
            del self._queries[query_id]

    # ------------------------------------------------------------------ reads

    def query_list(self, authz: Authz = None) -> list[dict]:
        """``GET /v1/query``: what the token may read (everything with ``acl:read``)."""
        with self._lock:
            return [
                self._query_doc(q, authz)
                for _id, q in sorted(self._queries.items())
                if self._query_listable(authz, q.body)
            ]

    def query_get(self, query_id: str, authz: Authz = None) -> list[dict]:
        """``GET /v1/query/:uuid``: ``[query]``; 404 ``Query not found``."""
        with self._lock:
            query = self._queries.get(query_id)
            if query is None:
                raise NotFound("Query not found")
            if not self._query_prefix_allowed(authz, query.body, "read"):
                raise PermissionDenied()
            return [self._query_doc(query, authz)]

    def _resolve_query(self, id_or_name: str) -> dict:
        """``PreparedQueryResolve``: by ID, by exact name, by longest template prefix."""
        if _UUID.fullmatch(id_or_name) and id_or_name in self._queries:
            query = self._queries[id_or_name]
        else:
            named = [q for q in self._queries.values() if q.name == id_or_name]
            prefixed = [
                q for q in self._queries.values() if q.template and id_or_name.startswith(q.name)
            ]
            if named:
                query = named[0]
            elif prefixed:
                query = max(prefixed, key=lambda q: len(q.name))
            else:
                raise NotFound("Query not found")
        return render(query.body, id_or_name) if query.template else query.to_dict()

    def query_explain(self, id_or_name: str, authz: Authz = None) -> dict:
        """``GET /v1/query/:id_or_name/explain``: ``{"Query": the rendered definition}``."""
        with self._lock:
            query = self._resolve_query(id_or_name)
        if not self._query_listable(authz, query):
            raise PermissionDenied()
        if query["Token"] and not self._allowed(authz, "acl", "write"):
            query["Token"] = REDACTED
        return {"Query": query}

    def query_execute(
        self,
        id_or_name: str,
        authz: Authz = None,
        limit: int | None = None,
        connect: bool = False,
    ) -> dict:
        """``GET /v1/query/:id_or_name/execute``."""
        with self._lock:
            query = self._resolve_query(id_or_name)
        svc = query["Service"]
        reader = self.authorize(query["Token"]) if query["Token"] else authz  # type: ignore[attr-defined]
        entries = self.health_service(  # type: ignore[attr-defined]
            svc["Service"], "default", connect=svc["Connect"] or connect, authz=reader
        )
        ignore = svc["IgnoreCheckIDs"] or []
        nodes = [
            e
            for e in entries
            if _healthy(e, svc["OnlyPassing"], ignore)
            and all(
                e["Node"].get("Meta", {}).get(k) == v for k, v in (svc["NodeMeta"] or {}).items()
            )
            and all(
                e["Service"].get("Meta", {}).get(k) == v
                for k, v in (svc["ServiceMeta"] or {}).items()
            )
            and _tags_match(svc["Tags"] or [], e["Service"].get("Tags") or [])
        ]
        random.shuffle(nodes)
        if limit and limit > 0:
            nodes = nodes[:limit]
        return {
            "Service": svc["Service"],
            "Nodes": nodes,
            "DNS": dict(query["DNS"]),
            "Datacenter": self.datacenter,
            "Failovers": 0,
        }
