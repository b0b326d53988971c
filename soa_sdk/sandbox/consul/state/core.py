"""The state store under every resource family: tables, the one write path, blocking reads.

A backend is one :class:`Store`. Its tables (:class:`Table`) are dicts of typed records
(:mod:`.records`) that may be changed only inside :meth:`Store.write`::

    with self.write() as tx:
        self._kv.put(key, KVEntry(...))      # stamps CreateIndex/ModifyIndex = tx.index

Writes nest (an intention is a config entry write, a reset is many): the outermost one
commits. When it ends, if any table changed, the raft-like index moves to ``tx.index``, each
changed table's index with it, blocked readers wake (the condition), and then, outside the
lock, every subscriber is told once. A write that changes nothing commits nothing. A write
that fails half-way keeps (and commits) what it already changed: there is no rollback,
so family code validates before it mutates. Before the outermost write commits,
:meth:`Store._settle` applies what follows from its changes in the same write (one index),
as Consul's state store does inside one transaction.

Locking is public API only: one ``threading.RLock`` and a ``Condition`` over it, held with
``with``; the write depth is our own counter.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from .. import acl as aclmod
from .. import bexpr
from ..checks import CheckRunner
from ..exceptions import BadRequest, FilterError, NoPathToDatacenter, PermissionDenied
from .records import (
    FILTER_SCHEMAS,
    Check,
    ConfigEntry,
    Indexed,
    KVEntry,
    Node,
    Partition,
    Peering,
    Policy,
    Service,
    Token,
)

GLOBAL_MANAGEMENT_ID = "00000000-0000-0000-0000-000000000001"
ANONYMOUS_ID = "00000000-0000-0000-0000-000000000002"
CONSUL_VERSION = "1.17.0"
#: every table's name, as blocking reads name them (``X-Consul-Index`` per table)
ALL_TABLES = (
    "nodes",
    "services",
    "checks",
    "kvs",
    "config",
    "acl",
    "partitions",
    "peerings",
    "sessions",
    "coordinates",
    "events",
    "autopilot",
    "prepared-queries",
)

Authz = aclmod.Authorizer | None
K = TypeVar("K")
R = TypeVar("R", bound=Indexed)


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def compile_filter(
    expression: str | None, schema: str | None = None
) -> Callable[[dict], bool] | None:
    """``?filter=`` compiled (None when absent); a bad expression, or a selector the
    ``schema`` (a :data:`.records.FILTER_SCHEMAS` name) has no field for, is Consul's 400."""
    if not expression:
        return None
    try:
        return bexpr.compile_filter(expression, FILTER_SCHEMAS[schema] if schema else None)
    except bexpr.BexprError as exc:
        raise FilterError(str(exc)) from exc


@dataclass
class Tx:
    """The open write: the index it will commit with and the tables it changed."""

    index: int
    tables: set[str] = field(default_factory=set)

    def touch(self, *tables: str) -> None:
        self.tables.update(tables)


class Table(dict[K, R], Generic[K, R]):
    """One table: a dict of records that marks itself changed in the store's open write.

    Setting, deleting or popping a key outside :meth:`Store.write` is a bug and raises.
    A record changed in place is recorded with :meth:`touch`.
    """

    def __init__(self, name: str, store: Store) -> None:
        super().__init__()
        self.name = name
        self._store = store

    def _tx(self) -> Tx:
        tx = self._store._tx
        if tx is None:
            raise RuntimeError(f"table {self.name!r} changed outside Store.write()")
        tx.touch(self.name)
        return tx

    def __setitem__(self, key: K, value: R) -> None:
        self._tx()
        super().__setitem__(key, value)

    def __delitem__(self, key: K) -> None:
        self._tx()
        super().__delitem__(key)

    def pop(self, key: K, *default: Any) -> Any:  # type: ignore[override]
        if key in self:
            self._tx()
        return super().pop(key, *default)

    def put(self, key: K, record: R) -> R:
        """Store ``record`` with the write's index (keeping the old record's CreateIndex)."""
        tx = self._tx()
        old = self.get(key)
        record.create_index = old.create_index if old is not None else tx.index
        record.modify_index = tx.index
        super().__setitem__(key, record)
        return record

    def touch(self, key: K) -> R:
        """Record an in-place change of ``self[key]``: its ModifyIndex becomes the write's."""
        record = self[key]
        record.modify_index = self._tx().index
        return record

    def purge(self, match: Callable[[K], bool]) -> list[K]:
        """Delete every key ``match`` accepts; the deleted keys."""
        doomed = [k for k in self if match(k)]
        for key in doomed:
            del self[key]
        return doomed


class Store:
    """Index, lock, tables, subscribers; the ACL and listing helpers every family uses."""

    datacenter: str
    node_name: str
    node_id: str
    address: str
    acl_enabled: bool
    acl_default_policy: str
    default_intention_policy: str | None
    runner: CheckRunner
    # the tables (built by the backend's _init_state); keys start with the partition
    _partitions: Table[str, Partition]
    _nodes: Table[tuple[str, str], Node]
    _services: Table[tuple[str, str, str], Service]
    _checks: Table[tuple[str, str, str], Check]
    _kv: Table[tuple[str, str], KVEntry]
    _config: Table[tuple[str, str, str], ConfigEntry]  # (partition, kind, name)
    _peerings: Table[tuple[str, str], Peering]
    _policies: Table[str, Policy]
    _tokens: Table[str, Token]

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._index = 1
        self._tables: dict[str, int] = {}
        self._subscribers: list[Callable[[int], None]] = []
        self._depth = 0
        self._tx: Tx | None = None

    # ------------------------------------------------------------------ the write path

    @contextmanager
    def write(self, *, bootstrap: bool = False) -> Iterator[Tx]:
        """Open (or join) a write; the outermost one commits and notifies, once.

        ``bootstrap``: the initial state, stamped with the current index (no bump).
        """
        tx: Tx | None = None
        committed = False
        try:
            with self._lock:
                self._depth += 1
                if self._tx is None:
                    self._tx = Tx(self._index if bootstrap else self._index + 1)
                tx = self._tx
                try:
                    yield tx
                finally:
                    if self._depth == 1:
                        self._settle(tx)
                    self._depth -= 1
                    if self._depth == 0:
                        self._tx = None
                        committed = self._commit(tx)
        finally:
            if committed and tx is not None:
                self._publish(tx.index)

    def _settle(self, tx: Tx) -> None:
        """What follows from the write's changes, inside it, before it commits: the families
        override it to keep their invariants (a session ends when one of its checks turns
        critical or goes, :meth:`.sessions.SessionState._settle`). Default: nothing."""

    def _commit(self, tx: Tx) -> bool:
        if not tx.tables:
            return False
        self._index = max(self._index, tx.index)
        for table in tx.tables:
            self._tables[table] = tx.index
        self._cond.notify_all()
        return True

    def _publish(self, index: int) -> None:
        for callback in list(self._subscribers):
            try:
                callback(index)
            except Exception:
                pass  # a subscriber's failure is its own; the write has happened

    def subscribe(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(index)`` after every write that changed something, outside the lock."""
        with self._lock:
            self._subscribers.append(callback)

    # ------------------------------------------------------------------ indexes, blocking

    @property
    def index(self) -> int:
        """The last raft index: bumped by every write that changed something, never reset."""
        with self._lock:
            return self._index

    def table_index(self, *tables: str) -> int:
        """The highest index of the given tables (what ``X-Consul-Index`` reports)."""
        with self._lock:
            return max([self._tables.get(t, 1) for t in tables] or [1])

    def wait_for(self, tables: Iterable[str], min_index: int, timeout: float) -> int:
        """Block until one of ``tables`` passes ``min_index`` or ``timeout`` seconds pass."""
        tables = tuple(tables)
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.table_index(*tables) <= min_index:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            return self.table_index(*tables)

    # ------------------------------------------------------------------ request checks

    def check_dc(self, dc: str | None) -> None:
        """Refuse a datacenter other than ours, with Consul's 500 ``No path to datacenter``."""
        if dc and dc != self.datacenter:
            raise NoPathToDatacenter()

    def check_partition(self, partition: str) -> str:
        partition = partition or "default"
        with self._lock:
            if partition not in self._partitions:
                raise BadRequest(f'Partition "{partition}" does not exist')
        return partition

    # ------------------------------------------------------------------ ACL checks

    @staticmethod
    def _allowed(
        authz: Authz, resource: str, level: str, name: str = "", partition: str = ""
    ) -> bool:
        return authz is None or authz.allowed(resource, level, name, partition or None)

    def _require(
        self, authz: Authz, resource: str, level: str, name: str = "", partition: str = ""
    ) -> None:
        if not self._allowed(authz, resource, level, name, partition):
            assert authz is not None
            raise PermissionDenied(authz.accessor_id, resource, level, name if name else None)

    def _exports(self, partition: str, service: str) -> tuple[set[str], set[str]]:
        """(partitions, peers) that ``partition``'s exported-services entry exports to."""
        entry = self._config.get((partition, "exported-services", partition))
        partitions: set[str] = set()
        peers: set[str] = set()
        for svc in (entry.body if entry else {}).get("Services") or []:
            if svc.get("Name") in (service, "*"):
                for consumer in svc.get("Consumers") or []:
                    if consumer.get("Partition"):
                        partitions.add(consumer["Partition"])
                    if consumer.get("Peer"):
                        peers.add(consumer["Peer"])
        return partitions, peers

    def _resolved_exports(self, partition: str) -> dict[str, list[dict[str, Any]]]:
        """Service name -> its consumers (``Partition`` / ``Peer`` dicts) of ``partition``'s
        exported-services entry: ``*`` expanded to the typical services, ``consul`` never
        exported (Consul's ``ResolvedExportedServices``)."""
        entry = self._config.get((partition, "exported-services", partition))
        typical = sorted(self._typical_names(partition))
        out: dict[str, list[dict[str, Any]]] = {}
        for svc in (entry.body if entry else {}).get("Services") or []:
            names = typical if svc.get("Name") == "*" else [svc.get("Name", "")]
            for name in names:
                if name and name != "consul":
                    out.setdefault(name, []).extend(svc.get("Consumers") or [])
        return out

    def _typical_names(self, partition: str) -> set[str]:
        """Names of ``partition``'s typical services (no proxies, no gateways): what a
        ``*`` in an exported-services or ingress-gateway entry stands for."""
        return {
            s.service for (p, _n, _i), s in self._services.items() if p == partition and not s.kind
        }

    def _can_read_service(self, authz: Authz, name: str, partition: str) -> bool:
        """``service:read`` in ``partition``, or in the token's home partition when
        ``partition`` exports ``name`` there (Consul's cross-partition discovery)."""
        if authz is None or authz.allowed("service", "read", name, partition):
            return True
        home = authz.home_partition
        if partition != home and home in self._exports(partition, name)[0]:
            return authz.allowed("service", "read", name, home)
        return False

    # ------------------------------------------------------------------ listing

    def _records(
        self,
        table: dict[Any, R],
        *,
        partition: str | None = None,
        where: Callable[[R], bool] | None = None,
        visible: Callable[[R], bool] | None = None,
    ) -> list[tuple[Any, R]]:
        """The one listing loop: ``(key, record)`` pairs in key order, of ``partition`` (a
        key's first part), that ``where`` accepts and the caller may read (``visible``, the
        ACL check)."""
        with self._lock:
            return [
                (key, rec)
                for key, rec in sorted(table.items(), key=lambda kv: kv[0])
                if (partition is None or key[0] == partition)
                and (where is None or where(rec))
                and (visible is None or visible(rec))
            ]

    def _select(
        self,
        table: dict[Any, R],
        *,
        doc: Callable[[R], dict | None] | None = None,
        filter_expr: str | None = None,
        schema: str | None = None,
        **which: Any,
    ) -> list[tuple[Any, dict]]:
        """:meth:`_records` (``which``: partition, where, visible) as ``(key, document)``
        pairs: each rendered with ``doc`` (default ``to_dict()``; None drops it), kept when
        the ``?filter=`` accepts it (its selectors checked against ``schema``)."""
        pred = compile_filter(filter_expr, schema)
        render = doc or (lambda rec: rec.to_dict())  # type: ignore[attr-defined]
        out: list[tuple[Any, dict]] = []
        with self._lock:
            for key, rec in self._records(table, **which):
                item = render(rec)
                if item is not None and (pred is None or pred(item)):
                    out.append((key, item))
        return out

    def _docs(self, table: dict[Any, R], **kwargs: Any) -> list[dict]:
        """:meth:`_select`'s documents alone."""
        return [d for _k, d in self._select(table, **kwargs)]
