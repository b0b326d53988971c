"""Sessions (``/v1/session/*``) and the KV locks they hold (``PUT /v1/kv/:key?acquire=``).

As Consul (``agent/consul/session_endpoint.go``, ``state/session.go``, ``state/kvs.go``): a
session belongs to a node (the agent's by default) and is tied to health checks (``serfHealth``
by default); ``TTL`` must be between 10s and 24h and the session ends when it is not renewed
within twice its TTL (Consul's TTL multiplier); ``Behavior`` ``release`` (default) frees the
keys it holds when it ends, ``delete`` deletes them; after a release, the key may not be
acquired again for ``LockDelay`` (default 15s, at most 60s). ``acquire`` of a key held by
another session answers ``false``; by the same session it updates the value; ``LockIndex``
counts acquisitions.

A session ends (is invalidated, its locks released or deleted per ``Behavior``) by destroy,
by TTL, when its node leaves the catalog, and when one of its checks (``NodeChecks`` on its
node, ``ServiceChecks``) turns critical or is deregistered, as Consul's state store
(``ensureCheckTxn`` / ``deleteCheckTxn``) does in the same write; the checks must exist and
not be critical when the session is created. Prepared queries bound to a session are deleted
when it ends.
"""

from __future__ import annotations

import threading
import time
import uuid

from ..checks import go_duration, parse_duration
from ..exceptions import BadRequest, NotFound, RPCError
from .core import Authz, Store, Tx
from .records import KVEntry, Session

TTL_MIN, TTL_MAX = 10.0, 86400.0
TTL_MULTIPLIER = 2
LOCK_DELAY_MAX = 60.0
DEFAULT_LOCK_DELAY = 15.0


def lock_delay(raw: object) -> float:
    """``LockDelay`` in seconds: a Go duration string, or a number (seconds when below
    1000, else nanoseconds, as Consul's ``FixupLockDelay``)."""
    if raw in (None, ""):
        return DEFAULT_LOCK_DELAY
    if isinstance(raw, (int, float)):
        return float(raw) if raw < 1000 else raw / 1e9
    try:
        return parse_duration(raw)
    except ValueError as exc:
        raise BadRequest(f"Request decode failed: invalid LockDelay {raw!r}") from exc


class SessionState(Store):
    """Sessions by (partition, ID); TTL deadlines and lock delays kept beside the tables."""

    _sessions: object  # Table[tuple[str, str], Session], built by the backend

    def _init_sessions(self) -> None:
        self._session_deadlines: dict[tuple[str, str], float] = {}
        self._lock_delays: dict[tuple[str, str], float] = {}
        if not hasattr(self, "_session_timer"):
            self._session_timer: threading.Timer | None = None

    # ------------------------------------------------------------------ create, renew, end

    def session_create(self, raw: dict, partition: str = "default", authz: Authz = None) -> str:
        """``PUT /v1/session/create``: the new session's ID."""
        partition = self.check_partition(partition)
        node = raw.get("Node") or self.node_name
        self._require(authz, "session", "write", node, partition)
        behavior = raw.get("Behavior") or "release"
        if behavior not in ("release", "delete"):
            raise BadRequest(f"Invalid Behavior setting '{behavior}'")
        ttl = raw.get("TTL") or ""
        ttl_s = 0.0
        if ttl:
            try:
                ttl_s = parse_duration(ttl)
            except ValueError as exc:
                raise BadRequest(f"Request decode failed: invalid TTL {ttl!r}") from exc
            if ttl_s != 0 and not TTL_MIN <= ttl_s <= TTL_MAX:
                raise BadRequest(
                    f"Invalid Session TTL '{go_duration(ttl_s)}', must be between"
                    f" [{go_duration(TTL_MIN)}={go_duration(TTL_MAX)}]"
                )
        delay = min(lock_delay(raw.get("LockDelay")), LOCK_DELAY_MAX)
        node_checks = raw.get("NodeChecks")
        if node_checks is None:
            node_checks = raw.get("Checks") if raw.get("Checks") is not None else ["serfHealth"]
        service_checks = [
            {"ID": c.get("ID", ""), "Namespace": c.get("Namespace", "")}
            for c in raw.get("ServiceChecks") or []
        ]
        with self.write():
            if (partition, node) not in self._nodes:
                raise RPCError("Missing node registration")
            for check_id in [*node_checks, *(c["ID"] for c in service_checks)]:
                chk = self._checks.get((partition, node, check_id))
                if chk is None:
                    raise RPCError(f"Missing check '{check_id}' registration")
                if chk.status == "critical":
                    raise RPCError(f"Check '{check_id}' is in critical state")
            sid = str(uuid.uuid4())
            self._sessions.put(  # type: ignore[attr-defined]
                (partition, sid),
                Session(
                    sid,
                    raw.get("Name") or "",
                    node,
                    partition,
                    behavior,
                    int(delay * 1e9),
                    go_duration(ttl_s) if ttl_s else "",
                    list(node_checks),
                    service_checks,
                ),
            )
            if ttl_s:
                self._arm(partition, sid, ttl_s)
        return sid

    def _arm(self, partition: str, sid: str, ttl_s: float) -> None:
        self._session_deadlines[(partition, sid)] = time.monotonic() + ttl_s * TTL_MULTIPLIER
        self._schedule_reaper()

    def _schedule_reaper(self) -> None:
        """One timer for the earliest TTL deadline (it re-arms itself)."""
        if self._session_timer is not None:
            self._session_timer.cancel()
            self._session_timer = None
        if not self._session_deadlines:
            return
        delay = max(0.0, min(self._session_deadlines.values()) - time.monotonic())
        timer = threading.Timer(delay + 0.05, self._reap_sessions)
        timer.daemon = True
        self._session_timer = timer
        timer.start()

    def _reap_sessions(self) -> None:
        now = time.monotonic()
        with self.write():
            for key, deadline in list(self._session_deadlines.items()):
                if deadline <= now:
                    self._end_session(key)
            self._schedule_reaper()

    def _end_session(self, key: tuple[str, str]) -> None:
        """Invalidate a session (inside a write): its locks released or deleted."""
        session = self._sessions.pop(key, None)  # type: ignore[attr-defined]
        self._session_deadlines.pop(key, None)
        if session is None:
            return
        queries = getattr(self, "_queries", {})  # prepared queries bound to it go with it
        for query_id in [q for q, query in queries.items() if query.body["Session"] == session.id]:
            del queries[query_id]
        until = time.monotonic() + session.lock_delay_ns / 1e9
        for kv_key, entry in list(self._kv.items()):
            if kv_key[0] != key[0] or entry.session != session.id:
                continue
            if session.behavior == "delete":
                del self._kv[kv_key]
            else:
                entry.session = ""
                self._kv.touch(kv_key)
                if session.lock_delay_ns:
                    self._lock_delays[kv_key] = until

    def _settle(self, tx: Tx) -> None:
        """A write that changed checks ends the sessions tied to a check now critical or gone."""
        super()._settle(tx)
        if "checks" not in tx.tables:
            return
        for key, session in list(self._sessions.items()):  # type: ignore[attr-defined]
            ids = [*session.node_checks, *(c["ID"] for c in session.service_checks)]
            for check_id in ids:
                chk = self._checks.get((key[0], session.node, check_id))
                if chk is None or chk.status == "critical":
                    self._end_session(key)
                    break

    def _end_node_sessions(self, partition: str, node: str) -> None:
        """A node left the catalog: its sessions end (inside a write)."""
        for key, session in list(self._sessions.items()):  # type: ignore[attr-defined]
            if key[0] == partition and session.node == node:
                self._end_session(key)

    def session_destroy(self, sid: str, partition: str = "default", authz: Authz = None) -> bool:
        """``PUT /v1/session/destroy/:uuid`` (``true`` also for an unknown session)."""
        with self.write():
            session = self._sessions.get((partition, sid))  # type: ignore[attr-defined]
            if session is not None:
                self._require(authz, "session", "write", session.node, partition)
                self._end_session((partition, sid))
        return True

    def session_renew(self, sid: str, partition: str = "default", authz: Authz = None) -> list:
        """``PUT /v1/session/renew/:uuid``: ``[session]``; 404 when it has ended."""
        with self.write():
            session = self._sessions.get((partition, sid))  # type: ignore[attr-defined]
            if session is None:
                raise NotFound(f"Session id '{sid}' not found")
            self._require(authz, "session", "write", session.node, partition)
            if session.ttl:
                self._arm(partition, sid, parse_duration(session.ttl))
            return [session.to_dict()]

    # ------------------------------------------------------------------ reads

    def _session_docs(self, partition: str, authz: Authz, where: object = None) -> list[dict]:
        return self._docs(
            self._sessions,  # type: ignore[arg-type]
            partition=partition,
            where=where,  # type: ignore[arg-type]
            visible=lambda s: self._allowed(authz, "session", "read", s.node, s.partition),
        )

    def session_info(self, sid: str, partition: str = "default", authz: Authz = None) -> list:
        """``GET /v1/session/info/:uuid``: ``[session]`` or ``[]``."""
        return self._session_docs(partition, authz, lambda s: s.id == sid)

    def session_node(self, node: str, partition: str = "default", authz: Authz = None) -> list:
        """``GET /v1/session/node/:node``."""
        return self._session_docs(partition, authz, lambda s: s.node == node)

    def session_list(self, partition: str = "default", authz: Authz = None) -> list:
        """``GET /v1/session/list``."""
        return self._session_docs(partition, authz)

    # ------------------------------------------------------------------ KV locks

    def _kv_lock(self, key: tuple[str, str], sid: str, entry: KVEntry) -> bool:
        """Acquire ``key`` for session ``sid`` writing ``entry`` (inside a write)."""
        if (key[0], sid) not in self._sessions:  # type: ignore[operator]
            raise RPCError(f'invalid session "{sid}"')
        if self._lock_delays.get(key, 0.0) > time.monotonic():
            return False
        old = self._kv.get(key)
        if old is not None and old.session and old.session != sid:
            return False
        entry.session = sid
        entry.lock_index = (old.lock_index if old else 0) + (
            0 if old is not None and old.session == sid else 1
        )
        self._kv.put(key, entry)
        return True

    def _kv_unlock(self, key: tuple[str, str], sid: str, entry: KVEntry) -> bool:
        """Release ``key`` held by ``sid`` writing ``entry`` (inside a write)."""
        old = self._kv.get(key)
        if old is None or old.session != sid:
            return False
        entry.session = ""
        entry.lock_index = old.lock_index
        self._kv.put(key, entry)
        return True
