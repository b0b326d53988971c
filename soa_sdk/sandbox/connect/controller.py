"""The control plane of the mesh: the catalog, the CA and the ADS server, put together.

:class:`Controller` builds each Envoy node's snapshot from a
:class:`~soa_sdk.sandbox.connect.view.CatalogView` (the Consul emulator's backend) and a
:class:`~soa_sdk.sandbox.connect.ca.ConnectCA`, and tells the ADS server to rebuild on every
catalog write (``CatalogView.subscribe``), as Consul's agents watch the state store.

A node's metadata (the Envoy bootstrap's ``node.metadata``) says which proxies it holds:
``partition`` (default ``default``; ``*`` for all) and ``proxies``, a list of proxy service
IDs (all the partition's sidecars and gateways when absent): one Envoy per runtime holds its
sidecars.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from soa_sdk.sandbox.connect import snapshot
from soa_sdk.sandbox.connect.ads import AdsServer, XdsRefused
from soa_sdk.sandbox.connect.view import CatalogView

ResolveToken = Callable[[str | None], Any]
"""A token's secret (None: none) -> an authorizer with ``allowed(resource, level, name,
partition)`` and ``accessor_id``; raises for a token that does not exist (the Consul
emulator's ``ConsulBackend.authorize``)."""


class Controller:
    """Serves xDS for the proxies registered in ``view``, with certificates from ``certs``."""

    def __init__(
        self,
        view: CatalogView,
        certs: snapshot.Certs,
        host: str = "127.0.0.1",
        port: int = 0,
        access_log: str | None = None,
        write_wait: float = 2.0,
        status_path: str | None = None,
        resolve_token: ResolveToken | None = None,
    ) -> None:
        """``write_wait``: how long a catalog write waits (in the subscriber, so before its
        HTTP answer) for the connected Envoys to have the config it changes; 0 not at all.
        ``status_path``: where the ADS server keeps what the Envoys accepted and rejected
        (:mod:`soa_sdk.sandbox.connect.xds_status`). ``resolve_token``: with it, every xDS
        stream needs a token with ``service:write`` on each proxy's service, as Consul's
        (:meth:`authorize`)."""
        self.view = view
        self.certs = certs
        self.access_log = access_log
        self.resolve_token = resolve_token
        self.ads = AdsServer(
            self.build,
            host=host,
            port=port,
            status_path=status_path,
            authorize=self.authorize if resolve_token else None,
        )
        self.write_wait = write_wait
        view.subscribe(self._written)

    def _written(self, _index: int) -> None:
        # Consul answers a write before its proxies have the change (they get it within
        # milliseconds); the sandbox waits, bounded, so a config entry written holds for the
        # very next request (the release's testers and the notebooks' next cell count on
        # it). A write that changes no Envoy's config waits only for the rebuild.
        self.ads.refresh()
        if self.write_wait > 0:
            self.ads.wait_converged(self.write_wait)

    def held(self, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        partition = str(metadata.get("partition") or "default")
        ids = metadata.get("proxies")
        found = snapshot.proxies(self.view, None if partition == "*" else partition)
        return [p for p in found if not ids or p["ID"] in ids]

    def authorize(self, token: str | None, node_id: str, metadata: dict[str, Any]) -> None:
        """Consul's xDS authorization: ``service:write`` on the destination service of each
        sidecar the node holds, on the name of each gateway (``agent/xds``); raises
        :class:`XdsRefused` with Consul's gRPC status and message."""
        assert self.resolve_token is not None
        try:
            authz = self.resolve_token(token)
        except Exception as error:  # the token does not exist: Consul's "ACL not found"
            raise XdsRefused(grpc.StatusCode.UNAUTHENTICATED, f"unauthenticated: {error}") from None
        for proxy in self.held(metadata):
            service = (proxy.get("Proxy") or {}).get("DestinationServiceName") or proxy["Service"]
            if not authz.allowed("service", "write", service, proxy["Partition"]):
                raise XdsRefused(grpc.StatusCode.PERMISSION_DENIED, _denied(authz, service))

    def build(self, node_id: str, metadata: dict[str, Any]) -> snapshot.Snapshot:
        return snapshot.build(self.view, self.certs, self.held(metadata), self.access_log)

    def start(self) -> int:
        return self.ads.start()

    def stop(self) -> None:
        self.ads.stop()


def _denied(authz: Any, service: str) -> str:
    """Consul's ``acl.PermissionDeniedError`` text for ``service:write`` on ``service``."""
    from soa_sdk.sandbox.consul.exceptions import PermissionDenied

    return str(PermissionDenied(authz.accessor_id, "service", "write", service))
