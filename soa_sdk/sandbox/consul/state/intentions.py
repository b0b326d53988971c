"""Intentions (``/v1/connect/intentions*``): views and edits of ``service-intentions``
config entries, the legacy ID-based API and the name-based one.

Every edit is one write: it rewrites the destination's entry through ``config_apply`` or
``config_delete`` inside the caller's :meth:`~.core.Store.write`, so an update that moves an
intention to another destination commits (and notifies) once.
"""

from __future__ import annotations

import copy
import uuid

from ..exceptions import BadRequest, NotFound, PermissionDenied, RPCError
from . import precedence
from .config import ConfigKey, ConfigState, entry_key
from .core import Authz, compile_filter, now_iso
from .records import ConfigEntry, content_hash

KIND = "service-intentions"


def check_intention_namespaces(raw: dict) -> None:
    """A legacy intention's ``SourceNS``/``DestinationNS``: only ``default`` (Consul CE's
    ``validateEnterpriseIntentionNamespace``)."""
    for field in ("SourceNS", "DestinationNS"):
        value = raw.get(field) or ""
        if value and value.lower() != "default":
            raise BadRequest(f"Invalid {field}({value}): Namespaces is a Consul Enterprise feature")


def _intention_doc(entry: ConfigEntry, src: dict) -> dict:
    """One source of an entry as a legacy intention (``/v1/connect/intentions``'s shape)."""
    return {
        "ID": src.get("LegacyID", ""),
        "Description": src.get("Description", ""),
        "SourcePeer": src.get("Peer", ""),
        "SourceNS": src.get("Namespace") or "default",
        "SourceName": src.get("Name", ""),
        "SourcePartition": src.get("Partition") or entry.partition,
        "DestinationNS": entry.body["Namespace"],
        "DestinationName": entry.name,
        "DestinationPartition": entry.partition,
        "SourceType": "consul",
        "Action": src.get("Action", ""),
        "Permissions": copy.deepcopy(src.get("Permissions") or []),
        "Meta": copy.deepcopy(src.get("LegacyMeta") or {}),
        "Precedence": src.get("Precedence", 0),
        "CreatedAt": src.get("LegacyCreateTime", ""),
        "UpdatedAt": src.get("LegacyUpdateTime", ""),
        "Hash": content_hash(src)[:22],
        **entry.indexes(),
    }


def _source(raw: dict, name: str) -> dict:
    """A source block from a legacy intention's fields."""
    src = {
        "Name": name,
        "Action": (raw.get("Action") or "").lower(),
        "Description": raw.get("Description", ""),
    }
    if raw.get("Permissions"):
        src["Permissions"] = raw["Permissions"]
        src.pop("Action")
    if raw.get("Meta"):
        src["LegacyMeta"] = raw["Meta"]
    return src


def _legacy_source(raw: dict, intention_id: str, created: str, updated: str) -> dict:
    src = _source(raw, raw["SourceName"])
    src.update(LegacyID=intention_id, LegacyCreateTime=created, LegacyUpdateTime=updated)
    if raw.get("SourcePeer"):
        src["Peer"] = raw["SourcePeer"]
    if raw.get("SourcePartition"):
        src["Partition"] = raw["SourcePartition"]
    return src


def _same_source(a: dict, b: dict) -> bool:
    return (
        a.get("Name") == b["Name"]
        and a.get("Peer", "") == b.get("Peer", "")
        and (a.get("Partition") or "") == (b.get("Partition") or "")
    )


class IntentionState(ConfigState):
    """Intentions over the config entries."""

    def _all_intentions(self, partition: str, authz: Authz) -> list[dict]:
        out = []
        for _key, entry in self._records(
            self._config,
            partition=partition,
            where=lambda e: e.kind == KIND,
            visible=lambda e: self._config_read_allowed(authz, e),
        ):
            out.extend(_intention_doc(entry, s) for s in entry.body.get("Sources") or [])
        out.sort(key=lambda i: (-i["Precedence"], i["DestinationName"], i["SourceName"]))
        return out

    def intentions_list(
        self, partition: str = "default", authz: Authz = None, filter_expr: str | None = None
    ) -> list[dict]:
        """``GET /v1/connect/intentions``: every source of every service-intentions entry."""
        pred = compile_filter(filter_expr)
        return [i for i in self._all_intentions(partition, authz) if pred is None or pred(i)]

    def _find_legacy(self, intention_id: str) -> tuple[ConfigKey, ConfigEntry, int]:
        for key, entry in self._config.items():
            if entry.kind != KIND:
                continue
            for i, src in enumerate(entry.body.get("Sources") or []):
                if src.get("LegacyID") == intention_id:
                    return key, entry, i
        raise NotFound("Intention not found")

    def _upsert_source(
        self,
        partition: str,
        destination: str,
        source: dict,
        authz: Authz,
        replace_id: str | None = None,
    ) -> None:
        """Add or replace one source in the destination's service-intentions entry."""
        with self.write():
            old = self._config.get(entry_key(KIND, destination, partition))
            body = copy.deepcopy(old.body) if old else {"Kind": KIND, "Name": destination}
            body["Sources"] = [
                s
                for s in body.get("Sources") or []
                if not ((replace_id and s.get("LegacyID") == replace_id) or _same_source(s, source))
            ] + [source]
            self.config_apply(body, partition=partition, authz=authz)

    def _remove_source(
        self, key: ConfigKey, authz: Authz, intention_id: str | None = None, name: str = ""
    ) -> None:
        with self.write():
            body = copy.deepcopy(self._config[key].body)
            body["Sources"] = [
                s
                for s in body["Sources"]
                if not (
                    (intention_id and s.get("LegacyID") == intention_id)
                    or (name and s.get("Name") == name and not s.get("Peer"))
                )
            ]
            if body["Sources"]:
                self.config_apply(body, partition=key[0], authz=authz)
            else:
                self.config_delete(KIND, key[2], partition=key[0], authz=authz)

    def intention_create(self, raw: dict, partition: str = "default", authz: Authz = None) -> str:
        """``POST /v1/connect/intentions`` (legacy): returns the new intention's ID."""
        src, dest = raw.get("SourceName", ""), raw.get("DestinationName", "")
        if not src or not dest:
            raise BadRequest("Intention source and destination names are required")
        check_intention_namespaces(raw)
        now = now_iso()
        intention_id = str(uuid.uuid4())
        with self.write():
            existing = self._config.get(entry_key(KIND, dest, partition))
            for s in (existing.body if existing else {}).get("Sources") or []:
                if s.get("Name") == src and not s.get("Peer"):
                    raise RPCError(f"duplicate intention found: default/{src} => default/{dest}")
            source = _legacy_source(raw, intention_id, now, now)
            self._upsert_source(partition, dest, source, authz)
        return intention_id

    def intention_get(self, intention_id: str, authz: Authz = None) -> dict:
        """``GET /v1/connect/intentions/:id``."""
        with self._lock:
            _key, entry, i = self._find_legacy(intention_id)
            if not self._config_read_allowed(authz, entry):
                assert authz is not None
                raise PermissionDenied(authz.accessor_id, "intentions", "read", entry.name)
            return _intention_doc(entry, entry.body["Sources"][i])

    def intention_update(self, intention_id: str, raw: dict, authz: Authz = None) -> None:
        """``PUT /v1/connect/intentions/:id`` (legacy): replace the intention."""
        check_intention_namespaces(raw)
        with self.write():
            key, entry, i = self._find_legacy(intention_id)
            old = entry.body["Sources"][i]
            merged = {
                "SourceName": raw.get("SourceName") or old["Name"],
                "DestinationName": raw.get("DestinationName") or entry.name,
                "Action": raw.get("Action") or old.get("Action", ""),
                "Description": raw.get("Description", old.get("Description", "")),
                "Meta": raw.get("Meta") or old.get("LegacyMeta"),
                "Permissions": raw.get("Permissions") or old.get("Permissions"),
            }
            created = old.get("LegacyCreateTime", "")
            source = _legacy_source(merged, intention_id, created, now_iso())
            if merged["DestinationName"] != entry.name:
                self._remove_source(key, authz, intention_id=intention_id)
            self._upsert_source(
                key[0], merged["DestinationName"], source, authz, replace_id=intention_id
            )

    def intention_delete(self, intention_id: str, authz: Authz = None) -> None:
        """``DELETE /v1/connect/intentions/:id``."""
        with self.write():
            key, _entry, _i = self._find_legacy(intention_id)
            self._remove_source(key, authz, intention_id=intention_id)

    def intention_exact_get(
        self, source: str, destination: str, partition: str = "default", authz: Authz = None
    ) -> dict:
        """``GET /v1/connect/intentions/exact?source=&destination=``."""
        self._require(authz, "intentions", "read", destination, partition)
        with self._lock:
            entry = self._config.get(entry_key(KIND, destination, partition))
            for src in (entry.body if entry else {}).get("Sources") or []:
                if entry and src.get("Name") == source and not src.get("Peer"):
                    return _intention_doc(entry, src)
        raise NotFound("Intention not found")

    def intention_exact_put(
        self,
        source: str,
        destination: str,
        raw: dict,
        partition: str = "default",
        authz: Authz = None,
    ) -> None:
        """``PUT /v1/connect/intentions/exact``: upsert by names (no legacy ID)."""
        if not source or not destination:
            raise BadRequest("Missing required query parameters: source, destination")
        self._upsert_source(partition, destination, _source(raw, source), authz)

    def intention_exact_delete(
        self, source: str, destination: str, partition: str = "default", authz: Authz = None
    ) -> None:
        """``DELETE /v1/connect/intentions/exact``."""
        with self.write():
            key = entry_key(KIND, destination, partition)
            if key not in self._config:
                self._require(authz, "intentions", "write", destination, partition)
                return
            self._remove_source(key, authz, name=source)

    def intention_match(
        self, by: str, names: list[str], partition: str = "default", authz: Authz = None
    ) -> dict[str, list[dict]]:
        """``GET /v1/connect/intentions/match?by=source|destination&name=...``."""
        if by not in ("source", "destination"):
            raise BadRequest("'by' parameter must be 'source' or 'destination'")
        field = "SourceName" if by == "source" else "DestinationName"
        with self._lock:
            every = self._all_intentions(partition, None)
        readable = [
            i
            for i in every
            if not i["SourcePeer"]
            and self._allowed(authz, "intentions", "read", i["DestinationName"], partition)
        ]
        return {
            name: sorted(
                (i for i in readable if i[field] in (name, "*")), key=lambda i: -i["Precedence"]
            )
            for name in names
        }

    def intention_default_allow(self) -> bool:
        """Consul's default intention behaviour: the agent's ``default_intention_policy``
        when set, else the ACL default policy (allow when ACLs are off)."""
        if self.default_intention_policy:
            return self.default_intention_policy == "allow"
        return not self.acl_enabled or self.acl_default_policy == "allow"

    def intention_check(
        self, source: str, destination: str, partition: str = "default", authz: Authz = None
    ) -> bool:
        """``GET /v1/connect/intentions/check``: may ``source`` connect to ``destination``?

        Decided by :func:`.precedence.decide`, by the precedence the Envoys' RBAC is built
        with, asked at L4: an L7 intention counts as deny (Consul's ``Intention.Check``); no
        matching intention gives :meth:`intention_default_allow`.
        """
        if not source or not destination:
            raise BadRequest("required query parameter 'source' not set")
        self._require(authz, "intentions", "read", destination, partition)
        with self._lock:

            def lookup(kind: str, name: str, part: str) -> dict | None:
                entry = self._config.get(entry_key(kind, name, part))
                return entry.to_dict() if entry else None

            return precedence.decide(
                lookup,
                precedence.Caller(source, partition),
                destination,
                partition,
                self.intention_default_allow(),
            )
