"""The sandbox's service-mesh data plane: what Envoy sidecars and ingress gateways do in Consul.

Listeners (opened and closed from the Consul backend's write callback, so a registration's
listeners exist when the registration call returns):

- every ``connect-proxy`` service with ``Proxy.Upstreams`` gets one listener per
  ``LocalBindPort``; a request arriving there comes from the proxy's
  ``Proxy.DestinationServiceName`` (the identity is the listener's, never a header);
- every registered ``ingress-gateway`` service whose ``ingress-gateway`` config entry has
  HTTP listeners gets those ports; the service is picked by the ``Host`` header (``Hosts``,
  or ``<service>.ingress.*``), or is the only service of the listener.

Each request runs Consul's discovery chain (:mod:`.chain`), picks a healthy instance round
robin (no critical check; with ``OnlyPassing`` no warning either; subset ``Filter`` applied
to the health entry), enforces the destination's intentions (:mod:`.intentions`: callers
from another partition or over a peering are matched with their partition or peer; no
matching intention falls back to the ACL default policy, deny with ACLs on) and
forwards over a keep-alive connection. Failures answer as Envoy does: 503 ``no healthy
upstream``, 403 ``RBAC: access denied``, 503 ``upstream connect error or disconnect/reset
before headers. reset reason: ...``, 504 ``upstream request timeout``, 404 for an ingress
host with no route.

A deliberate simplification: the destination's own sidecar hop is collapsed; the plane calls
the instance's ``Address:Port`` directly and enforces the destination's intentions itself.
No mTLS (everything is loopback). Not implemented: TCP (L4) proxying, gRPC, terminating and
API gateways, mesh gateways, transparent proxy, rate limits, outlier detection.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from soa_sdk.sandbox.consul.bexpr import compile_filter
from soa_sdk.sandbox.mesh import chain, intentions
from soa_sdk.sandbox.mesh.admin import AdminAPI
from soa_sdk.sandbox.mesh.http1 import (
    HOP_BY_HOP,
    ConnectionPool,
    HTTPServer,
    Request,
    Response,
    UpstreamConnectError,
    UpstreamReset,
    UpstreamTimeout,
)
from soa_sdk.sandbox.mesh.matching import apply_header_ops
from soa_sdk.sandbox.mesh.telemetry import Telemetry
from soa_sdk.sandbox.mesh.view import CachedView, partitions_of

log = logging.getLogger(__name__)

ADMIN_KV_KEY = "_sandbox/mesh/admin"
_TEXT = [("Content-Type", "text/plain")]
NO_HEALTHY = b"no healthy upstream"
RBAC_DENIED = b"RBAC: access denied"
CONNECT_FAILURE = b"upstream connect error or disconnect/reset before headers. reset reason: "


@dataclass(frozen=True)
class UpstreamListener:
    """A sidecar's upstream listener, from a ``connect-proxy`` registration."""

    port: int
    proxy_id: str
    source: str
    partition: str
    destination: str
    destination_partition: str
    peer: str | None = None

    mode = "sidecar"


@dataclass(frozen=True)
class IngressListener:
    """An ingress gateway's HTTP listener, from the ``ingress-gateway`` config entry."""

    port: int
    gateway: str
    partition: str
    services: tuple[tuple[str, tuple[str, ...], str], ...]  # (name, hosts, partition)

    mode = "ingress"


Spec = UpstreamListener | IngressListener


class _Listener:
    __slots__ = ("server", "spec")

    def __init__(self, spec: Spec, server: HTTPServer) -> None:
        self.spec = spec
        self.server = server


class MeshDataPlane:
    """Consul Connect's data plane for the sandbox, reading a ConsulBackend directly.

    ``MeshDataPlane(backend, host).start()`` subscribes to the backend, opens the listeners
    the catalog asks for and an admin port (``admin_port``: ``/telemetry``, ``/stats``,
    ``/listeners``), and writes ``http://HOST:ADMIN_PORT`` to the Consul KV key
    ``_sandbox/mesh/admin`` when the backend offers a KV write.
    """

    def __init__(
        self,
        backend: Any,
        host: str = "127.0.0.1",
        admin_port: int = 0,
        telemetry_capacity: int = 200_000,
        default_intention: str | None = None,
        health_ttl: float = 0.05,
    ) -> None:
        self.backend = backend
        self.host = host
        self.view = CachedView(backend, health_ttl=health_ttl)
        self.telemetry = Telemetry(telemetry_capacity)
        self.pool = ConnectionPool(timeout=chain.DEFAULT_TIMEOUT)
        self._default_intention = default_intention
        self._listeners: dict[int, _Listener] = {}
        self.bind_errors: dict[int, str] = {}
        self._sync_lock = threading.RLock()
        self._rr: dict[tuple[Any, ...], itertools.count[int]] = {}
        self._filters: dict[str, Any] = {}
        self._healthy_memo: dict[tuple[Any, ...], tuple[list[Any], list[dict[str, Any]]]] = {}
        self._admin = HTTPServer(host, admin_port, AdminAPI(self).handle, name="mesh-admin")
        self.admin_port = self._admin.port
        self._running = False

    @property
    def admin_url(self) -> str:
        return f"http://{self.host}:{self.admin_port}"

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> MeshDataPlane:
        self._admin.start()
        self._running = True
        self.backend.subscribe(self._on_write)
        self.sync()
        self._publish_admin()
        return self

    def stop(self) -> None:
        self._running = False
        with self._sync_lock:
            listeners = list(self._listeners.values())
            self._listeners.clear()
        for lst in listeners:
            lst.server.close()
        self._admin.close()
        self.pool.close()

    def _publish_admin(self) -> None:
        put = getattr(self.backend, "kv_put", None)
        if not callable(put):
            log.warning("backend offers no KV write; the mesh admin URL is %s", self.admin_url)
            return
        try:
            put(ADMIN_KV_KEY, self.admin_url.encode())
        except Exception:
            log.exception("could not write %s to Consul KV", ADMIN_KV_KEY)

    def default_allow(self) -> bool:
        """Consul's default intention behaviour: the plane's ``default_intention`` when given
        (the agent's ``default_intention_policy``), else what the backend's ACL default
        policy says (``ConsulBackend.intention_default_allow()``)."""
        if self._default_intention is not None:
            return self._default_intention.lower() == "allow"
        return bool(self.backend.intention_default_allow())

    # -- listeners ----------------------------------------------------------------------------
    def _on_write(self, index: int) -> None:
        if not self._running:
            return
        self.view.invalidate()
        try:
            self.sync()
        except Exception:  # a bad registration must not fail the Consul write that caused it
            log.exception("mesh sync after index %s failed", index)

    def desired_listeners(self) -> dict[int, Spec]:
        """The listeners the catalog asks for now, by port."""
        wanted: dict[int, Spec] = {}
        for partition in partitions_of(self.backend):
            services = self.backend.agent_services(partition=partition)
            for sid, svc in sorted(services.items()):
                kind = svc.get("Kind") or ""
                if kind == "connect-proxy":
                    proxy = svc.get("Proxy") or {}
                    source = proxy.get("DestinationServiceName") or ""
                    for up in proxy.get("Upstreams") or ():
                        port = int(up.get("LocalBindPort") or 0)
                        if not port or up.get("DestinationType") == "prepared_query":
                            continue
                        wanted[port] = UpstreamListener(
                            port=port,
                            proxy_id=sid,
                            source=source,
                            partition=partition,
                            destination=up.get("DestinationName") or "",
                            destination_partition=up.get("DestinationPartition") or partition,
                            peer=up.get("DestinationPeer") or None,
                        )
                elif kind == "ingress-gateway":
                    name = svc.get("Service") or sid
                    entry = self.backend.get_config_entry(
                        "ingress-gateway", name, partition=partition
                    )
                    for lst in (entry or {}).get("Listeners") or ():
                        if (lst.get("Protocol") or "tcp") != "http" or not lst.get("Port"):
                            continue
                        services_of = tuple(
                            (
                                s.get("Name") or "",
                                tuple(s.get("Hosts") or ()),
                                s.get("Partition") or partition,
                            )
                            for s in lst.get("Services") or ()
                        )
                        wanted[int(lst["Port"])] = IngressListener(
                            int(lst["Port"]), name, partition, services_of
                        )
        return wanted

    def sync(self) -> None:
        """Open, update and close listeners to match the catalog."""
        with self._sync_lock:
            if not self._running:
                return
            wanted = self.desired_listeners()
            for port in list(self._listeners):
                if port not in wanted:
                    self._listeners.pop(port).server.close()
            for port, spec in wanted.items():
                current = self._listeners.get(port)
                if current is not None:
                    current.spec = spec  # handlers read the spec per request
                    continue
                try:
                    lst = _Listener(spec, None)  # type: ignore[arg-type]
                    lst.server = HTTPServer(
                        self.host,
                        port,
                        lambda req, lst=lst: self._handle(lst, req),
                        name=f"mesh-{spec.mode}",
                    )
                except OSError as exc:
                    if self.bind_errors.get(port) != str(exc):
                        log.warning("mesh listener %s:%s: %s", self.host, port, exc)
                    self.bind_errors[port] = str(exc)
                    continue
                self.bind_errors.pop(port, None)
                self._listeners[port] = lst
                lst.server.start()

    def listeners(self) -> list[dict[str, Any]]:
        with self._sync_lock:
            specs = [lst.spec for lst in self._listeners.values()]
        out = []
        for spec in sorted(specs, key=lambda s: s.port):
            doc = dict(spec.__dict__)
            doc["mode"] = spec.mode
            if isinstance(spec, IngressListener):
                doc["services"] = [
                    {"name": n, "hosts": list(h), "partition": p} for n, h, p in spec.services
                ]
            out.append(doc)
        return out

    # -- instances ----------------------------------------------------------------------------
    def healthy_instances(
        self, target: chain.Target, consumer_partition: str | None = None
    ) -> list[dict[str, Any]]:
        """Health entries of ``target`` that may take traffic, in a stable order."""
        consumer = consumer_partition if consumer_partition != target.partition else None
        entries = self.view.health(target.service, target.partition, target.peer, consumer)
        memo_key = (target, consumer)
        hit = self._healthy_memo.get(memo_key)
        if hit is not None and hit[0] is entries:
            return hit[1]
        pred = None
        if target.filter:
            pred = self._filters.get(target.filter)
            if pred is None:
                pred = self._filters[target.filter] = compile_filter(target.filter)
        out = []
        for entry in entries:
            statuses = [c.get("Status") for c in entry.get("Checks") or ()]
            if "critical" in statuses or "maintenance" in statuses:
                continue
            if target.only_passing and any(s != "passing" for s in statuses):
                continue
            if pred is not None and not pred(entry):
                continue
            out.append(entry)
        out.sort(key=lambda e: e["Service"].get("ID") or "")
        # Keyed by the cached health list itself: a new answer from Consul means a new list.
        self._healthy_memo[memo_key] = (entries, out)
        return out

    def _pick(self, target: chain.Target, instances: list[dict[str, Any]]) -> dict[str, Any]:
        counter = self._rr.get(target.key)
        if counter is None:
            counter = self._rr.setdefault(target.key, itertools.count())
        return instances[next(counter) % len(instances)]

    # -- requests -----------------------------------------------------------------------------
    def _ingress_route(self, spec: IngressListener, req: Request) -> tuple[str, str] | None:
        host = (req.header("host") or "").rsplit(":", 1)[0].lower()
        for name, hosts, partition in spec.services:
            if name == "*":
                if ".ingress." in host:
                    return host.split(".ingress.", 1)[0], partition
                continue
            patterns = hosts or ((name + ".ingress.*",) if len(spec.services) > 1 else ("*",))
            for pattern in patterns:
                p = pattern.lower()
                if p == "*" or p == host:
                    return name, partition
                if p.startswith("*.") and host.endswith(p[1:]):
                    return name, partition
                if p.endswith(".*") and host.startswith(p[:-1]):
                    return name, partition
        return None

    def _handle(self, lst: _Listener, req: Request) -> Response:
        t0 = time.perf_counter()
        started = time.time()
        spec = lst.spec
        rec: dict[str, Any] = {
            "time": started,
            "mode": spec.mode,
            "method": req.method,
            "path": req.path,
            "subset": "",
            "version": "",
            "instance": "",
        }
        if isinstance(spec, IngressListener):
            routed = self._ingress_route(spec, req)
            rec["source"] = spec.gateway
            if routed is None:
                rec.update(destination="", upstream="", partition=spec.partition)
                return self._finish(rec, t0, Response(404, b"", []))
            upstream, partition = routed
            source, source_partition, peer = spec.gateway, spec.partition, None
        else:
            upstream, partition = spec.destination, spec.destination_partition
            source, source_partition, peer = spec.source, spec.partition, spec.peer
            rec["source"] = source
        rec.update(upstream=upstream, destination=upstream, partition=partition)
        try:
            decision = chain.route(self.view, upstream, partition, req, peer)
        except chain.ChainError as exc:
            log.warning("discovery chain for %s: %s", upstream, exc)
            return self._finish(rec, t0, Response(503, NO_HEALTHY, list(_TEXT)))

        target = decision.targets[0]
        instances: list[dict[str, Any]] = []
        for candidate in decision.targets:
            instances = self.healthy_instances(candidate, source_partition)
            if instances:
                target = candidate
                break
        rec.update(destination=target.service, partition=target.partition, subset=target.subset)
        if not instances:
            return self._finish(rec, t0, Response(503, NO_HEALTHY, list(_TEXT)))

        instance = self._pick(target, instances)
        self._describe(rec, instance)
        if not self._authorized(source, source_partition, target, req):
            return self._finish(rec, t0, Response(403, RBAC_DENIED, list(_TEXT)))

        headers = [(k, v) for k, v in req.headers if k.lower() not in HOP_BY_HOP]
        for ops in decision.request_headers:
            apply_header_ops(headers, ops)
        attempts = 1 + max(0, decision.num_retries)
        resp: Response | None = None
        for attempt in range(attempts):
            if attempt:
                instance = self._pick(target, instances)
                self._describe(rec, instance)
            svc = instance["Service"]
            address = svc.get("Address") or (instance.get("Node") or {}).get("Address")
            try:
                resp = self.pool.request(
                    address or "127.0.0.1",
                    int(svc["Port"]),
                    req.method,
                    decision.path,
                    headers,
                    req.body,
                    timeout=decision.timeout,
                )
            except UpstreamConnectError:
                resp = Response(503, CONNECT_FAILURE + b"connection failure", list(_TEXT))
                if decision.num_retries and attempt + 1 < attempts:
                    continue
                break
            except UpstreamTimeout:
                resp = Response(504, b"upstream request timeout", list(_TEXT))
                break
            except UpstreamReset:
                resp = Response(503, CONNECT_FAILURE + b"connection termination", list(_TEXT))
                break
            if resp.status in decision.retry_on_status and attempt + 1 < attempts:
                continue
            break
        assert resp is not None
        resp.headers = [(k, v) for k, v in resp.headers if k.lower() not in HOP_BY_HOP]
        for ops in decision.response_headers:
            apply_header_ops(resp.headers, ops)
        resp.keep_alive = True
        return self._finish(rec, t0, resp)

    def _authorized(
        self, source: str, source_partition: str, target: chain.Target, req: Request
    ) -> bool:
        """The destination's intentions, as its sidecar enforces them (:mod:`.intentions`).

        A target imported from a peer lives in the partition at the other end of the
        peering; there the caller comes over that side's peering, named as that side names
        it. An unresolvable peering authorizes nothing."""
        if target.peer:
            link = self.view.peer_link(target.partition, target.peer)
            if link is None:
                return False
            destination_partition, peer_name = link
            caller = intentions.Caller(source, peer=peer_name)
        else:
            destination_partition = target.partition
            caller = intentions.Caller(source, source_partition)
        return intentions.decide(
            self.view.config,
            caller,
            target.service,
            destination_partition,
            req,
            self.default_allow(),
        )

    @staticmethod
    def _describe(rec: dict[str, Any], instance: dict[str, Any]) -> None:
        svc = instance["Service"]
        rec["instance"] = svc.get("ID") or ""
        rec["version"] = (svc.get("Meta") or {}).get("version") or ""

    def _finish(self, rec: dict[str, Any], t0: float, resp: Response) -> Response:
        rec["code"] = resp.status
        rec["latency_ms"] = round((time.perf_counter() - t0) * 1000.0, 3)
        self.telemetry.record(rec)
        return resp
