"""The Aggregated Discovery Service: Envoy's xDS over gRPC, state of the world (as Consul's).

Envoy opens one ``StreamAggregatedResources`` stream (``envoy.service.discovery.v3``) and
asks for each type: clusters and listeners by wildcard, endpoints, routes and secrets by
name. For each node the server holds a :class:`~.snapshot.Snapshot` from ``build(node_id,
metadata)`` and answers:

- **safe order**: secrets, clusters and endpoints first; listeners and routes only once
  Envoy has ACKed (or NACKed) the current clusters and endpoints of every cluster it asked
  for, so a route never names a cluster Envoy does not know (measured: 503s for the gap).
  After ``gate_timeout`` seconds the listeners go anyway, and that is logged;
- a response per type only when its content (a hash: ``version_info``) or the requested
  names changed, never again on a mere ACK; a newer version does not wait for the ACK of
  the previous one (Envoy ACKs clusters only once they have warmed, and a cluster removed
  meanwhile would never warm);
- **ACK/NACK**: a request carrying the last nonce with ``error_detail`` is a NACK: Envoy keeps
  its previous config; the server logs it (a warning: one line per NACK in the Consul
  emulator's log), keeps it in :attr:`AdsServer.nacks` (the last :data:`MAX_NACKS`; per node
  in :meth:`AdsServer.status`, with the last accepted version of each type) and does not
  resend the rejected version. A request with a stale nonce is ignored, as the xDS protocol
  says. With ``status_path`` the server also keeps :meth:`AdsServer.status` in that JSON file
  (:mod:`.xds_status`), which ``soa-lab status`` reads: written off the stream's thread, at
  most every few tens of milliseconds, only when an ACK, a NACK or a stream changed it.

**ACLs**: with ``authorize``, as Consul's xDS server (``agent/xds``: the token of the gRPC
metadata ``x-consul-token``, which Envoy's bootstrap sends as ``initial_metadata``): before a
node's config is built, and again at every rebuild (a revoked token, a proxy added), the
token must have ``service:write`` on the service of every proxy the node holds (a sidecar's
destination service, a gateway's own name); an unknown token ends the stream with
``UNAUTHENTICATED`` (``unauthenticated: ACL not found``), a token that lacks it with
``PERMISSION_DENIED`` and Consul's permission error; nothing is sent before that.

Not implemented: incremental (delta) xDS, per-type (non-aggregated) streams, on-demand
(VHDS/ODCDS), resource TTLs, the xDS federation (``xdstp://``) names.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc

# The message types the resources name in typed_config must be in the descriptor pool.
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2
from envoy.extensions.access_loggers.file.v3 import file_pb2  # noqa: F401
from envoy.extensions.filters.http.rbac.v3 import rbac_pb2 as http_rbac_pb2  # noqa: F401
from envoy.extensions.filters.http.router.v3 import router_pb2  # noqa: F401
from envoy.extensions.filters.network.http_connection_manager.v3 import (  # noqa: F401
    http_connection_manager_pb2,
)
from envoy.extensions.filters.network.rbac.v3 import rbac_pb2 as net_rbac_pb2  # noqa: F401
from envoy.extensions.filters.network.tcp_proxy.v3 import tcp_proxy_pb2  # noqa: F401
from envoy.extensions.transport_sockets.tls.v3 import secret_pb2, tls_pb2  # noqa: F401
from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2  # noqa: F401
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from google.protobuf import any_pb2, json_format

from soa_sdk.sandbox.connect.snapshot import (
    T_CLUSTER,
    T_ENDPOINT,
    T_LISTENER,
    T_ROUTE,
    T_SECRET,
    TYPES,
    Snapshot,
)
from soa_sdk.sandbox.connect.xds_status import StatusWriter

log = logging.getLogger("soa_lab.connect.ads")

_MESSAGES: dict[str, Any] = {
    T_LISTENER: listener_pb2.Listener,
    T_ROUTE: route_pb2.RouteConfiguration,
    T_CLUSTER: cluster_pb2.Cluster,
    T_ENDPOINT: endpoint_pb2.ClusterLoadAssignment,
    T_SECRET: secret_pb2.Secret,
}
_WILDCARD_TYPES = (T_CLUSTER, T_LISTENER)
_BEFORE_LISTENERS = (T_SECRET, T_CLUSTER, T_ENDPOINT)

Build = Callable[[str, dict[str, Any]], Snapshot]
Authorize = Callable[[str | None, str, dict[str, Any]], None]
"""``(token, node_id, metadata)``: returns when the token may have the node's config, else
raises :class:`XdsRefused`."""
TOKEN_METADATA = "x-consul-token"


class XdsRefused(Exception):
    """A stream refused: the gRPC status and message it ends with."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


MAX_NACKS = 100
"""How many NACKs :attr:`AdsServer.nacks` keeps (the oldest go first)."""


def to_any(type_url: str, resource: dict[str, Any]) -> any_pb2.Any:
    """A resource in proto3 JSON as the ``Any`` Envoy receives."""
    msg = json_format.ParseDict(resource, _MESSAGES[type_url](), ignore_unknown_fields=False)
    packed = any_pb2.Any()
    packed.Pack(msg)
    return packed


@dataclass
class _Sent:
    version: str
    names: frozenset[str] | None
    nonce: str
    at: float


@dataclass
class _Stream:
    node_id: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    subs: dict[str, frozenset[str] | None] = field(default_factory=dict)
    sent: dict[str, _Sent] = field(default_factory=dict)
    outstanding: dict[str, str] = field(default_factory=dict)  # type -> nonce awaiting reply
    acked: dict[str, str] = field(default_factory=dict)
    acked_at: dict[str, float] = field(default_factory=dict)  # type -> epoch seconds
    snapshot: Snapshot | None = None
    gate_since: float | None = None
    built: int = -1  # the server's generation when the snapshot was last built
    queue: queue.Queue[Any] = field(default_factory=queue.Queue)


class AdsServer(ads_pb2_grpc.AggregatedDiscoveryServiceServicer):
    """gRPC ADS on ``host:port`` (0: a free port) serving ``build``'s snapshots."""

    def __init__(
        self,
        build: Build,
        host: str = "127.0.0.1",
        port: int = 0,
        gate_timeout: float = 2.0,
        resync: float = 2.0,
        status_path: str | None = None,
        authorize: Authorize | None = None,
    ) -> None:
        """``status_path``: a JSON file to keep :meth:`status` in; ``authorize``: the ACL
        check of every stream (see the module docstring; None: none, for tests only)."""
        self.build = build
        self.authorize = authorize
        self.host = host
        self.gate_timeout = gate_timeout
        self.resync = resync
        self._nonces = itertools.count(1)
        self._lock = threading.Lock()
        self._streams: list[_Stream] = []
        #: how many refreshes were asked for (each catalog write is one).
        self.generation = 0
        #: the NACKs seen (the last MAX_NACKS): node, type_url, version, message, at (epoch s).
        self.nacks: list[dict[str, Any]] = []
        self._status = StatusWriter(status_path, self.status) if status_path else None
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=64))
        ads_pb2_grpc.add_AggregatedDiscoveryServiceServicer_to_server(self, self._server)
        self.port = self._server.add_insecure_port(f"{host}:{port}")

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> int:
        self._server.start()
        if self._status is not None:
            self._status.start()
        return self.port

    def stop(self, grace: float = 0.5) -> None:
        with self._lock:
            for st in self._streams:
                st.queue.put(None)
        self._server.stop(grace).wait(5)
        if self._status is not None:
            self._status.stop()

    def _changed(self) -> None:
        """What :meth:`status` reports changed: have the status file written (cheap)."""
        if self._status is not None:
            self._status.mark()

    def refresh(self) -> None:
        """Rebuild every connected node's snapshot (call on each catalog write)."""
        with self._lock:
            self.generation += 1
            for st in self._streams:
                st.queue.put("refresh")

    def converged(self, generation: int) -> bool:
        """Whether every connected Envoy has a snapshot built at ``generation`` or later,
        sent and answered (ACKed, or NACKed: then it keeps its previous config)."""
        with self._lock:
            streams = [st for st in self._streams if st.node_id]
        for st in streams:
            if st.built < generation or st.outstanding or st.snapshot is None:
                return False
            if any(self._wanted(st, t) is not None for t in list(st.subs)):
                return False
        return True

    def wait_converged(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` seconds) until the Envoys have the current config."""
        generation = self.generation
        deadline = time.monotonic() + timeout
        while not self.converged(generation):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.002)
        return True

    # -- what a learner and a test can ask ---------------------------------------------------
    def status(self) -> dict[str, dict[str, Any]]:
        """Per connected node: ``acked`` (type URL -> the last version it accepted),
        ``acked_at`` (type URL -> when it last ACKed a push, epoch seconds), ``pending``
        (types sent and not yet answered), ``nacks`` (how many it sent), ``last_nack`` (node,
        type_url, version, message, at) and ``problems`` (what its snapshot could not build)."""
        out: dict[str, dict[str, Any]] = {}
        with self._lock:
            streams = [st for st in self._streams if st.node_id]
            nacks = list(self.nacks)
        for st in streams:
            mine = [n for n in nacks if n["node"] == st.node_id]
            out[st.node_id] = {
                "acked": dict(st.acked),
                "acked_at": dict(st.acked_at),
                "pending": sorted(st.outstanding),
                "nacks": len(mine),
                "last_nack": mine[-1] if mine else None,
                "problems": list(st.snapshot.problems) if st.snapshot else [],
            }
        return out

    def acked_version(self, node_id: str, type_url: str) -> str | None:
        with self._lock:
            for st in self._streams:
                if st.node_id == node_id:
                    return st.acked.get(type_url)
        return None

    def current_version(self, node_id: str, type_url: str) -> str | None:
        """The version the node should converge to (what was last sent for the type)."""
        with self._lock:
            for st in self._streams:
                if st.node_id == node_id and type_url in st.sent:
                    return st.sent[type_url].version
        return None

    # -- the stream ------------------------------------------------------------------------
    def StreamAggregatedResources(
        self, request_iterator: Iterator[discovery_pb2.DiscoveryRequest], context: Any
    ) -> Iterator[discovery_pb2.DiscoveryResponse]:
        st = _Stream()
        token = dict(context.invocation_metadata()).get(TOKEN_METADATA) or None
        with self._lock:
            self._streams.append(st)

        def read() -> None:
            try:
                for req in request_iterator:
                    st.queue.put(req)
            except Exception:  # the stream ended (Envoy stopped)
                pass
            st.queue.put(None)

        threading.Thread(target=read, daemon=True, name="ads-read").start()
        last_build = 0.0
        try:
            while True:
                try:
                    item = st.queue.get(timeout=0.25)
                except queue.Empty:
                    item = "tick"
                if item is None:
                    return
                dirty = False
                if isinstance(item, discovery_pb2.DiscoveryRequest):
                    self._on_request(st, item)
                elif item == "refresh" or (
                    item == "tick" and time.monotonic() - last_build > self.resync
                ):
                    dirty = True
                if st.node_id and (st.snapshot is None or dirty):
                    refused = self._refused(token, st)
                    if refused is not None:
                        context.abort(refused.code, refused.message)
                    generation = self.generation
                    self._rebuild(st)
                    st.built = generation
                    last_build = time.monotonic()
                if st.snapshot is not None:
                    yield from self._responses(st)
        finally:
            with self._lock:
                self._streams.remove(st)
            self._changed()

    def _refused(self, token: str | None, st: _Stream) -> XdsRefused | None:
        if self.authorize is None:
            return None
        try:
            self.authorize(token, st.node_id, st.metadata)
        except XdsRefused as refused:
            log.warning("xDS: refused %s: %s", st.node_id, refused.message)
            return refused
        return None

    def _rebuild(self, st: _Stream) -> None:
        try:
            st.snapshot = self.build(st.node_id, st.metadata)
        except Exception:
            log.exception("xDS: building the config of %s failed; keeping the last", st.node_id)

    def _on_request(self, st: _Stream, req: discovery_pb2.DiscoveryRequest) -> None:
        if not st.node_id and req.node.id:
            st.node_id = req.node.id
            st.metadata = json_format.MessageToDict(req.node.metadata)
            self._changed()
        t = req.type_url
        log.debug(
            "xDS <- %s %s version=%s nonce=%s names=%d nack=%s",
            st.node_id,
            t.rsplit(".", 1)[-1],
            req.version_info,
            req.response_nonce,
            len(req.resource_names),
            req.HasField("error_detail"),
        )
        if t not in _MESSAGES:
            return
        last = st.sent.get(t)
        if req.response_nonce and (last is None or req.response_nonce != last.nonce):
            return  # stale: an answer to a response we have superseded
        if req.response_nonce and st.outstanding.get(t) == req.response_nonce:
            del st.outstanding[t]
            if req.HasField("error_detail"):
                nack = {
                    "node": st.node_id,
                    "type_url": t,
                    "version": st.sent[t].version,
                    "message": req.error_detail.message,
                    "at": time.time(),
                }
                with self._lock:
                    self.nacks.append(nack)
                    del self.nacks[:-MAX_NACKS]
                self._changed()
                log.warning(
                    "xDS NACK from %s for %s version %s: %s (Envoy keeps its previous config)",
                    st.node_id,
                    t.rsplit(".", 1)[-1],
                    nack["version"],
                    nack["message"],
                )
            else:  # an answer to a push of ours: at most one per push, so cheap to record
                st.acked[t] = req.version_info
                st.acked_at[t] = time.time()
                self._changed()
        names = None if t in _WILDCARD_TYPES else frozenset(req.resource_names)
        st.subs[t] = names

    def _wanted(self, st: _Stream, t: str) -> tuple[str, frozenset[str] | None] | None:
        """(version, names) to send for type ``t``, or None when Envoy is up to date."""
        if t not in st.subs or st.snapshot is None:
            return None
        names = st.subs[t]
        version = st.snapshot.version(t, set(names) if names is not None else None)
        sent = st.sent.get(t)
        if sent and sent.version == version and sent.names == names:
            return None
        return version, names

    def _settled(self, st: _Stream) -> bool:
        """Clusters, endpoints and secrets are sent, answered and cover what Envoy needs."""
        assert st.snapshot is not None
        for t in _BEFORE_LISTENERS:
            if t in st.outstanding or (t in st.subs and self._wanted(st, t) is not None):
                return False
        eds = set(st.snapshot.resources[T_ENDPOINT])
        if eds and not eds <= set(st.subs.get(T_ENDPOINT) or ()):
            return False  # Envoy has not yet asked for the new clusters' endpoints
        return T_CLUSTER in st.acked or not st.snapshot.resources[T_CLUSTER]

    def _responses(self, st: _Stream) -> Iterator[discovery_pb2.DiscoveryResponse]:
        for t in TYPES:
            want = self._wanted(st, t)
            if want is None:
                continue
            if t in (T_LISTENER, T_ROUTE) and not self._settled(st):
                now = time.monotonic()
                st.gate_since = st.gate_since or now
                if now - st.gate_since < self.gate_timeout:
                    continue
                log.warning(
                    "xDS: %s has not settled clusters/endpoints after %.1fs; sending %s anyway",
                    st.node_id,
                    self.gate_timeout,
                    t.rsplit(".", 1)[-1],
                )
            if t in (T_LISTENER, T_ROUTE):
                st.gate_since = None
            version, names = want
            assert st.snapshot is not None
            items = st.snapshot.resources[t]
            picked = [r for n, r in sorted(items.items()) if names is None or n in names]
            try:
                resources = [to_any(t, r) for r in picked]
            except Exception as exc:  # a resource our own builder got wrong: say which
                log.error("xDS: cannot encode %s for %s: %s", t, st.node_id, exc)
                st.sent[t] = _Sent(version, names, "", time.monotonic())
                continue
            nonce = str(next(self._nonces))
            st.sent[t] = _Sent(version, names, nonce, time.monotonic())
            st.outstanding[t] = nonce
            log.debug(
                "xDS -> %s %s version=%s nonce=%s resources=%d",
                st.node_id,
                t.rsplit(".", 1)[-1],
                version,
                nonce,
                len(resources),
            )
            yield discovery_pb2.DiscoveryResponse(
                version_info=version, resources=resources, type_url=t, nonce=nonce
            )
