"""Health checks: the agent's check endpoints, the check runner's reports, ``/v1/health/*``.

Check output and the index: Consul's agent syncs a check whose *status* changed to the
catalog at once, but defers a change of *output* alone by ``check_update_interval``
(5 minutes by default, hashicorp/consul#9113), so output churn does not write to raft. We
keep one record for agent and catalog: a runner result that changes only the output updates
``Output`` in place and stamps nothing (no ModifyIndex, no commit, no wake-up); a status
change is a write with a real index. An explicit TTL update (``/v1/agent/check/update``)
that changes the output is a write, as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..checks import MIN_DEREGISTER_AFTER, MIN_INTERVAL, Probe, parse_duration
from ..exceptions import BadRequest, NotFound, RPCError
from .core import Authz, Store
from .records import Check, CheckDef, Service

STATUSES = ("passing", "warning", "critical")
_KINDS = (
    ("TTL", "ttl"),
    ("HTTP", "http"),
    ("TCP", "tcp"),
    ("GRPC", "grpc"),
    ("H2PING", "h2ping"),
    ("UDP", "udp"),
    ("DockerContainerID", "docker"),
    ("OSService", "os_service"),
    ("AliasService", "alias"),
    ("AliasNode", "alias"),
)
_DEFINITION_KEYS = (
    "HTTP",
    "Header",
    "Method",
    "Body",
    "TLSServerName",
    "TLSSkipVerify",
    "TCP",
    "TCPUseTLS",
    "UDP",
    "GRPC",
    "GRPCUseTLS",
    "OSService",
    "Interval",
    "Timeout",
    "DeregisterCriticalServiceAfter",
)
CheckKey = tuple[str, str, str]


def _unknown_check(check_id: str) -> NotFound:
    return NotFound(
        f'Unknown check ID "{check_id}". Ensure that the check ID is passed, not the check name.'
    )


def _definition(raw: dict) -> dict[str, Any]:
    """Consul's ``Definition`` block of a check: the probe's settings that are set."""
    out = {k: raw[k] for k in _DEFINITION_KEYS if raw.get(k) not in (None, "")}
    if raw.get("TTL"):
        out["TTL"] = raw["TTL"]
    return out


def agent_check_def(raw: dict, default_id: str, default_name: str) -> CheckDef:
    """A check given to the agent, validated as Consul's agent validates it."""
    if raw.get("Args") or raw.get("ScriptArgs"):
        raise BadRequest(
            "Scripts are disabled on this agent; to enable, configure 'enable_script_checks'"
            " or 'enable_local_script_checks' to true"
        )
    kind = next((k for key, k in _KINDS if raw.get(key)), None)
    if kind is None:
        raise BadRequest("Invalid check: TTL must be > 0 for TTL checks")
    if raw.get("Status") and raw["Status"] not in STATUSES:
        raise BadRequest(f"Invalid check status: {raw['Status']!r}")
    try:
        interval = max(parse_duration(raw.get("Interval")), MIN_INTERVAL)
        timeout = parse_duration(raw.get("Timeout")) or None
        ttl = parse_duration(raw.get("TTL"))
        dereg = parse_duration(raw.get("DeregisterCriticalServiceAfter"))
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc
    if kind in ("http", "tcp") and not raw.get("Interval"):
        raise BadRequest(f"Invalid check: Interval must be > 0 for {kind.upper()} checks")
    return CheckDef(
        check_id=raw.get("CheckID") or raw.get("ID") or default_id,
        name=raw.get("Name") or default_name,
        kind=kind,
        status=raw.get("Status") or "critical",
        notes=raw.get("Notes", ""),
        interval=raw.get("Interval", ""),
        timeout=raw.get("Timeout", ""),
        definition=_definition(raw),
        interval_s=interval,
        timeout_s=timeout,
        ttl_s=ttl,
        deregister_after_s=max(dereg, MIN_DEREGISTER_AFTER) if dereg else 0.0,
    )


def catalog_check_def(raw: dict) -> CheckDef:
    """A check given to ``/v1/catalog/register``: stored as is, never run (as in Consul)."""
    check_id = raw.get("CheckID") or raw.get("Name") or ""
    if not check_id:
        raise BadRequest("Missing check ID")
    return CheckDef(
        check_id=check_id,
        name=raw.get("Name") or check_id,
        kind="",
        status=raw.get("Status") or "critical",
        notes=raw.get("Notes", ""),
        output=raw.get("Output", ""),
        interval=raw.get("Interval", ""),
        timeout=raw.get("Timeout", ""),
        definition=_definition(raw),
    )


class HealthState(Store):
    """Checks of the agent and the catalog; health reads over services, nodes and checks."""

    def _store_check(
        self, partition: str, node: str, spec: CheckDef, service: Service | None
    ) -> None:
        key = (partition, node, spec.check_id)
        chk = Check(
            node=node,
            partition=partition,
            spec=spec,
            status=spec.status,
            output=spec.output,
            service_id=service.id if service else "",
            service_name=service.service if service else "",
            service_tags=list(service.tags) if service else [],
            critical_since=time.monotonic() if spec.status == "critical" else None,
        )
        self._checks.put(key, chk)
        if spec.kind == "ttl":
            chk.ttl_deadline = time.monotonic() + spec.ttl_s
        self._schedule_check(key, chk)

    def _schedule_check(self, key: CheckKey, chk: Check) -> None:
        """Hand a check the agent runs to the check runner (now, or at its TTL deadline)."""
        if chk.spec.kind in ("http", "tcp"):
            self.runner.schedule(key, 0.0)
        elif chk.spec.kind == "ttl":
            self.runner.schedule(key, max(0.0, chk.ttl_deadline - time.monotonic()))

    def _drop_check(self, key: CheckKey) -> None:
        self.runner.cancel(key)
        del self._checks[key]

    def _drop_service(self, key: tuple[str, str, str]) -> None:
        """A service instance and its checks."""
        del self._services[key]
        for ckey, chk in list(self._checks.items()):
            if ckey[:2] == key[:2] and chk.service_id == key[2]:
                self._drop_check(ckey)

    # ------------------------------------------------------------------ agent checks

    def register_check(self, raw: dict, partition: str = "default", authz: Authz = None) -> None:
        """``PUT /v1/agent/check/register``: a check on the agent, optionally for a service."""
        partition = self.check_partition(partition)
        if not raw.get("Name"):
            raise BadRequest("Missing check name")
        spec = agent_check_def(raw, raw["Name"], raw["Name"])
        with self.write():
            svc = None
            if raw.get("ServiceID"):
                svc = self._services.get((partition, self.node_name, raw["ServiceID"]))
                if svc is None:
                    raise NotFound(f'ServiceID "{raw["ServiceID"]}" does not exist')
                self._require(authz, "service", "write", svc.service, partition)
            else:
                self._require(authz, "node", "write", self.node_name, partition)
            self._store_check(partition, self.node_name, spec, svc)

    def _agent_check(self, check_id: str, partition: str, authz: Authz) -> Check:
        """The agent's check ``check_id``, once the caller may write it."""
        chk = self._checks.get((partition, self.node_name, check_id))
        if chk is None:
            raise _unknown_check(check_id)
        if chk.service_name:
            self._require(authz, "service", "write", chk.service_name, partition)
        else:
            self._require(authz, "node", "write", chk.node, partition)
        return chk

    def deregister_check(
        self, check_id: str, partition: str = "default", authz: Authz = None
    ) -> None:
        """``PUT /v1/agent/check/deregister/:id``."""
        with self.write():
            self._agent_check(check_id, partition, authz)
            self._drop_check((partition, self.node_name, check_id))

    def update_ttl(
        self,
        check_id: str,
        status: str,
        output: str = "",
        partition: str = "default",
        authz: Authz = None,
    ) -> None:
        """``PUT /v1/agent/check/{pass,warn,fail}/:id`` and ``/update/:id`` of a TTL check."""
        if status not in STATUSES:
            raise BadRequest(f'Invalid check status: "{status}"')
        with self.write():
            key = (partition, self.node_name, check_id)
            chk = self._agent_check(check_id, partition, authz)
            if chk.spec.kind != "ttl":
                raise RPCError(f'CheckID "{check_id}" does not have associated TTL')
            chk.ttl_deadline = time.monotonic() + chk.spec.ttl_s
            self.runner.schedule(key, chk.spec.ttl_s)
            if any(_set_status(chk, status, output)):
                self._checks.touch(key)

    # ------------------------------------------------------------------ the check runner

    def _check_for_runner(self, key: Any) -> Probe | None:
        with self._lock:
            chk = self._checks.get(key)
            return chk.probe() if chk is not None else None

    def _runner_report(self, key: Any, status: str, output: str) -> None:
        with self.write():
            chk = self._checks.get(key)
            if chk is None:
                return
            if chk.spec.kind == "ttl" and time.monotonic() < chk.ttl_deadline:
                return  # refreshed meanwhile
            status_changed, _output_changed = _set_status(chk, status, output)
            if status_changed:  # output alone: see the module's docstring
                self._checks.touch(key)

    def _reap(self) -> None:
        """Deregister services critical for longer than ``DeregisterCriticalServiceAfter``."""
        now = time.monotonic()
        with self.write():
            doomed = {
                (p, n, c.service_id)
                for (p, n, _), c in self._checks.items()
                if c.service_id
                and c.spec.deregister_after_s
                and c.critical_since is not None
                and now - c.critical_since > c.spec.deregister_after_s
            }
            for key in doomed:
                if key in self._services:
                    self._drop_service(key)

    # ------------------------------------------------------------------ reads

    def _check_visible(self, authz: Authz, chk: Check) -> bool:
        if chk.service_name:
            return self._can_read_service(authz, chk.service_name, chk.partition)
        return self._allowed(authz, "node", "read", chk.node, chk.partition)

    def agent_checks(
        self, partition: str = "default", authz: Authz = None, filter_expr: str | None = None
    ) -> dict[str, dict]:
        """``GET /v1/agent/checks``: the agent's checks by CheckID."""
        rows = self._select(
            self._checks,
            partition=partition,
            # serfHealth belongs to the catalog, not to the agent's local state
            where=lambda c: c.node == self.node_name and c.check_id != "serfHealth",
            visible=lambda c: self._check_visible(authz, c),
            doc=lambda c: c.to_dict(with_index=False),
            filter_expr=filter_expr,
            schema="agent_check",
        )
        return {key[2]: doc for key, doc in rows}

    def _entries(
        self,
        partition: str,
        match: Callable[[Service], bool],
        passing: bool,
        tags: list[str] | None,
        filter_expr: str | None,
        peer: tuple[str, str] | None = None,
    ) -> list[dict]:
        """Health entries (node, service, checks) of ``partition``'s matching instances;
        ``peer`` = (peer name, local partition) marks them as imported through a peering."""

        def entry(svc: Service) -> dict | None:
            checks = self._docs(
                self._checks,
                partition=partition,
                where=lambda c: c.node == svc.node and c.service_id in ("", svc.id),
            )
            if passing and any(c["Status"] != "passing" for c in checks):
                return None
            node = self._nodes.get((partition, svc.node))
            doc = {
                "Node": node.to_dict() if node else {},
                "Service": svc.to_dict(),
                "Checks": checks,
            }
            if peer:
                for part in (doc["Node"], doc["Service"], *checks):
                    part["PeerName"], part["Partition"] = peer
            return doc

        return self._docs(
            self._services,
            partition=partition,
            where=lambda s: match(s) and all(t in s.tags for t in tags or []),
            doc=entry,
            filter_expr=filter_expr,
            schema="health",
        )

    def health_service(
        self,
        name: str,
        partition: str = "default",
        passing: bool = False,
        peer: str | None = None,
        *,
        tags: list[str] | None = None,
        filter_expr: str | None = None,
        connect: bool = False,
        consumer_partition: str | None = None,
        authz: Authz = None,
    ) -> list[dict]:
        """``GET /v1/health/service/:name`` (and ``/v1/health/connect/:name`` with ``connect``).

        ``peer``: instances imported from that peer of ``partition`` — the services its remote
        partition exports to us, marked with ``PeerName``. ``consumer_partition``: as seen from
        another partition, i.e. only when ``partition`` exports ``name`` to it (a token's home
        partition plays this role over HTTP).
        """

        def match(svc: Service) -> bool:
            if connect:
                proxied = svc.kind == "connect-proxy" and svc.destination == name
                return proxied or (svc.service == name and svc.native)
            return svc.service == name

        with self._lock:
            if peer:
                link = self._peerings.get((partition, peer))
                if link is None or not link.remote_partition:
                    return []
                remote = link.remote_partition
                if link.remote_peer_name not in self._exports(remote, name)[1]:
                    return []
                if not self._allowed(authz, "service", "read", name, partition):
                    return []
                return self._entries(
                    remote, match, passing, tags, filter_expr, peer=(peer, partition)
                )
            if (
                consumer_partition
                and consumer_partition != partition
                and consumer_partition not in self._exports(partition, name)[0]
            ):
                return []
            if not self._can_read_service(authz, name, partition):
                return []
            return self._entries(partition, match, passing, tags, filter_expr)

    def health_checks(
        self,
        service: str,
        partition: str = "default",
        authz: Authz = None,
        filter_expr: str | None = None,
    ) -> list[dict]:
        """``GET /v1/health/checks/:service``: the checks of every instance of a service."""
        if not self._can_read_service(authz, service, partition):
            return []
        return self._docs(
            self._checks,
            partition=partition,
            where=lambda c: c.service_name == service,
            filter_expr=filter_expr,
            schema="check",
        )

    def health_state(
        self,
        state: str,
        partition: str = "default",
        authz: Authz = None,
        filter_expr: str | None = None,
    ) -> list[dict]:
        """``GET /v1/health/state/:state`` (``any``, ``passing``, ``warning``, ``critical``)."""
        if state not in ("any", *STATUSES):
            raise BadRequest("Invalid check state")
        return self._docs(
            self._checks,
            partition=partition,
            where=lambda c: state in ("any", c.status),
            visible=lambda c: self._check_visible(authz, c),
            filter_expr=filter_expr,
            schema="check",
        )

    def health_node(
        self,
        node: str,
        partition: str = "default",
        authz: Authz = None,
        filter_expr: str | None = None,
    ) -> list[dict]:
        """``GET /v1/health/node/:node``."""
        return self._docs(
            self._checks,
            partition=partition,
            where=lambda c: c.node == node,
            visible=lambda c: self._check_visible(authz, c),
            filter_expr=filter_expr,
            schema="check",
        )


def _set_status(chk: Check, status: str, output: str) -> tuple[bool, bool]:
    """Set a check's result in place; (status changed, output changed)."""
    changes = (chk.status != status, chk.output != output)
    if changes[0]:
        chk.critical_since = time.monotonic() if status == "critical" else None
    chk.status, chk.output = status, output
    return changes
