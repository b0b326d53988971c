"""Admin partitions and cluster peering (``/v1/partition*``, ``/v1/peering*``).

Peerings link two partitions of this one backend; a token made here establishes only here
(what the routes leave out is listed in :data:`..urls.ROUTES`).
"""

from __future__ import annotations

import base64
import json
import uuid

from .. import config_entries as ce
from ..exceptions import BadRequest, RPCError
from .catalog import CatalogState
from .core import Authz, now_iso
from .records import Partition, Peering

_SERVER_NAME = "server.dc1.peering.sandbox.consul"


class TenancyState(CatalogState):
    """Partitions (each with the agent's node in it) and peerings between them."""

    # ------------------------------------------------------------------ partitions

    def _add_partition(self, name: str, description: str) -> None:
        self._partitions.put(name, Partition(name, description))
        self._add_agent_node(name)

    def partition_upsert(
        self, name: str, description: str = "", authz: Authz = None, create_only: bool = False
    ) -> dict:
        """``PUT /v1/partition`` (create) / ``PUT /v1/partition/:name`` (update)."""
        self._require(authz, "operator", "write")
        if not name or not ce._VALID_SUBSET.fullmatch(name):
            raise BadRequest(f"Partition name {name!r} is invalid")
        with self.write():
            if name in self._partitions:
                if create_only:
                    raise RPCError(f'Partition "{name}" already exists')
                self._partitions.touch(name).description = description
            else:
                self._add_partition(name, description)
            return self._partitions[name].to_dict()

    def partition_get(self, name: str, authz: Authz = None) -> dict | None:
        """``GET /v1/partition/:name`` (any token may read partitions)."""
        with self._lock:
            found = self._partitions.get(name)
            return found.to_dict() if found else None

    def partition_list(self, authz: Authz = None) -> list[dict]:
        """``GET /v1/partitions``."""
        return self._docs(self._partitions)

    def partition_delete(self, name: str, authz: Authz = None) -> None:
        """``DELETE /v1/partition/:name``: the partition and everything in it."""
        self._require(authz, "operator", "write")
        if name == "default":
            raise BadRequest("Cannot delete default partition")
        with self.write():
            if self._partitions.pop(name, None) is None:
                return
            for key in [k for k in self._checks if k[0] == name]:
                self._drop_check(key)
            for table in (
                self._nodes, self._services, self._kv, self._peerings, self._config,
                self._auth_methods,
            ):  # fmt: skip
                table.purge(lambda k: k[0] == name)
            # its ACL objects go with it: binding rules, and tokens (those of logins too)
            self._binding_rules.purge(lambda k: self._binding_rules[k].partition == name)
            self._tokens.purge(lambda k: self._tokens[k].partition == name)

    # ------------------------------------------------------------------ peering

    def _peering_doc(self, peering: Peering) -> dict:
        imported = exported = 0
        remote = peering.remote_partition
        if remote:

            def count(partition: str, peer: str) -> int:
                exports = self._resolved_exports(partition).values()
                return sum(1 for cons in exports if any(c.get("Peer") == peer for c in cons))

            exported = count(peering.partition, peering.name)
            imported = count(remote, peering.remote_peer_name)
        return peering.to_dict(imported, exported, now_iso() if remote else None)

    def _peering_request(self, raw: dict, partition: str, authz: Authz) -> tuple[str, str]:
        """(partition, PeerName) of a token or establish request the caller may make."""
        partition = self.check_partition(raw.get("Partition") or partition)
        self._require(authz, "peering", "write", "", partition)
        name = raw.get("PeerName", "")
        if not name:
            raise BadRequest("PeerName is required in the request")
        return partition, name

    def peering_token(self, raw: dict, partition: str = "default", authz: Authz = None) -> str:
        """``POST /v1/peering/token``: a peering in state ``PENDING`` and its token."""
        partition, name = self._peering_request(raw, partition, authz)
        with self.write():
            existing = self._peerings.get((partition, name))
            if existing and existing.remote_partition:
                raise RPCError(
                    f'cannot create peering token; peering "{name}" is already established'
                )
            peering = Peering(
                existing.id if existing else str(uuid.uuid4()),
                name,
                partition,
                meta=raw.get("Meta") or {},
                secret=str(uuid.uuid4()),
            )
            self._peerings.put((partition, name), peering)
        token = {
            "CA": None,
            "ManualServerAddresses": None,
            "ServerAddresses": [f"{self.address}:8502"],
            "ServerName": _SERVER_NAME,
            "PeerID": peering.id,
            "EstablishmentSecret": peering.secret,
            "Remote": {"Partition": partition, "Datacenter": self.datacenter},
        }
        return base64.b64encode(json.dumps(token).encode()).decode()

    def peering_establish(self, raw: dict, partition: str = "default", authz: Authz = None) -> None:
        """``POST /v1/peering/establish``: the dialing side, from a token made by this backend."""
        partition, name = self._peering_request(raw, partition, authz)
        try:
            token = json.loads(base64.b64decode(raw.get("PeeringToken", ""), validate=True))
            peer_id, secret = token["PeerID"], token["EstablishmentSecret"]
        except (ValueError, KeyError, TypeError) as exc:
            raise BadRequest("invalid peering token: " + str(exc)) from exc
        with self.write():
            acceptor = next(
                (p for p in self._peerings.values() if p.id == peer_id and p.secret == secret),
                None,
            )
            if acceptor is None:
                raise RPCError(
                    "failed to get addresses to dial peer: peering token is not valid for this"
                    " sandbox (peerings between separate sandboxes carry no traffic)"
                )
            if acceptor.partition == partition:
                raise BadRequest(
                    "cannot create a peering within the same partition (ENT) or cluster (OSS)"
                )
            dialer = Peering(
                str(uuid.uuid4()),
                name,
                partition,
                state="ACTIVE",
                meta=raw.get("Meta") or {},
                peer_id=acceptor.id,
                peer_server_name=_SERVER_NAME,
                peer_server_addresses=[f"{self.address}:8502"],
                remote={"Partition": acceptor.partition, "Datacenter": self.datacenter},
                remote_partition=acceptor.partition,
                remote_peer_name=acceptor.name,
            )
            self._peerings.put((partition, name), dialer)
            self._peerings.touch((acceptor.partition, acceptor.name))
            acceptor.state, acceptor.peer_id, acceptor.secret = "ACTIVE", dialer.id, None
            acceptor.remote = {"Partition": partition, "Datacenter": self.datacenter}
            acceptor.remote_partition, acceptor.remote_peer_name = partition, name

    def peering_get(
        self, name: str, partition: str = "default", authz: Authz = None
    ) -> dict | None:
        """``GET /v1/peering/:name``."""
        self._require(authz, "peering", "read", "", partition)
        with self._lock:
            found = self._peerings.get((partition, name))
            return self._peering_doc(found) if found else None

    def peering_list(self, partition: str = "default", authz: Authz = None) -> list[dict]:
        """``GET /v1/peerings``."""
        self._require(authz, "peering", "read", "", partition)
        return self._docs(self._peerings, partition=partition, doc=self._peering_doc)

    def peering_delete(self, name: str, partition: str = "default", authz: Authz = None) -> None:
        """``DELETE /v1/peering/:name``: the other side becomes ``TERMINATED``."""
        self._require(authz, "peering", "write", "", partition)
        with self.write() as tx:
            gone = self._peerings.pop((partition, name), None)
            if gone is None:
                return
            tx.touch("services")  # what the peer imported is gone
            other_key = (gone.remote_partition or "", gone.remote_peer_name)
            if gone.remote_partition and other_key in self._peerings:
                other = self._peerings.touch(other_key)
                other.state, other.remote_partition = "TERMINATED", None
