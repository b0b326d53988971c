"""A runtime's place in the Consul service mesh.

``terraform/shared_services/consul`` declares the mesh's policy (:data:`TERRAFORM_FOLDER`,
applied by step 1 through ``lab.tf``): an admin partition per runtime; per service a
``service-defaults``, a ``service-resolver`` with one subset per version and a
``service-splitter`` with the declared weights when a service has several versions;
``service-intentions`` that allow exactly the calls the application makes (and each runtime's
ingress gateway, ``<runtime>-ingress``, to call its entry point), with a deny of every other
source in each partition; the ``exported-services`` that cross-partition callers need. A
runtime step 5 adds is declared by the same folder in the copy of ``terraform/`` that holds
the new runtime's folder (:func:`extension_folders`). What the folder does not declare stays
here: the ingress gateway itself, its listeners (plain HTTP, and TLS for the API origin the
frontend's CloudFront reaches, :func:`api_origin`) and its registration (:func:`ensure_ingress`),
and their removal with what a release added
(:func:`remove_beside_terraform`); :func:`declared_entries` lists what Consul holds for a
runtime after the apply. :func:`resolver_entry`, :func:`version_entries`,
:func:`intentions_entry` and :func:`exported_services` say in Python what the folder declares
(the release step puts the declared routing back with them; tests compare the two).
Real Consul Enterprise API: ``PUT /v1/config?partition=``,
``PUT /v1/agent/service/register?partition=``.
"""

from __future__ import annotations

import json
from typing import Any

from soa_sdk.consul_api import ConsulApi
from soa_sdk.errors import NotFound
from soa_sdk.tf.lab_spec import MeshSpec, RuntimeSpec, ServiceSpec

ENTRY_KINDS_IN_DELETE_ORDER = (
    "ingress-gateway",
    "exported-services",
    "service-intentions",
    "service-router",
    "service-splitter",
    "service-resolver",
    "service-defaults",
)
REGISTRY_PREFIX = "soa-lab/runtimes/"
EXTENSIONS_PREFIX = "soa-lab/extensions/"  # step 5's records: spec, folder, account
TERRAFORM_FOLDER = "shared_services/consul"
DECLARED_KINDS = (
    "service-defaults",
    "service-resolver",
    "service-splitter",
    "service-intentions",
    "exported-services",
)


def ingress_name(runtime: RuntimeSpec) -> str:
    return f"{runtime.name}-ingress"


def entry_point(runtime: RuntimeSpec) -> str:
    """The service the ingress gateway exposes: the one no other service of the runtime calls
    (``store`` in the demo application), else the first."""
    called = {u for s in runtime.services for u in s.upstreams}
    return next(
        (s.name for s in runtime.services if s.name not in called), runtime.services[0].name
    )


def exported_services(runtime: RuntimeSpec, mesh: MeshSpec) -> dict[str, Any] | None:
    """The ``exported-services`` entry of the runtime's partition: each of its services is
    exported to the partitions whose services call it (as ``modules/lab_spec`` derives it)."""
    consumers: dict[str, list[str]] = {}
    for intention in mesh.intentions():
        if (
            intention.destination_partition == runtime.consul_partition
            and intention.source_partition != runtime.consul_partition
        ):
            partitions = consumers.setdefault(intention.destination, [])
            if intention.source_partition not in partitions:
                partitions.append(intention.source_partition)
    if not consumers:
        return None
    return {
        "Kind": "exported-services",
        "Name": runtime.consul_partition,
        "Services": [
            {"Name": name, "Consumers": [{"Partition": p} for p in partitions]}
            for name, partitions in consumers.items()
        ],
    }


def resolver_entry(
    service: ServiceSpec, runtime: RuntimeSpec, mesh: MeshSpec
) -> dict[str, Any] | None:
    """The service's ``service-resolver`` in ``runtime``: a subset per version when it has
    several, and, in its primary runtime, a ``Failover`` to the partitions of the other
    runtimes that run it (Consul: ``Failover {"*": {"Targets": [{"Partition": ...}]}}``,
    used when no instance of the primary target is healthy). None when neither applies."""
    resolver: dict[str, Any] = {"Kind": "service-resolver", "Name": service.name}
    if len(service.versions) > 1:
        resolver = version_entries(service)[0]
    placements = mesh.placements(service.name)
    targets = placements[1:]
    if targets and placements[0].name == runtime.name:
        resolver["Failover"] = {
            "*": {"Targets": [{"Partition": r.consul_partition} for r in targets]}
        }
    return resolver if len(resolver) > 2 else None


def version_entries(service: ServiceSpec) -> list[dict[str, Any]]:
    """A resolver with one subset per version, and a splitter with the declared weights."""
    resolver = {
        "Kind": "service-resolver",
        "Name": service.name,
        "DefaultSubset": service.versions[0],
        "Subsets": {
            version: {"Filter": f'Service.Meta.version == "{version}"', "OnlyPassing": True}
            for version in service.versions
        },
    }
    splitter = {
        "Kind": "service-splitter",
        "Name": service.name,
        "Splits": [
            {"Weight": float(service.traffic.get(version, 0)), "ServiceSubset": version}
            for version in service.versions
        ],
    }
    return [resolver, splitter]


def intentions_entry(service: ServiceSpec, runtime: RuntimeSpec, mesh: MeshSpec) -> dict[str, Any]:
    """Allow exactly the declared callers (and the ingress for the entry point); deny the rest."""
    sources = [
        {"Name": i.source, "Partition": i.source_partition, "Action": "allow"}
        for i in mesh.intentions()
        if i.destination == service.name and i.destination_partition == runtime.consul_partition
    ]
    if service.name == entry_point(runtime):
        sources.append(
            {
                "Name": ingress_name(runtime),
                "Partition": runtime.consul_partition,
                "Action": "allow",
            }
        )
    sources.append({"Name": "*", "Action": "deny"})
    return {"Kind": "service-intentions", "Name": service.name, "Sources": sources}


def declared_entries(consul: ConsulApi, runtime: RuntimeSpec) -> list[str]:
    """``<kind>:<name>`` of what Consul holds in the runtime's partition for its services
    (the entries Terraform applied), read from the API."""
    names = {s.name for s in runtime.services} | {runtime.consul_partition, "*"}
    found = []
    for kind in DECLARED_KINDS:
        entries = consul.request(
            "GET", f"config/{kind}", params={"partition": runtime.consul_partition}
        )
        found += [f"{kind}:{e['Name']}" for e in entries or [] if e["Name"] in names]
    return found


def extension_folders(consul: ConsulApi) -> list[str]:
    """The folders of the runtimes step 5 added (its records in Consul's KV store)."""
    _, items = consul.client.kv.get(EXTENSIONS_PREFIX, recurse=True)
    return [json.loads(item["Value"])["folder"] for item in items or () if item.get("Value")]


API_DOMAIN = "ingress.consul"
"""The store's public API is ``<entry point>.ingress.consul``: Consul's DNS name of a service
behind an ingress gateway, which the gateway's TLS certificate names (Consul's DNS SANs)."""


def api_host(runtime: RuntimeSpec) -> str:
    """The host name the ingress gateway's TLS listener answers for."""
    return f"{entry_point(runtime)}.{API_DOMAIN}"


def ensure_ingress(consul: ConsulApi, runtime: RuntimeSpec, port: int, tls_port: int) -> str:
    """The ingress gateway's config entry and its registration; returns its plain-HTTP URL.

    Two listeners for the entry point: ``port``, plain HTTP for any ``Host`` (the sandbox's
    own callers), and ``tls_port``, TLS (``Listeners[].TLS.Enabled``: the gateway's
    certificate is its Connect leaf, which Consul gives the listener's hosts as DNS SANs) for
    :func:`api_host` only: the API origin CloudFront reaches (:func:`api_origin`)."""
    partition = runtime.consul_partition
    name = ingress_name(runtime)
    service = entry_point(runtime)
    consul.put_config(
        {
            "Kind": "ingress-gateway",
            "Name": name,
            # Hosts "*": any Host header matches (Consul's default is only
            # "<service>.ingress.*"); Consul allows it with one service on the listener.
            "Listeners": [
                {"Port": port, "Protocol": "http", "Services": [{"Name": service, "Hosts": ["*"]}]},
                {
                    "Port": tls_port,
                    "Protocol": "http",
                    "TLS": {"Enabled": True},
                    "Services": [{"Name": service, "Hosts": [api_host(runtime)]}],
                },
            ],
        },
        partition,
    )
    consul.request(
        "PUT",
        "agent/service/register",
        params={"partition": partition},
        json={
            "ID": name,
            "Name": name,
            "Kind": "ingress-gateway",
            "Port": port,
            "Address": "127.0.0.1",
            "Meta": {"runtime": runtime.name},
        },
        doing=f"register the ingress gateway {name}",
    )
    return f"http://127.0.0.1:{port}"


def ingress_ports(consul: ConsulApi, runtime: RuntimeSpec) -> tuple[int, int] | None:
    """The (plain, TLS) ports of the runtime's ingress gateway, if it has both (re-runs keep
    them)."""
    entry = consul.get_config("ingress-gateway", ingress_name(runtime), runtime.consul_partition)
    listeners = (entry or {}).get("Listeners") or []
    plain = [int(x["Port"]) for x in listeners if not (x.get("TLS") or {}).get("Enabled")]
    secure = [int(x["Port"]) for x in listeners if (x.get("TLS") or {}).get("Enabled")]
    return (plain[0], secure[0]) if plain and secure else None


def api_origin(consul: ConsulApi, runtime: RuntimeSpec) -> dict[str, Any]:
    """The ``api_origin`` variable of ``terraform/runtime_frontend``: the TLS listener of the
    runtime's ingress gateway, which CloudFront reaches over https only."""
    ports = ingress_ports(consul, runtime)
    if ports is None:
        raise NotFound(f"The runtime '{runtime.name}' has no ingress yet: create it (step 1).")
    return {"domain_name": api_host(runtime), "protocol": "https-only", "https_port": ports[1]}


def remove_beside_terraform(consul: ConsulApi, runtime: RuntimeSpec, mesh: MeshSpec) -> list[str]:
    """What the SDK and the release step (3) added in the runtime's partition beside what
    ``shared_services/consul`` declares, removed before Terraform destroys the partition: the
    ingress gateway (its registration and entry), and the routers, splitters and resolvers no
    declaration makes. Consul refuses to delete a ``service-defaults`` (the protocol ``http``)
    while a router or splitter still needs it, so these go first, routing chain first."""
    partition = runtime.consul_partition
    removed = []
    try:
        consul.request(
            "PUT",
            f"agent/service/deregister/{ingress_name(runtime)}",
            params={"partition": partition},
        )
        removed.append(f"service:{ingress_name(runtime)}")
    except NotFound:
        pass
    undeclared = [("ingress-gateway", ingress_name(runtime))]
    for service in runtime.services:
        undeclared.append(("service-router", service.name))
        if len(service.versions) < 2:
            undeclared.append(("service-splitter", service.name))
        if resolver_entry(service, runtime, mesh) is None:
            undeclared.append(("service-resolver", service.name))
    for kind, name in sorted(undeclared, key=lambda e: ENTRY_KINDS_IN_DELETE_ORDER.index(e[0])):
        if consul.get_config(kind, name, partition):
            consul.delete_config(kind, name, partition)
            removed.append(f"{kind}:{name}")
    return removed
