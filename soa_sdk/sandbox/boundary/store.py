"""The records of one emulated controller, one lock, and the one write path.

Every change goes through :meth:`Store.write`: records added, replaced, touched or deleted
inside it are committed when the outermost ``write()`` ends. Then, once: every touched record
gets its new ``version`` and ``updated_time``, the revision counter moves on and the
listeners hear which ids changed. A write that raises is undone (added and deleted records
restored; fields a failed operation changed in place are that operation's to avoid). The
lock is a public :class:`threading.RLock`, taken with ``with store.lock:``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from .exceptions import NotFound
from .grants import GLOBAL
from .records import RefField, Resource, now, references

R = TypeVar("R", bound=Resource)
Listener = Callable[[set[str]], None]


class Store:
    """Records by id, behind ``lock``; writes through :meth:`write`."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.resources: dict[str, Resource] = {}
        self.revision = 0
        self._listeners: list[Listener] = []
        self._depth = 0
        self._touched: dict[str, Resource] = {}
        self._undo: list[tuple[str, Resource | None]] = []  # (id, record before)

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(changed ids)`` after each committed write."""
        self._listeners.append(listener)

    def clear(self) -> None:
        with self.write():
            for rid in list(self.resources):
                self._undo.append((rid, self.resources.pop(rid)))

    # ------------------------------------------------------------ the write path

    @contextmanager
    def write(self) -> Iterator[Store]:
        """A write; nested ones join the outermost, which commits (or undoes) them all."""
        with self.lock:
            self._depth += 1
            try:
                yield self
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self._rollback()
                raise
            self._depth -= 1
            if self._depth:
                return
            changed = self._commit()
            for listener in list(self._listeners):
                listener(changed)

    def _commit(self) -> set[str]:
        t = now()
        for res in self._touched.values():
            res.version += 1
            res.updated = t
        changed = {rid for rid, _ in self._undo} | set(self._touched)
        self._touched.clear()
        self._undo.clear()
        self.revision += 1
        return changed

    def _rollback(self) -> None:
        for rid, before in reversed(self._undo):
            if before is None:
                self.resources.pop(rid, None)
            else:
                self.resources[rid] = before
        self._touched.clear()
        self._undo.clear()

    def _in_write(self) -> None:
        if not self._depth:
            raise RuntimeError("Store changes go through `with store.write():`")

    def put(self, res: Resource) -> None:
        """Add a record, or replace the one with its id (an updated copy)."""
        self._in_write()
        self._undo.append((res.id, self.resources.get(res.id)))
        self.resources[res.id] = res

    def touch(self, res: Resource) -> None:
        """Mark a changed record: its version and update time are stamped at commit."""
        self._in_write()
        self._touched[res.id] = res

    def delete(self, res: Resource) -> None:
        """Delete ``res`` and follow the references to it, as the records' types declare
        them (:class:`~.records.Ref`): cascade, remove from lists, set null, or refuse."""
        self._in_write()
        gone = self._cascade(res)
        survivors = [r for r in self.resources.values() if r.id not in gone]
        self._refuse_restricted(gone, survivors)
        for rid in gone:
            self._undo.append((rid, self.resources.pop(rid)))
            self._touched.pop(rid, None)
        for other in survivors:
            for rf in references(type(other)):
                self._release(other, rf, gone)

    def _cascade(self, res: Resource) -> dict[str, Resource]:
        gone: dict[str, Resource] = {res.id: res}
        todo = [res.id]
        while todo:
            target = todo.pop()
            for other in self.resources.values():
                if other.id in gone or other.id == GLOBAL:
                    continue
                for rf in references(type(other)):
                    if rf.ref.on_delete == "cascade" and target in _ids(other, rf):
                        gone[other.id] = other
                        todo.append(other.id)
                        break
        return gone

    def _refuse_restricted(self, gone: dict[str, Resource], survivors: list[Resource]) -> None:
        # Plain ``restrict`` first, then the conditional ones, as the database checks its
        # foreign keys before the triggers of the ``set null`` updates.
        for conditional in (False, True):
            holders: dict[tuple[str, int], list[str]] = {}
            refs: dict[int, Any] = {}
            for other in survivors:
                for rf in references(type(other)):
                    if not _restricts(other, rf, conditional):
                        continue
                    for rid in _ids(other, rf):
                        if rid in gone:
                            holders.setdefault((rid, id(rf.ref)), []).append(other.id)
                            refs[id(rf.ref)] = rf.ref
            for (rid, key), ids in holders.items():
                refuse = refs[key].refuse
                if refuse is None:
                    raise RuntimeError(f"no error declared for a refused delete of {rid}")
                raise refuse(gone[rid], ids)

    @staticmethod
    def _release(other: Resource, rf: RefField, gone: dict[str, Resource]) -> None:
        if rf.ref.on_delete == "remove" and rf.many:
            ids = getattr(other, rf.name)
            ids[:] = [i for i in ids if i not in gone]
        elif rf.ref.on_delete == "set null" and getattr(other, rf.name) in gone:
            setattr(other, rf.name, "")

    # ------------------------------------------------------------ reads

    def of_type(self, cls: type[R]) -> list[R]:
        return [r for r in self.resources.values() if type(r) is cls]  # type: ignore[misc]

    def find(self, cls: type[R], **equal: Any) -> list[R]:
        """Records of ``cls`` whose fields equal ``equal``."""
        return [r for r in self.of_type(cls) if all(getattr(r, k) == v for k, v in equal.items())]

    def first(self, cls: type[R], **equal: Any) -> R | None:
        found = self.find(cls, **equal)
        return found[0] if found else None

    def holding(self, cls: type[R], list_field: str, member: str) -> list[R]:
        """Records of ``cls`` whose list ``list_field`` holds ``member``."""
        return [r for r in self.of_type(cls) if member in getattr(r, list_field)]

    def get_as(self, cls: type[R] | tuple[type, ...], resource_id: str) -> R:
        """The record with this id if it is a ``cls``, else a 404."""
        res = self.resources.get(resource_id)
        if not isinstance(res, cls):
            raise NotFound()
        return res  # type: ignore[return-value]

    def scope_of(self, resource_id: str) -> str:
        res = self.resources.get(resource_id)
        return res.scope_id if res else GLOBAL  # u_anon, u_auth live in global


def _ids(res: Resource, rf: RefField) -> list[str]:
    value = getattr(res, rf.name)
    return list(value) if rf.many else ([value] if value else [])


def _restricts(res: Resource, rf: RefField, conditional: bool) -> bool:
    if conditional:
        return rf.ref.on_delete == "set null" and bool(
            rf.ref.restrict_if and getattr(res, rf.ref.restrict_if)
        )
    return rf.ref.on_delete == "restrict"
