"""What a single dev agent answers about itself: operator (raft, autopilot, keyring, usage),
coordinates, user events, and the agent's maintenance / reload / metrics / monitor / leave /
force-leave / token endpoints.

One server that is its own leader: ``/v1/operator/raft/configuration`` lists it as the only
voter, autopilot reports it healthy with a failure tolerance of 0, usage counts this
datacenter's services and nodes. Coordinates are stored as written (Consul batches updates every
few seconds). Events (``/v1/event/fire``) are kept in memory (the last 256, as the agent's
buffer) and never reach another agent; their ``LTime`` is a Lamport counter.

Not implemented: the keyring has no keys (a dev agent runs without gossip encryption, so
install / use / remove answer 500); ``leave`` answers 200 and the agent keeps serving (a real
dev agent would shut down); ``reload`` rereads nothing (there is no configuration file);
``monitor`` streams the last few log lines and ends instead of following the log; metrics are
the handful of gauges the emulator can count.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections import deque
from typing import Any

from ..exceptions import BadRequest, NotFound, RPCError
from .core import CONSUL_VERSION, Authz, Store, now_iso
from .records import CheckDef, Coordinate

EVENT_BUFFER = 256
AGENT_TOKENS = (
    "default",
    "agent",
    "agent_recovery",
    "agent_master",
    "replication",
    "config_file_service_registration",
    "dns",
)
NODE_MAINT = "_node_maintenance"
SERVICE_MAINT = "_service_maintenance:"
_DEFAULT_REASON = (
    "Maintenance mode is enabled for this {}, but no reason was provided."
    " This is a default message."
)
_LOG_LEVELS = ("trace", "debug", "info", "warn", "error")


def origin_coord() -> dict[str, Any]:
    """A fresh node's Vivaldi coordinate (8 dimensions, at the origin)."""
    return {"Vec": [0.0] * 8, "Error": 1.5, "Adjustment": 0.0, "Height": 1e-05}


class OperatorState(Store):
    """Autopilot configuration, agent tokens, events and the lamport clock; coordinates are
    the ``coordinates`` table."""

    _coordinates: Any  # Table[tuple[str, str], Coordinate], built by the backend

    def _init_operator(self) -> None:
        self._autopilot: dict[str, Any] = {
            "CleanupDeadServers": True,
            "LastContactThreshold": "200ms",
            "MaxTrailingLogs": 250,
            "MinQuorum": 0,
            "ServerStabilizationTime": "10s",
            "RedundancyZoneTag": "",
            "DisableUpgradeMigration": False,
            "UpgradeVersionTag": "",
            "CreateIndex": self.index,
            "ModifyIndex": self.index,
        }
        self._events: deque[dict[str, Any]] = deque(maxlen=EVENT_BUFFER)
        self._ltime = 0
        self._agent_tokens: dict[str, str] = {}
        self._started = time.time()
        self._coordinates.put(
            ("default", self.node_name),
            Coordinate(self.node_name, "default", origin_coord()),
        )

    # ------------------------------------------------------------------ raft, autopilot

    def _server_id(self) -> str:
        return self.node_id

    def raft_configuration(self, authz: Authz = None) -> dict:
        """``GET /v1/operator/raft/configuration``: this server, the leader and only voter."""
        self._require(authz, "operator", "read")
        return {
            "Servers": [
                {
                    "ID": self._server_id(),
                    "Node": self.node_name,
                    "Address": f"{self.address}:8300",
                    "Leader": True,
                    "ProtocolVersion": "3",
                    "Voter": True,
                    "LastIndex": self.index,
                }
            ],
            "Index": self.index,
        }

    def autopilot_get(self, authz: Authz = None) -> dict:
        """``GET /v1/operator/autopilot/configuration``."""
        self._require(authz, "operator", "read")
        with self._lock:
            return dict(self._autopilot)

    def autopilot_set(self, raw: dict, cas: int | None = None, authz: Authz = None) -> bool:
        """``PUT /v1/operator/autopilot/configuration`` (``?cas=`` against ModifyIndex)."""
        self._require(authz, "operator", "write")
        if not isinstance(raw, dict):
            raise BadRequest("Error parsing autopilot config: expected an object")
        with self.write() as tx:
            if cas is not None and cas != self._autopilot["ModifyIndex"]:
                return False
            keep = ("CreateIndex", "ModifyIndex")
            for key in self._autopilot:
                if key in raw and key not in keep:
                    self._autopilot[key] = raw[key]
            self._autopilot["ModifyIndex"] = tx.index
            tx.touch("autopilot")
        return True

    def _server_health(self) -> dict:
        return {
            "ID": self._server_id(),
            "Name": self.node_name,
            "Address": f"{self.address}:8300",
            "SerfStatus": "alive",
            "Version": CONSUL_VERSION,
            "Leader": True,
            "LastContact": "0s",
            "LastTerm": 2,
            "LastIndex": self.index,
            "Healthy": True,
            "Voter": True,
            "StableSince": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._started)),
        }

    def autopilot_health(self, authz: Authz = None) -> dict:
        """``GET /v1/operator/autopilot/health``."""
        self._require(authz, "operator", "read")
        return {"Healthy": True, "FailureTolerance": 0, "Servers": [self._server_health()]}

    def autopilot_state(self, authz: Authz = None) -> dict:
        """``GET /v1/operator/autopilot/state``."""
        self._require(authz, "operator", "read")
        server = self._server_health()
        sid = server["ID"]
        return {
            "Healthy": True,
            "FailureTolerance": 0,
            "OptimisticFailureTolerance": 0,
            "Servers": {
                sid: {
                    "ID": sid,
                    "Name": server["Name"],
                    "Address": server["Address"],
                    "NodeStatus": "alive",
                    "Version": CONSUL_VERSION,
                    "LastContact": "0s",
                    "LastTerm": 2,
                    "LastIndex": server["LastIndex"],
                    "Healthy": True,
                    "StableSince": server["StableSince"],
                    "Status": "leader",
                    "Meta": {},
                    "NodeType": "voter",
                }
            },
            "Leader": sid,
            "Voters": [sid],
        }

    # ------------------------------------------------------------------ keyring, usage

    def keyring_list(self, authz: Authz = None) -> list[dict]:
        """``GET /v1/operator/keyring``: the WAN and LAN pools, with no keys."""
        self._require(authz, "keyring", "read")
        return [
            {
                "WAN": wan,
                "Datacenter": self.datacenter,
                "Segment": "",
                "Messages": {},
                "Keys": {},
                "PrimaryKeys": {},
                "NumNodes": 1,
            }
            for wan in (True, False)
        ]

    def keyring_change(self, raw: dict, authz: Authz = None) -> None:
        """``POST``/``PUT``/``DELETE /v1/operator/keyring``: refused, no gossip encryption."""
        self._require(authz, "keyring", "write")
        raise RPCError(
            f"{self.datacenter} (LAN) error: gossip encryption is not enabled on this agent"
            " (a dev agent runs without an encrypt key)"
        )

    def operator_usage(self, authz: Authz = None) -> dict:
        """``GET /v1/operator/usage``: services, instances and nodes of this datacenter."""
        self._require(authz, "operator", "read")
        with self._lock:
            services = {s.service for s in self._services.values()} | {"consul"}
            instances = len(self._services) + 1
            connect = {
                kind or "connect-native": sum(
                    1 for s in self._services.values() if (s.kind == kind if kind else s.native)
                )
                for kind in (
                    "connect-proxy",
                    "",
                    "api-gateway",
                    "ingress-gateway",
                    "mesh-gateway",
                    "terminating-gateway",
                )
            }
            billable = sum(1 for s in self._services.values() if not s.kind)
            return {
                "Usage": {
                    self.datacenter: {
                        "Services": len(services),
                        "ServiceInstances": instances,
                        "ConnectServiceInstances": connect,
                        "BillableServiceInstances": billable + 1,
                        "Nodes": len(self._nodes),
                    }
                },
                "Index": self.index,
            }

    # ------------------------------------------------------------------ coordinates

    def coordinate_datacenters(self) -> list[dict]:
        """``GET /v1/coordinate/datacenters``: the WAN coordinates of this one server."""
        with self._lock:
            me = self._coordinates.get(("default", self.node_name))
        coord = me.coord if me else origin_coord()
        return [
            {
                "Datacenter": self.datacenter,
                "AreaID": "wan",
                "Coordinates": [{"Node": f"{self.node_name}.{self.datacenter}", "Coord": coord}],
            }
        ]

    def coordinate_nodes(self, partition: str = "default", authz: Authz = None) -> list[dict]:
        """``GET /v1/coordinate/nodes``."""
        return self._docs(
            self._coordinates,
            partition=partition,
            visible=lambda c: self._allowed(authz, "node", "read", c.node, c.partition),
        )

    def coordinate_node(
        self, node: str, partition: str = "default", authz: Authz = None
    ) -> list[dict] | None:
        """``GET /v1/coordinate/node/:node`` (None, a 404, when the node has none).

        Consul's ``Coordinate.Node`` checks ``node:read`` on the node before it looks the
        coordinate up, so a token without it gets 403, not a 404."""
        self._require(authz, "node", "read", node, partition)
        docs = self._docs(
            self._coordinates,
            partition=partition,
            where=lambda c: c.node == node,
            visible=lambda c: self._allowed(authz, "node", "read", c.node, c.partition),
        )
        return docs or None

    def coordinate_update(self, raw: dict, partition: str = "default", authz: Authz = None) -> bool:
        """``PUT /v1/coordinate/update``: a node's coordinate (the node must exist)."""
        node = (raw or {}).get("Node") or ""
        coord = (raw or {}).get("Coord")
        # Consul's Coordinate.Update validates the coordinate (an RPC error, 500) before it
        # resolves the token and checks node:write.
        vec = (coord or {}).get("Vec")
        if not isinstance(vec, list) or len(vec) != 8:
            raise RPCError("invalid coordinate")
        self._require(authz, "node", "write", node, partition)
        with self.write():
            if (partition, node) not in self._nodes:
                raise RPCError(f"Node {node!r} is not registered")
            self._coordinates.put(
                (partition, node),
                Coordinate(node, partition, dict(coord), raw.get("Segment") or ""),
            )
        return True

    # ------------------------------------------------------------------ events

    def event_fire(
        self,
        name: str,
        payload: bytes,
        node: str = "",
        service: str = "",
        tag: str = "",
        authz: Authz = None,
    ) -> dict:
        """``PUT /v1/event/fire/:name``: the event as delivered (needs ``event:write``)."""
        self._require(authz, "event", "write", name)
        if tag and not service:
            raise BadRequest("Cannot provide tag filter without service filter")
        with self.write() as tx:
            self._ltime += 1
            event = {
                "ID": str(uuid.uuid4()),
                "Name": name,
                "Payload": base64.b64encode(payload).decode() if payload else None,
                "NodeFilter": node,
                "ServiceFilter": service,
                "TagFilter": tag,
                "Version": 1,
                "LTime": self._ltime,
            }
            self._events.append(event)
            tx.touch("events")
        return dict(event)

    def event_list(self, name: str = "", authz: Authz = None) -> list[dict]:
        """``GET /v1/event/list?name=``: the agent's recent events it may read, oldest first."""
        with self._lock:
            return [
                dict(e)
                for e in self._events
                if (not name or e["Name"] == name)
                and self._allowed(authz, "event", "read", e["Name"])
            ]

    # ------------------------------------------------------------------ agent

    def agent_maintenance(
        self, enable: bool, reason: str = "", partition: str = "default", authz: Authz = None
    ) -> None:
        """``PUT /v1/agent/maintenance?enable=``: the node's ``_node_maintenance`` check."""
        self._require(authz, "node", "write", self.node_name, partition)
        with self.write():
            self._maintenance(partition, NODE_MAINT, "Node", enable, reason, None)

    def service_maintenance(
        self,
        service_id: str,
        enable: bool,
        reason: str = "",
        partition: str = "default",
        authz: Authz = None,
    ) -> None:
        """``PUT /v1/agent/service/maintenance/:id?enable=``."""
        with self.write():
            svc = self._services.get((partition, self.node_name, service_id))
            if svc is None:
                raise NotFound(f'No service registered with ID "{service_id}"')
            self._require(authz, "service", "write", svc.service, partition)
            self._maintenance(partition, SERVICE_MAINT + service_id, "Service", enable, reason, svc)

    def _maintenance(
        self, partition: str, check_id: str, what: str, enable: bool, reason: str, svc: Any
    ) -> None:
        """Add (once) or drop the critical maintenance check ``check_id`` of the node
        (``svc`` None) or of the service ``svc`` (inside a write)."""
        key = (partition, self.node_name, check_id)
        if enable:
            if key not in self._checks:
                notes = reason or _DEFAULT_REASON.format(what.lower())
                spec = CheckDef(check_id, f"{what} Maintenance Mode", "", "critical", notes)
                self._store_check(partition, self.node_name, spec, svc)  # type: ignore[attr-defined]
        elif key in self._checks:
            self._drop_check(key)  # type: ignore[attr-defined]

    def agent_reload(self, authz: Authz = None) -> None:
        """``PUT /v1/agent/reload`` (needs ``agent:write``)."""
        self._require(authz, "agent", "write", self.node_name)

    def agent_leave(self, authz: Authz = None) -> None:
        """``PUT /v1/agent/leave`` (needs ``agent:write``; the emulator keeps serving)."""
        self._require(authz, "agent", "write", self.node_name)

    def agent_force_leave(self, node: str, authz: Authz = None) -> None:
        """``PUT /v1/agent/force-leave/:node`` (needs ``operator:write``)."""
        self._require(authz, "operator", "write")
        if node != self.node_name:
            raise RPCError(f"agent: No node found with name '{node}'")

    def agent_token(self, kind: str, raw: dict, authz: Authz = None) -> None:
        """``PUT /v1/agent/token/:type``: ``default`` becomes the token of requests that carry
        none (as Consul's agent default token); the others are kept."""
        self._require(authz, "agent", "write", self.node_name)
        if kind not in AGENT_TOKENS:
            raise NotFound(f'Token "{kind}" is unknown')
        token = (raw or {}).get("Token", "")
        with self._lock:
            self._agent_tokens[kind] = token

    def agent_metrics(self, authz: Authz = None) -> dict:
        """``GET /v1/agent/metrics`` (go-metrics' JSON: gauges the emulator can count)."""
        self._require(authz, "agent", "read", self.node_name)
        with self._lock:
            gauges = {
                "consul.catalog.services": len({s.service for s in self._services.values()}),
                "consul.catalog.service.instances": len(self._services),
                "consul.kv.entries": len(self._kv),
                "consul.session_ttl.active": len(self._sessions),  # type: ignore[attr-defined]
                "consul.raft.applied_index": self.index,
                "consul.runtime.uptime_seconds": int(time.time() - self._started),
            }
        return {
            "Timestamp": time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime()),
            "Gauges": [{"Name": k, "Value": v, "Labels": {}} for k, v in gauges.items()],
            "Points": [],
            "Counters": [],
            "Samples": [],
        }

    def agent_metrics_prometheus(self, authz: Authz = None) -> str:
        """``GET /v1/agent/metrics?format=prometheus``: the same gauges as text."""
        lines = []
        for g in self.agent_metrics(authz)["Gauges"]:
            name = g["Name"].replace(".", "_")
            lines += [f"# TYPE {name} gauge", f"{name} {g['Value']}"]
        return "\n".join(lines) + "\n"

    def agent_monitor(self, loglevel: str = "info", authz: Authz = None) -> str:
        """``GET /v1/agent/monitor?loglevel=``: a few log lines, then the stream ends."""
        self._require(authz, "agent", "read", self.node_name)
        level = (loglevel or "info").lower()
        if level not in _LOG_LEVELS:
            raise BadRequest(f"Unknown log level: {loglevel}")
        stamp = now_iso()
        return (
            f"{stamp} [INFO]  agent: Consul agent running! (sandbox emulator)\n"
            f"{stamp} [INFO]  agent.server: cluster leadership acquired\n"
            f"{stamp} [INFO]  agent: Synced node info\n"
        )
