"""``GET``/``PUT /v1/snapshot``: save and restore the emulator's whole state.

A snapshot is, as Consul's, a gzipped tar archive holding ``meta.json`` (``ID``, ``Index``,
``Term``, ``Version``), the state and ``SHA256SUMS``; the state is the emulator's own JSON
(every table's typed records), ``state.json``, where Consul's is ``state.bin`` (raft's FSM
encoding): a snapshot of the emulator restores into the emulator only. Restoring replaces every
table, moves the index past both the current one and the snapshot's (blocking readers wake),
re-arms the check runner and session TTLs. Both need a management token (``acl:write``, as
Consul's snapshot endpoint). Events and the agent's tokens are not part of it (they are not
raft state in Consul either).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import tarfile
import time
from typing import Any

from ..exceptions import RPCError
from . import records
from .core import Authz, Store, Table

#: the record classes a snapshot may hold (nothing else is ever built from one)
_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in vars(records).values()
    if isinstance(cls, type)
    and dataclasses.is_dataclass(cls)
    and cls.__module__ == records.__name__
}


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"__t": type(value).__name__, **fields}
    if isinstance(value, bytes):
        return {"__b": base64.b64encode(value).decode()}
    if isinstance(value, tuple):
        return {"__tuple": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__b" in value:
        return base64.b64decode(value["__b"])
    if "__tuple" in value:
        return tuple(_decode(v) for v in value["__tuple"])
    if "__t" in value:
        cls = _TYPES.get(value["__t"])
        if cls is None:
            raise ValueError(f"unknown record type {value['__t']!r}")
        kwargs = {k: _decode(v) for k, v in value.items() if k != "__t"}
        return cls(**kwargs)
    return {k: _decode(v) for k, v in value.items()}


class SnapshotState(Store):
    """Save every :class:`~.core.Table` of the backend; restore them all."""

    def _tables_by_attr(self) -> dict[str, Table]:
        return {name: t for name, t in vars(self).items() if isinstance(t, Table)}

    def snapshot_save(self, authz: Authz = None) -> tuple[bytes, int]:
        """``GET /v1/snapshot``: (the archive, its index)."""
        self._require(authz, "acl", "write")
        with self._lock:
            index = self.index
            state = {
                "tables": {
                    attr: [[_encode(k), _encode(r)] for k, r in table.items()]
                    for attr, table in self._tables_by_attr().items()
                },
                "autopilot": dict(getattr(self, "_autopilot", {})),
            }
        body = json.dumps(state).encode()
        meta = json.dumps(
            {"Version": 1, "ID": f"2-{index}-{int(time.time() * 1000)}", "Index": index, "Term": 2}
        ).encode()
        sums = "".join(
            f"{hashlib.sha256(data).hexdigest()}  {name}\n"
            for name, data in (("meta.json", meta), ("state.json", body))
        ).encode()
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            for name, data in (("meta.json", meta), ("state.json", body), ("SHA256SUMS", sums)):
                info = tarfile.TarInfo(name)
                info.size, info.mtime = len(data), int(time.time())
                tar.addfile(info, io.BytesIO(data))
        return buf.getvalue(), index

    def snapshot_restore(self, archive: bytes, authz: Authz = None) -> None:
        """``PUT /v1/snapshot``: replace the whole state with the archive's."""
        self._require(authz, "acl", "write")
        try:
            files: dict[str, bytes] = {}
            with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
                for member in tar.getmembers():
                    handle = tar.extractfile(member) if member.isfile() else None
                    if handle is not None:
                        files[member.name] = handle.read()
            for line in files["SHA256SUMS"].decode().splitlines():
                digest, name = line.split(maxsplit=1)
                if hashlib.sha256(files[name.strip()]).hexdigest() != digest:
                    raise ValueError(f"sha256 sum mismatch for {name.strip()}")
            meta = json.loads(files["meta.json"])
            state = json.loads(files["state.json"])
            tables = {
                attr: [(_decode(k), _decode(r)) for k, r in rows]
                for attr, rows in state["tables"].items()
            }
        except (KeyError, ValueError, TypeError, tarfile.TarError, OSError) as exc:
            raise RPCError(f"failed to read snapshot file: {exc}") from exc
        live = self._tables_by_attr()
        if set(tables) != set(live):
            raise RPCError("failed to read snapshot file: not a snapshot of this emulator")
        with self.write() as tx:
            tx.index = max(tx.index, int(meta.get("Index", 0)) + 1)
            for key in list(self._checks):
                self.runner.cancel(key)
            for attr, table in live.items():
                for key in list(table):
                    del table[key]
                for key, rec in tables[attr]:
                    dict.__setitem__(table, key, rec)  # keep the snapshot's indexes
                tx.touch(table.name)
            if state.get("autopilot") and hasattr(self, "_autopilot"):
                self._autopilot.update(state["autopilot"])
            self._after_restore()

    def _after_restore(self) -> None:
        """Caches dropped, probes and TTLs re-armed (inside the restore's write)."""
        getattr(self, "_rules_cache", {}).clear()
        now = time.monotonic()
        for key, chk in self._checks.items():
            spec = chk.spec
            if spec.kind in ("http", "tcp"):
                self.runner.schedule(key, 0.0)
            elif spec.kind == "ttl":
                chk.ttl_deadline = now + spec.ttl_s
                self.runner.schedule(key, spec.ttl_s)
        init = getattr(self, "_init_sessions", None)
        if init is not None:
            init()
            from ..checks import parse_duration

            for key, session in self._sessions.items():  # type: ignore[attr-defined]
                if session.ttl:
                    self._arm(key[0], key[1], parse_duration(session.ttl))  # type: ignore[attr-defined]
