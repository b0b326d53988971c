"""``PUT /v1/txn``: operations applied all or none (``agent/txn_endpoint.go``,
``state/txn.go``, ``state/kvs.go``).

At most 128 operations (413 ``Transaction contains too many operations (129 > 128)``), each
one of ``KV``, ``Node``, ``Service``, ``Check``, ``Session`` (the catalog ones are
:mod:`.txn_catalog`'s). KV verbs ``set``, ``cas``, ``lock``, ``unlock``, ``get``,
``get-tree``, ``check-index``, ``check-session``, ``check-not-exists``, ``delete``,
``delete-tree``, ``delete-cas``; results in order (``get`` with the value, writes without).
Every operation's ACL is checked before any runs (Consul's ``preCheck``); then every
operation runs and each failing one is reported: any failure rolls all of them back and
answers 409 with ``Errors: [{"OpIndex", "What"}]``. KV operations run on a copy of the keys
they touch, which replaces the store's keys only when all of them succeed; catalog
operations write the tables, which are restored when one fails.
"""

from __future__ import annotations

import base64
import binascii
import copy
import time
from typing import Any

from ..exceptions import BadRequest, ConsulError, PermissionDenied
from .core import Authz
from .records import KVEntry
from .txn_catalog import CATALOG_OPS, TxnCatalogState, TxnOpFailed

MAX_TXN_OPS = 128
_READ_VERBS = ("get", "get-tree", "check-index", "check-session", "check-not-exists")


class TxnTooLarge(ConsulError):
    """413 for more operations than Consul's ``maxTxnOps``."""

    code = 413


_Abort = TxnOpFailed


class TxnState(TxnCatalogState):
    """``/v1/txn``: KV operations (over :mod:`.kv` and the sessions' locks) and the
    catalog's (:class:`.txn_catalog.TxnCatalogState`)."""

    def txn(self, ops: Any, partition: str = "default", authz: Authz = None) -> tuple[int, dict]:
        """Run ``ops``; (status, body): 200 with ``Results``, or 409 with ``Errors``."""
        if not isinstance(ops, list):
            raise BadRequest("Failed to parse body: expected a list of operations")
        if len(ops) > MAX_TXN_OPS:
            raise TxnTooLarge(
                f"Transaction contains too many operations ({len(ops)} > {MAX_TXN_OPS})"
            )
        parsed: list[tuple[str, Any]] = []
        for i, op in enumerate(ops):
            kinds = [k for k in ("KV", *CATALOG_OPS) if isinstance(op, dict) and k in op]
            if len(kinds) != 1 or not isinstance(op[kinds[0]], dict):
                shown = ", ".join(sorted(op)) if isinstance(op, dict) else type(op).__name__
                raise BadRequest(
                    f"Failed to parse body: operation {i} ({shown}) must be exactly one of"
                    " KV, Node, Service, Check, Session"
                )
            kind = kinds[0]
            parsed.append(
                (kind, self._txn_kv_op(op["KV"], partition) if kind == "KV" else op[kind])
            )
        # Consul's Txn preCheck: every operation's ACL before any is applied, one error each.
        errors: list[dict] = []
        with self._lock:
            for i, (kind, op) in enumerate(parsed):
                what = self._txn_precheck(kind, op, partition, authz)
                if what:
                    errors.append({"OpIndex": i, "What": what})
        if errors:
            return 409, {"Results": None, "Errors": errors}
        results: list[dict] = []
        with self.write() as tx:
            tables_before = set(tx.tables)
            saved = self._txn_saved() if any(k != "KV" for k, _ in parsed) else None
            overlay: dict[tuple[str, str], KVEntry | None] = {}
            for i, (kind, op) in enumerate(parsed):
                try:
                    if kind == "KV":
                        results += self._txn_apply(overlay, *op)
                    else:
                        done = self._txn_catalog_apply(kind, op, partition)
                        results += [{"_catalog": r} for r in done]
                except _Abort as exc:
                    errors.append({"OpIndex": i, "What": exc.what})
            if errors:
                if saved is not None:
                    self._txn_rollback(saved)
                    tx.tables = tables_before
                return 409, {"Results": None, "Errors": errors}
            for key, new in overlay.items():
                old = self._kv.get(key)
                if new is None:
                    if old is not None:
                        del self._kv[key]
                elif new is not old:
                    self._kv.put(key, new)
            stamped = []
            for doc in results:
                if "_catalog" in doc:
                    if self._txn_result_visible(doc["_catalog"], partition, authz):
                        stamped.append(doc["_catalog"])
                    continue
                live = self._kv.get((partition, doc["Key"]))
                touched = doc.pop("_written", False) or (partition, doc["Key"]) in overlay
                if live is not None and touched:
                    doc.update(live.indexes())
                doc.pop("_written", None)
                stamped.append({"KV": doc})
        return 200, {"Results": stamped, "Errors": None}

    def _txn_precheck(self, kind: str, op: Any, partition: str, authz: Authz) -> str | None:
        if kind != "KV":
            return self._txn_catalog_precheck(kind, op, partition, authz)
        verb, key = op[0], op[1]
        level = "read" if verb in _READ_VERBS else "write"
        if self._allowed(authz, "key", level, key[1], key[0]):
            return None
        assert authz is not None
        return str(PermissionDenied(authz.accessor_id, "key", level, key[1]))

    @staticmethod
    def _txn_kv_op(op: dict, partition: str) -> tuple:
        verb = op.get("Verb", "")
        key = op.get("Key", "")
        value = op.get("Value")
        try:
            raw = base64.b64decode(value, validate=True) if value else None
        except (binascii.Error, TypeError) as exc:
            raise BadRequest(f"Failed to parse body: invalid Value for key {key!r}") from exc
        entry = KVEntry(key=key, partition=partition, value=raw, flags=int(op.get("Flags") or 0))
        return verb, (partition, key), entry, int(op.get("Index") or 0), op.get("Session") or ""

    def _txn_apply(
        self,
        overlay: dict[tuple[str, str], KVEntry | None],
        verb: str,
        key: tuple[str, str],
        entry: KVEntry,
        index: int,
        session: str,
    ) -> list[dict]:
        """One operation on ``overlay`` (a copy of the keys touched so far)."""

        def get(k: tuple[str, str]) -> KVEntry | None:
            if k in overlay:
                return overlay[k]
            return self._kv.get(k)

        def written(new: KVEntry) -> list[dict]:
            overlay[key] = new
            doc = new.to_dict(with_value=False)
            doc["_written"] = True
            return [doc]

        old = get(key)
        name = key[1]
        if verb in ("set", "cas", "lock", "unlock"):
            if verb == "cas" and (old.modify_index if old else 0) != index:
                raise _Abort(f'failed to set key "{name}", index is stale')
            new = copy.copy(entry)
            new.lock_index = old.lock_index if old else 0
            new.session = old.session if old else ""
            if old is not None:
                new.create_index, new.modify_index = old.create_index, old.modify_index
            if verb == "lock":
                if (key[0], session) not in self._sessions:  # type: ignore[attr-defined]
                    raise _Abort(f'invalid session "{session}"')
                delayed = self._lock_delays.get(key, 0.0) > time.monotonic()  # type: ignore[attr-defined]
                if delayed or (old is not None and old.session and old.session != session):
                    raise _Abort(f'failed to lock key "{name}", lock is already held')
                if new.session != session:
                    new.lock_index += 1
                new.session = session
            elif verb == "unlock":
                if old is None or old.session != session:
                    raise _Abort(
                        f'failed to unlock key "{name}", lock isn\'t held, or is held by'
                        " another session"
                    )
                new.session = ""
            return written(new)
        if verb == "get":
            if old is None:
                raise _Abort(f'key "{name}" doesn\'t exist')
            return [old.to_dict()]
        if verb == "get-tree":
            keys = {k for k in self._kv if k[0] == key[0] and k[1].startswith(name)}
            keys |= {k for k in overlay if k[0] == key[0] and k[1].startswith(name)}
            return [e.to_dict() for k in sorted(keys) if (e := get(k)) is not None]
        if verb == "check-index":
            if old is None:
                raise _Abort(f'key "{name}" doesn\'t exist')
            if old.modify_index != index:
                raise _Abort(f"current modify index {old.modify_index} != {index}")
            return [old.to_dict()]
        if verb == "check-session":
            if old is None:
                raise _Abort(f'key "{name}" doesn\'t exist')
            if old.session != session:
                raise _Abort(
                    f'failed session check for key "{name}", current session'
                    f' "{old.session}" != "{session}"'
                )
            return [old.to_dict()]
        if verb == "check-not-exists":
            if old is not None:
                raise _Abort(f'key "{name}" exists')
            return []
        if verb == "delete":
            overlay[key] = None
            return []
        if verb == "delete-cas":
            if old is None or old.modify_index != index:
                raise _Abort(f'failed to delete key "{name}", index is stale')
            overlay[key] = None
            return []
        if verb == "delete-tree":
            for k in [k for k in self._kv if k[0] == key[0] and k[1].startswith(name)]:
                overlay[k] = None
            for k in [k for k in overlay if k[0] == key[0] and k[1].startswith(name)]:
                overlay[k] = None
            return []
        raise _Abort(f'unknown KV verb "{verb}"')
