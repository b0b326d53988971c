"""``PUT /v1/txn``: KV operations applied all or none (``agent/txn_endpoint.go``,
``state/txn.go``, ``state/kvs.go``).

At most 128 operations (413 ``Transaction contains too many operations (129 > 128)``); the
verbs ``set``, ``cas``, ``lock``, ``unlock``, ``get``, ``get-tree``, ``check-index``,
``check-session``, ``check-not-exists``, ``delete``, ``delete-tree``, ``delete-cas``; results
in order (``get`` with the value, writes without); the first failing operation rolls all of
them back and answers 409 with ``Errors: [{"OpIndex", "What"}]``. The operations run on a copy
of the keys they touch, which replaces the store's keys only when all of them succeed.

Not implemented: ``Node``, ``Service``, ``Check`` and ``Session`` operations (answered 400,
the sandbox's catalog is written through the agent and catalog endpoints).
"""

from __future__ import annotations

import base64
import binascii
import copy
import time
from typing import Any

from ..exceptions import BadRequest, ConsulError, PermissionDenied
from .core import Authz, Store
from .records import KVEntry

MAX_TXN_OPS = 128
_READ_VERBS = ("get", "get-tree", "check-index", "check-session", "check-not-exists")


class TxnTooLarge(ConsulError):
    """413 for more operations than Consul's ``maxTxnOps``."""

    code = 413


class _Abort(Exception):
    def __init__(self, what: str) -> None:
        self.what = what


class TxnState(Store):
    """The KV part of ``/v1/txn`` (over :mod:`.kv` and the sessions' locks)."""

    def txn(self, ops: Any, partition: str = "default", authz: Authz = None) -> tuple[int, dict]:
        """Run ``ops``; (status, body): 200 with ``Results``, or 409 with ``Errors``."""
        if not isinstance(ops, list):
            raise BadRequest("Failed to parse body: expected a list of operations")
        if len(ops) > MAX_TXN_OPS:
            raise TxnTooLarge(
                f"Transaction contains too many operations ({len(ops)} > {MAX_TXN_OPS})"
            )
        parsed = []
        for i, op in enumerate(ops):
            if not isinstance(op, dict) or set(op) - {"KV"} or "KV" not in op:
                kinds = ", ".join(sorted(op)) if isinstance(op, dict) else type(op).__name__
                raise BadRequest(
                    f"operation {i} ({kinds}): only KV operations are served by the sandbox"
                )
            parsed.append(self._txn_kv_op(op["KV"], partition))
        # Consul's Txn preCheck: every operation's ACL before any is applied, one error each.
        errors: list[dict] = []
        for i, (verb, key, _entry, _index, _session) in enumerate(parsed):
            level = "read" if verb in _READ_VERBS else "write"
            if not self._allowed(authz, "key", level, key[1], key[0]):
                assert authz is not None
                denied = PermissionDenied(authz.accessor_id, "key", level, key[1])
                errors.append({"OpIndex": i, "What": str(denied)})
        if errors:
            return 409, {"Results": None, "Errors": errors}
        results: list[dict] = []
        with self.write():
            overlay: dict[tuple[str, str], KVEntry | None] = {}
            for i, (verb, key, entry, index, session) in enumerate(parsed):
                try:
                    results += self._txn_apply(overlay, verb, key, entry, index, session)
                except _Abort as exc:
                    errors.append({"OpIndex": i, "What": exc.what})
                    break
            if errors:
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
                live = self._kv.get((partition, doc["Key"]))
                touched = doc.pop("_written", False) or (partition, doc["Key"]) in overlay
                if live is not None and touched:
                    doc.update(live.indexes())
                doc.pop("_written", None)
                stamped.append({"KV": doc})
        return 200, {"Results": stamped, "Errors": None}

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
