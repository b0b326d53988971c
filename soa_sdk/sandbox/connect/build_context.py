"""What one snapshot build works with: the certificates' source, the resources built so far, a
memoised reader of the Consul emulator's state, and the context of the proxy being built.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from soa_sdk.sandbox.connect.envoy_names import ADS, ROOTS_SECRET, TYPES, leaf_secret_name
from soa_sdk.sandbox.connect.view import CatalogView


class Certs(Protocol):
    """Where the proxies' certificates come from (``ca.ConnectCA`` satisfies it)."""

    trust_domain: str

    def roots_pem(self) -> str:
        """Every root the mesh trusts, PEM, concatenated (two during a rotation)."""
        ...

    def leaf(
        self, service: str, partition: str = "default", dns_sans: Sequence[str] = ()
    ) -> tuple[str, str]:
        """(certificate chain PEM, private key PEM) of ``service``'s leaf; ``dns_sans``, when
        given, are its DNS SANs (an ingress gateway serving TLS)."""
        ...


@dataclass
class Snapshot:
    """Resources of one Envoy node, per type URL: ``{type_url: {name: resource}}``."""

    resources: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {t: {} for t in TYPES}
    )
    #: what could not be built, e.g. a subset no resolver defines (the rest still serves).
    problems: list[str] = field(default_factory=list)

    def add(self, type_url: str, resource: dict[str, Any]) -> None:
        name = resource.get("name") or resource.get("cluster_name")
        self.resources[type_url][str(name)] = resource

    def version(self, type_url: str, names: set[str] | None = None) -> str:
        """A content hash of the resources of a type (only ``names`` when given)."""
        items = self.resources[type_url]
        picked = {n: r for n, r in items.items() if names is None or n in names}
        blob = json.dumps(picked, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


class Reader:
    """Reads through a CatalogView, memoised for one build."""

    def __init__(self, view: CatalogView) -> None:
        self.view = view
        self._entries: dict[tuple[str, str, str], dict[str, Any] | None] = {}
        self._services: dict[str, dict[str, dict[str, Any]]] = {}
        self._health: dict[tuple[str, str, str], list[dict[str, Any]]] = {}

    def entry(self, kind: str, name: str, partition: str) -> dict[str, Any] | None:
        key = (kind, name, partition)
        if key not in self._entries:
            self._entries[key] = self.view.get_config_entry(kind, name, partition=partition)
        return self._entries[key]

    def services(self, partition: str) -> dict[str, dict[str, Any]]:
        if partition not in self._services:
            self._services[partition] = self.view.agent_services(partition=partition)
        return self._services[partition]

    def health(self, name: str, partition: str, consumer: str) -> list[dict[str, Any]]:
        key = (name, partition, consumer)
        if key not in self._health:
            kwargs: dict[str, Any] = {"partition": partition}
            if consumer != partition:
                kwargs["consumer_partition"] = consumer
            self._health[key] = self.view.health_service(name, **kwargs)
        return self._health[key]

    def protocol(self, service: str, partition: str) -> str:
        defaults = self.entry("service-defaults", service, partition)
        if defaults and defaults.get("Protocol"):
            return str(defaults["Protocol"]).lower()
        proxy = self.entry("proxy-defaults", "global", partition) or {}
        return str((proxy.get("Config") or {}).get("protocol") or "tcp").lower()


@dataclass
class BuildContext:
    r: Reader
    snap: Snapshot
    td: str
    service: str  # the identity of the proxy (its destination service, or the gateway)
    partition: str
    suffix: str  # tells apart the resources of several identities in one Envoy
    access_log: str | None
    single: bool = True  # the Envoy holds this proxy only
    instance: str = ""  # the service instance a sidecar fronts (its ID), or the gateway's

    def tls(self) -> dict[str, Any]:
        return {
            "tls_certificate_sds_secret_configs": [
                {"name": leaf_secret_name(self.service, self.partition), "sds_config": ADS}
            ],
            "validation_context_sds_secret_config": {"name": ROOTS_SECRET, "sds_config": ADS},
        }


def inline(pem: str) -> dict[str, str]:
    return {"inline_string": pem}


def socket_address(ip: str, port: int) -> dict[str, Any]:
    return {"socket_address": {"address": ip, "port_value": int(port)}}


def pipe_address(path: str, mode: int = 0) -> dict[str, Any]:
    """An Envoy ``Pipe`` address (a Unix socket); ``mode`` 0 leaves the file's mode alone."""
    return {"pipe": {"path": path, **({"mode": mode} if mode else {})}}


def proxy_ip(proxy: dict[str, Any]) -> str:
    return proxy.get("Address") or "127.0.0.1"
