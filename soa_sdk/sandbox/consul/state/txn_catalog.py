"""The catalog operations of ``PUT /v1/txn``: ``Node``, ``Service``, ``Check``, ``Session``.

As Consul's ``state/txn.go`` (``txnNode`` / ``txnService`` / ``txnCheck`` / ``txnSession``)
and the server's ``Txn.preCheck``:

- ``Node``: ``get``, ``set``, ``cas``, ``delete`` (with its services, checks and sessions),
  ``delete-cas``; ``node:write`` (``Must provide node``, ``Bad node ID: ...``);
- ``Service`` (``{"Node": "<node>", "Service": {...}}``): the same verbs on one instance of
  a registered node (``failed inserting service: Missing node registration``);
  ``service:write`` on it (and on a proxy's destination);
- ``Check`` (``{"Check": {"Node", "CheckID", "ServiceID", ...}}``): the same verbs; a node's
  check needs ``node:write``, a service's ``service:write``; written like
  ``/v1/catalog/register``'s checks (stored, never run by the agent);
- ``Session``: ``delete`` (the session ends as destroyed: its locks released or deleted).
  Consul's preCheck asks no ACL for it; the sandbox asks ``session:write`` on its node, so a
  token may not end the sessions it could not destroy.

Results as Consul's ``TxnResult`` (``{"Node": ...}``, ``{"Service": ...}``, ``{"Check": ...}``,
filtered by what the token may read); an operation that fails rolls the whole transaction back
(the touched tables are restored) and answers 409 with every failing operation's error.
"""

from __future__ import annotations

import copy
import re
import uuid
from typing import Any

from ..exceptions import BadRequest, PermissionDenied
from .catalog import ce_shape, service_record
from .core import Authz, Store
from .health import catalog_check_def
from .records import Node

CATALOG_OPS = ("Node", "Service", "Check", "Session")
_WRITE_VERBS = ("set", "cas", "delete", "delete-cas")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


class TxnOpFailed(Exception):
    """One operation of a transaction failed: ``what`` is Consul's ``TxnError.What``."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def _stale(what: str) -> TxnOpFailed:
    return TxnOpFailed(f"failed to {what}, index is stale")


class TxnCatalogState(Store):
    """Catalog operations inside :meth:`.txn.TxnState.txn` (which owns the write)."""

    # ------------------------------------------------------------------ pre-check (ACL)

    def _txn_catalog_precheck(
        self, kind: str, op: dict, partition: str, authz: Authz
    ) -> str | None:
        """Consul's ``preCheck`` of one operation: its error text, or None."""
        verb = op.get("Verb", "")
        try:
            if kind == "Node" and verb != "get":
                node = op.get("Node") or {}
                if not node.get("Node"):
                    return "Must provide node"
                if node.get("ID") and not _UUID.fullmatch(node["ID"]):
                    return "Bad node ID: uuid string is wrong length"
                self._require(authz, "node", "write", node["Node"], partition)
            elif kind == "Service" and verb != "get":
                svc = op.get("Service") or {}
                name = svc.get("Service") or self._stored_service_name(op, partition)
                if svc.get("ID") and not name:
                    return "Must provide service name with ID"
                self._require(authz, "service", "write", name, partition)
                destination = (svc.get("Proxy") or {}).get("DestinationServiceName")
                if svc.get("Kind") == "connect-proxy" and destination:
                    self._require(authz, "service", "write", destination, partition)
            elif kind == "Check" and verb != "get":
                chk = op.get("Check") or {}
                owner = chk.get("ServiceName") or self._stored_check_service(chk, partition)
                if chk.get("ServiceID"):
                    self._require(authz, "service", "write", owner, partition)
                else:
                    self._require(authz, "node", "write", chk.get("Node", ""), partition)
            elif kind == "Session":
                sess = op.get("Session") or {}
                found = self._sessions.get((partition, sess.get("ID", "")))  # type: ignore[attr-defined]
                node = found.node if found else sess.get("Node") or self.node_name
                self._require(authz, "session", "write", node, partition)
        except PermissionDenied as exc:
            return str(exc)
        return None

    def _stored_service_name(self, op: dict, partition: str) -> str:
        sid = (op.get("Service") or {}).get("ID", "")
        found = self._services.get((partition, op.get("Node", ""), sid))
        return found.service if found else ""

    def _stored_check_service(self, chk: dict, partition: str) -> str:
        found = self._services.get((partition, chk.get("Node", ""), chk.get("ServiceID", "")))
        return found.service if found else ""

    # ------------------------------------------------------------------ apply

    def _txn_catalog_apply(self, kind: str, op: dict, partition: str) -> list[dict]:
        """Apply one operation (inside the transaction's write); its results."""
        verb = op.get("Verb", "")
        if kind == "Session":
            if verb != "delete":
                raise TxnOpFailed(f'unknown Session verb "{verb}"')
            self._end_session((partition, (op.get("Session") or {}).get("ID", "")))  # type: ignore[attr-defined]
            return []
        if verb not in ("get", *_WRITE_VERBS):
            raise TxnOpFailed(f'unknown {kind} verb "{verb}"')
        apply = {"Node": self._txn_node, "Service": self._txn_service, "Check": self._txn_check}
        return apply[kind](verb, op, partition)

    def _txn_node(self, verb: str, op: dict, partition: str) -> list[dict]:
        raw = op.get("Node") or {}
        name = raw.get("Node", "")
        key = (partition, name)
        old = self._nodes.get(key)
        index = int(raw.get("ModifyIndex") or 0)
        if verb == "get":
            if old is None:
                raise TxnOpFailed(f'node "{name}" doesn\'t exist')
            return [{"Node": old.to_dict()}]
        if verb in ("delete", "delete-cas"):
            if verb == "delete-cas" and (old is None or old.modify_index != index):
                raise _stale(f'delete node "{name}"')
            if old is not None:
                self._delete_node(partition, name)  # type: ignore[attr-defined]
            return []
        if verb == "cas" and (old.modify_index if old else 0) != index:
            raise _stale(f'set node "{name}"')
        node = Node(
            id=raw.get("ID") or (old.id if old else str(uuid.uuid4())),
            node=name,
            address=raw.get("Address", ""),
            datacenter=self.datacenter,
            partition=partition,
            tagged_addresses=dict(raw.get("TaggedAddresses") or {}),
            meta=dict(raw.get("Meta") or {}),
        )
        return [{"Node": self._nodes.put(key, node).to_dict()}]

    def _txn_service(self, verb: str, op: dict, partition: str) -> list[dict]:
        raw = dict(op.get("Service") or {})
        node = op.get("Node", "")
        sid = raw.get("ID") or raw.get("Service") or ""
        key = (partition, node, sid)
        old = self._services.get(key)
        index = int(raw.get("ModifyIndex") or 0)
        where = f'service "{sid}" on node "{node}"'
        if verb == "get":
            if old is None:
                raise TxnOpFailed(f"{where} doesn't exist")
            return [{"Service": ce_shape(old.to_dict())}]
        if verb in ("delete", "delete-cas"):
            if verb == "delete-cas" and (old is None or old.modify_index != index):
                raise _stale(f"delete {where}")
            if old is not None:
                self._drop_service(key)  # type: ignore[attr-defined]
            return []
        if verb == "cas" and (old.modify_index if old else 0) != index:
            raise _stale(f"set {where}")
        if (partition, node) not in self._nodes:
            raise TxnOpFailed("failed inserting service: Missing node registration")
        raw["Name"] = raw.pop("Service", "")
        try:
            svc = service_record(raw, partition, self.datacenter, node)
        except BadRequest as exc:
            raise TxnOpFailed(exc.reason) from exc
        return [{"Service": ce_shape(self._services.put(key, svc).to_dict())}]

    def _txn_check(self, verb: str, op: dict, partition: str) -> list[dict]:
        raw = dict(op.get("Check") or {})
        node, check_id = raw.get("Node", ""), raw.get("CheckID", "")
        key = (partition, node, check_id)
        old = self._checks.get(key)
        index = int(raw.get("ModifyIndex") or 0)
        where = f'check "{check_id}" on node "{node}"'
        if verb == "get":
            if old is None:
                raise TxnOpFailed(f"{where} doesn't exist")
            return [{"Check": old.to_dict()}]
        if verb in ("delete", "delete-cas"):
            if verb == "delete-cas" and (old is None or old.modify_index != index):
                raise _stale(f"delete {where}")
            if old is not None:
                self._drop_check(key)  # type: ignore[attr-defined]
            return []
        if verb == "cas" and (old.modify_index if old else 0) != index:
            raise _stale(f"set {where}")
        if (partition, node) not in self._nodes:
            raise TxnOpFailed("Missing node registration")
        owner = None
        if raw.get("ServiceID"):
            owner = self._services.get((partition, node, raw["ServiceID"]))
            if owner is None:
                raise TxnOpFailed("Missing service registration")
        try:
            spec = catalog_check_def(raw)
        except BadRequest as exc:
            raise TxnOpFailed(exc.reason) from exc
        if old is not None:
            self.runner.cancel(key)  # the catalog's check now: the agent runs it no more
        self._store_check(partition, node, spec, owner)  # type: ignore[attr-defined]
        return [{"Check": self._checks[key].to_dict()}]

    # ------------------------------------------------------------------ results, rollback

    def _txn_result_visible(self, result: dict, partition: str, authz: Authz) -> bool:
        """``FilterTxnResults``: a result the token may read."""
        if "Node" in result:
            return self._allowed(authz, "node", "read", result["Node"]["Node"], partition)
        if "Service" in result:
            return self._can_read_service(authz, result["Service"]["Service"], partition)
        if "Check" in result:
            chk = result["Check"]
            if chk["ServiceName"]:
                return self._can_read_service(authz, chk["ServiceName"], partition)
            return self._allowed(authz, "node", "read", chk["Node"], partition)
        return True

    def _txn_saved(self) -> dict[str, Any]:
        """What a failed transaction puts back: the catalog's tables and the sessions'."""
        tables = (self._nodes, self._services, self._checks, self._kv, self._sessions)  # type: ignore[attr-defined]
        return {
            "tables": [(t, copy.deepcopy(dict(t))) for t in tables],
            "deadlines": dict(self._session_deadlines),  # type: ignore[attr-defined]
            "delays": dict(self._lock_delays),  # type: ignore[attr-defined]
        }

    def _txn_rollback(self, saved: dict[str, Any]) -> None:
        """Restore ``saved`` without recording a change (the write then commits nothing)."""
        for table, rows in saved["tables"]:
            dict.clear(table)
            dict.update(table, rows)
        self._session_deadlines = saved["deadlines"]
        self._lock_delays = saved["delays"]
        self._schedule_reaper()  # type: ignore[attr-defined]
        for key, chk in self._checks.items():
            self._schedule_check(key, chk)  # type: ignore[attr-defined]
