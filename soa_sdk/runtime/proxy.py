"""A service's sidecar as its Envoy holds it: listeners, routes, clusters, certificates.

Read from what every Envoy has, in the sandbox and in a real deployment alike: its admin
endpoint's ``GET /config_dump?include_eds`` (Envoy's ``admin.v3`` config dumps: listeners,
routes, clusters, endpoints and secrets; private keys come ``[redacted]``), on the sidecar's
admin port (``consul connect envoy`` binds it to ``localhost:19000``; reach it with
``kubectl port-forward`` or ECS Exec). Which of the Envoy's resources are the sidecar's comes
from Consul's catalog (``GET /v1/catalog/connect/:service``): the listeners on the sidecar's
public port and its upstreams' local bind ports or Unix sockets (``LocalBindSocketPath``),
then what those listeners refer to (routes, then clusters), and the certificates their TLS
contexts name. So the same reading serves an Envoy holding one sidecar (a real deployment)
or many (the sandbox's, where a resource's name ends in ``~<identity>`` to tell them apart).

A certificate's identity is the SPIFFE ID in its URI SAN (``spiffe://<trust domain>/ns/
default/dc/dc1/svc/<service>``, ``/ap/<partition>`` outside ``default``), read from the PEM
with ``cryptography``: a leaf is what the sidecar presents, a root what it trusts.

Not read: Envoy's live endpoint health (``/clusters``: outlier ejections), statistics (see
:mod:`soa_sdk.telemetry`), static resources of the bootstrap, scoped routes, ECDS, listeners
of gateways (only sidecars: ``Kind: connect-proxy``).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from cryptography import x509

from soa_sdk.errors import NotFound, ServiceUnavailable
from soa_sdk.reachability import unavailable
from soa_sdk.tables import Table
from soa_sdk.telemetry import parse_cluster

_HCM = "envoy.filters.network.http_connection_manager"
_TCP_PROXY = "envoy.filters.network.tcp_proxy"
_RBAC = ("envoy.filters.http.rbac", "envoy.filters.network.rbac")


def fetch_config_dump(
    admin_url: str, timeout: float = 10.0, headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """``GET <admin>/config_dump?include_eds``: Envoy's whole configuration (JSON).
    ``headers``: what the admin needs (the sandbox's: a bearer token; a real sidecar's
    admin, reached from its task or pod, none)."""
    url = admin_url.rstrip("/") + "/config_dump"
    try:
        reply = requests.get(
            url, params={"include_eds": ""}, headers=dict(headers or {}), timeout=timeout
        )
    except (requests.ConnectionError, requests.Timeout) as error:
        raise unavailable("envoy", admin_url, error, "Reading Envoy's config dump") from None
    try:
        reply.raise_for_status()
        return dict(reply.json())
    except (requests.RequestException, ValueError) as error:
        raise ServiceUnavailable(
            f"Envoy's admin at {admin_url} did not answer ({error})."
        ) from None


@dataclass
class _Dump:
    """The dynamic and static resources of a config dump, by name."""

    listeners: dict[str, dict[str, Any]]
    routes: dict[str, dict[str, Any]]
    clusters: dict[str, dict[str, Any]]
    endpoints: dict[str, dict[str, Any]]
    secrets: dict[str, dict[str, Any]]

    @classmethod
    def parse(cls, dump: dict[str, Any]) -> _Dump:
        by_type = {c.get("@type", "").rsplit(".", 1)[-1]: c for c in dump.get("configs", ())}

        def items(kind: str, keys: dict[str, tuple[str, ...]]) -> Iterator[dict[str, Any]]:
            section = by_type.get(kind, {})
            for key, path in keys.items():
                for entry in section.get(key, ()):
                    for step in path:
                        entry = entry.get(step) or {}
                    if entry:
                        yield entry

        def named(found: Iterator[dict[str, Any]], key: str = "name") -> dict[str, dict]:
            return {str(r.get(key)): r for r in found}

        return cls(
            listeners=named(
                items(
                    "ListenersConfigDump",
                    {
                        "static_listeners": ("listener",),
                        "dynamic_listeners": ("active_state", "listener"),
                    },
                )
            ),
            routes=named(
                items(
                    "RoutesConfigDump",
                    {
                        "static_route_configs": ("route_config",),
                        "dynamic_route_configs": ("route_config",),
                    },
                )
            ),
            clusters=named(
                items(
                    "ClustersConfigDump",
                    {
                        "dynamic_active_clusters": ("cluster",),
                        "dynamic_warming_clusters": ("cluster",),
                    },
                )
            ),
            endpoints=named(
                items("EndpointsConfigDump", {"dynamic_endpoint_configs": ("endpoint_config",)}),
                "cluster_name",
            ),
            secrets=named(
                items(
                    "SecretsConfigDump",
                    {"static_secrets": ("secret",), "dynamic_active_secrets": ("secret",)},
                )
            ),
        )


@dataclass
class ProxyConfig:
    """A sidecar's configuration in its Envoy, as four tables (each a :class:`Table`)."""

    service: str
    partition: str
    admin_url: str
    listeners: Table
    routes: Table
    clusters: Table
    certificates: Table

    def tables(self) -> list[Table]:
        return [self.listeners, self.routes, self.clusters, self.certificates]

    def __str__(self) -> str:
        return "\n\n".join(str(t) for t in self.tables())

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return "".join(t._repr_html_() for t in self.tables())


def sidecars_of(consul: Any, service: str, partition: str = "default") -> list[dict[str, Any]]:
    """The sidecar registrations of ``service`` (``GET /v1/catalog/connect/:service``)."""
    found = consul.request(
        "GET",
        f"catalog/connect/{service}",
        params={"partition": partition},
        doing=f"read the sidecars of {service}",
    )
    sidecars = [s for s in found or () if s.get("ServiceKind") == "connect-proxy"]
    if not sidecars:
        raise NotFound(
            f"Consul knows no sidecar of the service '{service}' in partition '{partition}': "
            "is its runtime created (step 1)?"
        )
    return sidecars


def proxy_config(
    dump: dict[str, Any], sidecars: list[dict[str, Any]], admin_url: str = ""
) -> ProxyConfig:
    """The part of an Envoy config ``dump`` that serves ``sidecars`` (catalog entries of
    :func:`sidecars_of`: one service's instances)."""
    d = _Dump.parse(dump)
    service = sidecars[0]["ServiceProxy"]["DestinationServiceName"]
    partition = sidecars[0].get("Partition") or "default"
    listener_rows: list[dict[str, Any]] = []
    routes: list[str] = []
    clusters: list[str] = []
    certs: list[tuple[str, dict[str, Any] | None]] = []  # (where, Secret-shaped or None)
    for sidecar in sidecars:
        binds: dict[int | str, str] = {int(sidecar["ServicePort"]): "public (inbound, mTLS)"}
        for up in (sidecar.get("ServiceProxy") or {}).get("Upstreams") or ():
            # Consul's upstream: a local port, or a Unix socket (LocalBindSocketPath)
            bind = up.get("LocalBindSocketPath") or int(up.get("LocalBindPort") or 0)
            binds[bind] = f"upstream {up['DestinationName']} (outbound)"
        for listener in d.listeners.values():
            bind = _bind(listener.get("address") or {})
            if bind not in binds:
                continue
            row, refers, tls = _listener(listener, binds[bind], sidecar["ServiceID"])
            listener_rows.append(row)
            routes += [r for r in refers["routes"] if r not in routes]
            clusters += [c for c in refers["clusters"] if c not in clusters]
            certs += tls
    # Per sidecar, its public listener first, then its upstreams by name.
    listener_rows.sort(key=lambda r: (r["sidecar"], not r["role"].startswith("public"), r["role"]))
    route_rows = []
    for name in routes:
        config = d.routes.get(name)
        if config is None:
            route_rows.append({"route": name, "match": "(not received yet)", "to": ""})
            continue
        for host in config.get("virtual_hosts") or ():
            for route in host.get("routes") or ():
                action = route.get("route") or {}
                targets = _targets(action)
                route_rows.append(
                    {"route": name, "match": _match(route.get("match") or {}), "to": targets}
                )
                clusters += [c for c, _w in _weights(action) if c not in clusters]
    cluster_rows = []
    for name in clusters:
        cluster = d.clusters.get(name, {})
        certs += _tls_certs(cluster.get("transport_socket"), name)
        cluster_rows.append(_cluster(name, cluster, d.endpoints.get(name)))
    cert_rows: list[dict[str, Any]] = []
    for where, secret in certs:
        if secret is None:  # an SDS secret: by name, among the dump's secrets
            where, secret = f"secret {where}", d.secrets.get(where)
        for row in _certificates(where, secret):
            if all((r["holds"], r["serial"]) != (row["holds"], row["serial"]) for r in cert_rows):
                cert_rows.append(row)
    where = f"{service} in partition {partition}"
    return ProxyConfig(
        service,
        partition,
        admin_url,
        Table(listener_rows, title=f"Listeners of {where}'s sidecar"),
        Table(route_rows, title="Routes (first match wins)"),
        Table(cluster_rows, title="Clusters (Consul's targets: service, subset, partition)"),
        Table(cert_rows, title="Certificates (SPIFFE identities)"),
    )


# -- listeners -----------------------------------------------------------------------------


def _listener(
    listener: dict[str, Any], role: str, sidecar: str
) -> tuple[dict[str, Any], dict[str, list[str]], list[tuple[str, dict[str, Any] | None]]]:
    refers: dict[str, list[str]] = {"routes": [], "clusters": []}
    tls: list[tuple[str, dict[str, Any] | None]] = []
    protocol, authz = "tcp", ""
    for chain in listener.get("filter_chains") or ():
        tls += _tls_certs(chain.get("transport_socket"), str(listener.get("name", "")))
        for filt in chain.get("filters") or ():
            config = filt.get("typed_config") or {}
            if filt.get("name") == _HCM:
                protocol = "http"
                if "rds" in config:
                    refers["routes"].append(config["rds"]["route_config_name"])
                elif "route_config" in config:
                    refers["routes"].append(config["route_config"]["name"])
                for http_filter in config.get("http_filters") or ():
                    if http_filter.get("name") in _RBAC:
                        authz = _rbac(http_filter.get("typed_config") or {})
            elif filt.get("name") == _TCP_PROXY and config.get("cluster"):
                refers["clusters"].append(config["cluster"])
            elif filt.get("name") in _RBAC:
                authz = _rbac(config)
    address = listener.get("address", {})
    tcp = address.get("socket_address", {})
    row = {
        "sidecar": sidecar,
        "listener": listener.get("name", ""),
        "role": role,
        "address": (
            f"unix:{address['pipe'].get('path')}"
            if "pipe" in address
            else f"{tcp.get('address')}:{tcp.get('port_value')}"
        ),
        "protocol": protocol,
        "intentions (RBAC)": authz or "-",
    }
    return row, refers, tls


def _bind(address: dict[str, Any]) -> int | str | None:
    """What a listener is bound to: its TCP port, or its Unix socket's path (an Envoy pipe)."""
    if "pipe" in address:
        return str(address["pipe"].get("path"))
    return (address.get("socket_address") or {}).get("port_value")


def _rbac(config: dict[str, Any]) -> str:
    """``ALLOW spiffe://.../svc/web`` : the RBAC filter's action and principals."""
    rules = config.get("rules") or {}
    principals = [
        p for policy in (rules.get("policies") or {}).values() for p in policy.get("principals", ())
    ]
    names = sorted({n for p in principals for n in _principals(p)})
    action = rules.get("action", "ALLOW")  # proto3 JSON leaves the default (ALLOW) out
    if not names:
        return f"{action} (no one: every caller denied)" if action == "ALLOW" else "DENY no one"
    return f"{action} {', '.join(names)}"


def _principals(principal: dict[str, Any]) -> Iterator[str]:
    """The identities a principal names (a ``not_id`` of higher precedence left out)."""
    if "authenticated" in principal:
        matcher = principal["authenticated"].get("principal_name") or {}
        yield matcher.get("exact") or (matcher.get("safe_regex") or {}).get("regex", "any")
    for inner in (principal.get("and_ids") or {}).get("ids", ()):
        yield from _principals(inner)
    for inner in (principal.get("or_ids") or {}).get("ids", ()):
        yield from _principals(inner)
    if principal.get("any"):
        yield "any"


# -- routes --------------------------------------------------------------------------------


def _match(match: dict[str, Any]) -> str:
    parts = []
    for key in ("prefix", "path"):
        if key in match:
            parts.append(f"{key} {match[key]}")
    if "safe_regex" in match:
        parts.append(f"regex {match['safe_regex'].get('regex')}")
    for header in match.get("headers") or ():
        string = header.get("string_match") or {}
        value = next(iter(string.values()), "present") if string else "present"
        parts.append(f"header {header.get('name')} = {value}")
    return ", ".join(parts) or "any"


def _weights(action: dict[str, Any]) -> list[tuple[str, int | None]]:
    if "cluster" in action:
        return [(action["cluster"], None)]
    weighted = (action.get("weighted_clusters") or {}).get("clusters") or ()
    return [(c["name"], int(c.get("weight", 0))) for c in weighted]


def _targets(action: dict[str, Any]) -> str:
    """``v1.inventory 50 %, v2.inventory 50 %``: each cluster by its target, with weights."""
    weights = _weights(action)
    total = sum(w or 0 for _c, w in weights) or 1
    shown = [_target(c) + ("" if w is None else f" {100 * w / total:g} %") for c, w in weights]
    return ", ".join(shown)


def _target(cluster: str) -> str:
    parsed = parse_cluster(cluster.removeprefix("failover~"))
    if parsed is None:
        return cluster.split("~", 1)[0]
    head = f"{parsed.subset}.{parsed.service}" if parsed.subset else parsed.service
    return head if parsed.partition == "default" else f"{head} ({parsed.partition})"


# -- clusters ------------------------------------------------------------------------------


def _cluster(
    name: str, cluster: dict[str, Any], assignment: dict[str, Any] | None
) -> dict[str, Any]:
    parsed = parse_cluster(name.removeprefix("failover~"))
    groups = (assignment or cluster.get("load_assignment") or {}).get("endpoints") or ()
    by_priority = []
    for group in groups:
        lbs = group.get("lb_endpoints") or ()
        healthy = sum(lb.get("health_status", "HEALTHY") == "HEALTHY" for lb in lbs)
        by_priority.append(f"{healthy}/{len(lbs)}")
    tls = ((cluster.get("transport_socket") or {}).get("typed_config")) or {}
    context = tls.get("common_tls_context") or {}
    sans = (context.get("combined_validation_context") or {}).get("default_validation_context")
    accepts = [m["matcher"].get("exact", "") for m in (sans or {}).get(_SANS, ())]
    return {
        "cluster": name,
        "service": parsed.service if parsed else "local app",
        "subset": (parsed.subset or "-") if parsed else "-",
        "partition": parsed.partition if parsed else "-",
        "healthy endpoints": (
            " then ".join(by_priority) + (" (failover)" if len(by_priority) > 1 else "")
        )
        or ("(not received yet)" if cluster else "(unknown to Envoy)"),
        "peer identity": ", ".join(accepts) or "-",
    }


_SANS = "match_typed_subject_alt_names"


# -- certificates --------------------------------------------------------------------------


def _tls_certs(
    socket: dict[str, Any] | None, owner: str
) -> list[tuple[str, dict[str, Any] | None]]:
    """The certificates of a TLS transport socket, its own then the roots it trusts: an SDS
    secret's name with None (the sandbox's Envoy gets them over SDS), or where it is inline
    with a Secret-shaped dict (Consul inlines them: ``makeCommonTLSContext``)."""
    context = ((socket or {}).get("typed_config") or {}).get("common_tls_context") or {}
    found: list[tuple[str, dict[str, Any] | None]] = [
        (s["name"], None) for s in context.get("tls_certificate_sds_secret_configs") or ()
    ]
    found += [
        (f"inline in {owner}", {"tls_certificate": cert})
        for cert in context.get("tls_certificates") or ()
    ]
    combined = context.get("combined_validation_context") or {}
    roots = context.get("validation_context_sds_secret_config") or combined.get(
        "validation_context_sds_secret_config"
    )
    if roots:
        found.append((roots["name"], None))
    inline = context.get("validation_context") or combined.get("default_validation_context")
    if (inline or {}).get("trusted_ca"):
        found.append((f"inline in {owner}", {"validation_context": inline}))
    return found


def _certificates(where: str, secret: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A row per certificate of a Secret (``tls_certificate`` or ``validation_context``)."""
    if secret is None:
        return [
            {
                "where": where,
                "holds": "(not received yet)",
                "spiffe id": "",
                "serial": "",
                "expires": "",
            }
        ]
    if "tls_certificate" in secret:
        pem, holds = secret["tls_certificate"].get("certificate_chain", {}), "leaf (presents)"
    else:
        pem, holds = secret.get("validation_context", {}).get("trusted_ca", {}), "root (trusts)"
    text = pem.get("inline_string") or base64.b64decode(pem.get("inline_bytes") or "").decode()
    rows = []
    for cert in x509.load_pem_x509_certificates(text.encode()) if text else ():
        try:
            sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            uris = sans.get_values_for_type(x509.UniformResourceIdentifier)
        except x509.ExtensionNotFound:
            uris = []
        rows.append(
            {
                "where": where,
                "holds": holds,
                "spiffe id": ", ".join(uris) or "-",
                "serial": _serial(cert.serial_number),
                "expires": cert.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC"),
            }
        )
        holds = "intermediate" if holds.startswith("leaf") else holds
    return rows


def _serial(number: int) -> str:
    """Hex, a whole number of bytes: as Envoy's ``/certs`` writes it (``0b14...``)."""
    text = format(number, "x")
    return "0" * (len(text) % 2) + text


__all__ = ["ProxyConfig", "fetch_config_dump", "proxy_config", "sidecars_of"]
